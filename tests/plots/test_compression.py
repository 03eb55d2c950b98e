"""Notebook 08's figures draw what they claim: checked through the artists of the returned Figure."""

import numpy as np
import pandas as pd
import pytest

from vgg_edu import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_pruning_puts_each_fraction_at_its_macs():
    sweep = pd.DataFrame(dict(fraction=[0.0, 0.5], macs=[2_433_664, 627_008], val_acc_pruned=[0.9, 0.3],
                              val_acc=[0.9, 0.85]))  # fmt: skip
    ax = plots.compression.plot_pruning(sweep).axes[0]
    after = next(line for line in ax.lines if line.get_label() == "after fine-tuning")
    assert np.allclose(after.get_xdata(), [2.433664, 0.627008]) and list(after.get_ydata()) == [0.9, 0.85]
    assert "MACs per image (millions)" in ax.get_xlabel() and ax.get_ylabel() == "validation accuracy"
    assert [t.get_text() for t in ax.texts] == ["unpruned", "50% pruned"]


def test_plot_pruning_zooms_on_the_fine_tuned_points():
    """On a 0-1 axis fine-tuned accuracies 0.85-0.915 are indistinguishable (review): a second panel spans them."""
    sweep = pd.DataFrame(dict(fraction=[0.0, 0.2, 0.5, 0.75], macs=[9.6e6, 6.2e6, 2.4e6, 0.6e6],
                              val_acc_pruned=[0.91, 0.5, 0.1, 0.1], val_acc=[0.915, 0.91, 0.89, 0.85]))  # fmt: skip
    whole, zoom = plots.compression.plot_pruning(sweep).axes
    assert whole.get_ylim() == (0, 1)
    low, high = zoom.get_ylim()
    assert low < 0.85 and high > 0.915 and high - low < 2 * (0.915 - 0.85)  # every point, and little else
    after = next(line for line in zoom.lines if line.get_label() == "after fine-tuning")
    assert list(after.get_ydata()) == [0.915, 0.91, 0.89, 0.85]
    assert not [line for line in zoom.lines if line.get_label() == "pruned, before fine-tuning"]


def test_plot_speed_draws_one_bar_per_model_and_measure():
    table = pd.DataFrame(dict(file_MB=[0.6, 0.17], ms_batch_1=[0.3, 0.4], ms_batch_64=[7.0, 2.0], val_acc=[0.9, 0.9]),
                         index=["float32", "int8"])  # fmt: skip
    fig = plots.compression.plot_speed(table)
    assert len(fig.axes) == 3
    assert [p.get_height() for p in fig.axes[2].patches] == [7.0, 2.0]
    assert fig.axes[2].get_ylabel() == "latency at batch 64 (ms)"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["float32", "int8"]


def test_plot_transfer_draws_one_line_per_method_against_labels():
    index = pd.MultiIndex.from_product([[5, 20], ["linear probe", "from scratch"]], names=["per_class", "method"])
    table = pd.DataFrame(dict(val_acc=[0.5, 0.3, 0.7, 0.8]), index=index)
    fig = plots.compression.plot_transfer({"a": table, "b": table})
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines["linear probe"].get_xdata()) == [5, 20] and list(lines["linear probe"].get_ydata()) == [0.5, 0.7]
    assert list(lines["from scratch"].get_ydata()) == [0.3, 0.8]
    assert ax.get_xlabel() == "labelled training images per class" and ax.get_ylabel() == "validation accuracy"
    assert len(fig.axes) == 2 and ax.get_title() == "a"

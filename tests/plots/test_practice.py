"""Notebooks 06 and 07's figures draw what they claim: checked through the artists of the returned Figure."""

import numpy as np
import pandas as pd
import pytest
import torch

from vgg_edu import analysis, initialization, memory, models
from vgg_edu.plots import practice
from vgg_edu.training import lr_range
from vgg_edu.training.history import History

pytestmark = pytest.mark.usefixtures("close_figures")


def _history(losses, val):
    steps = [dict(step=i + 1, epoch=i / 10, loss=v, lr=0.1 / (i + 1), wall_s=i) for i, v in enumerate(losses)]
    epochs = [dict(epoch=e + 1, step=(e + 1) * 5, train_loss=1.0, train_acc=0.5, val_acc=a) for e, a in enumerate(val)]
    return History(epochs, steps)


def test_scale_by_depth_plots_one_line_per_scheme_with_the_papers_names():
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 32, 32), torch.randint(0, 10, (4,))
    tables = {
        s: initialization.scale_by_depth(initialization.narrow_vgg("A", s), x, y)
        for s in ("std=0.01", "kaiming_fan_out")
    }
    fig = practice.plot_scale_by_depth(tables)
    left, right = fig.axes[:2]
    assert [t.get_text() for t in left.get_xticklabels()] == list(tables["kaiming_fan_out"]["layer"])
    assert left.get_xticklabels()[0].get_text() == "conv1_1"
    assert len(left.lines) == len(right.lines) == 2 and left.get_yscale() == "log"
    assert np.allclose(left.lines[1].get_ydata(), tables["kaiming_fan_out"]["activation_std"])


def test_runs_plot_loss_accuracy_and_learning_rate():
    runs = {"a": _history([2.0, 1.5, 1.0], [0.5, 0.7]), "b": _history([2.0, 1.8, 1.7], [0.4, 0.6])}
    fig = practice.plot_runs(runs, "two runs", lr=True)
    loss, acc, lr = fig.axes[:3]
    assert list(loss.lines[0].get_ydata()) == [2.0, 1.5, 1.0]
    assert list(acc.lines[1].get_ydata()) == [0.4, 0.6]
    assert lr.get_yscale() == "log" and lr.lines[0].get_ydata()[0] == pytest.approx(0.1)
    assert "validation" in acc.get_ylabel() and fig._suptitle.get_text() == "two runs"
    (legend,) = fig.legends  # one legend, for every panel, with the final validation accuracies
    assert [t.get_text() for t in legend.get_texts()] == ["a (final 0.700)", "b (final 0.600)"]
    assert not [ax for ax in fig.axes if ax.get_legend() is not None]


def test_runs_plot_leaves_no_data_under_its_legend_and_no_run_under_an_identical_one():
    same = _history([2.0, 1.5, 1.0], [0.5, 0.7])
    runs = {name: same for name in ("constant", "plateau", "cosine", "step", "onecycle", "sixth")}
    fig = practice.plot_runs(runs, "identical runs", lr=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = fig.legends[0].get_window_extent(renderer)
    assert not [ax for ax in fig.axes if ax.get_window_extent(renderer).overlaps(legend_box)]
    for ax in fig.axes:  # runs with the same curve: the next one's line style differs, so both can be seen
        styles = [(line.get_color(), line.get_linestyle()) for line in ax.lines]
        assert all(a != b for a, b in zip(styles, styles[1:]))
        assert all(a[1] != b[1] for a, b in zip(styles, styles[1:]))


def test_lr_range_plot_marks_its_readings():
    f = pd.DataFrame(dict(step=range(1, 6), lr=np.geomspace(1e-3, 1, 5), loss=[2.3, 2.2, 1.5, 1.8, 9.0]))
    f["smoothed"] = lr_range.smooth(f["loss"])
    test = lr_range.RangeTest(f)
    ax = practice.plot_lr_range(test).axes[0]
    assert ax.get_xscale() == "log" and "learning rate" in ax.get_xlabel()
    vertical = [line.get_xdata()[0] for line in ax.lines[2:]]
    assert vertical == pytest.approx([test.steepest_lr, test.suggestion])


def test_memory_plot_stacks_the_parts_and_shows_the_measured_points():
    with torch.device("meta"):
        model = models.VGG("D")
    table = analysis.layer_table(model)
    budget = pd.DataFrame([memory.training_memory(model, table=table, batch_size=b) for b in (1, 8, 64)])
    budget.insert(0, "batch_size", [1, 8, 64])
    measured = pd.DataFrame(dict(batch_size=[1], peak_bytes=[2.0e9]))
    ax = practice.plot_memory(budget, measured).axes[0]
    assert len(ax.collections) == 4  # weights, gradients, optimizer state, activations
    assert ax.lines[0].get_ydata()[0] == pytest.approx(2.0)
    assert ax.lines[1].get_ydata()[0] == pytest.approx(15.0)
    assert "batch size" in ax.get_xlabel() and "GB" in ax.get_ylabel()


def test_kernels_plot_has_a_bar_per_network():
    frame = pd.DataFrame(dict(network=["2 x 3x3", "1 x 5x5"], ms_per_batch=[2.0, 3.0], ns_per_mac=[0.1, 0.2]))
    left, right = practice.plot_kernels(frame, "kernels").axes
    assert [p.get_height() for p in left.patches] == [2.0, 3.0]
    assert [p.get_height() for p in right.patches] == [0.1, 0.2]
    assert "ns" in right.get_ylabel()

"""Notebook 02's figures: shapes after every conv and pool, BatchNorm placement, loss curves."""

import pandas as pd
import pytest

from vgg_edu import analysis, models, plots

from conftest import on_meta

pytestmark = pytest.mark.usefixtures("close_figures")


def test_shapes_plot_lists_every_conv_and_pool():
    table = analysis.layer_table(on_meta(models.vgg11))
    ax = plots.blocks.plot_shapes(table).axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14, 7]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[:3] == ["conv1_1   64x224x224", "pool1   64x112x112", "conv2_1   128x112x112"]
    assert ticks[-1] == "pool5   512x7x7"


def test_shapes_plot_labels_do_not_overlap_even_for_vgg19():
    table = analysis.layer_table(on_meta(models.vgg19))
    fig = plots.blocks.plot_shapes(table)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == 16 + 5
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))  # left to right, none over the next
    inside = fig.bbox
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 for b in boxes)  # none cut off


def test_losses_plot_labels_its_axes():
    ax = plots.blocks.plot_losses({"no BN": [2.3] * 40, "BN": [2.0] * 40}, "a run").axes[0]
    assert len(ax.lines) == 2 and ax.get_ylabel() and ax.get_xlabel() == "SGD step"


def test_bn_placement_plot_draws_the_statistics_and_the_losses():
    stats = pd.DataFrame({"conv": [2, 3], "mean": [0.4, 0.4], "std": [0.6, 0.6], "zeros": [0.5, 0.5]})
    fig = plots.blocks.plot_bn_placement({"before": stats}, {"before": [2.0] * 40})
    assert len(fig.axes) == 3


def test_the_bn_placement_legend_covers_no_panel():
    stats = pd.DataFrame({"conv": [2, 3], "name": ["conv2_1", "conv3_1"], "mean": [0.5, 0.0], "zeros": [0.5, 0.0]})
    fig = plots.blocks.plot_bn_placement({"before": stats, "after": stats}, {"before": [2.0] * 40, "after": [2.0] * 40})
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    fig.canvas.draw()
    legend_box = fig.legends[0].get_window_extent()
    assert all(not legend_box.overlaps(ax.get_window_extent()) for ax in fig.axes)

"""Notebook 03's figures: the configurations against Table 3, where the parameters are, forward time and memory, the
score map."""

import pandas as pd
import pytest
import torch

from vgg_edu import analysis, models, plots, pretrained

pytestmark = pytest.mark.usefixtures("close_figures")


def test_where_plot_has_one_bar_per_weight_layer():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg16())
    top, bottom = plots.vgg16.plot_where(table).axes[:2]
    assert len(top.patches) == 16
    assert max(p.get_height() for p in top.patches) == pytest.approx((25088 * 4096 + 4096) / 1e6)


def test_configs_and_forward_plots_draw():
    fig = plots.vgg16.plot_configs(analysis.config_table())
    params = fig.axes[0]
    assert [round(p.get_height()) for p in params.patches[:6]] == [133, 133, 133, 134, 138, 144]
    assert params.get_ylim()[0] == 0  # bars start at zero: differences are not exaggerated

    results = pd.DataFrame(
        {
            "batch_size": [1, 2],
            "ms_per_batch": [1.0, 1.5],
            "peak_memory_MB": [1.0, 2.0],
            "memory_source": ["estimate (layer table)"] * 2,
        }
    )
    fig = plots.vgg16.plot_forward(results)
    assert "estimate" in fig.axes[1].get_title()


def test_configs_plot_shows_table_3_from_zero():
    fig = plots.vgg16.plot_configs(analysis.config_table())
    errors = fig.axes[2]
    assert [p.get_height() for p in errors.patches] == [29.6, 29.7, 28.7, 28.1, 27.0, 27.3]
    assert all(ax.get_ylim()[0] == 0 for ax in fig.axes[:3])


def test_configs_legend_hides_no_bar():
    fig = plots.vgg16.plot_configs(analysis.config_table())
    params = fig.axes[0]
    fig.canvas.draw()
    legend = params.get_legend().get_window_extent()
    assert not any(legend.overlaps(bar.get_window_extent()) for bar in params.patches)


def test_where_plot_uses_the_papers_names():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg11())
    bottom = plots.vgg16.plot_where(table).axes[1]
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels[:3] == ["conv1_1", "conv2_1", "conv3_1"] and labels[-3:] == ["fc6", "fc7", "fc8"]
    fig = plots.vgg16.plot_where(table, title="VGG-11 (config A) at 224 x 224 px")
    assert fig.texts[0].get_text() == "VGG-11 (config A) at 224 x 224 px"  # a widget's title names its choice


def test_forward_plot_stacks_activations_on_the_weights():
    results = pd.DataFrame(
        {"batch_size": [1, 4], "ms_per_batch": [10.0, 30.0], "ms_min": [9.0, 28.0], "ms_max": [12.0, 33.0],
         "weights_MB": [500.0, 500.0], "peak_memory_MB": [20.0, 80.0], "memory_source": ["estimate (layer table)"] * 2}
    )  # fmt: skip
    time_ax, memory_ax = plots.vgg16.plot_forward(results, "CPU").axes
    assert [t.get_text() for t in time_ax.get_xticklabels()] == ["1", "4"]  # the batch sizes, not log ticks
    assert time_ax.get_yscale() == "linear" and time_ax.get_ylim()[0] == 0
    heights = [(p.get_y(), p.get_height()) for p in memory_ax.patches]
    assert heights == [(0, 500.0), (0, 500.0), (500.0, 20.0), (500.0, 80.0)]
    assert "estimate" in memory_ax.get_title()


def test_forward_plot_titles_stay_apart_with_a_long_load_note():
    """03's full run printed 'VGG-16 at 224 px, CPU (2 threads), load average 2.5 on 2 cores: other work shared the
    CPU, which slows timings' in one line, over the memory panel's title: the time panel's title is wrapped."""
    results = pd.DataFrame(
        {"batch_size": [1, 2], "ms_per_batch": [10.0, 30.0], "weights_MB": [500.0, 500.0],
         "peak_memory_MB": [20.0, 80.0], "memory_source": ["estimate (layer table)"] * 2}
    )  # fmt: skip
    note = "VGG-16 at 224 px, CPU (2 threads), load average 2.5 on 2 cores: other work shared the CPU, which slows "
    note += "timings"
    fig = plots.vgg16.plot_forward(results, note)
    time_ax, memory_ax = fig.axes
    renderer = fig.canvas.get_renderer()
    left, right = (ax.title.get_window_extent(renderer) for ax in (time_ax, memory_ax))
    assert not left.overlaps(right) and left.x0 >= 0
    assert time_ax.get_title().replace("\n", " ").startswith("Forward time per image, " + note)  # all of it kept


def test_score_map_shows_the_best_classes_by_their_mean_score():
    scores = torch.zeros(1, 5, 2, 3)
    scores[0, 3] = 2.0
    scores[0, 1, 0, 0] = 3.0  # one high cell, mean 0.5
    fig = plots.vgg16.plot_score_map(pretrained.sample_image(), scores, list("abcde"), top=2, input_size=(300, 256))
    titles = [ax.get_title() for ax in fig.axes if ax.images][1:]
    assert titles == ["d: mean 2.00", "b: mean 0.50"]
    assert "300 x 256 px (height x width)" in fig.axes[0].get_title()  # the order the notebook prints

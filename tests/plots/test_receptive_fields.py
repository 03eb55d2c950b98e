"""Notebook 01's figures: receptive-field squares, unit centres, the effective receptive field in pixels."""

import pytest
import torch
from matplotlib.patches import Rectangle

from vgg_edu import analysis, models, plots, pretrained, receptive

pytestmark = pytest.mark.usefixtures("close_figures")


def squares(ax):
    return sorted(p.get_width() for p in ax.patches if isinstance(p, Rectangle) and p.get_width() == p.get_height())


@pytest.mark.parametrize(
    "layers, kernel, pool, expected",
    [(2, 3, False, [1, 3, 5]), (3, 3, False, [1, 3, 5, 7]), (2, 3, True, [1, 3, 4, 8, 10])],
)
def test_receptive_field_squares(layers, kernel, pool, expected):
    ax = plots.receptive_fields.plot_receptive_field(layers, kernel, pool=pool).axes[0]
    assert squares(ax) == expected  # the centre pixel, then one square per layer
    if not pool:
        c = receptive.stack_vs_single(layers, kernel, 64)
        assert f"{c['stack_params']:,}" in ax.get_title() and f"{c['single_params']:,}" in ax.get_title()


def test_vgg16_stage_squares_over_an_image():
    with torch.device("meta"):
        stages = analysis.stage_table(analysis.layer_table(models.vgg16()))
    ax = plots.receptive_fields.plot_vgg_receptive_fields(stages, pretrained.sample_image()).axes[0]
    assert squares(ax) == [6, 16, 44, 100, 212]
    assert ax.images[0].get_array().shape[:2] == (224, 224)
    assert ax.get_title().startswith("VGG-16 (config D)")
    assert ax.get_legend().get_texts()[-1].get_text() == "pool5: field 212 px, jump 32 px"  # the lesson's word


def test_erf_heatmap_with_theoretical_square():
    erf = torch.zeros(20, 20)
    erf[5:15, 5:15] = 1
    fig = plots.receptive_fields.plot_erf({"a": erf, "b": erf}, rf=10)
    axes = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(axes) == 2
    square = [p for p in axes[0].patches if isinstance(p, Rectangle)][0]
    assert square.get_width() == 10 and square.get_xy() == (4.5, 4.5)  # pixel centres 5..14 -> edges 4.5..14.5


def test_erf_shows_the_whole_input_even_where_the_field_is_off_centre():
    """A review found the axes starting at about 4 px on the 64 px canvas, with nothing saying it was cropped."""
    erf = torch.zeros(40, 40)
    erf[4:24, 4:24] = 1  # a field of 20 px centred on 13.5, nearer the top-left corner
    ax = [a for a in plots.receptive_fields.plot_erf({"a": erf}, rf=20).axes if a.images][0]
    assert ax.get_xlim() == (-0.5, 39.5) and ax.get_ylim() == (39.5, -0.5)  # every pixel, edge to edge
    square = [p for p in ax.patches if isinstance(p, Rectangle)][0]
    assert square.get_xy() == (3.5, 3.5) and square.get_width() == 20  # still drawn around the field's centre


def test_unit_centres_mark_every_unit_and_one_field_per_layer():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(2))
    table = analysis.layer_table(net, (1, 16, 16))
    ax = plots.receptive_fields.plot_unit_centres(table, 16, unit=2).axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) > 1]
    # drawn from the deepest layer (the pool) up to the first conv
    assert [list(d.get_xdata()) for d in dots] == [[1.0 + 2 * i for i in range(8)], [0.5 + i for i in range(16)]]
    bars = [list(line.get_xdata()) for line in ax.lines if line.get_linewidth() == 5]
    assert bars == [[3.0, 7.0], [1.0, 4.0]]  # the pool's unit 2: centre 5, rf 4; the conv's: centre 2.5, rf 3
    assert "pixels" in ax.get_xlabel()


def test_erf_axes_are_in_pixels_with_a_labelled_colourbar():
    fig = plots.receptive_fields.plot_erf({"a": torch.ones(8, 8)}, rf=8)
    ax = [a for a in fig.axes if a.images][0]
    assert "px" in ax.get_xlabel() and "px" in ax.get_ylabel()
    assert any("gradient" in a.get_ylabel() for a in fig.axes if a is not ax)


def test_the_widget_title_says_what_a_stack_of_1x1_convs_costs():
    """1x1 convs never widen the field: the single conv that sees as much is one 1x1 conv, and three hold 3x its
    weights; the title says so instead of a negative saving."""
    title = plots.receptive_fields.plot_receptive_field(3, 1).axes[0].get_title()
    assert "saves" not in title and "-" not in title.split("\n")[1] and "3.0x as many" in title
    assert "saves 45%" in plots.receptive_fields.plot_receptive_field(3, 3).axes[0].get_title()  # 27 C^2 against 49 C^2


def test_the_widget_legend_shows_the_colours_drawn_on_the_grid():
    ax = plots.receptive_fields.plot_receptive_field(3, 3).axes[0]
    squares_drawn = {p.get_label(): p.get_facecolor() for p in ax.patches}
    legend = ax.get_legend()
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        assert handle.get_facecolor() == squares_drawn[text.get_text()]
        assert handle.get_facecolor()[3] == 1  # opaque: overlapping squares do not blend into other colours

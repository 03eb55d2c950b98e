"""The lesson figures draw what they claim: checked through the artists of the returned Figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vgg_edu import analysis, models, plots, pretrained, probe, receptive  # noqa: E402
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit
from vgg_edu.training.optim import schedule_curve

from conftest import small_model, tiny_data  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def squares(ax):
    return sorted(p.get_width() for p in ax.patches if isinstance(p, Rectangle) and p.get_width() == p.get_height())


def test_interactive_returns_the_static_figure_and_checks_controls():
    fig = plots.interactive(plots.plot_receptive_field, layers=(1, 6), kernel=[1, 3, 5])
    assert isinstance(fig, matplotlib.figure.Figure)
    with pytest.raises(TypeError, match="no argument"):
        plots.interactive(plots.plot_receptive_field, depth=(1, 6))
    with pytest.raises(TypeError, match="no argument"):
        plots.interactive(plots.plot_receptive_field, limits={"depth": lambda **_: 3})


def test_in_a_live_kernel_one_bundle_holds_the_widget_and_the_static_png(monkeypatch):
    import ipywidgets

    from vgg_edu.plots import widgets

    shown = []
    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, lambda bundle, raw: shown.append(bundle)))
    monkeypatch.setattr(plt, "show", lambda: None)
    fig = plots.interactive(plots.plot_receptive_field, layers=(1, 6))
    assert len(shown) == 1 and {"image/png", widgets.WIDGET_VIEW} <= set(shown[0])
    open_figures = [plt.figure(n) for n in plt.get_fignums()]
    assert all(f is not fig for f in open_figures)  # closed: the inline backend will not draw it a second time


def test_limits_keep_a_slider_inside_the_chosen_layer(monkeypatch):
    import ipywidgets

    from vgg_edu.plots import widgets

    widths = {"relu1_1": 8, "relu5_2": 64}
    drawn = []

    def plot(layer="relu5_2", channel=0):
        drawn.append((layer, channel))
        return plt.figure()

    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, lambda bundle, raw: None))
    monkeypatch.setattr(plt, "show", lambda: None)
    captured = {}
    real = ipywidgets.interactive

    def spy(f, **kw):
        captured.update(kw)
        return real(f, **kw)

    monkeypatch.setattr(ipywidgets, "interactive", spy)
    monkeypatch.setattr(spy, "widget_from_abbrev", real.widget_from_abbrev, raising=False)
    plots.interactive(
        plot, layer=list(widths), channel=(0, 63), limits={"channel": lambda layer, **_: widths[layer] - 1}
    )
    layer, channel = captured["layer"], captured["channel"]
    assert channel.max == 63
    channel.value = 40
    layer.value = "relu1_1"
    assert channel.max == 7 and channel.value == 7 and drawn[-1] == ("relu1_1", 7)
    assert all(c < widths[name] for name, c in drawn)  # no redraw ever saw a channel its layer does not have


@pytest.mark.parametrize(
    "layers, kernel, pool, expected",
    [(2, 3, False, [1, 3, 5]), (3, 3, False, [1, 3, 5, 7]), (2, 3, True, [1, 3, 4, 8, 10])],
)
def test_receptive_field_squares(layers, kernel, pool, expected):
    ax = plots.plot_receptive_field(layers, kernel, pool=pool).axes[0]
    assert squares(ax) == expected  # the centre pixel, then one square per layer
    if not pool:
        c = receptive.stack_vs_single(layers, kernel, 64)
        assert f"{c['stack_params']:,}" in ax.get_title() and f"{c['single_params']:,}" in ax.get_title()


def test_vgg16_stage_squares_over_an_image():
    with torch.device("meta"):
        stages = analysis.stage_table(analysis.layer_table(models.vgg16()))
    ax = plots.plot_vgg_receptive_fields(stages, pretrained.sample_image()).axes[0]
    assert squares(ax) == [6, 16, 44, 100, 212]
    assert ax.images[0].get_array().shape[:2] == (224, 224)


def test_erf_heatmap_with_theoretical_square():
    erf = torch.zeros(20, 20)
    erf[5:15, 5:15] = 1
    fig = plots.plot_erf({"a": erf, "b": erf}, rf=10)
    axes = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(axes) == 2
    square = [p for p in axes[0].patches if isinstance(p, Rectangle)][0]
    assert square.get_width() == 10 and square.get_xy() == (4.5, 4.5)  # pixel centres 5..14 -> edges 4.5..14.5


def test_shapes_plot_lists_every_conv_and_pool():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg11())
    ax = plots.plot_shapes(table).axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14, 7]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[:3] == ["conv1_1   224x224x64", "pool1   112x112x64", "conv2_1   112x112x128"]
    assert ticks[-1] == "pool5   7x7x512"


def test_shapes_plot_labels_do_not_overlap_even_for_vgg19():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg19())
    fig = plots.plot_shapes(table)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == 16 + 5
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))  # left to right, none over the next
    inside = fig.bbox
    assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 for b in boxes)  # none cut off


def test_widget_labels_are_never_cut(monkeypatch):
    import ipywidgets

    from vgg_edu.plots import widgets

    captured = {}
    real = ipywidgets.interactive

    def spy(f, **kw):
        captured.update(kw)
        return real(f, **kw)

    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, lambda bundle, raw: None))
    monkeypatch.setattr(plt, "show", lambda: None)
    monkeypatch.setattr(ipywidgets, "interactive", spy)
    monkeypatch.setattr(spy, "widget_from_abbrev", real.widget_from_abbrev, raising=False)
    plots.interactive(plots.plot_receptive_field, layers=(1, 6), channels=[64, 128])
    assert {name: c.style.description_width for name, c in captured.items()} == {
        "layers": "initial",
        "channels": "initial",
    }


def test_where_plot_has_one_bar_per_weight_layer():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg16())
    top, bottom = plots.plot_where(table).axes[:2]
    assert len(top.patches) == 16
    assert max(p.get_height() for p in top.patches) == pytest.approx((25088 * 4096 + 4096) / 1e6)


def test_configs_forward_and_bn_plots_draw():
    fig = plots.plot_configs(analysis.config_table())
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
    fig = plots.plot_forward(results)
    assert "estimate" in fig.axes[1].get_title()
    stats = pd.DataFrame({"conv": [2, 3], "mean": [0.4, 0.4], "std": [0.6, 0.6], "zeros": [0.5, 0.5]})
    fig = plots.plot_bn_placement({"before": stats}, {"before": [2.0] * 40})
    assert len(fig.axes) == 3


def test_training_figures_draw(one_thread):
    ds = tiny_data(n_val=24)
    model = small_model()
    h = fit(model, ds, epochs=2, batch_size=32, lr=0.01, quiet=True)
    ev = evaluate(model, ds, "test", details=True)
    loss_ax, acc_ax = plots.plot_history(h).axes
    assert [line.get_label() for line in acc_ax.lines] == ["train", "validation"]
    assert acc_ax.lines[1].get_ydata().tolist() == [r["val_acc"] for r in h.epochs]
    assert len(plots.plot_confusion(ev.confusion()).axes) == 2  # the matrix and its colour bar
    wrong = int((ev.predictions != ev.labels).sum())
    fig = plots.plot_misclassified(ds.test_images, ev, k=8)
    assert sum(1 for ax in fig.axes if ax.images) == min(8, wrong)
    fig = plots.plot_time_vs_accuracy({"a": h})
    assert fig.axes[0].lines[0].get_ydata().tolist() == [r["val_acc"] for r in h.epochs]
    assert len(plots.plot_samples(ds, per_class=2).axes) == 20
    assert plots.plot_resized(64, 0, ds).axes[1].images[0].get_array().shape == (64, 64)


@pytest.fixture(scope="module")
def probed():
    torch.manual_seed(0)
    model = models.init_weights(
        models.VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming_fan_in"
    ).eval()
    return model, torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def test_feature_map_figures(probed):
    model, x = probed
    assert len(plots.plot_feature_maps(model, x[0], "relu2_1", channels=6).axes) == 6
    assert len(plots.plot_stages(model, x[0], channels=4).axes) == 5 * 5  # VGG-11: five stages
    assert len(plots.plot_channel(model, x[0], "relu3_1", 2).axes) == 3 + 1  # and the map's colourbar
    assert len(plots.plot_top_k(model, x, "relu3_1", 2, k=3).axes) == 6
    filters = plots.plot_filters(model)
    assert len(filters.axes) == 4 + 1  # 64 / 16 filters in conv1_1, one colourbar (one input channel)
    assert filters.axes[-1].get_ylabel() == "weight"
    stats_axes = plots.plot_channel_stats(probe.channel_stats(model, x)).axes
    assert len(stats_axes) == 2 and all(ax.get_ylabel() and ax.get_xlabel() for ax in stats_axes)
    maps = {"Grad-CAM": probe.grad_cam(model, x[:2]), "saliency": probe.saliency(model, x[:2])}
    assert len(plots.plot_attributions(x[:2], maps).axes) == 6 + 2  # 2 x 3 panels, a colourbar per map
    assert len(plots.plot_embedding(np.random.rand(4, 2), [0, 1, 1, 2], ["a", "b", "c"]).axes) == 1
    with pytest.raises(ValueError, match="no spatial maps"):
        plots.plot_feature_maps(model, x[0], "fc6")
    with pytest.raises(ValueError, match=r"relu1_1 has 4 channels \(0 to 3\); got channel 4"):
        plots.plot_channel(model, x[0], "relu1_1", 4)  # never wraps round to channel 0
    assert probe.layer_widths(model, x)["relu1_1"] == 4 and probe.layer_widths(model, x)["relu5_2"] == 32


def test_attribution_colourbars_say_what_they_measure_and_share_a_scale(probed):
    model, x = probed
    black = probe.pixel_input(model, 0)
    grey = probe.occlusion(model, x[:2], window=8, stride=8)
    dark = probe.occlusion(model, x[:2], window=8, stride=8, baseline=black)
    maps = {"occlusion, grey": grey, "occlusion, black": dark, "Grad-CAM": probe.grad_cam(model, x[:2])}
    fig = plots.plot_attributions(x[:2], maps, units={"Grad-CAM": "a.u."})
    bars = fig.axes[-3:]
    assert [b.get_xlabel() for b in bars] == ["drop in P(c | x)", "drop in P(c | x)", "a.u."]
    panels = fig.axes[:-3]  # row by row: image, then one panel per map
    overlays = [panels[k].images[-1] for k in (1, 2)]
    top = float(torch.cat([grey.flatten(), dark.flatten()]).abs().max())
    assert all(im.get_clim() == pytest.approx((-top, top)) for im in overlays)  # one symmetric scale for both
    cams = [panels[k].images[-1].get_array() for k in (3, 7)]  # Grad-CAM: each image's map divided by its max
    assert [float(c.max()) for c in cams] == pytest.approx([1.0, 1.0])


def test_only_plots_imports_matplotlib():
    import subprocess
    import sys

    code = (
        "import importlib, pathlib, sys, vgg_edu\n"
        "root = pathlib.Path(vgg_edu.__file__).parent\n"
        "files = [p.relative_to(root.parent).with_suffix('') for p in root.rglob('*.py') if 'plots' not in p.parts]\n"
        "names = ['.'.join(f.parts).removesuffix('.__init__') for f in files if f.name != '__main__']\n"
        "[importlib.import_module(n) for n in names]\n"
        "print(len(names) > 30, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True False", out.stderr


def test_vgg16_stack_draws_every_conv_pool_and_fc_with_the_papers_names():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg16())
    ax = plots.plot_vgg_stack(table).axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 13 + 5 + 3
    assert [b.get_height() for b in boxes[:3]] == [224, 224, 112]  # conv1_1, conv1_2, pool1: H of the output
    texts = {t.get_text() for t in ax.texts}
    assert {"conv1_1", "conv5_3", "pool5", "fc6", "fc8", "224x224x64", "7x7x512"} <= texts


def test_unit_centres_mark_every_unit_and_one_field_per_layer():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.MaxPool2d(2))
    table = analysis.layer_table(net, (1, 16, 16))
    ax = plots.plot_unit_centres(table, 16, unit=2).axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) > 1]
    # drawn from the deepest layer (the pool) up to the first conv
    assert [list(d.get_xdata()) for d in dots] == [[1.0 + 2 * i for i in range(8)], [0.5 + i for i in range(16)]]
    bars = [list(line.get_xdata()) for line in ax.lines if line.get_linewidth() == 5]
    assert bars == [[3.0, 7.0], [1.0, 4.0]]  # the pool's unit 2: centre 5, rf 4; the conv's: centre 2.5, rf 3
    assert "pixels" in ax.get_xlabel()


def test_erf_axes_are_in_pixels_with_a_labelled_colourbar():
    fig = plots.plot_erf({"a": torch.ones(8, 8)}, rf=8)
    ax = [a for a in fig.axes if a.images][0]
    assert "px" in ax.get_xlabel() and "px" in ax.get_ylabel()
    assert any("gradient" in a.get_ylabel() for a in fig.axes if a is not ax)


def test_configs_plot_shows_table_3_from_zero():
    fig = plots.plot_configs(analysis.config_table())
    errors = fig.axes[2]
    assert [p.get_height() for p in errors.patches] == [29.6, 29.7, 28.7, 28.1, 27.0, 27.3]
    assert all(ax.get_ylim()[0] == 0 for ax in fig.axes[:3])


def test_where_plot_uses_the_papers_names():
    with torch.device("meta"):
        table = analysis.layer_table(models.vgg11())
    bottom = plots.plot_where(table).axes[1]
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels[:3] == ["conv1_1", "conv2_1", "conv3_1"] and labels[-3:] == ["fc6", "fc7", "fc8"]


def test_forward_plot_stacks_activations_on_the_weights():
    results = pd.DataFrame(
        {"batch_size": [1, 4], "ms_per_batch": [10.0, 30.0], "ms_min": [9.0, 28.0], "ms_max": [12.0, 33.0],
         "weights_MB": [500.0, 500.0], "peak_memory_MB": [20.0, 80.0], "memory_source": ["estimate (layer table)"] * 2}
    )  # fmt: skip
    time_ax, memory_ax = plots.plot_forward(results, "CPU").axes
    assert [t.get_text() for t in time_ax.get_xticklabels()] == ["1", "4"]  # the batch sizes, not log ticks
    assert time_ax.get_yscale() == "linear" and time_ax.get_ylim()[0] == 0
    heights = [(p.get_y(), p.get_height()) for p in memory_ax.patches]
    assert heights == [(0, 500.0), (0, 500.0), (500.0, 20.0), (500.0, 80.0)]
    assert "estimate" in memory_ax.get_title()


def test_score_map_shows_the_best_classes_by_their_mean_score():
    scores = torch.zeros(1, 5, 2, 3)
    scores[0, 3] = 2.0
    scores[0, 1, 0, 0] = 3.0  # one high cell, mean 0.5
    fig = plots.plot_score_map(pretrained.sample_image(), scores, list("abcde"), top=2, input_size=(300, 256))
    titles = [ax.get_title() for ax in fig.axes if ax.images][1:]
    assert titles == ["d: mean 2.00", "b: mean 0.50"]
    assert "256 x 300" in fig.axes[0].get_title()


def test_losses_plot_labels_its_axes():
    ax = plots.plot_losses({"no BN": [2.3] * 40, "BN": [2.0] * 40}, "a run").axes[0]
    assert len(ax.lines) == 2 and ax.get_ylabel() and ax.get_xlabel() == "SGD step"


def test_schedule_plot_draws_each_curve_with_an_epoch_axis():
    curves = {name: schedule_curve(name, 40, 0.1) for name in ("constant", "onecycle")}
    fig = plots.plot_schedules(curves, title="two schedules", steps_per_epoch=10)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["constant", "onecycle"]
    assert list(ax.lines[1].get_ydata()) == pytest.approx(curves["onecycle"])
    assert (
        ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "learning rate" and ax.get_title() == "two schedules"
    )
    assert any(a.get_xlabel() == "epoch" for a in fig.axes[0].child_axes)
    plt.close(fig)


def test_accuracy_curves_draw_validation_and_test_per_run():
    rows = [dict(wall_s=10.0 * i, val_acc=0.8 + 0.01 * i, test_acc=0.79 + 0.01 * i) for i in range(1, 4)]
    fig = plots.plot_accuracy_curves({"a": rows}, targets=(0.92,))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["a: validation", "a: test"]
    assert list(ax.lines[1].get_ydata()) == pytest.approx([0.80, 0.81, 0.82])
    assert list(ax.lines[0].get_xdata()) == [10.0, 20.0, 30.0] and "wall time (s)" in ax.get_xlabel()
    plt.close(fig)

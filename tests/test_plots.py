"""The lesson figures draw what they claim: checked through the artists of the returned Figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vgg_edu import analysis, models, plots, pretrained, probe, receptive, train  # noqa: E402

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
    h = train.fit(model, ds, epochs=2, batch_size=32, lr=0.01, progress=False, verbose=False, live_plot=False)
    ev = train.evaluate(model, ds, "test", details=True)
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
        models.VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming"
    ).eval()
    return model, torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def test_feature_map_figures(probed):
    model, x = probed
    assert len(plots.plot_feature_maps(model, x[0], "relu2_1", channels=6).axes) == 6
    assert len(plots.plot_stages(model, x[0], channels=4).axes) == 5 * 5  # VGG-11: five stages
    assert len(plots.plot_channel(model, x[0], "relu3_1", 2).axes) == 3
    assert len(plots.plot_top_k(model, x, "relu3_1", 2, k=3).axes) == 6
    assert len(plots.plot_filters(model).axes) == 4  # 64 / 16 filters in conv1_1
    assert len(plots.plot_channel_stats(probe.channel_stats(model, x)).axes) == 2
    maps = {"Grad-CAM": probe.grad_cam(model, x[:2]), "saliency": probe.saliency(model, x[:2])}
    assert len(plots.plot_attributions(x[:2], maps).axes) == 6
    assert len(plots.plot_embedding(np.random.rand(4, 2), [0, 1, 1, 2], ["a", "b", "c"]).axes) == 1
    with pytest.raises(ValueError, match="no spatial maps"):
        plots.plot_feature_maps(model, x[0], "fc6")
    with pytest.raises(ValueError, match=r"relu1_1 has 4 channels \(0 to 3\); got channel 4"):
        plots.plot_channel(model, x[0], "relu1_1", 4)  # never wraps round to channel 0
    assert probe.layer_widths(model, x)["relu1_1"] == 4 and probe.layer_widths(model, x)["relu5_2"] == 32


def test_only_plots_imports_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, vgg_edu, vgg_edu.analysis, vgg_edu.train, vgg_edu.probe, vgg_edu.checkpoint, "
        "vgg_edu.receptive, vgg_edu.data, vgg_edu.exercises; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr

"""interactive: the static figure, one bundle in a live kernel, sliders kept inside their layer, labels never cut."""

import matplotlib.figure
import matplotlib.pyplot as plt
import pytest

from vgg_edu import plots
from vgg_edu.plots.alt_text import describe

pytestmark = pytest.mark.usefixtures("close_figures")


def test_interactive_returns_the_static_figure_and_checks_controls():
    fig = plots.widgets.interactive(plots.receptive_fields.plot_receptive_field, layers=(1, 6), kernel=[1, 3, 5])
    assert isinstance(fig, matplotlib.figure.Figure)
    with pytest.raises(TypeError, match="no argument"):
        plots.widgets.interactive(plots.receptive_fields.plot_receptive_field, depth=(1, 6))
    with pytest.raises(TypeError, match="no argument"):
        plots.widgets.interactive(plots.receptive_fields.plot_receptive_field, limits={"depth": lambda **_: 3})


def test_in_a_live_kernel_one_bundle_holds_the_widget_and_the_static_png(monkeypatch):
    import ipywidgets

    from vgg_edu.plots import widgets

    shown, alts = [], []

    def show(bundle, raw, metadata=None):
        shown.append(bundle)
        alts.append(metadata["image/png"]["alt"])

    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, show))
    monkeypatch.setattr(plt, "show", lambda: None)
    fig = plots.widgets.interactive(plots.receptive_fields.plot_receptive_field, layers=(1, 6))
    assert len(shown) == 1 and {"image/png", widgets.WIDGET_VIEW} <= set(shown[0])
    assert alts == [describe(fig)] and "x: input column" in alts[0]  # the static PNG has its alt text too
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

    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, lambda bundle, raw, metadata=None: None))
    monkeypatch.setattr(plt, "show", lambda: None)
    captured = {}
    real = ipywidgets.interactive

    def spy(f, **kw):
        captured.update(kw)
        return real(f, **kw)

    monkeypatch.setattr(ipywidgets, "interactive", spy)
    monkeypatch.setattr(spy, "widget_from_abbrev", real.widget_from_abbrev, raising=False)
    plots.widgets.interactive(
        plot, layer=list(widths), channel=(0, 63), limits={"channel": lambda layer, **_: widths[layer] - 1}
    )
    layer, channel = captured["layer"], captured["channel"]
    assert channel.max == 63
    channel.value = 40
    layer.value = "relu1_1"
    assert channel.max == 7 and channel.value == 7 and drawn[-1] == ("relu1_1", 7)
    assert all(c < widths[name] for name, c in drawn)  # no redraw ever saw a channel its layer does not have


def test_widget_labels_are_never_cut(monkeypatch):
    import ipywidgets

    from vgg_edu.plots import widgets

    captured = {}
    real = ipywidgets.interactive

    def spy(f, **kw):
        captured.update(kw)
        return real(f, **kw)

    monkeypatch.setattr(widgets, "_widget_modules", lambda: (ipywidgets, lambda bundle, raw, metadata=None: None))
    monkeypatch.setattr(plt, "show", lambda: None)
    monkeypatch.setattr(ipywidgets, "interactive", spy)
    monkeypatch.setattr(spy, "widget_from_abbrev", real.widget_from_abbrev, raising=False)
    plots.widgets.interactive(plots.receptive_fields.plot_receptive_field, layers=(1, 6), channels=[64, 128])
    assert {name: c.style.description_width for name, c in captured.items()} == {
        "layers": "initial",
        "channels": "initial",
    }

"""``interactive``: a figure with controls in a live notebook, one static figure everywhere else."""

from __future__ import annotations

import base64
import functools
import inspect
import io

import matplotlib.pyplot as plt

from .alt_text import describe

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def interactive(plot, *, limits: dict | None = None, **controls):
    """Draw ``plot`` with controls where a live kernel with ipywidgets can show them, else once as a static figure.

    ``controls`` are ipywidgets abbreviations: ``layers=(1, 6)`` a slider, ``kernel=[1, 3, 5]`` a dropdown,
    ``pool=True`` a checkbox. ``limits`` makes a slider's range follow the other controls:
    ``limits={"channel": lambda layer, **_: widths[layer] - 1}`` sets the channel slider's maximum from the chosen
    layer (and moves its value inside), before the figure is redrawn.

    In a live kernel the output is one bundle: the widget (controls and the live figure) and, for frontends that
    cannot show widgets (an HTML export, GitHub), the static figure as a PNG; each frontend shows one of the two.
    The same on ipywidgets 7.7 (Google Colab's) and 8 (JupyterLab 4's). With
    no kernel or no ipywidgets the static figure is shown. An exception inside a redraw is shown with its traceback
    in the widget's output area, never swallowed. Returns the static figure (drawn with ``plot``'s defaults), for
    ``figures.save_figure``.
    """
    params = inspect.signature(plot).parameters
    unknown = (set(controls) | set(limits or {})) - set(params)
    if unknown:
        raise TypeError(f"{plot.__name__} has no argument(s) {sorted(unknown)}; it takes {list(params)}")
    figure = plot()
    widgets = _widget_modules()
    if widgets is None:
        plt.show()
        return figure
    plt.close(figure)  # shown inside the bundle below, not a second time by the inline backend
    ipywidgets, display = widgets

    @functools.wraps(plot)  # keeps plot's signature, so each control starts at plot's default
    def redraw(**kwargs):
        plot(**kwargs)
        plt.show()

    built = {
        name: ipywidgets.interactive.widget_from_abbrev(abbrev, params[name].default)
        for name, abbrev in controls.items()
    }
    for name, control in built.items():
        control.description = name
        control.style.description_width = "initial"  # the whole name ("width_divisor"), never cut to "width_divi..."
    _follow(built, limits or {})  # observers registered first: limits apply before the redraw
    widget = ipywidgets.interactive(redraw, **built)
    if _major(ipywidgets) < 8:  # 7 draws first when the widget itself is displayed, which a raw bundle never does
        widget.update()
    bundle = _view_bundle(widget)
    bundle["image/png"] = _png(figure)
    display(bundle, raw=True, metadata={"image/png": {"alt": describe(figure)}})  # alt text as every figure has
    return figure


def _widget_modules():
    """(ipywidgets, display) in a live IPython kernel with ipywidgets installed, else None."""
    try:
        import ipywidgets
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    return (ipywidgets, display) if hasattr(get_ipython(), "kernel") else None


def _major(ipywidgets) -> int:
    """ipywidgets' major version: 7 (Colab's 7.7.1) and 8 differ in how ``interactive`` draws first."""
    return int(ipywidgets.__version__.split(".")[0])


def _view_bundle(widget) -> dict:
    """The widget's display data, as ipywidgets 7 and 8 both write it (8 in ``_repr_mimebundle_``, 7 inside
    ``_ipython_display_``): a view of its model, protocol version 2.0, which Colab's frontend and JupyterLab read."""
    view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return {"text/plain": repr(widget)[:110], WIDGET_VIEW: view}


def _follow(controls: dict, limits: dict) -> None:
    """Keep each limited slider's maximum at ``limits[name](**current values)``; ipywidgets clamps the value."""
    if not limits:
        return

    def update(change=None):
        values = {name: c.value for name, c in controls.items()}
        for name, limit in limits.items():
            controls[name].max = int(limit(**values))

    for name, control in controls.items():
        if name not in limits:
            control.observe(update, names="value")
    update()


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()

"""``interactive``: a figure with controls in a live notebook, one static figure everywhere else."""

from __future__ import annotations

import base64
import functools
import inspect
import io

import matplotlib.pyplot as plt

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def interactive(plot, *, limits: dict | None = None, **controls):
    """Draw ``plot`` with controls where a live kernel with ipywidgets can show them, else once as a static figure.

    ``controls`` are ipywidgets abbreviations: ``layers=(1, 6)`` a slider, ``kernel=[1, 3, 5]`` a dropdown,
    ``pool=True`` a checkbox. ``limits`` makes a slider's range follow the other controls:
    ``limits={"channel": lambda layer, **_: widths[layer] - 1}`` sets the channel slider's maximum from the chosen
    layer (and moves its value inside), before the figure is redrawn.

    In a live kernel the output is one bundle: the widget (controls and the live figure) and, for frontends that
    cannot show widgets (an HTML export, GitHub), the static figure as a PNG; each frontend shows one of the two. With
    no kernel or no ipywidgets the static figure is shown. An exception inside a redraw is shown with its traceback
    in the widget's output area, never swallowed. Returns the static figure (drawn with ``plot``'s defaults), for
    ``runtime.save_figure``.
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
    bundle = widget._repr_mimebundle_()
    bundle["image/png"] = _png(figure)
    display(bundle, raw=True)
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

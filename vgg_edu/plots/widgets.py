"""``interactive``: a figure with controls in a live notebook, one static figure everywhere else."""

from __future__ import annotations

import functools
import inspect

import matplotlib.pyplot as plt


def interactive(plot, **controls):
    """Call ``plot`` once with its default arguments (a static figure that CI and HTML renders show), then, where
    ipywidgets and a live kernel are present, show controls that call it again.

    ``controls`` are ipywidgets abbreviations: ``layers=(1, 6)`` a slider, ``kernel=[1, 3, 5]`` a dropdown,
    ``pool=True`` a checkbox. An exception inside a callback is printed with its traceback in the widget's
    output area (ipywidgets' own ``showtraceback``), never swallowed. Returns the static figure: assign it
    (``fig = interactive(...)``) so Jupyter does not draw it a second time.
    """
    params = inspect.signature(plot).parameters
    unknown = set(controls) - set(params)
    if unknown:
        raise TypeError(f"{plot.__name__} has no argument(s) {sorted(unknown)}; it takes {list(params)}")

    figure = plot()
    plt.show()
    try:
        import ipywidgets
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return figure
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return figure

    @functools.wraps(plot)  # keeps plot's signature, so each control starts at plot's default
    def redraw(**kwargs):
        plot(**kwargs)
        plt.show()

    widget = ipywidgets.interactive(redraw, **controls)
    display(widget)
    return figure

"""Alt text for every figure a notebook shows: its titles and axis labels, as the image's description.

A figure drawn in a notebook reaches the page as a PNG; screen readers, and nbconvert's HTML (which warns about
every image without one), need words for it. ``describe(fig)`` builds them from what the figure already says;
``register()`` makes the notebook's PNG output carry them (``metadata["image/png"]["alt"]``).
"""

from __future__ import annotations

from matplotlib.figure import Figure


def describe(fig: Figure) -> str:
    """ "<suptitle>. Panel 1: <title> (x: <xlabel>; y: <ylabel>). ..." from the figure's own text."""
    parts = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(" ".join(fig._suptitle.get_text().split()))
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    for i, ax in enumerate(axes, 1):
        labels = [f"{k}: {v}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v]
        title = " ".join(ax.get_title().split())
        panel = (title or "untitled panel") + (f" ({'; '.join(labels)})" if labels else "")
        parts.append(f"Panel {i}: {panel}" if len(axes) > 1 else panel)
    return ". ".join(parts) or "A figure without titles or axis labels."


def register() -> bool:
    """In a Jupyter kernel, give every Figure's PNG output its ``describe`` text as alt text; True if done."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    png = shell.display_formatter.formatters["image/png"]
    try:
        draw = png.lookup_by_type(Figure)
    except KeyError:  # the inline backend registers its printer with the first figure: make one, then look again
        import matplotlib.pyplot as plt

        plt.close(plt.figure())
        try:
            draw = png.lookup_by_type(Figure)
        except KeyError:  # figures are not shown as PNG here (another backend)
            return False
    if getattr(draw, "with_alt_text", False):
        return True

    def with_alt(fig):
        data = draw(fig)
        return (data, {"alt": describe(fig)}) if data is not None else None

    with_alt.with_alt_text = True
    png.for_type(Figure, with_alt)
    return True

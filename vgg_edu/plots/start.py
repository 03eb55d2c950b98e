"""Figure of notebook 00: VGG-16's stack of layers, drawn from its ``layer_table``."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Patch, Rectangle

_COLOURS = {"Conv2d": "tab:blue", "MaxPool2d": "tab:red", "Linear": "tab:orange"}


def plot_vgg_stack(table, title: str = "VGG-16 (config D), one 224 x 224 x 3 image"):
    """Every conv, pool and FC layer of a ``layer_table`` as a box, left to right, named as in the paper (its
    ``name`` column): a box's height is its output's H (= W) in pixels, its width grows with the channels; an FC
    layer's height is its number of outputs / 32 (drawn on the same axis, labelled). The label under a box gives
    its output shape."""
    rows = table[table["type"].str.startswith(tuple(_COLOURS))]
    fig, ax = plt.subplots(figsize=(14, 4.6))
    x = 0.0
    for row in rows.itertuples():
        kind = row.type.split()[0]
        shape = row.output_shape
        if kind == "Linear":
            height, width, label = shape[0] / 32, 6.0, f"{shape[0]}"
        else:
            height, width, label = shape[1], 2 + shape[0] / 64, f"{shape[1]}x{shape[2]}x{shape[0]}"
        ax.add_patch(Rectangle((x, -height / 2), width, height, facecolor=_COLOURS[kind], alpha=0.75, edgecolor="k"))
        ax.text(x + width / 2, height / 2 + 4, row.name, rotation=90, ha="center", va="bottom", fontsize=8)
        ax.text(x + width / 2, -height / 2 - 4, label, rotation=90, ha="center", va="top", fontsize=7)
        x += width + 1.5
    ax.set(xlim=(-2, x + 1), ylim=(-200, 190))
    ax.axis("off")
    ax.text(
        0,
        -195,
        "box height: the output's H (= W) in pixels (FC layers: outputs / 32); box width grows with the "
        "channels; the label under a box is H x W x C",
        fontsize=8,
        va="bottom",
    )
    names = ["3x3 conv + ReLU", "2x2 max-pool", "fully connected"]
    handles = [Patch(color=c, alpha=0.75, label=n) for c, n in zip(_COLOURS.values(), names)]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig

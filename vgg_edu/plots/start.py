"""Figure of notebook 00: VGG-16's stack of layers, drawn from its ``layer_table``."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Patch, Rectangle

_COLOURS = {"Conv2d": "tab:blue", "MaxPool2d": "tab:red", "Linear": "tab:orange"}


def plot_vgg_stack(table, title: str = "VGG-16 (config D), one 3 x 224 x 224 image (C x H x W)"):
    """Every conv, pool and FC layer of a ``layer_table`` as a box, left to right, named as in the paper (its
    ``name`` column): a box's height is its output's H (= W) in pixels, its width grows with the channels C (as
    sqrt(C), so that fc6's 4096 do not crowd out the convs). An FC layer's output is a vector, with no H or W: its
    box is 1 px high (drawn as a thick line; a vector is C x 1 x 1, which is what dense evaluation makes fc6-fc8,
    notebook 03). The label under a box gives its output shape in PyTorch's order, C x H x W."""
    rows = table[table["type"].str.startswith(tuple(_COLOURS))]
    fig, ax = plt.subplots(figsize=(14, 4.6))
    x = 0.0
    for row in rows.itertuples():
        kind = row.type.split()[0]
        shape = row.output_shape
        channels, height = shape[0], (1 if kind == "Linear" else shape[1])
        width = channels**0.5 / 2.5
        label = f"{channels}" if kind == "Linear" else "x".join(str(v) for v in shape)
        edge = dict(edgecolor=_COLOURS[kind], lw=2) if kind == "Linear" else dict(edgecolor="k")  # 1 px: a line
        ax.add_patch(Rectangle((x, -height / 2), width, height, facecolor=_COLOURS[kind], alpha=0.75, **edge))
        ax.text(x + width / 2, height / 2 + 4, row.name, rotation=90, ha="center", va="bottom", fontsize=8)
        ax.text(x + width / 2, -height / 2 - 4, label, rotation=90, ha="center", va="top", fontsize=7)
        x += width + 1.5
    ax.set(xlim=(-2, x + 1), ylim=(-200, 190))
    ax.axis("off")
    ax.text(
        0,
        -195,
        "label under a box: its output, C x H x W (channels x height x width, PyTorch's order; FC layers: C values). "
        "Box height: H (= W) in pixels (an FC output has none: 1 px, a line). Box width grows with C (as \u221aC)",
        fontsize=8,
        va="bottom",
    )
    names = ["3x3 conv + ReLU", "2x2 max-pool", "fully connected"]
    handles = [Patch(color=c, alpha=0.75, label=n) for c, n in zip(_COLOURS.values(), names)]
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig

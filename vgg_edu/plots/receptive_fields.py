"""Figures of notebook 01: receptive fields."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..receptive import erf_centre, receptive_field, stack_layers, stack_vs_single


def plot_receptive_field(layers: int = 3, kernel: int = 3, stride: int = 1, pool: bool = False, channels: int = 64):
    """The receptive field of one output unit of a conv stack, drawn on the input's pixel grid: one square per
    layer (what a unit after that layer sees), with the parameter count against a single conv that sees as much.
    The default, three 3x3 convs that see 7 x 7, is the paper's example (Sec. 2.3: 27 C^2 weights against 49 C^2)."""
    stack = stack_layers(layers, kernel, stride, pool)
    fields = receptive_field(stack)
    rf = fields[-1][0]
    size = rf + 4
    fig, ax = plt.subplots(figsize=(5.5, 5.8))
    ax.set_xlim(0, size), ax.set_ylim(size, 0), ax.set_aspect("equal")
    step = 1 if size <= 40 else 5
    ax.set_xticks(range(0, size + 1, step)), ax.set_yticks(range(0, size + 1, step))
    ax.grid(True, color="0.85", lw=0.5) if size <= 80 else None
    ax.tick_params(labelbottom=False, labelleft=False, length=0)
    ax.set(xlabel="input column (one grid square = one pixel)", ylabel="input row (pixels)")
    colours = matplotlib.colormaps["viridis"]
    for i, (r, _) in reversed(list(enumerate(fields))):  # largest first: each smaller square covers its middle
        name = "pool" if (pool and i % 2 == 1) else f"conv{(i // 2 if pool else i) + 1}"
        edge = np.array(colours(1 - (i + 1) / len(stack)))
        fill = 0.35 * edge + 0.65 * np.ones(4)  # a light, opaque tint: the legend's patch is the colour on the grid
        square = ((size - r) / 2, (size - r) / 2)
        ax.add_patch(Rectangle(square, r, r, facecolor=fill, edgecolor=edge, lw=1.5, label=f"after {name}: {r} x {r}"))
    ax.add_patch(
        Rectangle(((size - 1) / 2, (size - 1) / 2), 1, 1, color="crimson", label="the input pixel at the centre")
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_axisbelow(False)  # the pixel grid over the squares
    if stride == 1 and not pool:
        text = _stack_title(layers, kernel, channels, rf)
    else:
        text = (
            f"receptive field {rf} x {rf} px, effective stride {fields[-1][1]}; "
            f"{layers} convs hold {layers * kernel**2 * channels**2:,} weights (C = {channels})"
        )
    ax.set_title(text, fontsize=9)
    return fig


def _stack_title(layers: int, kernel: int, channels: int, rf: int) -> str:
    """The widget's title for a stride-1 stack: its weights against the one conv that sees as much, as a saving or
    as a cost (1x1 convs never widen the field: the single conv is then one 1x1 conv, and the stack costs more)."""
    c = stack_vs_single(layers, kernel, channels)
    head = f"{layers} x ({kernel}x{kernel} conv) sees {rf}x{rf}: {c['stack_params']:,} weights, {layers} ReLUs\n"
    single = f"one {rf}x{rf} conv: {c['single_params']:,} weights, 1 ReLU"
    if c["saving"] > 0:
        verdict = f"the stack saves {c['saving']:.0%}"
    elif c["saving"] < 0:
        verdict = f"the stack holds {c['stack_params'] / c['single_params']:.1f}x as many"
    else:
        verdict = "the same weights"
    return f"{head}{single}  ({verdict}; C = {channels})"


def plot_vgg_receptive_fields(stages, image=None, size: int = 224, network: str = "VGG-16 (config D)"):
    """``network``'s receptive field stage by stage (its ``stage_table``: pool1, pool2, ...) as squares centred on
    a ``size`` x ``size`` image (a PIL image or array; a blank canvas when None); the legend gives each stage's
    field and jump (the distance in input pixels between neighbouring units), in notebook 01's words."""
    fig, ax = plt.subplots(figsize=(6.5, 6))
    if image is not None:
        from PIL import Image

        image = Image.fromarray(np.asarray(image)) if not hasattr(image, "resize") else image
        ax.imshow(np.asarray(image.resize((size, size))), extent=(0, size, size, 0))
    colours = matplotlib.colormaps["plasma"]
    for i, row in enumerate(stages.itertuples()):
        r = row.rf
        colour = colours(i / max(len(stages) - 1, 1))
        ax.add_patch(
            Rectangle(
                ((size - r) / 2, (size - r) / 2),
                r,
                r,
                fill=False,
                edgecolor=colour,
                lw=2.5,
                label=f"{row.stage}: field {r:.0f} px, jump {row.jump:.0f} px",
            )
        )
    ax.set_xlim(0, size), ax.set_ylim(size, 0), ax.set_aspect("equal")
    ax.set(xlabel="input column (px)", ylabel="input row (px)")
    ax.set_title(f"{network}: what one unit at the centre sees after each pool\n({size} x {size} px input)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def plot_unit_centres(table, size: int, unit: int = 1):
    """Where each layer's units sit on the input (one axis): a dot at every centre ``start + i * jump`` of a
    ``layer_table``'s conv and pool rows (paper names), and the field ``[centre - rf / 2, centre + rf / 2)`` of
    unit ``unit`` as a bar, on an input of ``size`` pixels (the shaded part beyond it is padding)."""
    rows = table[table["type"].str.startswith(("Conv2d", "MaxPool2d"))].iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.6))
    for y, row in enumerate(rows.itertuples()):
        n = row.output_shape[-1]
        centres = row.start + np.arange(n) * row.jump
        ax.plot(centres, [y] * n, "o", color="0.35", ms=3)
        centre = row.start + unit * row.jump
        ax.plot(
            [centre - row.rf / 2, centre + row.rf / 2],
            [y, y],
            color="tab:blue",
            lw=5,
            alpha=0.45,
            solid_capstyle="butt",
        )
        ax.plot(centre, y, "o", color="crimson", ms=6)
        ax.text(size + 0.5, y, f"start {row.start:g}, jump {row.jump:g}, rf {row.rf:g}", va="center", fontsize=8)
    ax.axvspan(-40, 0, color="0.92"), ax.axvspan(size, size + 40, color="0.92")
    labels = [f"{name} ({kind.split()[0].replace('2d', '')})" for name, kind in zip(rows["name"], rows["type"])]
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlim(min(-2, (rows["start"] + unit * rows["jump"] - rows["rf"] / 2).min() - 1), size + 13)
    ax.set(xlabel="input coordinate (pixels; pixel i spans i to i + 1, its centre is i + 0.5; grey: padding)")
    ax.set_title(
        f"Centres of every unit (dots) and the field of unit {unit} (red dot, blue bar), {size} px input", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot_erf(maps: dict, rf: int, title: str = ""):
    """Effective receptive fields (``receptive.effective_receptive_field`` maps, by name) as heatmaps, each with
    the theoretical ``rf`` x ``rf`` square around the support's centre (Luo et al. 2016, Fig. 1). Axes in input
    pixels, over the whole input (nothing cropped, so the axes start at 0); the colour is |d y_centre / d x|
    relative to the map's maximum. ``title`` says what was run."""
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 4.4), squeeze=False)
    for ax, (name, erf) in zip(axes[0], maps.items()):
        image = ax.imshow(erf.numpy(), cmap="magma")
        cy, cx = erf_centre(erf)
        h, w = erf.shape
        ax.set(xlim=(-0.5, w - 0.5), ylim=(h - 0.5, -0.5))  # the whole input, pixel edges at the borders
        ax.add_patch(
            Rectangle(
                (cx - rf / 2, cy - rf / 2),
                rf,
                rf,
                fill=False,
                edgecolor="cyan",
                lw=1.5,
                ls="--",
                label=f"theoretical {rf} x {rf}",
            )
        )
        ax.set_title(name, fontsize=10)
        ax.set(xlabel="input column (px)", ylabel="input row (px)")
        ax.legend(loc="lower right", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046, label="|gradient|, relative to its maximum")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

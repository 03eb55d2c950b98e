"""Figures of notebook 01: receptive fields."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..receptive import erf_centre, receptive_field, stack_layers, stack_vs_single


def plot_receptive_field(layers: int = 2, kernel: int = 3, stride: int = 1, pool: bool = False, channels: int = 64):
    """The receptive field of one output unit of a conv stack, drawn on the input's pixel grid: one square per
    layer (what a unit after that layer sees), with the parameter count against a single conv that sees as much."""
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
    colours = matplotlib.colormaps["viridis"]
    for i, (r, _) in reversed(list(enumerate(fields))):
        k, _ = stack[i]
        name = "pool" if (pool and i % 2 == 1) else f"conv{(i // 2 if pool else i) + 1}"
        colour = colours(1 - (i + 1) / len(stack))
        ax.add_patch(
            Rectangle(
                ((size - r) / 2, (size - r) / 2),
                r,
                r,
                facecolor=colour,
                alpha=0.35,
                edgecolor=colour,
                lw=1.5,
                label=f"after {name}: {r} x {r}",
            )
        )
    ax.add_patch(
        Rectangle(((size - 1) / 2, (size - 1) / 2), 1, 1, color="crimson", label="the input pixel at the centre")
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    if stride == 1 and not pool:
        c = stack_vs_single(layers, kernel, channels)
        text = (
            f"{layers} x ({kernel}x{kernel} conv) sees {rf}x{rf}: {c['stack_params']:,} weights, {layers} ReLUs\n"
            f"one {rf}x{rf} conv: {c['single_params']:,} weights, 1 ReLU  "
            f"(the stack saves {c['saving']:.0%}; C = {channels})"
        )
    else:
        text = (
            f"receptive field {rf} x {rf} px, effective stride {fields[-1][1]}; "
            f"{layers} convs hold {layers * kernel**2 * channels**2:,} weights (C = {channels})"
        )
    ax.set_title(text, fontsize=9)
    return fig


def plot_vgg_receptive_fields(stages, image=None, size: int = 224):
    """VGG's receptive field stage by stage (a ``stage_table``: pool1, pool2, ...) as squares centred on a
    ``size`` x ``size`` image (a PIL image or array; a blank canvas when None)."""
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
                label=f"{row.stage}: {r:.0f} px (stride {row.jump:.0f})",
            )
        )
    ax.set_xlim(0, size), ax.set_ylim(size, 0), ax.set_aspect("equal")
    ax.set_title(f"What one unit at the centre sees, stage by stage ({size} x {size} input)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def plot_erf(maps: dict, rf: int):
    """Effective receptive fields (``receptive.effective_receptive_field`` maps, by title) as heatmaps, each with
    the theoretical ``rf`` x ``rf`` square around the support's centre (Luo et al. 2016, Fig. 1)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4.2), squeeze=False)
    for ax, (title, erf) in zip(axes[0], maps.items()):
        image = ax.imshow(erf.numpy(), cmap="magma")
        cy, cx = erf_centre(erf)
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
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    return fig

"""Figures of notebook 05: feature maps, channels, top patches, filters, attributions, embeddings."""

from __future__ import annotations

import math

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..models import layer_names
from ..probe import capture, first_layer_filters, relu_layers, top_k
from ..probe.layers import _as_batch


def _show(ax, image: torch.Tensor, title: str | None = None, **kwargs):
    """Draw one (C, H, W) input or (H, W) map, rescaled to [0, 1] (grayscale for one channel)."""
    img = image.detach().float().cpu()
    if img.dim() == 3:
        img = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else img * 0
    ax.imshow(img.numpy(), cmap=kwargs.pop("cmap", "gray"), **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _grid(n: int, cols: int, size: float = 1.3):

    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size + 0.4), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def plot_feature_maps(
    model: nn.Module, image: torch.Tensor, layer: str, *, channels: int = 16, cols: int = 8, device=None
):
    """The first ``channels`` feature maps of ``layer`` for one image, each scaled to its own range."""
    a = capture(model, image, layer, device=device)[layer]
    if a.dim() != 3:
        raise ValueError(f"{layer} has no spatial maps (output shape {tuple(a.shape)}); pick a conv, ReLU or pool")
    n = min(channels, a.shape[0])
    fig, axes = _grid(n, min(cols, n))
    for ch, ax in zip(range(n), axes):
        _show(ax, a[ch], f"{ch}", cmap="viridis")
    fig.suptitle(
        f"{layer}: channels 0-{n - 1} of {a.shape[0]}, {a.shape[1]}x{a.shape[2]} (each map scaled to its range)",
        fontsize=10,
    )
    return fig


def plot_stages(model: nn.Module, image: torch.Tensor, *, channels: int = 8, device=None):
    """One row per stage (its last ReLU), the image first: the ``channels`` most active maps (largest mean)."""
    last = list({r.split("_")[0]: r for r in relu_layers(model)}.values())  # relu{s}_{i}: the last i of stage s
    acts = capture(model, image, last, device=device)
    fig, axes = plt.subplots(len(last), channels + 1, figsize=(1.2 * (channels + 1), 1.25 * len(last)), squeeze=False)
    for row, name in zip(axes, last):
        a = acts[name]
        _show(row[0], image)
        row[0].set_ylabel(f"{name}\n{a.shape[1]}x{a.shape[2]}", fontsize=8)
        order = a.mean((1, 2)).argsort(descending=True)[:channels]
        for ax, ch in zip(row[1:], order):
            _show(ax, a[ch], cmap="viridis")
            ax.set_title(f"ch {int(ch)}", fontsize=7)
    fig.suptitle(
        f"Feature maps stage by stage: the {channels} channels with the largest mean (each map scaled to its range)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_channel(model: nn.Module, image: torch.Tensor, layer: str, channel: int, *, device=None):
    """One channel of ``layer`` for one image: the image, the map (with a colourbar of its activation), and the
    map laid over the image (each map unit stretched over the input pixels it sits on)."""
    a = capture(model, image, layer, device=device)[layer]
    if a.dim() != 3:
        raise ValueError(f"{layer} has no spatial maps (output shape {tuple(a.shape)}); pick a conv, ReLU or pool")
    if not 0 <= channel < a.shape[0]:
        raise ValueError(f"{layer} has {a.shape[0]} channels (0 to {a.shape[0] - 1}); got channel {channel}")
    m = a[channel]
    fig, axes = plt.subplots(1, 3, figsize=(8.2, 2.8))
    _show(axes[0], image, "input")
    shown = axes[1].imshow(m.cpu().numpy(), cmap="viridis")
    axes[1].set(xticks=[], yticks=[])
    axes[1].set_title(f"{layer} channel {channel} ({m.shape[0]}x{m.shape[1]})", fontsize=9)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04).set_label("activation", fontsize=8)
    up = F.interpolate(m[None, None], size=image.shape[-2:], mode="nearest")[0, 0]
    _show(axes[2], image, f"over the input: max {m.max():.2f}, zeros {(m == 0).float().mean():.0%}")
    axes[2].imshow(up.cpu().numpy(), cmap="viridis", alpha=0.5)
    fig.tight_layout()
    return fig


def plot_top_k(model: nn.Module, x: torch.Tensor, layer: str, channel: int, k: int = 8, *, device=None):
    """The top-k images for a channel with the arg-max unit's receptive field boxed, and the patches themselves."""
    x, _ = _as_batch(x, model)
    best = top_k(model, x, layer, channel, k, device=device)
    fig, axes = plt.subplots(2, len(best.indices), figsize=(1.4 * len(best.indices), 3.2), squeeze=False)
    for j, (n, (t, l, b, r)) in enumerate(zip(best.indices.tolist(), best.boxes)):
        _show(axes[0, j], x[n], f"image {n}: {best.values[j]:.2f}")
        axes[0, j].add_patch(mpatches.Rectangle((l - 0.5, t - 0.5), r - l, b - t, fill=False, color="red", lw=1.5))
        _show(axes[1, j], x[n, :, t:b, l:r])
    axes[0, 0].set_ylabel("image", fontsize=8)
    axes[1, 0].set_ylabel("patch\n(receptive field)", fontsize=8)
    fig.suptitle(
        f"{layer}, channel {channel}: the top {len(best.indices)} of {len(x)} images by their strongest unit "
        "(title: image index and that unit's activation; red: the unit's receptive field)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_filters(model: nn.Module, *, max_filters: int = 64, cols: int = 16):
    """The first layer's filters, titled by the paper's name (conv1_1) where the model has one. One input channel:
    every filter on one symmetric colour scale (blue negative, red positive weights) with a colourbar; colour
    inputs: each filter an RGB picture scaled to its own range (weights have no colour scale to share)."""
    every = first_layer_filters(model)
    w = every[:max_filters]
    fig, flat = _grid(len(w), min(cols, len(w)), size=0.8)
    axes, gray = list(flat), w.shape[1] == 1
    top = float(w.abs().max()) or 1.0
    for f, ax in zip(w, axes):
        if gray:
            shown = ax.imshow(f[0].numpy(), cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest")
            ax.set(xticks=[], yticks=[])
        else:
            _show(ax, f, interpolation="nearest")
    name = "conv1_1" if "conv1_1" in layer_names(model) else "First-layer"
    scale = "one colour scale" if gray else "each scaled to its range"
    fig.suptitle(
        f"{name} filters ({len(w)} of {every.shape[0]}, {w.shape[2]}x{w.shape[3]} weights, {scale})", fontsize=10
    )
    if gray:
        fig.colorbar(shown, ax=list(axes), fraction=0.03, pad=0.02).set_label("weight", fontsize=8)
    return fig


def plot_channel_stats(stats: pd.DataFrame, title: str | None = None):
    """Per-channel mean activation and zero fraction, layer by layer (box: middle half of channels; dots: each),
    from ``probe.channel_stats``: both over every image and every position of the channel's map. ``title`` says
    what was run (the network, the images)."""
    layers = list(dict.fromkeys(stats["layer"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    panels = (
        ("mean", "mean activation per channel", "mean activation\n(after ReLU, over images and positions)"),
        ("zero_fraction", "fraction of zeros per channel", "fraction of positions at exactly 0\n(the ReLU is off)"),
    )
    for ax, (col, panel_title, ylabel) in zip(axes, panels):
        groups = [stats.loc[stats["layer"] == name, col].to_numpy() for name in layers]
        ax.boxplot(groups, showfliers=False)
        for i, g in enumerate(groups):
            jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(g))
            ax.scatter(i + 1 + jitter, g, s=3, alpha=0.4, color="C1")
        ax.set_xticks(range(1, len(layers) + 1), layers, rotation=60, fontsize=8)
        ax.set_title(panel_title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel("layer (shallow to deep)", fontsize=8)
    axes[1].set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# What each attribution map measures, for its colourbar (matched by the start of the map's name). Occlusion is in
# absolute units (a probability) and shares one scale over images and variants; saliency and Grad-CAM have no
# scale worth comparing across images (it follows each image's logit), so each image's map is divided by its max.
ATTRIBUTION_UNITS = {
    "occlusion": "drop in P(c | x)",
    "saliency": "|d y_c / d x|, as a fraction of each image's max",
    "Grad-CAM": "ReLU(sum_k alpha_k A_k), as a fraction of each image's max",
}
PER_IMAGE = ("saliency", "Grad-CAM")


def _per_image_max(m: torch.Tensor) -> torch.Tensor:
    top = m.flatten(1).amax(1).clamp(min=1e-12)
    return m / top[:, None, None]


def plot_attributions(
    images: torch.Tensor, maps: dict, *, titles=None, units: dict | None = None, title: str | None = None
):
    """One row per image: the image, then each map of ``maps`` ({name: (N, H, W) or (H, W)}) over it.

    Each map (column) has a colourbar under it, labelled with what it measures (``units`` by name, else
    ``ATTRIBUTION_UNITS`` by the name's start). Maps that measure the same thing (two occlusions) share one colour
    scale over all their images, so they compare at a glance; saliency and Grad-CAM maps are each scaled to their
    image's max (``PER_IMAGE``). Occlusion can be negative (covering a region raises the probability): its scale is
    symmetric around 0, blue below, red above. ``titles`` label the image column, ``title`` the figure.
    """
    images, single = _as_batch(images)
    maps = {k: (v[None] if single else v).detach().float().cpu() for k, v in maps.items()}
    maps = {k: _per_image_max(v) if k.startswith(PER_IMAGE) else v for k, v in maps.items()}
    units = units or {}
    unit = {
        name: units.get(name) or next((u for k, u in ATTRIBUTION_UNITS.items() if name.startswith(k)), name)
        for name in maps
    }
    pooled = {u: torch.cat([m.flatten() for name, m in maps.items() if unit[name] == u]) for u in unit.values()}
    fig, axes = plt.subplots(
        len(images),
        len(maps) + 1,
        figsize=(2.1 * (len(maps) + 1), 2.1 * len(images) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    for col, (name, m) in enumerate(maps.items(), start=1):
        every = pooled[unit[name]]
        signed = bool((every < 0).any())
        top = float(every.abs().max()) if signed else float(every.max())
        low = -top if signed else float(every.min())
        scale = dict(cmap="RdBu_r" if signed else "jet", vmin=low, vmax=top)
        for i, ax in enumerate(axes[:, col]):
            _show(ax, images[i], name if i == 0 else None)
            shown = ax.imshow(m[i].numpy(), alpha=0.5, **scale)
        bar = fig.colorbar(shown, ax=list(axes[:, col]), orientation="horizontal", fraction=0.04, pad=0.02)
        bar.set_label(unit[name].replace(", as", ",\nas"), fontsize=8)
        bar.ax.tick_params(labelsize=7)
    for i, ax in enumerate(axes[:, 0]):
        _show(ax, images[i], titles[i] if titles else None)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_embedding(
    xy: np.ndarray, labels, classes=None, *, title: str = "Penultimate features in 2-D", axis: str = "dimension"
):
    """A scatter of 2-D coordinates coloured by class; the axes are labelled ``axis`` 1 and 2 ("PC", "t-SNE"):
    projections have no units, so no ticks."""
    labels = np.asarray(labels.cpu() if torch.is_tensor(labels) else labels)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for c in np.unique(labels):
        pts = xy[labels == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=6,
            alpha=0.7,
            color=plt.cm.tab10(int(c) % 10),
            label=classes[c] if classes is not None else str(c),
        )
    ax.legend(markerscale=2.5, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set(xlabel=f"{axis} 1", ylabel=f"{axis} 2")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig

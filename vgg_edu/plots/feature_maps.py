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

from ..probe import _as_batch, capture, first_layer_filters, relu_layers, top_k


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
    fig.suptitle(f"{layer}: {n} of {a.shape[0]} channels, {a.shape[1]}x{a.shape[2]}", fontsize=10)
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
    fig.suptitle("Feature maps stage by stage: the most active channels", fontsize=10)
    fig.tight_layout()
    return fig


def plot_channel(model: nn.Module, image: torch.Tensor, layer: str, channel: int, *, device=None):
    """One channel of ``layer`` for one image: the image, the map, and the map laid over the image."""

    a = capture(model, image, layer, device=device)[layer]
    if a.dim() != 3:
        raise ValueError(f"{layer} has no spatial maps (output shape {tuple(a.shape)}); pick a conv, ReLU or pool")
    if not 0 <= channel < a.shape[0]:
        raise ValueError(f"{layer} has {a.shape[0]} channels (0 to {a.shape[0] - 1}); got channel {channel}")
    m = a[channel]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    _show(axes[0], image, "input")
    _show(axes[1], m, f"{layer} channel {channel} ({m.shape[0]}x{m.shape[1]})", cmap="viridis")
    up = F.interpolate(m[None, None], size=image.shape[-2:], mode="nearest")[0, 0]
    _show(axes[2], image, f"max {m.max():.2f}, zeros {(m == 0).float().mean():.0%}")
    axes[2].imshow(up.cpu().numpy(), cmap="jet", alpha=0.45)
    fig.tight_layout()
    return fig


def plot_top_k(model: nn.Module, x: torch.Tensor, layer: str, channel: int, k: int = 8, *, device=None):
    """The top-k images for a channel with the arg-max unit's receptive field boxed, and the patches themselves."""
    x, _ = _as_batch(x)
    best = top_k(model, x, layer, channel, k, device=device)
    fig, axes = plt.subplots(2, len(best.indices), figsize=(1.4 * len(best.indices), 3.2), squeeze=False)
    for j, (n, (t, l, b, r)) in enumerate(zip(best.indices.tolist(), best.boxes)):
        _show(axes[0, j], x[n], f"#{n}: {best.values[j]:.2f}")
        axes[0, j].add_patch(mpatches.Rectangle((l - 0.5, t - 0.5), r - l, b - t, fill=False, color="red", lw=1.5))
        _show(axes[1, j], x[n, :, t:b, l:r])
    axes[0, 0].set_ylabel("image", fontsize=8)
    axes[1, 0].set_ylabel("patch", fontsize=8)
    fig.suptitle(f"{layer}, channel {channel}: top {len(best.indices)} of {len(x)} images", fontsize=10)
    fig.tight_layout()
    return fig


def plot_filters(model: nn.Module, *, max_filters: int = 64, cols: int = 16):
    """The first layer's filters (a 3x3 filter is 3x3 pixels: RGB for colour inputs, gray for one channel)."""
    w = first_layer_filters(model)[:max_filters]
    fig, axes = _grid(len(w), min(cols, len(w)), size=0.8)
    for f, ax in zip(w, axes):
        _show(ax, f, interpolation="nearest")
    fig.suptitle(
        f"First-layer filters ({len(w)} of {first_layer_filters(model).shape[0]}, {w.shape[2]}x{w.shape[3]})",
        fontsize=10,
    )
    return fig


def plot_channel_stats(stats: pd.DataFrame):
    """Per-channel mean activation and zero fraction, layer by layer (box: middle half of channels; dots: each)."""
    layers = list(dict.fromkeys(stats["layer"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, col, label in zip(
        axes, ("mean", "zero_fraction"), ("mean activation per channel", "fraction of zeros per channel")
    ):
        groups = [stats.loc[stats["layer"] == name, col].to_numpy() for name in layers]
        ax.boxplot(groups, showfliers=False)
        for i, g in enumerate(groups):
            jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(g))
            ax.scatter(i + 1 + jitter, g, s=3, alpha=0.4, color="C1")
        ax.set_xticks(range(1, len(layers) + 1), layers, rotation=60, fontsize=8)
        ax.set_title(label, fontsize=10)
    axes[1].set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig


def plot_attributions(images: torch.Tensor, maps: dict, *, titles=None):
    """One row per image: the image, then each map of ``maps`` ({name: (N, H, W) or (H, W)}) over it."""

    images, single = _as_batch(images)
    maps = {k: (v[None] if single else v) for k, v in maps.items()}
    fig, axes = plt.subplots(
        len(images), len(maps) + 1, figsize=(2.1 * (len(maps) + 1), 2.1 * len(images)), squeeze=False
    )
    for i, row in enumerate(axes):
        _show(row[0], images[i], titles[i] if titles else None)
        for ax, (name, m) in zip(row[1:], maps.items()):
            _show(ax, images[i], name if i == 0 else None)
            ax.imshow(m[i].detach().cpu().numpy(), cmap="jet", alpha=0.5)
    fig.tight_layout()
    return fig


def plot_embedding(xy: np.ndarray, labels, classes=None, *, title: str = "Penultimate features in 2-D"):
    """A scatter of 2-D coordinates coloured by class."""
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
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig

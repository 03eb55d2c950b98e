"""Figures of notebook 02: VGG blocks, shapes, BatchNorm placement."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_shapes(table):
    """H x W and channels after every conv and pool of a ``layer_table``: the spatial size halves at each pool
    while the channels double, up to 512."""
    rows = table[table["type"].str.startswith(("Conv2d", "MaxPool2d"))]
    labels = [t.split()[0].replace("MaxPool2d", "pool").replace("Conv2d", "conv") for t in rows["type"]]
    c = [s[0] for s in rows["output_shape"]]
    hw = [s[1] for s in rows["output_shape"]]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = range(len(rows))
    ax.bar(x, hw, color="tab:blue", label="H (= W), pixels")
    ax.set_ylabel("H = W (pixels)", color="tab:blue")
    ax.set_xticks(list(x), [f"{l}\n{a}x{b}x{cc}" for l, a, b, cc in zip(labels, hw, hw, c)], fontsize=7)
    twin = ax.twinx()
    twin.plot(list(x), c, "o-", color="tab:red", label="channels")
    twin.set_ylabel("channels", color="tab:red")
    ax.set_title("Shape after every layer (H x W x C)")
    fig.tight_layout()
    return fig


def plot_bn_placement(stats: dict, losses: dict | None = None):
    """BatchNorm before or after the ReLU: what the next conv receives (mean, fraction of zeros; from
    ``analysis.conv_input_stats``, by name) and, if given, the training loss of each variant."""
    panels = 3 if losses else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels, 3.6))
    for name, df in stats.items():
        axes[0].plot(df["conv"], df["mean"], "o-", label=name)
        axes[1].plot(df["conv"], df["zeros"], "o-", label=name)
    axes[0].set(title="mean of each conv's input", xlabel="conv")
    axes[1].set(title="fraction of exact zeros in it", xlabel="conv", ylim=(-0.05, 1.05))
    axes[0].legend(fontsize=8)
    if losses:
        for name, curve in losses.items():
            curve = np.asarray(curve)
            k = max(1, len(curve) // 20)
            smooth = np.convolve(curve, np.ones(k) / k, mode="valid")
            axes[2].plot(range(k - 1, len(curve)), smooth, label=name)
        axes[2].set(title="training loss (moving average)", xlabel="step")
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig

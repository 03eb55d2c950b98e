"""Figures of notebook 02: VGG blocks, shapes, BatchNorm placement."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_shapes(table, title: str = "Output shape (C x H x W) after every conv and pool"):
    """H x W and channels after every conv and pool of a ``layer_table``: the spatial size halves at each pool
    while the channels double, up to 512. Layers by the paper's names (conv1_1 ... pool5), each with its output
    shape C x H x W (PyTorch's order, as in notebook 00); the labels stand upright so that VGG-19's 21 layers fit
    as well as VGG-11's 13."""
    rows = table[table["type"].str.startswith(("Conv2d", "MaxPool2d"))]
    names = rows["name"] if "name" in rows else rows["layer"]
    c = [s[0] for s in rows["output_shape"]]
    hw = [s[1] for s in rows["output_shape"]]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    x = list(range(len(rows)))
    ax.bar(x, hw, color="tab:blue", label="H = W (pixels)")
    ax.set_ylabel("H = W (pixels)", color="tab:blue")
    ax.set_xticks(x, [f"{n}   {cc}x{a}x{a}" for n, a, cc in zip(names, hw, c)], rotation=90, fontsize=8)
    ax.set_xlim(-0.6, len(x) - 0.4)
    twin = ax.twinx()
    twin.plot(x, c, "o-", color="tab:red", label="channels C")
    twin.set_ylabel("channels C", color="tab:red")
    twin.set_ylim(0, max(c) * 1.1)
    ax.set_ylim(0, max(hw) * 1.1)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = [h.get_label() for h in handles]
    ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10, pad=20)
    fig.tight_layout()
    return fig


def plot_bn_placement(stats: dict, losses: dict | None = None, title: str | None = None):
    """BatchNorm before or after the ReLU: what the next conv receives (mean, fraction of zeros; from
    ``analysis.conv_input_stats``, by name) and, if given, the training loss of each variant."""
    panels = 3 if losses else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels, 3.6))
    for name, df in stats.items():
        axes[0].plot(df["conv"], df["mean"], "o-", label=name)
        axes[1].plot(df["conv"], df["zeros"], "o-", label=name)
    ticks = next(iter(stats.values()))
    for ax in axes[:2]:  # the paper's names of the convs that receive these inputs, when the table has them
        if "name" in ticks:
            ax.set_xticks(ticks["conv"], ticks["name"], rotation=45, fontsize=8)
    axes[0].set(title="mean of each conv's input", xlabel="conv receiving the input", ylabel="mean value")
    axes[1].set(title="fraction of exact zeros in it", xlabel="conv receiving the input", ylim=(-0.05, 1.05))
    axes[1].set_ylabel("fraction of values that are 0")
    if losses:
        _plot_losses(axes[2], losses, legend=False)
    if title:
        fig.suptitle(title, fontsize=10)
    # one legend for all panels, below them: inside a panel it would cover points (BN after ReLU at conv3_2)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(stats), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _plot_losses(ax, losses: dict, legend: bool = True):
    for name, curve in losses.items():
        curve = np.asarray(curve)
        k = max(1, len(curve) // 20)
        smooth = np.convolve(curve, np.ones(k) / k, mode="valid")
        ax.plot(range(k, len(curve) + 1), smooth, label=name)
    ax.set(title=f"training loss ({k}-step moving average)", xlabel="SGD step", ylabel="cross-entropy loss")
    if legend and len(losses) > 3:  # many curves: beside the axes, where it hides none of them
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    elif legend:
        ax.legend(fontsize=8)


def plot_losses(losses: dict, title: str):
    """Training-loss curves (one per name, smoothed by a moving average of a twentieth of the run) on one axis."""
    fig, ax = plt.subplots(figsize=(9 if len(losses) > 3 else 6, 3.6))  # room for a legend beside the axes
    _plot_losses(ax, losses)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

"""Figures of notebook 08: accuracy against MACs for pruned networks, size and latency of quantized ones, and
transfer learning by method."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_pruning(sweep: pd.DataFrame, title: str = "L1-norm channel pruning of VGG-11, then fine-tuning"):
    """Validation accuracy against MACs per image (millions) for each pruning fraction (``compress.pruning_sweep``),
    right after pruning and after fine-tuning, the unpruned network's accuracy as a dotted line: on the full range
    (0 to 1), and zoomed on the fine-tuned points, whose differences a 0-1 axis hides."""
    fig, (whole, zoom) = plt.subplots(1, 2, figsize=(11, 4.2))
    macs = sweep["macs"] / 1e6
    whole.plot(macs, sweep["val_acc_pruned"], "o--", color="tab:gray", label="pruned, before fine-tuning")
    for ax in (whole, zoom):
        ax.plot(macs, sweep["val_acc"], "o-", color="tab:blue", label="after fine-tuning")
        for m, acc, f in zip(macs, sweep["val_acc"], sweep["fraction"]):
            label, right = (f"{f:.0%} pruned", False) if f else ("unpruned", True)
            ax.annotate(label, (m, acc), textcoords="offset points", xytext=(-4, 6) if right else (4, -8),
                        fontsize=8, ha="right" if right else "left", va="bottom" if right else "top")  # fmt: skip
        ax.axhline(sweep["val_acc"].iloc[0], color="tab:blue", ls=":", lw=1, label="unpruned")
        ax.set(xlabel="MACs per image (millions)", ylabel="validation accuracy")
        ax.grid(alpha=0.3)
    low, high = sweep["val_acc"].min(), sweep["val_acc"].max()
    pad = max(0.2 * (high - low), 0.005)
    whole.set(ylim=(0, 1), title="right after pruning and fine-tuned")
    zoom.set(ylim=(low - pad, high + pad), title="fine-tuned only (zoomed)")
    whole.legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_speed(table: pd.DataFrame, title: str = "float32 against int8 on this CPU"):
    """File size (MB) and CPU latency (ms) at each measured batch size, one bar per model (``compress.speed_table``)."""
    columns = ["file_MB"] + [c for c in table.columns if c.startswith("ms_batch_")]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.4 * len(columns), 3.6))
    colours = plt.cm.tab10(np.arange(len(table)))
    for ax, col in zip(np.atleast_1d(axes), columns):
        ax.bar(range(len(table)), table[col], color=colours)
        ax.set_xticks(range(len(table)), table.index, rotation=30, ha="right")
        batch = col.rsplit("_", 1)[1]
        label, name = ("file size (MB)", "file size") if col == "file_MB" else (f"latency at batch {batch} (ms)",
                                                                                f"latency, batch {batch}")  # fmt: skip
        ax.set(ylabel=label, title=name)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_transfer(sweeps: dict, title: str = "transfer from Fashion-MNIST classes 0-4, few labels"):
    """Validation accuracy against labelled images per class, one line per transfer method, one panel per target
    task: ``{target: table}`` with the tables of ``transfer.labels_sweep`` (index per_class, method)."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.2 * len(sweeps), 4), sharey=True, squeeze=False)
    for ax, (target, table) in zip(axes[0], sweeps.items()):
        for k, method in enumerate(table.index.unique("method")):  # distinct marks: some lines lie on others
            rows = table.xs(method, level="method")
            ax.plot(rows.index, rows["val_acc"], marker="osD^v"[k % 5], ls=("-", "--", ":", "-.")[k % 4], label=method)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(table.index.unique("per_class"), [str(n) for n in table.index.unique("per_class")])
        ax.set(xlabel="labelled training images per class", title=target, ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation accuracy")
    axes[0, -1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig

"""Figures of notebooks 06 and 07: training VGG in practice (06: initialization, optimisers and schedules, the
learning-rate range test, augmentation; 07: memory, mixed precision, kernel sizes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..training.history import History


def plot_scale_by_depth(tables: dict, title: str = "Signal by depth at initialisation"):
    """Left: each conv's output std; right: its weight gradient std over its weight std (how far one SGD step
    moves the layer per unit of learning rate). ``tables``: {scheme: ``initialization.scale_by_depth`` frame}."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, t in tables.items():
        x = np.arange(len(t))
        ax1.semilogy(x, t["activation_std"].clip(lower=1e-30), "o-", label=name)
        ax2.semilogy(x, t["grad_to_weight"].clip(lower=1e-30), "o-", label=name)
    layers = next(iter(tables.values()))["layer"]
    for ax in (ax1, ax2):
        ax.set_xticks(np.arange(len(layers)), layers, rotation=60, fontsize=8)
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    ax1.set(ylabel="std of the conv's output (log)", title="forward: activation scale")
    ax2.set(ylabel="std(grad W) / std(W) (log)", title="backward: relative gradient")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_runs(runs: dict, title: str, *, lr: bool = False):
    """Training runs side by side: training loss per logged step, validation accuracy per epoch, and with
    ``lr=True`` the learning rate per step. ``runs``: {name: ``History``}. One legend for all panels, under them
    (it hides no data), with each run's final validation accuracy; each run keeps its colour and line style in
    every panel, the styles alternating so that a run drawn over an identical one leaves it visible."""
    fig, axes = plt.subplots(1, 3 if lr else 2, figsize=(15 if lr else 11, 4.4), layout="constrained")
    for i, (name, h) in enumerate(runs.items()):
        h = h if isinstance(h, History) else History.from_dict(h)
        style = dict(color=f"C{i % 10}", ls=("-", "--", "-.", ":")[i % 4])
        steps = [s["step"] for s in h.steps]
        axes[0].plot(steps, [s["loss"] for s in h.steps], lw=1, label=name, **style)
        val = [(r["step"], r["val_acc"]) for r in h.epochs if r.get("val_acc") is not None]
        if val:
            axes[1].plot(*zip(*val), marker="o", label=f"{name} (final {val[-1][1]:.3f})", **style)
        if lr:
            axes[2].plot(steps, [s["lr"] for s in h.steps], lw=1.5, label=name, **style)
    axes[0].set(xlabel="training step", ylabel="training loss (cross-entropy)", title="training loss")
    axes[1].set(xlabel="training step", ylabel="validation accuracy", title="validation accuracy, per epoch")
    if lr:
        axes[2].set(xlabel="training step", ylabel="learning rate", title="learning rate", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    shown = axes[1] if axes[1].lines else axes[0]
    if shown.lines:
        fig.legend(*shown.get_legend_handles_labels(), loc="outside lower center", ncol=min(len(runs), 3), fontsize=8)
    fig.suptitle(title)
    return fig


def plot_lr_range(test, title: str = "Learning-rate range test"):
    """Loss against learning rate (log scale) from ``lr_range.lr_range_test``, with its two readings marked."""
    f = test.frame
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogx(f["lr"], f["loss"], lw=0.8, alpha=0.5, label="loss per step")
    ax.semilogx(f["lr"], f["smoothed"], lw=2, label="smoothed")
    ax.axvline(test.steepest_lr, ls="--", c="C2", label=f"steepest fall: {test.steepest_lr:.2g}")
    ax.axvline(test.suggestion, ls=":", c="C3", label=f"minimum / 10: {test.suggestion:.2g}")
    top = max(float(f["smoothed"].iloc[0]) * 1.5, float(f["smoothed"].min()) * 2)
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss (cross-entropy)", title=title, ylim=(0, top))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_memory(computed: pd.DataFrame, measured: pd.DataFrame | None = None, *, budget_gb: float = 15.0):
    """Training memory of a step against the batch size: the computed parts stacked (GB), the measured peaks as
    points, and the post's "about 15 GB" as a line. ``computed``: one row per batch size with columns
    batch_size, weights, gradients, optimizer_state, activations (bytes); ``measured``: batch_size, peak_bytes and
    optionally how (how the peak was measured, for the legend)."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    x = computed["batch_size"].to_numpy()
    parts = ["weights", "gradients", "optimizer_state", "activations"]
    ax.stackplot(
        x, *[computed[p].to_numpy() / 1e9 for p in parts], labels=[p.replace("_", " ") for p in parts], alpha=0.8
    )
    if measured is not None and len(measured):
        how = measured["how"].iloc[0] if "how" in measured else "measured"
        ax.plot(measured["batch_size"], measured["peak_bytes"] / 1e9, "kx", ms=9, mew=2, label=f"measured: {how}")
    ax.axhline(budget_gb, c="k", ls="--", lw=1, label=f'the post\'s "about {budget_gb:g} GB"')
    ax.set(
        xlabel="batch size (images of 224 x 224)",
        ylabel="memory (GB = 1e9 bytes)",
        title="VGG-16 at 224 px, one training step in float32, SGD with momentum\ncounted (areas), measured (crosses)",
        xscale="log",
    )
    ax.set_xticks(x, [str(b) for b in x])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_kernels(frame: pd.DataFrame, title: str):
    """``kernels.time_per_mac``: ms per batch and ns per MAC of each network, stacks beside their large kernel."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    colours = ["C0" if "3x3" in n else "C1" for n in frame["network"]]
    ax1.bar(frame["network"], frame["ms_per_batch"], color=colours)
    ax2.bar(frame["network"], frame["ns_per_mac"], color=colours)
    ax1.set(ylabel="time per batch (ms)", title="time")
    ax2.set(ylabel="time per multiply-accumulate (ns)", title="time per unit of work")
    for ax in (ax1, ax2):
        ax.set_xlabel("layers (same receptive field in pairs)")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    fig.tight_layout()
    return fig

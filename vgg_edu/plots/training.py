"""Figures of notebook 04: the data, training curves (also live, as a ``fit`` callback), confusion, mistakes."""

from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import torch

from ..data.fashion_mnist import load_fashion_mnist
from ..data.image_splits import ImageSplits
from ..data.inputs import CLASSES, to_input
from ..training.callbacks import Callback
from ..training.evaluation import Evaluation, misclassified
from ..training.history import History


def plot_history(history: History, fig=None, title: str | None = None):
    """Training loss per logged step (left) and train/validation accuracy per epoch (right). With label smoothing
    the training loss is the smoothed one (it cannot reach 0), the validation loss plain cross-entropy."""
    if fig is None:
        fig = plt.figure(figsize=(10, 3.6))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    smoothing = history.config.get("label_smoothing") or 0
    smoothed = f", label smoothing {smoothing}" if smoothing else ""
    if history.steps:
        ax1.plot([s["epoch"] for s in history.steps], [s["loss"] for s in history.steps], lw=1, label="batch")
    if history.epochs:
        e = [r["epoch"] for r in history.epochs]
        ax1.plot(e, [r["train_loss"] for r in history.epochs], "o-", label=f"train (epoch mean{smoothed})")
        val = [(r["epoch"], r["val_loss"]) for r in history.epochs if r.get("val_loss") is not None]
        if val:
            ax1.plot(*zip(*val), "s-", label="validation")
        ax2.plot(e, [r["train_acc"] for r in history.epochs], "o-", label="train")
        val = [(r["epoch"], r["val_acc"]) for r in history.epochs if r.get("val_acc") is not None]
        if val:
            ax2.plot(*zip(*val), "s-", label="validation")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class LivePlot(Callback):
    """A ``fit`` callback: the loss/accuracy figure, redrawn in place in a notebook while the run goes on; ``title``
    (what was run) above it. The figure stays in ``.fig`` after the run (for ``figures.save_figure``)."""

    def __init__(self, every_s: float = 5.0, title: str | None = None):
        from IPython.display import display

        self.title = title
        self.fig = plt.figure(figsize=(10, 3.6))
        plt.close(self.fig)  # shown through the display handle only, never twice
        self.handle = display(self.fig, display_id=True)
        self.every_s, self.last = every_s, 0.0

    def draw(self, history: History, force: bool = False) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s and not force:  # a redraw costs 0.1-0.2 s of CPU
            return
        self.last = now
        plot_history(history, self.fig, title=self.title)
        if self.handle is not None:  # None outside IPython (a script): the figure is kept in .fig, not shown
            self.handle.update(self.fig)

    def on_step(self, run, loss):
        if loss is not None:
            self.draw(run.history)

    def on_epoch(self, run, row):
        self.draw(run.history)

    def on_stop(self, run, reason):
        self.draw(run.history, force=True)  # the final state, whatever the throttle skipped


def plot_confusion(
    confusion: torch.Tensor,
    classes=CLASSES,
    fig=None,
    title: str = "confusion matrix (counts; colour: fraction of the row)",
):
    """The confusion matrix, each row normalised to the fraction of that true class (the diagonal is recall);
    ``title`` should say which model and which split."""

    c = confusion.double()
    frac = (c / c.sum(1, keepdim=True).clamp(min=1)).numpy()
    fig = fig or plt.figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if confusion[i, j]:
                ax.text(
                    j,
                    i,
                    int(confusion[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class (row)")
    fig.tight_layout()
    return fig


def plot_misclassified(
    images: torch.Tensor,
    evaluation: Evaluation,
    k: int = 16,
    classes=CLASSES,
    cols: int = 8,
    title: str = "most confident mistakes",
):
    """A grid of the most confident mistakes: true class, predicted class and the predicted probability;
    ``title`` should say which model and which split."""
    idx = misclassified(evaluation, k)
    rows = max(1, math.ceil(len(idx) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx.tolist()):
        p = int(evaluation.predictions[i])
        ax.imshow(images[i].cpu().numpy(), cmap="gray_r")
        ax.set_title(
            f"{classes[int(evaluation.labels[i])]}\n-> {classes[p]} {evaluation.probabilities[i, p]:.0%}", fontsize=7
        )
    fig.suptitle(f"{title} (true -> predicted, probability)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_time_vs_accuracy(
    runs: dict, target: float | None = 0.92, budget_s: float | None = 300, fig=None, title: str = "time versus accuracy"
):
    """Validation accuracy against wall-clock time, one line per run: ``runs`` maps a label to a ``History``."""

    fig = fig or plt.figure(figsize=(6.4, 4))
    ax = fig.subplots()
    for label, h in runs.items():
        pts = [(r["wall_s"], r["val_acc"]) for r in h.epochs if r.get("val_acc") is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", label=label)
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target}")
    if budget_s is not None:
        ax.axvline(budget_s, color="gray", ls=":", lw=1, label=f"{budget_s:.0f} s budget")
    ax.set(xlabel="wall time (s), evaluation included", ylabel="validation accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_schedules(curves: dict, title: str = "learning-rate schedules", steps_per_epoch: int | None = None):
    """Learning rate against step, one line per schedule (``curves``: name -> ``optim.schedule_curve``); with
    ``steps_per_epoch`` a second axis along the top counts epochs."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for name, lrs in curves.items():
        ax.plot(range(len(lrs)), lrs, label=name)
    ax.set(xlabel="optimizer step", ylabel="learning rate", title=title)
    if steps_per_epoch:
        top = ax.secondary_xaxis("top", functions=(lambda t: t / steps_per_epoch, lambda e: e * steps_per_epoch))
        top.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_curves(
    runs: dict,
    targets=(0.92, 0.93),
    title: str = "accuracy against wall time",
    xlabel: str = "wall time (s), validation included",
    fig=None,
):
    """Validation (solid) and test (dashed) accuracy against wall time, one colour per run: ``runs`` maps a label to
    rows with ``wall_s``, ``val_acc`` and ``test_acc`` (``benchmarks/time_to_accuracy.py --json``)."""
    fig = fig or plt.figure(figsize=(6.8, 4.2))
    ax = fig.subplots()
    for (label, rows), colour in zip(runs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        t = [r["wall_s"] for r in rows]
        ax.plot(t, [r["val_acc"] for r in rows], "o-", color=colour, label=f"{label}: validation")
        ax.plot(t, [r["test_acc"] for r in rows], "s--", color=colour, alpha=0.7, label=f"{label}: test")
    for target, style in zip(targets, (":", "-.", "--")):
        ax.axhline(target, color="gray", ls=style, lw=1, label=f"target {target}")
    ax.set(xlabel=xlabel, ylabel="accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_samples(ds: ImageSplits, per_class: int = 6, split: str = "train"):
    """A grid of ``per_class`` images of each class (one row per class), as they are stored: 28 x 28 uint8."""
    images, labels = ds.split(split)
    fig, axes = plt.subplots(len(ds.classes), per_class, figsize=(per_class * 0.9, len(ds.classes) * 0.95))
    for c, row in enumerate(axes):
        idx = (labels == c).nonzero().flatten()[:per_class].tolist()
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, idx):
            ax.imshow(images[i].numpy(), cmap="gray_r")
        row[0].text(-4, 14, ds.classes[c], ha="right", va="center", fontsize=8)
    fig.suptitle(
        f"Fashion-MNIST, {per_class} {split} images per class, 28 x 28\n"
        "(inverted grey scale: bright pixels drawn dark)",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.25, wspace=0.05, hspace=0.05, top=0.93)
    return fig


def plot_resized(size: int = 224, index: int = 0, ds: ImageSplits | None = None):
    """One Fashion-MNIST image as the network sees it at ``size`` x ``size``: upsampling adds pixels, no detail."""

    ds = ds if ds is not None else load_fashion_mnist(download=False)
    image = ds.train_images[index]
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    a.imshow(image.numpy(), cmap="gray_r")
    a.set_title(f"stored: 28 x 28 = {28 * 28:,} pixels", fontsize=9)
    b.imshow(to_input(image[None], size)[0, 0].numpy(), cmap="gray_r")
    b.set_title(f"input: {size} x {size} = {size * size:,} pixels", fontsize=9)
    for ax in (a, b):
        ax.axis("off")
    fig.tight_layout()
    return fig

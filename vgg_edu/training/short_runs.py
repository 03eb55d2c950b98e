"""The short runs the lessons compare: a few hundred steps of SGD (``train_steps``), a recipe trained once per
change (``ablation``, and once per seed: ``seeded_ablation``), a table of finished runs (``summarize``), and the
book's run where a GPU makes it short (``d2l_on_gpu``). Tables of runs by seed, with their verdicts:
``claims.summarize_seeds``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from torch import nn

from .. import runtime
from ..data.image_splits import ImageSplits
from .callbacks import KeepHistory
from .config import FitConfig
from .history import History
from .loop import TrainingDiverged, fit
from .recipes import build_model, fit_config, recipe


def train_steps(
    model: nn.Module,
    data: ImageSplits,
    *,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 0.05,
    device=None,
    seed: int = 0,
) -> list[float]:
    """``fit`` cut down to the short runs the lessons compare networks with: ``steps`` steps of SGD with momentum
    0.9 and a constant learning rate, no evaluation, no checkpoint. Returns the training loss of every step and
    leaves the model in eval mode.

    A run whose loss becomes NaN or infinite (a plain network at a high learning rate can, on one machine and not
    another) is a result, not an error: it stops there, says so, and its losses end with that step's NaN."""
    config = FitConfig(batch_size=batch_size, lr=lr, momentum=0.9, seed=seed).for_steps(steps, len(data.train_labels))
    keep = KeepHistory()
    try:
        history = fit(model, data, config.replace(eval_every=0, log_every=1), device=device, quiet=True,
                      callbacks=[keep])  # fmt: skip
        losses = [s["loss"] for s in history.steps]
    except TrainingDiverged:
        losses = [s["loss"] for s in keep.history.steps] + [math.nan]
        print(f"This run's loss became NaN at step {len(losses)} of {steps} (learning rate {lr:g}): it stops there.")
    model.eval()
    return losses


def ablation(
    data: ImageSplits, changes: dict, *, recipe_name: str = "classroom", seed: int = 0, device=None, **common
) -> dict[str, History]:
    """Train the recipe once per entry of ``changes`` (a label and the network keywords or ``FitConfig`` fields it
    changes, one thing at a time: ``{"recipe": {}, "no BatchNorm": {"batch_norm": False}}``), same data, seed and
    steps, quietly; then compare them on validation. ``common`` (network keywords or ``FitConfig`` fields) apply to
    every run. A run whose loss blows up is kept, marked ``config["diverged"]`` (its step)."""
    runs = {}
    for label, change in changes.items():
        every = common | change  # the keywords common to all runs (network or fit), then this run's change
        network, config = recipe(recipe_name).split(every | {"seed": seed})
        model = build_model(recipe_name, seed=seed, data=data, **network)
        keep = KeepHistory()
        try:
            runs[label] = fit(model, data, config, device=device, quiet=True, callbacks=[keep])
        except TrainingDiverged:
            keep.history.config["diverged"] = keep.history.steps[-1]["step"] if keep.history.steps else 0
            runs[label] = keep.history
    return runs


def seeded_ablation(data: ImageSplits, changes: dict, seeds=(0, 1, 2), **kw) -> dict[str, list[History]]:
    """``ablation`` once per seed: ``{label: [History of each seed]}``. The same seed gives every variant the same
    initial weights (where the shapes agree), data order and flips, so differences can be paired seed by seed."""
    per_seed = [ablation(data, changes, seed=seed, **kw) for seed in seeds]
    return {label: [runs[label] for runs in per_seed] for label in changes}


def summarize(runs: dict) -> pd.DataFrame:
    """One row per run: final validation accuracy (NaN where the loss blew up), wall time and throughput."""
    rows = []
    for k, h in runs.items():
        speeds = [r["examples_per_s"] for r in h.epochs] or [math.nan]
        val = h.final.get("val_acc") if "diverged" not in h.config else None
        rows.append(
            dict(
                run=k,
                val_acc=val if val is not None else math.nan,
                wall_s=h.final.get("wall_s", math.nan),
                examples_per_s=float(np.mean(speeds)),
                steps=h.final.get("step", h.config.get("diverged")),
                diverged="diverged" in h.config,
            )
        )
    return pd.DataFrame(rows).set_index("run")


def d2l_on_gpu(data: ImageSplits, device=None) -> dict[str, History]:
    """The book's d2l recipe trained on ``data`` when ``device`` is a CUDA GPU (12 steps in fast mode):
    ``{"d2l": History}``; elsewhere ``{}`` and a line saying why (on a CPU it takes hours)."""
    device = runtime.get_device(device) if device is not None else runtime.best_device()
    if device.type != "cuda":
        print(f"No CUDA GPU here ({runtime.device_name(device)}): the d2l recipe is skipped; hours on a CPU.")
        return {}
    model = build_model("d2l", seed=0, data=data)
    config = fit_config("d2l", **runtime.fast_or_full({"epochs": 1, "max_steps": 12}, {}))
    return {"d2l": fit(model, data, config, device=device)}

"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural Networks"): train for a few
hundred steps while the learning rate grows, and watch the loss. Smith grows it linearly; here it grows
geometrically, as in fastai's ``lr_find``, so that every decade of rates gets the same number of steps.

Step i of n uses ``lr_i = lr_min * (lr_max / lr_min) ** (i / (n - 1))``. The loss is smoothed by a bias-corrected
exponential moving average (as fastai's ``lr_find``; pandas' ``ewm(alpha=1 - beta, adjust=True)``)::

    a_i = beta * a_{i-1} + (1 - beta) * loss_i,   a_{-1} = 0;    smoothed_i = a_i / (1 - beta ** (i + 1))

The test stops when the smoothed loss exceeds ``stop_factor`` times its minimum (it has diverged). A good peak
learning rate is below the divergence: near the steepest fall of the loss, or about a tenth of the rate at its
minimum. Training goes through ``fit`` (a callback sets the rate before every step) on a copy of the model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from ..data.image_splits import ImageSplits
from .callbacks import Callback, ProgressBar, StopTraining
from .config import FitConfig
from .loop import TrainingDiverged, fit


def geometric_rates(lr_min: float, lr_max: float, steps: int) -> np.ndarray:
    """``steps`` learning rates from ``lr_min`` to ``lr_max``, each a constant factor times the one before."""
    if not 0 < lr_min < lr_max or steps < 2:
        raise ValueError(f"need 0 < lr_min < lr_max and steps >= 2; got {lr_min}, {lr_max}, {steps}")
    return lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))


def smooth(losses, beta: float = 0.9) -> np.ndarray:
    """The bias-corrected exponential moving average of the module docstring."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return np.array(out)


class _Sweep(Callback):
    """Set the learning rate of the next step; record (lr, loss); stop ``fit`` once the loss has diverged."""

    def __init__(self, rates, beta: float, stop_factor: float):
        self.rates, self.beta, self.stop_factor = rates, beta, stop_factor
        self.lrs, self.losses = [], []

    def on_step(self, run, loss):
        self.lrs.append(float(self.rates[run.step - 1]))
        self.losses.append(loss)
        smoothed = smooth(self.losses, self.beta)
        if smoothed[-1] > self.stop_factor * smoothed.min() or run.step >= len(self.rates):
            raise StopTraining  # fit ends the run after this step, cleanly
        for group in run.optimizer.param_groups:
            group["lr"] = float(self.rates[run.step])


@dataclass
class RangeTest:
    """What a range test measured: ``frame`` (step, lr, loss, smoothed), and two readings of it."""

    frame: pd.DataFrame

    @property
    def min_loss_lr(self) -> float:
        """The learning rate where the smoothed loss is lowest."""
        return float(self.frame.loc[self.frame["smoothed"].idxmin(), "lr"])

    @property
    def steepest_lr(self) -> float:
        """The learning rate where the smoothed loss falls fastest per decade of learning rate (before its minimum)."""
        head = self.frame.loc[: self.frame["smoothed"].idxmin()]
        if len(head) < 3:
            return float(head["lr"].iloc[0])
        slope = np.gradient(head["smoothed"].to_numpy(), np.log10(head["lr"].to_numpy()))
        return float(head["lr"].iloc[int(np.argmin(slope))])

    @property
    def suggestion(self) -> float:
        """A tenth of the rate at the minimum: the usual conservative choice of a peak learning rate."""
        return self.min_loss_lr / 10


def lr_range_test(
    model: nn.Module,
    data: ImageSplits,
    *,
    lr_min: float = 1e-4,
    lr_max: float = 10.0,
    steps: int = 100,
    beta: float = 0.9,
    stop_factor: float = 4.0,
    device=None,
    seed: int = 0,
    **changes,
) -> RangeTest:
    """Run the range test on a copy of ``model`` (``model`` itself is left untouched) with ``FitConfig`` fields
    ``changes`` (batch_size, optimizer, momentum, weight_decay, ...); a constant schedule underneath."""
    rates = geometric_rates(lr_min, lr_max, steps)
    sweep = _Sweep(rates, beta, stop_factor)
    config = FitConfig(eval_every=0, log_every=1, seed=seed).replace(**changes)
    config = config.for_steps(steps, len(data.train_labels)).replace(lr=float(rates[0]), schedule="constant")
    try:
        fit(copy.deepcopy(model), data, config, device=device, quiet=True, callbacks=[ProgressBar(), sweep])
    except TrainingDiverged:  # the loss became NaN: what came before it is the answer
        pass
    frame = pd.DataFrame(dict(step=np.arange(1, len(sweep.losses) + 1), lr=sweep.lrs, loss=sweep.losses))
    frame["smoothed"] = smooth(frame["loss"].to_numpy(), beta)
    return RangeTest(frame)

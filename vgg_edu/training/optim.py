"""The update rule and the learning-rate schedules.

One step of mini-batch SGD with learning rate eta, momentum mu and weight decay lambda (PyTorch's form)::

    g = grad L(w) + lambda * w;   v = mu * v + g;   w = w - eta * v        (mu = lambda = 0: d2l's plain SGD)

Schedules, with t the step and T the run's total steps:

- "constant":  eta_t = eta
- "cosine":    eta_t = eta * (1 + cos(pi * t / T)) / 2
- "onecycle":  Smith & Topin 2017: eta_t rises linearly from eta/25 to eta over the first W = T/4 steps, then
               eta_t = eta * (1 + cos(pi * (t - W) / (T - W))) / 2 anneals it to 0
- "plateau":   divide eta by 10 when the epoch's validation accuracy stops rising (``ReduceLROnPlateau``)
- "step":      the paper's divide-by-10 at fixed points: eta_t = eta * 0.1 ** ([t >= T/2] + [t >= 3T/4])
- "plateau3":  "plateau" with patience 3 (the practical-tips source's ``ReduceLROnPlateau('max', patience=3)``)

A schedule says when it steps (as timm's schedulers do): ``make_schedule`` gives a ``Schedule`` whose
``after_step`` ``fit`` calls after every optimizer step and ``after_epoch`` after every epoch's row, with the
epoch's validation accuracy (None when it was not validated); ``needs_validation`` says whether it follows that
accuracy, and so needs a validation split.
"""

from __future__ import annotations

import math

import torch

from .config import OPTIMIZERS, SCHEDULES


def make_optimizer(model, name: str, lr: float, momentum: float, weight_decay: float):
    """SGD (``momentum=0``: d2l's plain SGD; 0.9: the paper's), Adam (weight decay added to the gradient, as SGD's)
    or AdamW (weight decay decoupled from the gradient, Loshchilov & Hutter 2019)."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(map(repr, OPTIMIZERS))}")


class Schedule:
    """A per-step schedule ("constant", "cosine", "onecycle", "step"): a torch scheduler stepped after every
    optimizer step; its state is the torch scheduler's (what a checkpoint saves as ``scheduler``)."""

    needs_validation = False

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def after_step(self) -> None:
        self.scheduler.step()

    def after_epoch(self, val_acc: float | None) -> None:
        """Per-step schedules have nothing to do at the end of an epoch."""

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)


class OnPlateau(Schedule):
    """The schedules that follow validation accuracy ("plateau", "plateau3"): a ``ReduceLROnPlateau`` stepped once
    per validated epoch, with its accuracy."""

    needs_validation = True

    def after_step(self) -> None:
        """The learning rate changes between epochs only."""

    def after_epoch(self, val_acc: float | None) -> None:
        if val_acc is not None:
            self.scheduler.step(val_acc)


KINDS = {
    "constant": Schedule,
    "cosine": Schedule,
    "onecycle": Schedule,
    "step": Schedule,
    "plateau": OnPlateau,
    "plateau3": OnPlateau,
}
"""Each schedule's kind: when it steps (``config.SCHEDULES``, the names the CLI offers, are these)."""


def needs_validation(name: str) -> bool:
    """Whether schedule ``name`` follows validation accuracy (and so needs a validation split)."""
    return _kind(name).needs_validation


def _kind(name: str) -> type[Schedule]:
    if name not in KINDS:
        raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(map(repr, SCHEDULES))}")
    return KINDS[name]


def make_schedule(optimizer, name: str, total_steps: int) -> Schedule:
    """Schedule ``name`` for a run of ``total_steps`` steps, as the object ``fit`` steps (``make_scheduler``'s torch
    scheduler inside)."""
    return _kind(name)(make_scheduler(optimizer, name, total_steps))


def make_scheduler(optimizer, name: str, total_steps: int):
    """A per-step scheduler for "constant", "cosine", "onecycle"; an epoch-level ``ReduceLROnPlateau`` for
    "plateau" (stepped with the epoch's validation accuracy)."""
    total_steps = max(1, total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0)
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))
        )
    if name == "onecycle":
        warm = max(1, round(0.25 * total_steps))

        def one_cycle(t):
            if t < warm:
                return 0.04 + 0.96 * t / warm
            return 0.5 * (1 + math.cos(math.pi * min(t - warm, total_steps - warm) / max(1, total_steps - warm)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, one_cycle)
    if name == "step":  # the paper's divide-by-10, at fixed points of the run: 1/2 and 3/4
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.1 ** ((t >= total_steps // 2) + (t >= 3 * total_steps // 4))
        )
    if needs_validation(name):  # "plateau3": the practical-tips source's ReduceLROnPlateau('max', patience=3)
        patience = 3 if name == "plateau3" else 1
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1, patience=patience)
    raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(map(repr, SCHEDULES))}")


def schedule_curve(name: str, total_steps: int, lr: float = 0.1) -> list[float]:
    """The learning rate at every step of a run of ``total_steps`` under schedule ``name`` (``make_scheduler``'s
    per-step schedules; "plateau" depends on validation accuracy and has no curve of its own)."""
    if needs_validation(name):
        raise ValueError(f"schedule {name!r} follows validation accuracy: it has no fixed curve to draw")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched, lrs = make_scheduler(opt, name, total_steps), []
    for _ in range(total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs

"""Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015).

A small *student* learns from the labels and from a larger *teacher*'s soft targets, the teacher's probabilities
softened by a temperature T (``softmax(z / T)``: T = 1 is the usual softmax, a larger T spreads probability over
the wrong classes, which is where the teacher's knowledge of "what looks like what" is)::

    loss = (1 - a) * CE(y, s) + a * T^2 * KL(softmax(t / T) || softmax(s / T))

with s and t the student's and teacher's logits (and y optionally label-smoothed, as a plain run of the recipe
trains, so that distillation is the only difference). The T^2 keeps the soft term's gradients the same size whatever T
(they scale as 1 / T^2). ``Distiller`` is this loss as ``fit``'s ``loss_fn(logits, labels, inputs)``: it
runs the frozen teacher on the same (augmented) inputs the student sees.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn


def _check(temperature, alpha) -> None:
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a positive, finite number such as 2 or 4; got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha, the weight of the soft targets, must be in [0, 1]; got {alpha!r}")


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """(1 - alpha) CE(labels, student) + alpha T^2 KL(softmax(teacher / T) || softmax(student / T)), batch mean;
    the hard term with ``label_smoothing`` as in ``F.cross_entropy``."""
    _check(temperature, alpha)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits differ in shape: {tuple(student_logits.shape)} and "
            f"{tuple(teacher_logits.shape)}; both must score the same classes"
        )
    hard = F.cross_entropy(student_logits, labels, label_smoothing=label_smoothing)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return (1 - alpha) * hard + alpha * temperature**2 * soft


class Distiller:
    """``loss_fn`` for ``fit``: the distillation loss against ``teacher``'s logits on the same inputs.

    The teacher is frozen in place (``requires_grad=False``), run in eval mode without gradients (its BatchNorm
    statistics and weights never change) and moved to the inputs' device on first use.
    """

    def __init__(
        self, teacher: nn.Module, *, temperature: float = 4.0, alpha: float = 0.9, label_smoothing: float = 0.0
    ):
        if not isinstance(teacher, nn.Module):
            raise TypeError(f"teacher must be a trained network (an nn.Module); got {type(teacher).__name__}")
        _check(temperature, alpha)
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, numbers.Real)
            or not 0 <= label_smoothing < 1
        ):
            raise ValueError(f"label_smoothing must be in [0, 1), such as the recipe's 0.1; got {label_smoothing!r}")
        self.teacher, self.temperature, self.alpha = teacher.eval(), temperature, alpha
        self.label_smoothing = label_smoothing
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        self.teacher.to(inputs.device).eval()
        with torch.no_grad():
            teacher_logits = self.teacher(inputs).float()
        return distillation_loss(
            logits.float(),
            teacher_logits,
            labels,
            temperature=self.temperature,
            alpha=self.alpha,
            label_smoothing=self.label_smoothing,
        )

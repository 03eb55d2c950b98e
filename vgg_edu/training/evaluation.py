"""Evaluation: ``predict`` (logits for uint8 images, by the model's input contract), ``evaluate`` (accuracy on a
split), the confusion matrix and the most confident mistakes.

Accuracy = (number of images whose arg-max logit is the true class) / (number of images); the confusion matrix
C[i, j] counts the images of true class i predicted as class j.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .. import cpu, runtime
from ..data import augment
from ..data.image_splits import ImageSplits
from ..data.inputs import InputSpec, batches, spec_of
from .batches import training_batches
from .config import FitConfig
from .history import History


@dataclass
class Evaluation:
    accuracy: float
    loss: float
    predictions: torch.Tensor  # (N,) predicted class
    labels: torch.Tensor  # (N,) true class
    probabilities: torch.Tensor  # (N, classes) softmax

    def confusion(self, num_classes: int | None = None) -> torch.Tensor:
        """C[i, j] = how many images of true class i were predicted as class j."""
        return confusion_matrix(self.labels, self.predictions, num_classes or self.probabilities.shape[1])


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """C[i, j] = number of examples with true class i predicted as j (rows sum to the class counts)."""
    idx = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def misclassified(evaluation: Evaluation, k: int = 16) -> torch.Tensor:
    """Indices of the ``k`` wrong predictions the model was most confident about."""
    wrong = (evaluation.predictions != evaluation.labels).nonzero().flatten()
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[confidence.argsort(descending=True)[:k]]


def eval_batch_size(size: int | None) -> int:
    """Images per evaluation batch: 1000 up to 64 px, fewer for larger inputs so that one batch's activations stay
    near 1 GB (256 at 224 px), however large the input."""
    side = size or 28
    return max(8, min(1000, 256 * (224 * 224) // (side * side)))


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    *,
    spec: InputSpec | None = None,
    device=None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
    flip_tta: bool = False,
) -> torch.Tensor:
    """Logits (N, classes) on the CPU for uint8 images, made inputs by ``spec`` (default: the model's input contract,
    ``spec_of``), computed in batches in eval mode (the model's mode is restored). ``flip_tta``: the log of the mean of
    the soft-max posteriors of each image and its mirror image (``augment.flip_averaged``, as the paper does).
    ``batch_size`` defaults to ``eval_batch_size`` of the input size, ``channels_last`` to the layout of the model's
    weights (``fit`` leaves them channels-last). ``device``: see ``runtime``'s device rule."""
    device = runtime.place(model, device)
    cpu.keep_freed_memory(device)
    spec = spec if spec is not None else spec_of(model)
    batch_size = batch_size or eval_batch_size(spec.size)
    if channels_last is None:
        conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        channels_last = conv is not None and conv.weight.is_contiguous(memory_format=torch.channels_last)
    dummy = torch.zeros(len(images), dtype=torch.long)
    with runtime.evaluating(model):
        forward = (lambda x: augment.flip_averaged(model, x)) if flip_tta else model
        out = [
            forward(x).float().cpu()
            for x, _ in batches(images, dummy, batch_size, spec=spec, device=device, channels_last=channels_last)
        ]
    return torch.cat(out) if out else torch.zeros(0, len(spec.classes))


def evaluate(
    model: nn.Module,
    data: ImageSplits,
    split: str = "val",
    *,
    device=None,
    batch_size: int | None = None,
    details: bool = False,
    flip_tta: bool = False,
):
    """Accuracy of ``model`` on the ``split`` ("val", "test" or "train") of ``data``: a float in [0, 1].

    Choose and compare on "val"; report "test" once, at the end. With ``details=True`` returns an ``Evaluation``:
    accuracy, mean cross-entropy loss, the predictions, labels and softmax probabilities. ``flip_tta``: classify
    each image by the mean of its soft-max posteriors and its mirror image's (test-time augmentation, ``predict``).
    """
    images, labels = data.split(split)
    if not len(labels):
        raise ValueError(
            f"the {split!r} split of {data!r} is empty"
            + (": hold out a validation split first, data.hold_out(5000)" if split == "val" else "")
        )
    logits = predict(model, images, device=device, batch_size=batch_size, flip_tta=flip_tta)
    predictions = logits.argmax(1)
    accuracy = int((predictions == labels).sum()) / len(labels)  # exact: 443 of 500 is 0.886
    if not details:
        return accuracy
    return Evaluation(accuracy, float(F.cross_entropy(logits, labels)), predictions, labels.clone(), logits.softmax(1))


def accuracy_gap(
    model: nn.Module, data: ImageSplits, history: History, config: FitConfig, *, n: int = 5000, name="accuracy"
):
    """Why training accuracy trails validation accuracy early on, in four measurements of the same training images
    (``n`` of them): the running mean over the epoch that ``fit`` reports; the end-of-epoch model in train mode
    (dropout, BatchNorm's batch statistics) on images augmented as ``config`` says (flip, translate, max_zoom); the
    same in eval mode; in eval mode on the images as stored; then the validation accuracy. A table, its column
    ``name``."""
    images, labels = data.train_images[:n], data.train_labels[:n]
    spec, device = spec_of(model, data), runtime.model_device(model)
    one_batch = training_batches(images, labels, config, spec=spec, device=device, seed=config.seed, shuffle=False,
                                 batch_size=len(labels))  # fmt: skip
    augmented, _ = next(one_batch)
    clean = spec(images, device)
    scratch = copy.deepcopy(model)  # train mode updates BatchNorm's running statistics: not on the real model

    def accuracy(x, training):
        scratch.train(training)
        with torch.no_grad():
            predicted = torch.cat([scratch(chunk).argmax(1).cpu() for chunk in x.split(500)])
        return int((predicted == labels).sum()) / len(labels)

    rows = {
        "train: running mean over the epoch (fit's train_acc)": history.final["train_acc"],
        "train: end-of-epoch model, train mode (dropout, batch statistics), augmented": accuracy(augmented, True),
        "train: end-of-epoch model, eval mode, augmented": accuracy(augmented, False),
        "train: end-of-epoch model, eval mode, as stored": accuracy(clean, False),
        "validation: end-of-epoch model, eval mode": evaluate(model, data, "val"),
    }
    return pd.DataFrame({name: rows})

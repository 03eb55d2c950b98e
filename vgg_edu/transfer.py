"""Transfer learning offline: features learned on some classes reused on others, with few labels.

A network trained on a *source* task is reused on a *target* task: a new last layer for the target's classes,
and then one of

- "linear probe":     the features frozen, only the new last layer trains (a linear classifier on the features);
- "last two blocks":  stages 1-3 frozen, stages 4 and 5 fine-tuned at a smaller learning rate, the head at the full
                      one (layer-wise learning rates, the practical-tips source's recipe: features 1e-5, head 1e-4);
- "full fine-tune":   every layer trains, the features at the smaller learning rate;
- "from scratch":     the same network, randomly initialised, trained on the target alone.

Layer-wise learning rates are made by scaling gradients: with SGD (momentum mu, no weight decay) a layer whose
gradients are multiplied by r moves exactly as it would with learning rate r * eta (v_t = mu v_{t-1} + r g_t is r
times the unscaled velocity, by induction from v_0 = 0), so ``fit``'s single learning rate serves every
layer. Frozen layers get ``requires_grad=False`` and their BatchNorm stays in eval mode (its statistics are the
source's).
"""

from __future__ import annotations

import copy
import dataclasses
import time
import types

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import runtime
from .data.image_splits import ImageSplits
from .data.inputs import InputSpec, spec_of, with_spec
from .models import VGG
from .training.config import FitConfig
from .training.evaluation import evaluate
from .training.loop import fit

METHODS = ("linear probe", "last two blocks", "full fine-tune", "from scratch")


def split_classes(data: ImageSplits, classes) -> ImageSplits:
    """The images of ``classes`` only (indices into ``data.classes``), labelled 0 ... k-1 in the order given."""
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes) or not all(0 <= c < len(data.classes) for c in classes):
        raise ValueError(f"classes must be distinct indices in 0..{len(data.classes) - 1}; got {classes}")
    relabel = torch.full((len(data.classes),), -1, dtype=torch.long)
    relabel[classes] = torch.arange(len(classes))
    parts = []
    for split in ("train", "test", "val"):
        images, labels = data.split(split)
        keep = relabel[labels] >= 0
        parts += [images[keep], relabel[labels[keep]]]
    names = tuple(data.classes[c] for c in classes)
    return ImageSplits(*parts[:4], names, f"{data.source} (classes {classes})", *parts[4:])


def few_labels(data: ImageSplits, per_class: int, seed: int = 0) -> ImageSplits:
    """Keep ``per_class`` training images of each class, drawn at random (seeded); validation and test unchanged."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.train_labels), generator=g)
    labels = data.train_labels[order]
    keep = torch.cat([order[labels == c][:per_class] for c in range(len(data.classes))]).sort().values
    if len(keep) < per_class * len(data.classes):
        raise ValueError(f"some class has fewer than per_class={per_class} training images")
    return ImageSplits(
        data.train_images[keep],
        data.train_labels[keep],
        data.test_images,
        data.test_labels,
        data.classes,
        f"{data.source} ({per_class} labels per class)",
        data.val_images,
        data.val_labels,
    )


def digits(n_val: int = 400, n_test: int = 400, seed: int = 0) -> ImageSplits:
    """scikit-learn's bundled handwritten digits (``load_digits``: 1,797 images, 8 x 8, 17 grey levels) in the
    course's container: pixels 0-16 scaled to uint8 0-255, split at random into train / validation / test."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.round(bunch.images * 255 / 16).astype(np.uint8))
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    val, test, tr = order[:n_val], order[n_val : n_val + n_test], order[n_val + n_test :]
    classes = tuple(str(d) for d in range(10))
    return ImageSplits(
        images[tr], labels[tr], images[test], labels[test], classes, "sklearn digits", images[val], labels[val]
    )


def new_head(model: VGG, classes) -> VGG:
    """A copy of ``model`` whose last Linear layer is new (random) and scores ``classes``."""
    model = copy.deepcopy(model)
    index = max(i for i, m in enumerate(model.classifier) if isinstance(m, nn.Linear))
    old = model.classifier[index]
    model.classifier[index] = nn.Linear(old.in_features, len(classes), device=old.weight.device)
    nn.init.normal_(model.classifier[index].weight, 0, 0.01)
    nn.init.zeros_(model.classifier[index].bias)
    model.hparams = dict(model.hparams, num_classes=len(classes))
    return with_spec(model, dataclasses.replace(spec_of(model), classes=tuple(classes)))


def _train_in_eval(self, mode: bool = True):
    return nn.Module.train(self, False)


def freeze(module: nn.Module) -> nn.Module:
    """No gradients for ``module``'s parameters, and its BatchNorm layers stay in eval mode when the model is put
    in training mode (they keep normalising with the statistics they were trained with)."""
    for p in module.parameters():
        p.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train = types.MethodType(_train_in_eval, m)
            m.eval()
    return module


def scale_lr(module: nn.Module, factor: float) -> list:
    """Multiply the gradients of ``module``'s parameters by ``factor``: with SGD and no weight decay the same as a
    learning rate ``factor`` times the optimizer's (module docstring). Returns the hook handles."""
    return [p.register_hook(lambda g, f=factor: g * f) for p in module.parameters() if p.requires_grad]


def stage_slices(model: VGG) -> list[slice]:
    """The ``features`` positions of each stage (the layers up to and including each pool)."""
    bounds, start = [], 0
    for i, m in enumerate(model.features):
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            bounds.append(slice(start, i + 1))
            start = i + 1
    return bounds


def prepare(source: VGG, target: ImageSplits, method: str, *, feature_lr_ratio: float = 0.1, seed: int = 0) -> VGG:
    """The model ``method`` trains on ``target`` (see ``METHODS``): ``source`` with a new head, parts frozen or
    slowed; or a fresh network of the same shape for "from scratch". ``source`` is not changed."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
    runtime.seed_everything(seed)
    if method == "from scratch":
        fresh = with_spec(VGG(**source.hparams).to(runtime.model_device(source)), spec_of(source))
        return new_head(fresh, target.classes)
    model = new_head(source, target.classes)
    stages = stage_slices(model)
    if method == "linear probe":
        freeze(model.features)
        for m in model.classifier[:-1]:
            freeze(m)
        return model
    frozen = stages[: len(stages) - 2] if method == "last two blocks" else []
    for s in frozen:
        freeze(model.features[s])
    for s in stages[len(frozen) :]:
        scale_lr(model.features[s], feature_lr_ratio)
    return model


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def compare_methods(
    source: VGG, target: ImageSplits, methods=METHODS, *, seed: int = 0, device=None, **changes
) -> tuple[pd.DataFrame, dict]:
    """Train each method on ``target`` with the same run (SGD with momentum 0.9, weight decay 0: see ``scale_lr``;
    ``changes`` to other ``FitConfig`` fields) and measure validation accuracy: a table (method, trainable
    parameters, val_acc, wall_s) and the models."""
    config = FitConfig(optimizer="sgd", momentum=0.9, weight_decay=0.0, eval_every=0, seed=seed).replace(**changes)
    rows, models = [], {}
    for method in methods:
        model = prepare(source, target, method, seed=seed)
        start = time.perf_counter()
        fit(model, target, config, device=device, quiet=True)
        rows.append(
            dict(
                method=method,
                trainable_params=trainable_parameters(model),
                val_acc=evaluate(model, target),
                wall_s=time.perf_counter() - start,
            )
        )
        models[method] = model
    return pd.DataFrame(rows).set_index("method"), models


def as_rgb(data: ImageSplits) -> ImageSplits:
    """The same data with each grey image repeated into three equal channels (N, 3, H, W), for ImageNet networks."""
    rgb = [data.split(k)[0].unsqueeze(1).expand(-1, 3, -1, -1).contiguous() for k in ("train", "test", "val")]
    return ImageSplits(
        rgb[0],
        data.train_labels,
        rgb[1],
        data.test_labels,
        data.classes,
        f"{data.source} (RGB)",
        rgb[2],
        data.val_labels,
    )


def imagenet_vgg16(target: ImageSplits, *, model: VGG | None = None, size: int = 64) -> VGG:
    """torchvision's VGG-16 with its ImageNet weights (``pretrained.load_pretrained``; raises
    ``PretrainedWeightsNotFound`` when they are not on this machine) readied for ``target``: a new fc8 for its
    classes, inputs resized to ``size`` px and normalised with ImageNet's statistics (give it three-channel
    images: ``as_rgb``), and the practical-tips source's learning rates: ``fit`` with ``lr=1e-4`` trains the
    classifier at 1e-4 and the features at 1e-5. ``model`` replaces the download (tests pass a small VGG)."""
    from .pretrained import IMAGENET_MEAN, IMAGENET_STD, load_pretrained

    source = model if model is not None else load_pretrained("vgg16")
    ready = new_head(source, target.classes)  # a copy: ``model`` is not changed
    with_spec(ready, InputSpec(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, classes=tuple(target.classes)))
    scale_lr(ready.features, 0.1)
    return ready


def labels_sweep(
    source: VGG, target: ImageSplits, per_class=(5, 20, 100), methods=METHODS, *, seed: int = 0, **options
) -> pd.DataFrame:
    """``compare_methods`` with ``per_class`` labelled training images of each class of ``target`` (the same
    validation split throughout): one row per (per_class, method)."""
    tables = [
        compare_methods(source, few_labels(target, n, seed=seed), methods, seed=seed, **options)[0].assign(per_class=n)
        for n in tqdm(per_class, desc="labels per class")
    ]
    return pd.concat(tables).reset_index().set_index(["per_class", "method"])

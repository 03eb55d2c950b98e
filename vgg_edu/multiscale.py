"""Multi-scale testing (paper, Sec. 3.2 and 4.2): run the network on the test image rescaled to several sizes Q
and average the class posteriors.

The paper evaluates a net trained at a fixed S on Q = {S - 32, S, S + 32}, and one trained with scale jitter
S in [256, 512] on Q = {256, 384, 512}; the FC layers run as convolutions, so any Q works, and the score map is
averaged over positions. Our global-average-pool head takes any size of at least 32 px (five 2x2 pools) in the
same way. For Fashion-MNIST trained at S = 32 px, the paper's {256, 384, 512} for jittered training is
{32, 48, 64} (the same ratios); its {S - 32, S, S + 32} would be {28, 32, 36}, but 28 px is too small for five
pools, so we use {32, 36, 40}. Posterior of scale set Q::

    p(c | x) = mean over q in Q of softmax(f(resize(x, q)))_c
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch
from torch import nn

from .data.image_splits import ImageSplits
from .data.inputs import spec_of
from .training.evaluation import predict


def multi_scale_probabilities(model: nn.Module, images: torch.Tensor, sizes, *, device=None) -> torch.Tensor:
    """The mean over ``sizes`` of the softmax of the model's logits on ``images`` resized to each size (N, classes);
    the model's input contract otherwise (mean, std)."""
    spec = spec_of(model)
    probabilities = [
        predict(model, images, spec=dataclasses.replace(spec, size=int(size)), device=device).softmax(1)
        for size in sizes
    ]
    return torch.stack(probabilities).mean(0)


def scale_table(model: nn.Module, data: ImageSplits, scale_sets: dict, split: str = "val", *, device=None):
    """Accuracy on ``split`` for each named set of test sizes, e.g. ``{"Q = 32": (32,), "Q = 32, 36, 40": (32, 36,
    40)}``: one row per set."""
    images, labels = data.split(split)
    rows = []
    for name, sizes in scale_sets.items():
        predictions = multi_scale_probabilities(model, images, sizes, device=device).argmax(1)
        rows.append(dict(test_scales=name, accuracy=int((predictions == labels).sum()) / len(labels)))
    return pd.DataFrame(rows).set_index("test_scales")

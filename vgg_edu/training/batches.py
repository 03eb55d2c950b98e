"""A training batch, composed in one place: the run's order and flips (``inputs.batches``), its shifts and zooms
(``augment.for_epoch``), on the device, in the run's memory layout. ``fit`` and every lesson that measures
augmented training images (``evaluation.accuracy_gap``) take their batches from ``training_batches``, so that an
augmentation added to ``FitConfig`` is added here once and reaches all of them.
"""

from __future__ import annotations

import torch

from ..data import augment
from ..data.inputs import InputSpec, batches
from .config import FitConfig


def training_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    config: FitConfig,
    *,
    spec: InputSpec,
    device,
    seed: int,
    start: int = 0,
    shuffle: bool = True,
    batch_size: int | None = None,
):
    """Yield ``(x, y)``: ``images`` made into ``spec``'s inputs on ``device``, augmented as ``config`` says (flip,
    translate, max_zoom), in its layout (``channels_last``), ``batch_size`` (default ``config.batch_size``) at a
    time, from batch ``start`` of the order drawn from ``seed`` (``fit`` passes the run's seed + epoch; with
    ``shuffle=False`` the stored order). Every draw is made from ``seed`` for all the images at once, so any batch
    is the same whether the batches before it were made or skipped (a resumed run's)."""
    size = config.batch_size if batch_size is None else batch_size
    order = batches(
        images,
        labels,
        size,
        spec=spec,
        device=device,
        shuffle=shuffle,
        flip=config.flip,
        seed=seed,
        start=start,
        channels_last=config.channels_last,
    )
    shift_and_zoom = augment.for_epoch(
        len(labels),
        seed=seed,
        translate_px=config.translate,
        max_zoom=config.max_zoom,
        fill=augment.background(spec.mean, spec.std).to(device, non_blocking=True),
    )
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    for i, (x, y) in enumerate(order, start=start):
        yield shift_and_zoom(x, i * size).contiguous(memory_format=layout), y

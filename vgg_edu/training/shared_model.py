"""The model notebooks 05 and 08 look inside: notebook 04's trained VGG-11, saved where ``lesson_checkpoint`` says,
or (where there is none, and in fast mode) the classroom network trained here for a short while.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .. import paths, runtime
from ..data.image_splits import ImageSplits
from ..data.inputs import spec_of
from . import checkpoint
from .config import DEFAULT_CHECKPOINT
from .loop import fit
from .recipes import build_model, fit_config


def lesson_checkpoint() -> Path:
    """Where notebook 04 saves its model: ``artifacts/vgg11_fashion_mnist.pt``, the file notebooks 05 and 08 load; in
    fast mode ``vgg11_fashion_mnist_fast.pt``, so that a CI run never replaces a model trained in full."""
    name = runtime.fast_or_full(DEFAULT_CHECKPOINT.replace(".pt", "_fast.pt"), DEFAULT_CHECKPOINT)
    return paths.artifacts_dir() / name


def lesson_model(data: ImageSplits, *, device=None, path=None) -> nn.Module:
    """The model the lessons after notebook 04 look inside: notebook 04's trained VGG-11 (``path``, default
    ``artifacts/vgg11_fashion_mnist.pt``) where it exists and is a Fashion-MNIST VGG, else (and always in fast mode)
    the classroom network trained here for a short while, with a line saying which and why."""
    path = Path(path) if path is not None else paths.artifacts_dir() / DEFAULT_CHECKPOINT
    why = "fast mode" if runtime.fast_mode() else f"no checkpoint at {path} (run notebook 04 to make one)"
    if path.is_file() and not runtime.fast_mode():
        model = checkpoint.load_model(path, device=device)
        spec = spec_of(model)
        if tuple(spec.classes) == tuple(data.classes) and len(spec.mean) == 1:
            print(f"Loaded notebook 04's VGG-11 from {path} ({spec.size} px inputs).")
            return model
        why = (
            f"{path} holds a model of other data ({len(spec.classes)} classes: {', '.join(spec.classes[:4])}...), "
            "not notebook 04's Fashion-MNIST VGG-11 (run notebook 04 again to remake it; train on your own images "
            "with another --checkpoint)"
        )
    model = build_model("classroom", data=data)
    # Fast mode has ~100 steps: AdamW gets much further than SGD in so few. Otherwise the recipe, for 2 epochs.
    quick = dict(epochs=1, batch_size=32, optimizer="adamw", lr=2e-3, weight_decay=0.0) if runtime.fast_mode() else {}
    history = fit(model, data, fit_config("classroom", **{"epochs": 2} | quick), device=device, quiet=True)
    print(
        f"{why}: trained a small VGG-11 quickly instead ({history.final['step']} steps on "
        f"{len(data.train_labels):,} images); expect rougher pictures than with notebook 04's model."
    )
    return model.eval()

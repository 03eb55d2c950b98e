"""Where and how the course runs: the device rule, fast mode for CI, Colab and seeds.

The device rule, the same in every function of the package that takes ``device``:

- ``device=None`` means where the model's parameters are (nothing moves);
- a given device moves the model there (``model.to(device)``) and computes there;
- asking for CUDA or MPS where there is none is a ``ValueError`` that says what to pass instead.

Only the command line chooses the best device there is by itself, with ``best_device()``: CUDA, then Apple's MPS,
then the CPU. A model built or loaded in Python starts on the CPU; pass ``device=`` (or call ``.to``) to move it.

Elsewhere: the CPU's threads and allocator in ``cpu``, timing in ``timing``, files in ``paths``, the README's
figures in ``figures``.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys

import numpy as np
import torch
from torch import nn

FAST_ENV = "VGG_EDU_FAST"
"""Set ``VGG_EDU_FAST=1`` to shrink data and epochs (CI and nbmake). Every cell still runs."""


def best_device() -> torch.device:
    """CUDA if there is a GPU, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """``prefer`` checked (a clear error if it is not here), or ``best_device()`` when None."""
    if prefer is None:
        return best_device()
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {prefer!r}; use 'cpu', 'cuda', 'cuda:1' or 'mps'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {prefer!r} was asked for but no CUDA GPU is visible here; use 'cpu' (or None)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {prefer!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {prefer!r} was asked for but Apple's MPS is not available here; use 'cpu'")
    return device


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (or, failing those, buffers) are; the CPU for a model with neither."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def place(model: nn.Module, device=None) -> torch.device:
    """The device rule (see the module's docstring): move ``model`` to ``device`` if given; return where it is."""
    if device is None:
        return model_device(model)
    device = get_device(device)
    model.to(device)
    return device


@contextlib.contextmanager
def evaluating(model: nn.Module, training: bool = False):
    """Eval mode inside (no dropout, BatchNorm's running statistics), the model's previous mode restored after.
    ``training=True``: train mode inside instead (batch statistics, dropout), restored the same way."""
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def device_name(device: str | torch.device | None = None) -> str:
    """A readable name for reports: the GPU's model, or the CPU with its thread count."""
    device = get_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads > 1 else ''})"


def on_colab() -> bool:
    """True inside Google Colab, where the course may download (torchvision's ImageNet weights, for one)."""
    return "google.colab" in sys.modules


def fast_mode() -> bool:
    """True when ``VGG_EDU_FAST`` is set to 1/true/yes: notebooks then use small data and few steps."""
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def fast_or_full(fast, full):
    """``fast`` in fast mode (CI), ``full`` otherwise: one place for the notebooks' sizes, no ``if`` in a lesson."""
    return fast if fast_mode() else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)

"""Training memory: what a training step keeps, computed from the layer table and measured, and gradient
checkpointing stage by stage.

A step of SGD holds, in float32 (4 bytes a value), with P parameters and a batch of N images::

    weights  4 P      gradients  4 P      optimizer state  4 P per buffer (SGD momentum 1, Adam and AdamW 2)
    activations  N * (what autograd saves for the backward pass, per image)

Under autocast the activations are saved in 16 bits, and the step also holds a 16-bit copy of the weights (2 P),
which autograd keeps for the backward pass.

Autograd saves, per image (``saved_bytes_per_image``): the input; every layer output that is not computed in
place (a conv's output is rewritten by its in-place ReLU, which saves it; the max-pool and linear layers save
their inputs; BatchNorm its input); the max-pools' argmax indices (int64, 8 bytes per output value); dropout's
masks (1 byte per value); the log-softmax of the loss. ``saved_tensor_bytes`` measures the same thing by asking
autograd itself (``torch.autograd.graph.saved_tensors_hooks``), ``peak_memory`` measures a whole step (CUDA's
allocator, or the process's peak resident memory on Linux).

Gradient checkpointing (``torch.utils.checkpoint``, Chen et al. 2016) keeps only each segment's input and runs the
segment's forward again during the backward pass: about one more forward pass of time for the memory of all but
the segment boundaries (and of one segment at a time while it is recomputed).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import cpu, timing

OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
"""Buffers an optimizer keeps per parameter: plain SGD none, SGD with momentum one (v), Adam(W) two (m and v)."""


def saved_bytes_per_image(table: pd.DataFrame, input_size, bytes_per_value: int = 4) -> int:
    """Bytes autograd saves for the backward pass, per image, counted from an ``analysis.layer_table``
    (module docstring; dropout in training mode). ``input_size`` is (C, H, W)."""
    values = math.prod(input_size) + int(table.loc[~table["inplace"], "activations"].sum())
    pools = int(table.loc[table["type"].str.startswith("MaxPool2d"), "activations"].sum())
    dropouts = int(table.loc[table["type"].str.startswith("Dropout"), "activations"].sum())
    return values * bytes_per_value + pools * 8 + dropouts


def training_memory(
    model: nn.Module,
    input_size=(3, 224, 224),
    batch_size: int = 1,
    *,
    optimizer: str = "momentum",
    table: pd.DataFrame | None = None,
    activation_bytes: int = 4,
) -> pd.Series:
    """Bytes of a training step by the module docstring: weights, gradients, optimizer_state, activations and
    their total (float32 weights; ``activation_bytes=2`` for activations kept in float16/bfloat16 by autocast, which
    also makes a 16-bit copy of the weights for every step and keeps it for the backward pass: ``weights_16bit``).
    ``table`` is the model's ``layer_table`` at ``input_size`` (computed on the meta device when not given)."""
    if optimizer not in OPTIMIZER_BUFFERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {list(OPTIMIZER_BUFFERS)}")
    if table is None:
        from .analysis import layer_table

        table = layer_table(model, input_size)
    params = sum(p.numel() for p in model.parameters())
    out = pd.Series(
        dict(
            weights=4 * params,
            gradients=4 * params,
            optimizer_state=4 * params * OPTIMIZER_BUFFERS[optimizer],
            activations=batch_size * saved_bytes_per_image(table, input_size, activation_bytes),
        )
    )
    if activation_bytes < 4:  # autocast: the convs and linear layers compute with 16-bit copies of their weights
        out["weights_16bit"] = activation_bytes * params
    out["total"] = out.sum()
    return out


def batch_size_for(budget_bytes: float, memory_at_1: pd.Series, memory_at_2: pd.Series) -> float:
    """The batch size whose ``training_memory`` total is ``budget_bytes`` (memory grows linearly with the batch:
    the fixed part, plus the per-image part times the batch size)."""
    per_image = memory_at_2["total"] - memory_at_1["total"]
    return (budget_bytes - (memory_at_1["total"] - per_image)) / per_image


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> int:
    """Bytes autograd keeps for the backward pass of ``model(x)`` (and of the cross-entropy with ``y``), measured
    by a ``saved_tensors_hooks`` pack hook: every saved tensor's storage, counted once, parameters left out."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    kept: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
        if y is not None:
            F.cross_entropy(out, y)
    return sum(kept.values())


def _resident_bytes(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    found = re.search(rf"{field}:\s+(\d+) kB", status.read_text())
    return int(found.group(1)) * 1024 if found else None


def peak_memory(fn, device=None) -> tuple[int, str]:
    """Run ``fn()`` and return (bytes above what was in use before it, how it was measured): CUDA's
    ``max_memory_allocated``; on Linux CPUs the process's peak resident memory (VmHWM, reset first through
    /proc/self/clear_refs); elsewhere (-1, why not)."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before, "CUDA max_memory_allocated"
    cpu.release_freed_memory()  # what fit kept resident (cpu.keep_freed_memory) is not counted twice
    before = _resident_bytes("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (Linux 4.0 and later)
    except OSError:
        before = None
    if before is None:
        fn()
        return -1, "not measurable here (needs CUDA or Linux's /proc)"
    fn()
    return _resident_bytes("VmHWM") - before, "peak resident memory (Linux VmHWM)"


def stage_bounds(features: nn.Sequential) -> list[tuple[int, int]]:
    """(start, end) indices of each stage of a VGG's ``features``: the layers up to and including each pool."""
    bounds, start = [], 0
    for i, m in enumerate(features):
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            bounds.append((start, i + 1))
            start = i + 1
    if start < len(features):
        bounds.append((start, len(features)))
    return bounds


class Checkpointed(nn.Module):
    """A VGG whose ``features`` run as checkpointed segments (``torch.utils.checkpoint``, non-reentrant) while
    training. ``segments``: (start, end) index pairs of ``features``; default every stage (``stage_bounds``);
    the post's ``[(0, 4)]`` checkpoints ``features[:4]`` only. The layers are the model's own (shared, not
    copied), so ``Checkpointed(model)`` trains ``model``; ``state_dict`` keys are ``model.``'s."""

    def __init__(self, model: nn.Module, segments=None):
        super().__init__()
        if not all(isinstance(getattr(model, a, None), nn.Module) for a in ("features", "avgpool", "classifier")):
            raise TypeError(f"model must be a VGG with features, avgpool and classifier; got {type(model).__name__}")
        self.model = model
        n = len(model.features)
        self.segments = list(segments) if segments is not None else stage_bounds(model.features)
        if any(not 0 <= a < b <= n for a, b in self.segments) or sorted(self.segments) != self.segments:
            raise ValueError(f"segments must be ordered (start, end) pairs within features' {n} layers")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, done = self.model.features, 0
        for a, b in self.segments:
            x = features[done:a](x)
            segment = features[a:b]
            x = checkpoint(segment, x, use_reentrant=False) if torch.is_grad_enabled() else segment(x)
            done = b
        x = features[done:](x)
        return self.model.classifier(torch.flatten(self.model.avgpool(x), 1))


def compare_step_times(models: dict, x: torch.Tensor, y: torch.Tensor, *, repeats: int = 5) -> dict:
    """Median seconds of a forward + backward step for each of ``models`` ({name: model}), timed in turns
    (``timing.median_ms_in_turns``: one step of each, ``repeats`` rounds after a warm-up round), so that a change in
    the machine's load hits all alike."""

    works = {name: (timing.training_step(model, x, y), torch.get_num_threads()) for name, model in models.items()}
    ms = timing.median_ms_in_turns(works, per=1, repeats=repeats, device=x.device)
    return {name: t / 1e3 for name, t in ms.items()}


def peaks_against_count(peaks: pd.DataFrame) -> str:
    """What the measured peaks show (``peaks``: one row per batch size, with ``batch_size``, ``peak_bytes`` and
    ``how`` as ``measured_training_peak`` returns them, and ``counted``, the ``training_memory`` total), in words:
    measured over counted at each batch size, and how they were measured; or that they could not be measured."""
    measured = peaks[peaks.peak_bytes > 0]
    if measured.empty:
        return f"the peak is not measured here: {peaks.how.iloc[0]}"
    ratios = ", ".join(
        f"{p / c:.2f} at batch {int(b)}" for b, p, c in measured[["batch_size", "peak_bytes", "counted"]].values
    )
    return f"measured peak / counted bytes: {ratios} ({measured.how.iloc[0]})"


def measured_training_peak(
    build, batch_size: int, input_size=(3, 224, 224), *, device="cpu", num_classes: int = 1000, steps: int = 2
) -> tuple[int, str]:
    """``peak_memory`` of building the model (``build()``) and training it for ``steps`` SGD steps with momentum
    on random images: weights, gradients, momentum, activations and the workspaces, all measured together."""

    def run():
        model = build().to(device).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
        x = torch.randn(batch_size, *input_size, device=device)
        y = torch.randint(0, num_classes, (batch_size,), device=device)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

    return peak_memory(run, device)

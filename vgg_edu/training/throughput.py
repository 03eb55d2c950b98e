"""What keeps a GPU busy between two training steps: no waiting on it, the next batch made ahead, CUDA graphs.

A CUDA step is a queue of kernel launches: the host runs ahead of the GPU until it asks for a value (``.item()``,
``float(t)``, ``.cpu()``, a blocking copy), then waits for everything queued. The classroom network's step is so
small (9.6 M multiply-accumulates per image) that the launches, not the arithmetic, set its pace. So ``fit``

- keeps its running sums on the device, reads the loss once per logging interval (``loop._log_step``) and the
  sums once per epoch (``loop._end_epoch``), and waits for the GPU at the end of each epoch, to time it
  (``timing.synchronize``);
- makes the next batch while this step runs (``ahead``): on CUDA on a second stream, from pinned memory
  (``FitConfig.prefetch``; None: on CUDA only, as nothing can overlap on a CPU);
- can replay the network's forward and backward pass as CUDA graphs, one launch for all its kernels
  (``compiled``: ``torch.compile`` with inductor and ``triton.cudagraphs``, PyTorch's "reduce-overhead"), when
  ``FitConfig.compile`` is set. Random draws (dropout) are left to PyTorch's own generator (inductor's
  ``fallback_random``), so a compiled run draws the masks the plain one does and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

BACKEND = "inductor"
"""``torch.compile``'s backend for ``compiled``. The CPU tests use "aot_eager" (tracing and the joint forward-backward
graph without generating C++: inductor takes minutes to compile on a busy 2-core CPU)."""

_END = object()


def ahead(items: Iterable, device: torch.device, enabled: bool = True) -> Iterator:
    """Yield ``items`` (tuples of tensors: a batch), each one asked for before the previous one is handed out, so
    that the next batch is made while this one's step runs. On CUDA the next batch is made on a second stream
    (the step waits for it by an event, and its tensors are marked as used by the step's stream); elsewhere the
    same work is only reordered. The values are the same as without: only when the work is issued changes."""
    it = iter(items)
    if not enabled:
        yield from it
        return
    if device.type != "cuda":
        upcoming = next(it, _END)
        while upcoming is not _END:
            current, upcoming = upcoming, next(it, _END)
            yield current
        return
    main, side = torch.cuda.current_stream(device), torch.cuda.Stream(device)
    side.wait_stream(main)  # whatever the epoch made before its first batch (the augmentation's fill, say)

    def made_on_side():
        with torch.cuda.stream(side):
            item = next(it, _END)
            return item, side.record_event()

    upcoming, ready = made_on_side()
    while upcoming is not _END:
        (current, current_ready), (upcoming, ready) = (upcoming, ready), made_on_side()
        main.wait_event(current_ready)
        for t in current:
            t.record_stream(main)  # not reused by the side stream while the step still reads it
        yield current


def compiled(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` under ``torch.compile``: fused kernels, and on CUDA its forward and backward pass replayed as
    CUDA graphs (one graph per batch shape: ``dynamic=False``). Dropout draws from PyTorch's generator as the plain
    module does (``fallback_random``). The parameters are shared: train it, save ``module`` itself."""
    options = {"fallback_random": True} | ({"triton.cudagraphs": True} if device.type == "cuda" else {})
    if BACKEND != "inductor":
        return torch.compile(module, backend=BACKEND, dynamic=False)
    return torch.compile(module, backend=BACKEND, dynamic=False, options=options)


def step_begins(device: torch.device, graphs: bool) -> None:
    """Tell the CUDA graphs that a new training step begins, so the outputs of the last one may be overwritten."""
    if graphs and device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()

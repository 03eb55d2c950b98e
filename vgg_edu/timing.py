"""Timing on a shared machine, one way for every lesson that times: what to time (``training_step``,
``forward_pass``), several of them timed in turns after a warm-up round (``ms_in_turns``, and its medians
``median_ms_in_turns``), each read after the GPU has finished (``synchronize``), and what a timing ran on, to print
beside it (``load_note``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import runtime


def load_note(device=None) -> str:
    """What a timing ran on, to print beside it: PyTorch's CPU threads (``"1 thread"``), or the name of ``device``
    where one is given (``"CPU (1 thread)"``: for a line that would otherwise name it twice), then the machine's
    1-minute load average and its core count where the system has a load average (not on Windows). A load above the
    core count means other work shared the CPU and slowed the timing, and the note then says so:
    ``"1 thread, load average 6.4 on 2 cores: other work shared the CPU, which slows timings"``."""
    threads = torch.get_num_threads()
    note = runtime.device_name(device) if device is not None else f"{threads} thread{'s' if threads != 1 else ''}"
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on Windows
        return note
    cores = os.cpu_count() or 1
    note = f"{note}, load average {load:.1f} on {cores} core{'s' if cores != 1 else ''}"
    return note + (": other work shared the CPU, which slows timings" if load > cores else "")


def ms_in_turns(works: dict, *, per: int, repeats: int = 5, device=None) -> dict[str, list[float]]:
    """Milliseconds per item (``per`` items a call) of each of ``works`` ({name: (function, threads)}) in each of
    ``repeats`` rounds, timed in turns: a warm-up round (not kept), then ``repeats`` rounds of one call of each, each
    on its own number of torch threads, so that a change in a shared machine's load hits all of them alike."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive whole number (timed rounds); got {repeats!r}")
    device = torch.device(device if device is not None else "cpu")
    times = {name: [] for name in works}
    for round_ in range(repeats + 1):
        for name, (work, threads) in works.items():
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                synchronize(device)
                start = time.perf_counter()
                work()
                synchronize(device)
                seconds = time.perf_counter() - start
            finally:
                torch.set_num_threads(before)
            if round_:
                times[name].append(1e3 * seconds / per)
    return times


def median_ms_in_turns(works: dict, *, per: int, repeats: int = 5, device=None) -> dict[str, float]:
    """The median of each of ``works``' rounds (``ms_in_turns``: a warm-up round, then ``repeats`` rounds in
    turns), in milliseconds per item."""
    times = ms_in_turns(works, per=per, repeats=repeats, device=device)
    return {name: float(np.median(t)) for name, t in times.items()}


def training_step(model: nn.Module, x, y=None, *, optimizer=None, dtype=None) -> Callable[[], None]:
    """One training step of ``model``, as a function to time: gradients cleared, the forward pass (under autocast to
    ``dtype`` where one is given) and its loss (cross-entropy against ``y``; the outputs' sum without ``y``), the
    backward pass, and ``optimizer.step()`` where an optimizer is given. ``x`` is the batch, or a function that makes
    it (timed with the step: a pipeline's input preparation)."""

    def step():
        model.zero_grad(set_to_none=True)
        inputs = x() if callable(x) else x
        with torch.autocast(inputs.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(inputs)
            loss = F.cross_entropy(out, y) if y is not None else out.sum()
        loss.backward()
        if optimizer is not None:
            optimizer.step()

    return step


def forward_pass(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One inference forward pass of ``model`` on ``x`` (no autograd), as a function to time."""

    @torch.no_grad()
    def forward():
        model(x)

    return forward


def synchronize(device) -> None:
    """Wait until the GPU has done all that was queued, so that a clock reads the work's time (nothing to wait for
    on a CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)

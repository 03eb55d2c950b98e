"""Timing on a shared machine: a function's time read after the GPU has finished (``synchronize``), several
functions timed in turns with a warm-up round and the median of the rounds (``median_ms_in_turns``), and what a
timing ran on, to print beside it (``load_note``)."""

from __future__ import annotations

import os
import time

import numpy as np
import torch


def load_note() -> str:
    """What a timing ran on, to print beside it: ``"1 thread, load average 2.3"`` (PyTorch's CPU threads, and the
    machine's 1-minute load average where the system has one: not on Windows). On a shared machine a load above the
    core count means the timing was slowed by other work."""
    threads = torch.get_num_threads()
    note = f"{threads} thread{'s' if threads != 1 else ''}"
    try:
        return f"{note}, load average {os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):  # no load average on Windows
        return note


def median_ms_in_turns(works: dict, *, per: int, repeats: int = 5, device=None) -> dict[str, float]:
    """Median milliseconds per item (``per`` items a call) of each of ``works`` ({name: (function, threads)}),
    timed in turns: a warm-up round, then ``repeats`` rounds of one call of each, each on its own number of torch
    threads, so that a change in a shared machine's load hits all of them alike."""
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
    return {name: float(np.median(t)) for name, t in times.items()}


def synchronize(device) -> None:
    """Wait until the GPU has done all that was queued, so that a clock reads the work's time (nothing to wait for
    on a CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)

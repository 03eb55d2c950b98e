"""The CPU the course runs on: how many threads PyTorch uses, and whether freed memory stays with the process.

Both are process-wide settings that a shared machine makes matter: OpenMP threads that spin waiting for each other
on a busy CPU, and glibc handing large freed blocks back to the kernel after every training step.
"""

from __future__ import annotations

import ctypes
import os
import platform
import time
from typing import NamedTuple

import torch
from torch import nn


class ThreadChoice(NamedTuple):
    """How many CPU threads PyTorch was set to use, and why. ``str()`` of it is the one plain line a notebook prints
    ("1 thread (faster than 2 here now)"); ``ms`` keeps what was measured, the median milliseconds of a small
    training step on each count tried (empty where ``OMP_NUM_THREADS`` set the count), and ``detail`` says it in
    words, as the command line prints it."""

    threads: int
    ms: dict[int, float]
    asked: str | None = None  # OMP_NUM_THREADS, where it set the count

    def __str__(self) -> str:
        count = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        if self.asked is not None:
            return f"{count}, as OMP_NUM_THREADS={self.asked} asks"
        others = [str(n) for n in self.ms if n != self.threads]
        return f"{count} (faster than {' or '.join(others)} here now)" if others else count

    @property
    def detail(self) -> str:
        """The line with the measured times: "1 thread (faster than 2 here now; a small training step: 25.8 ms on
        1, 92.9 ms on 2)"."""
        if not self.ms:
            return str(self)
        measured = ", ".join(f"{t:.1f} ms on {n}" for n, t in self.ms.items())
        return f"{str(self).removesuffix(')')}; a small training step: {measured})"


def choose_threads(candidates=(1, 2), *, repeats: int = 5) -> ThreadChoice:
    """Set PyTorch's CPU threads to the count that trains a small conv fastest right now; return the count with the
    median times measured. On a CPU shared with other jobs, two threads per process were measured 10-40x slower
    than one (OpenMP threads spin waiting for each other); on an idle CPU more threads win."""
    conv = nn.Conv2d(16, 16, 3, padding=1)
    x = torch.randn(64, 16, 32, 32)
    timings = {}
    for n in candidates:
        torch.set_num_threads(n)
        conv(x).sum().backward()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            conv(x).sum().backward()
            times.append(time.perf_counter() - start)
        timings[n] = sorted(times)[len(times) // 2]
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return ThreadChoice(best, {n: t * 1e3 for n, t in timings.items()})


def use_fitting_threads() -> ThreadChoice:
    """Set PyTorch's CPU threads for this machine as it is now, and say how: the count ``OMP_NUM_THREADS`` asks for
    where it is set, else the faster of one thread and PyTorch's default, measured (``choose_threads``). On a busy
    CPU PyTorch's default was measured many times slower than one thread (notebook 02: 1,099 s against 95 s)."""
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked.isdigit():
        return ThreadChoice(torch.get_num_threads(), {}, asked)
    default = torch.get_num_threads()
    return choose_threads(tuple(sorted({1, min(2, default), default})))


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's malloc.h


def _glibc():
    """The C library, where it is glibc (Linux); None elsewhere."""
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        return ctypes.CDLL(None)
    return None


def keep_freed_memory(device: str | torch.device = "cpu") -> bool:
    """Let the CPU reuse the memory of freed tensors instead of asking the kernel for it again; True if set.

    glibc's ``malloc`` serves every block over its mmap threshold (at most 32 MB) with a fresh ``mmap`` and hands
    it back to the kernel on ``free``. A training step of VGG-11/4 at 224 px and batch 128 allocates and frees
    gigabytes of activations, so the next step faults every page in again, zero-filled by the kernel: measured
    here, 870,000 page faults and 1.96 s a step, against 40,000 and 1.25 s with this set (maxrss 2.8 -> 4.1 GB).
    ``mallopt(M_MMAP_MAX, 0)`` serves large blocks from the heap and ``M_TRIM_THRESHOLD`` keeps its top, so the
    process holds on to its peak memory, as PyTorch's CUDA allocator does. Process-wide; Linux with glibc only
    (elsewhere, and for a ``device`` that is not the CPU, nothing is changed and this returns False).
    ``fit`` and ``predict`` call it with their device."""
    global _kept
    if torch.device(device).type != "cpu":
        return False
    if _kept is None:
        libc = _glibc()
        _kept = (
            libc is not None and bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
        )
    return _kept


_kept: bool | None = None


def release_freed_memory() -> None:
    """Hand the memory of freed tensors back to the kernel now (glibc's ``malloc_trim``; elsewhere nothing): what
    ``keep_freed_memory`` stops ``free`` from doing. ``memory.peak_memory`` calls it, so that a measured peak
    counts pages the measured code really touched, not pages a previous step left resident."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)

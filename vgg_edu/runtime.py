"""Where the course runs: the device rule, fast mode for CI, Colab, seeds, threads, and where files go.

The device rule, the same in every function of the package that takes ``device``:

- ``device=None`` means where the model's parameters are (nothing moves);
- a given device moves the model there (``model.to(device)``) and computes there;
- asking for CUDA or MPS where there is none is a ``ValueError`` that says what to pass instead.

Only the command line chooses the best device there is by itself, with ``best_device()``: CUDA, then Apple's MPS,
then the CPU. A model built or loaded in Python starts on the CPU; pass ``device=`` (or call ``.to``) to move it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

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


def choose_threads(candidates=(1, 2), *, repeats: int = 5) -> tuple[int, str]:
    """Set PyTorch's CPU threads to the count that trains a small conv fastest right now; return it and a line
    saying what was measured. On a CPU shared with other jobs, two threads per process were measured 10-40x
    slower than one (OpenMP threads spin waiting for each other); on an idle CPU more threads win."""
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
    measured = ", ".join(f"{t * 1e3:.1f} ms on {n}" for n, t in timings.items())
    return best, f"{best} CPU thread{'s' if best > 1 else ''}, the fastest here now (a small training step: {measured})"


def use_fitting_threads() -> str:
    """Set PyTorch's CPU threads for this machine as it is now, and say how: the count ``OMP_NUM_THREADS`` asks for
    where it is set, else the faster of one thread and PyTorch's default, measured (``choose_threads``). On a busy
    CPU PyTorch's default was measured many times slower than one thread (notebook 02: 1,099 s against 95 s)."""
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked.isdigit():
        threads = torch.get_num_threads()
        return f"{threads} CPU thread{'s' if threads > 1 else ''}, as OMP_NUM_THREADS={asked} asks"
    default = torch.get_num_threads()
    return choose_threads(tuple(sorted({1, min(2, default), default})))[1]


def start_notebook(seed: int = 0) -> torch.device:
    """A notebook's first step: the best device there is (``best_device``), on the CPU the thread count that is
    fastest on this machine now (``use_fitting_threads``), every generator seeded; prints one line saying which.
    Returns the device."""
    device = best_device()
    where = f"the CPU, {use_fitting_threads()}" if device.type == "cpu" else device_name(device)
    seed_everything(seed)
    print(f"computing on {where}; fast mode: {fast_mode()}")
    return device


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


def repo_root() -> Path | None:
    """The course repository this package was installed from (editable install), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file() else None


def artifacts_dir() -> Path:
    """Where notebooks keep what they make for each other (checkpoints, metrics): ``$VGG_EDU_ARTIFACTS`` or
    ``artifacts/`` beside the repository's notebooks (``./artifacts`` when the package runs outside the repo).

    A folder that takes no files (a read-only course folder on a shared server, say) is replaced by
    ``~/.cache/vgg_edu/artifacts``, with one line saying so; a ``$VGG_EDU_ARTIFACTS`` that cannot be written is an
    error, since it was asked for."""
    root = os.environ.get("VGG_EDU_ARTIFACTS")
    path = Path(root) if root else (repo_root() / "artifacts" if repo_root() else Path("artifacts"))
    try:
        return _writable_folder(path)
    except OSError as err:
        if root:
            raise PermissionError(f"VGG_EDU_ARTIFACTS={root} cannot be written ({err.strerror or err})") from err
        fallback = _writable_folder(Path.home() / ".cache" / "vgg_edu" / "artifacts")
        if path not in _said_fallback:
            _said_fallback.add(path)
            print(
                f"{path} cannot be written ({err.strerror or err}): keeping this course's files in {fallback} "
                "instead (set VGG_EDU_ARTIFACTS to choose another folder)."
            )
        return fallback


_said_fallback: set = set()


def _writable_folder(path: Path) -> Path:
    """``path``, made if missing, after checking by trying that it takes a new file (``os.access`` says yes to root
    even on a read-only mount)."""
    path.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=path, prefix=".vgg_edu-write-test.")
    os.close(fd)
    os.unlink(probe)
    return path


SAVE_FIGURES_ENV = "VGG_EDU_SAVE_FIGURES"
"""``VGG_EDU_SAVE_FIGURES=1`` (``make figures``) refreshes the committed figures in images/; nothing else does."""


def save_figure(fig, name: str) -> Path | None:
    """Save a figure to the repository's ``images/`` for the README, only when ``VGG_EDU_SAVE_FIGURES=1`` asks
    (``make figures``) and not in fast mode: running the course, CI or a student's notebook never changes the
    checkout."""
    root = repo_root()
    if root is None or fast_mode() or os.environ.get(SAVE_FIGURES_ENV, "") not in ("1", "true", "yes"):
        return None
    path = root / "images" / (name if name.endswith(".png") else f"{name}.png")
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


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

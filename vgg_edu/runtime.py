"""Where the course runs: the device, fast mode for CI, Colab, seeds, and where files go."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "VGG_EDU_FAST"
"""Set ``VGG_EDU_FAST=1`` to shrink data and epochs (CI and nbmake). Every cell still runs."""


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to compute on: ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU."""
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible; use device='cpu' or None")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: str | torch.device | None = None) -> str:
    """A readable name for reports: the GPU's model, or the CPU with its thread count."""
    device = get_device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def fast_mode() -> bool:
    """True when ``VGG_EDU_FAST`` is set to 1/true/yes: notebooks then use small data and few steps."""
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def artifacts_dir() -> Path:
    """Where notebooks keep what they make for each other (checkpoints, metrics): ``$VGG_EDU_ARTIFACTS`` or
    ``artifacts/`` beside the repository's notebooks (``./artifacts`` when the package runs outside the repo)."""
    root = os.environ.get("VGG_EDU_ARTIFACTS")
    path = Path(root) if root else (_repo_root() / "artifacts" if _repo_root() else Path("artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _repo_root() -> Path | None:
    """The course repository this package was installed from (editable install), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file() else None


def save_figure(fig, name: str) -> Path | None:
    """Save a figure to the repository's ``images/`` for the README, in full runs only.

    Fast mode (CI) and installs outside the repository save nothing, so CI never rewrites the committed figures.
    """
    root = _repo_root()
    if root is None or fast_mode():
        return None
    path = root / "images" / (name if name.endswith(".png") else f"{name}.png")
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path

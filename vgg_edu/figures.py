"""The committed figures in ``images/`` (the README shows them): saved only when ``make figures`` asks.

Drawing lives in ``plots``; this module only decides whether a drawn figure is written, and where.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import paths, runtime

SAVE_FIGURES_ENV = "VGG_EDU_SAVE_FIGURES"
"""``VGG_EDU_SAVE_FIGURES=1`` (``make figures``) refreshes the committed figures in images/; nothing else does."""


def save_figure(fig, name: str) -> Path | None:
    """Save a figure to the repository's ``images/`` for the README, only when ``VGG_EDU_SAVE_FIGURES=1`` asks
    (``make figures``) and not in fast mode: running the course, CI or a student's notebook never changes the
    checkout."""
    root = paths.repo_root()
    if root is None or runtime.fast_mode() or os.environ.get(SAVE_FIGURES_ENV, "") not in ("1", "true", "yes"):
        return None
    path = root / "images" / (name if name.endswith(".png") else f"{name}.png")
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path

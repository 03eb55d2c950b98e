"""What a run measured: one row per epoch, and the training loss every few steps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class History:
    """What a run measured: one row per epoch, and the training loss every ``log_every`` steps.

    Epoch rows: epoch, step, train_loss, train_acc, val_acc, val_loss (on the validation split; None without one),
    examples_per_s (training steps only), lr (at the end of the epoch), epoch_s, wall_s (since the run began,
    evaluation included). Step rows: step, epoch (fractional), loss, lr, wall_s. ``config``: the run's settings
    (``FitConfig`` fields, the data's fingerprint, the device); ``meta``: free-form notes (the recipe's name, say)
    that a resumed run keeps.
    """

    epochs: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.epochs)

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def as_dict(self) -> dict:
        return {"config": self.config, "meta": self.meta, "epochs": self.epochs, "steps": self.steps}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        epochs, steps = list(d.get("epochs", [])), list(d.get("steps", []))
        return cls(epochs, steps, dict(d.get("config", {})), dict(d.get("meta") or {}))

    def save_json(self, path, **extra) -> Path:
        """Write the history (and ``extra`` keys, e.g. the test accuracy) as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict() | extra, indent=1, default=float))
        return path

    def __len__(self) -> int:
        return len(self.epochs)

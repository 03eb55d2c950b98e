"""A training run's settings as one frozen value, ``FitConfig``: ``fit``, the recipes, the CLI, the resume check
and the checkpoint all read it (as timm's argparse namespace or Lightning's hparams).

Two kinds of field:

- what defines the run (``RUN_FIELDS``): the schedule of updates, the augmentation, the loss, the seed. A resumed
  run must have the same ones, and the checkpoint records them;
- how this process carries it out (``metadata={"how": True}``): ``max_steps`` (stop early; resuming continues the
  same run), mixed precision, memory layout, how often to validate and log.

Pure Python (no torch), so that the command line can print its help at once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle", "step", "plateau", "plateau3")
"""What ``optim.make_optimizer`` and ``optim.make_scheduler`` build (and the CLI offers)."""

DEFAULT_CHECKPOINT = "vgg11_fashion_mnist.pt"
"""The classroom model's file in ``paths.artifacts_dir()``: notebook 04 and the CLI write it, notebook 05 reads it."""

_HOW = {"how": True}


@dataclass(frozen=True)
class FitConfig:
    """Everything ``fit`` needs to know about a run (the schedules and the update rule: ``training.optim``).

    epochs, batch_size, lr (peak), optimizer ("sgd", "adam", "adamw"), momentum, weight_decay, schedule;
    flip (mirror a random half), translate (shift by up to this many pixels), max_zoom (the paper's scale jitter,
    zoom in by up to this factor): see ``vgg_edu.data.augment``; flip_tta (validate on the mean soft-max posteriors of
    each image and its mirror image); label_smoothing; seed. ``max_steps``: stop after this many steps in all (the
    schedule still spans ``epochs``, so a run stopped early and resumed is the run never stopped); ``amp``: mixed
    precision (None: on CUDA only; bf16 is ~10x slower on CPUs without bf16 units); ``channels_last``: NHWC;
    ``eval_every``: validate every this many epochs and at the end (0: never); ``log_every``: record the loss
    every this many steps (the only steps that wait for the GPU); ``prefetch``: make the next batch while this
    step runs (None: on CUDA only); ``compile``: ``torch.compile`` the network, on CUDA as CUDA graphs (the same
    run to rounding, as ``amp`` is: see ``training.throughput``).

    Invalid values are refused when the config is made, with a message naming the field. ``replace(**changes)``
    gives a changed copy.
    """

    epochs: int = 1
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    flip: bool = False
    translate: int = 0
    max_zoom: float = 1.0
    flip_tta: bool = False
    label_smoothing: float = 0.0
    seed: int = 0
    max_steps: int | None = field(default=None, metadata=_HOW)
    amp: bool | None = field(default=None, metadata=_HOW)
    channels_last: bool = field(default=True, metadata=_HOW)
    eval_every: int = field(default=1, metadata=_HOW)
    log_every: int = field(default=20, metadata=_HOW)
    prefetch: bool | None = field(default=None, metadata=_HOW)
    compile: bool = field(default=False, metadata=_HOW)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "log_every"):
            _whole(name, getattr(self, name), minimum=1)
        for name in ("translate", "seed", "eval_every"):
            _whole(name, getattr(self, name), minimum=0)
        if self.max_steps is not None:
            _whole("max_steps", self.max_steps, minimum=1)
        _number("lr", self.lr, lambda v: v > 0, "a positive number")
        _number("momentum", self.momentum, lambda v: 0 <= v < 1, "in [0, 1)")
        _number("weight_decay", self.weight_decay, lambda v: v >= 0, "0 or more")
        _number("label_smoothing", self.label_smoothing, lambda v: 0 <= v < 1, "in [0, 1)")
        _number("max_zoom", self.max_zoom, lambda v: 1 <= v <= 4, "from 1 (no zoom) to 4")
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; use one of {', '.join(map(repr, allowed))}")
        for name in ("flip", "flip_tta", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if self.amp is not None and not isinstance(self.amp, bool):
            raise ValueError(f"amp must be True, False or None (on CUDA only); got {self.amp!r}")
        if self.prefetch is not None and not isinstance(self.prefetch, bool):
            raise ValueError(f"prefetch must be True, False or None (on CUDA only); got {self.prefetch!r}")

    def replace(self, **changes) -> FitConfig:
        """A copy with ``changes``; unknown names are a ``TypeError`` that lists the fields."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise TypeError(f"FitConfig has no field(s) {unknown}; its fields are {list(FIELDS)}")
        return dataclasses.replace(self, **changes)

    def for_steps(self, steps: int, n_train: int) -> FitConfig:
        """This run cut to ``steps`` steps on ``n_train`` training images: as many epochs as the steps reach into
        (the schedule spans them) and ``max_steps=steps``, as a short run of the lessons takes it."""
        per_epoch = -(-n_train // self.batch_size)
        return self.replace(epochs=-(-steps // per_epoch), max_steps=steps)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def run_fields(self) -> dict:
        """The fields that define the run (``RUN_FIELDS``): what a resumed run must share with the saved one."""
        return {k: getattr(self, k) for k in RUN_FIELDS}

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        """From a checkpoint's record: its fields (other keys, such as the data's fingerprint, are ignored)."""
        return cls(**{k: v for k, v in d.items() if k in FIELDS})


FIELDS = tuple(f.name for f in dataclasses.fields(FitConfig))
RUN_FIELDS = tuple(f.name for f in dataclasses.fields(FitConfig) if not f.metadata.get("how"))
"""The fields that define a run: a resumed run must have the same (and the same network, inputs and data)."""


def _whole(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive whole number" if minimum == 1 else "a whole number, 0 or more"
        raise ValueError(f"{name} must be {kind}; got {value!r}")


def _number(name: str, value, ok, wanted: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not ok(value):
        raise ValueError(f"{name} must be {wanted}; got {value!r}")

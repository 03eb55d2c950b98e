"""Train a VGG on Fashion-MNIST: recipes, ``fit`` built from small steps, ``evaluate`` and ``predict``.

One step of mini-batch SGD with learning rate eta, momentum mu and weight decay lambda (PyTorch's form)::

    g = grad L(w) + lambda * w;   v = mu * v + g;   w = w - eta * v        (mu = lambda = 0: d2l's plain SGD)

Loss: cross-entropy, L = -mean_i log softmax(f(x_i))[y_i] (with label smoothing eps the target puts 1 - eps + eps/10
on y_i and eps/10 on each other class). Schedules, with t the step and T the run's total steps:

- "constant":  eta_t = eta
- "cosine":    eta_t = eta * (1 + cos(pi * t / T)) / 2
- "onecycle":  Smith & Topin 2017: eta_t rises linearly from eta/25 to eta over the first W = T/4 steps, then
               eta_t = eta * (1 + cos(pi * (t - W) / (T - W))) / 2 anneals it to 0
- "plateau":   divide eta by 10 when the epoch's validation accuracy stops rising (``ReduceLROnPlateau``)
- "step":      the paper's divide-by-10 at fixed points: eta_t = eta * 0.1 ** ([t >= T/2] + [t >= 3T/4])
- "plateau3":  "plateau" with patience 3 (the practical-tips source's ``ReduceLROnPlateau('max', patience=3)``)

Two recipes (``RECIPES``): "d2l", the book's run (edition 0.17) for a GPU, and "classroom", chosen by measurement
for a 2-core CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import augment, distributed, runtime
from . import checkpoint as ckpt
from .data import FashionMNIST, InputSpec, batches, num_batches
from .models import VGG, init_weights

# A recipe is the model's keywords (``model``, with its input size) and ``fit``'s keywords (``fit``).
RECIPES: dict[str, dict] = {
    # Dive into Deep Learning, edition 0.17, "Networks Using Blocks (VGG)": test acc 0.922 after 10 epochs on a V100.
    "d2l": dict(
        model=dict(
            width_divisor=4, batch_norm=False, hidden=4096, dropout=0.5, head="fc", init="xavier", input_size=224
        ),
        fit=dict(
            epochs=10,
            batch_size=128,
            lr=0.05,
            optimizer="sgd",
            momentum=0.0,
            weight_decay=0.0,
            schedule="constant",
            flip=False,
            label_smoothing=0.0,
        ),
    ),
    # The first classroom recipe (test acc 0.9260 in 75 s of fit on the 2-core CPU), kept as the baseline that
    # benchmarks/time_to_accuracy.py and docs/benchmarks.md compare the current one against.
    "classroom_v1": dict(
        model=dict(width_divisor=8, batch_norm=True, dropout=0.2, head="gap", init="torchvision", input_size=32),
        fit=dict(
            epochs=10,
            batch_size=128,
            lr=0.1,
            optimizer="sgd",
            momentum=0.9,
            weight_decay=5e-4,
            schedule="onecycle",
            flip=True,
            label_smoothing=0.0,
        ),
    ),
}
# For a 2-core CPU, chosen on the validation split (docs/benchmarks.md): VGG-11/4 with BatchNorm and a
# global-average-pool head at 32 px (9.6 M MACs per image, d2l's 512 M). What it changes in classroom_v1: twice as
# wide, no dropout, label smoothing 0.1, flips at test time too, 12 epochs instead of 10.
RECIPES["classroom"] = dict(
    model=RECIPES["classroom_v1"]["model"] | dict(width_divisor=4, dropout=0.0),
    fit=RECIPES["classroom_v1"]["fit"] | dict(epochs=12, translate=0, max_zoom=1.0, flip_tta=True, label_smoothing=0.1),
)

DEFAULT_CHECKPOINT = "vgg11_fashion_mnist.pt"
"""The classroom model's file in ``runtime.artifacts_dir()``: notebook 04 and the CLI write it, notebook 05 reads it."""

RUN_OPTIONS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "schedule",
    "flip",
    "translate",
    "max_zoom",
    "flip_tta",
    "label_smoothing",
    "seed",
)
"""The options that define a run: a resumed run must have the same (and the same network, inputs and data)."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunMismatch(ValueError):
    """``resume=True`` with options, a network, inputs or data other than the saved run's."""


def recipe(name: str) -> dict:
    """A deep copy of ``RECIPES[name]`` (so edits do not leak), with a clear error for unknown names."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; the recipes are {list(RECIPES)}")
    return copy.deepcopy(RECIPES[name])


def build_model(
    name: str = "classroom", *, seed: int = 0, config="A", data: FashionMNIST | None = None, **overrides
) -> VGG:
    """The recipe's VGG (config A, i.e. VGG-11, by default) for Fashion-MNIST: 1 input channel, 10 classes, with
    its input contract ``model.input_spec`` (the recipe's ``input_size``; the class names of ``data`` if given).

    ``overrides`` replace the recipe's model keywords (``width_divisor``, ``batch_norm``, ``hidden``, ``dropout``,
    ``head``, ``init``, ``input_size``). Seeded, so the same seed gives the same initial weights.
    """
    kw = recipe(name)["model"] | overrides
    init, size = kw.pop("init", "torchvision"), kw.pop("input_size", None)
    spec = data.input_spec(size) if data is not None else InputSpec(size=size)
    runtime.seed_everything(seed)
    model = init_weights(VGG(config, in_channels=len(spec.mean), num_classes=len(spec.classes), **kw), init)
    model.input_spec = spec
    return model


def fit_kwargs(name: str = "classroom", **overrides) -> dict:
    """The recipe's keywords for ``fit``, with ``overrides`` (e.g. ``epochs=1``) applied."""
    unknown = set(overrides) - set(FIT_OPTIONS)
    if unknown:
        raise TypeError(f"fit has no option(s) {sorted(unknown)}; it takes {list(FIT_OPTIONS)}")
    return recipe(name)["fit"] | overrides


def input_spec(model: nn.Module, data: FashionMNIST | None = None) -> InputSpec:
    """The model's input contract (``model.input_spec``), or the data's at its stored size when it has none."""
    spec = getattr(model, "input_spec", None)
    if spec is not None:
        return spec
    return data.input_spec() if data is not None else InputSpec()


# ---------------------------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class History:
    """What a run measured: one row per epoch, and the training loss every ``log_every`` steps.

    Epoch rows: epoch, step, train_loss, train_acc, val_acc, val_loss (on the validation split; None without one),
    examples_per_s (training steps only), lr (at the end of the epoch), epoch_s, wall_s (since the run began,
    evaluation included). Step rows: step, epoch (fractional), loss, lr, wall_s.
    """

    epochs: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.epochs)

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def as_dict(self) -> dict:
        return {"config": self.config, "epochs": self.epochs, "steps": self.steps}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(list(d.get("epochs", [])), list(d.get("steps", [])), dict(d.get("config", {})))

    def save_json(self, path, **extra) -> Path:
        """Write the history (and ``extra`` keys, e.g. the test accuracy) as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict() | extra, indent=1, default=float))
        return path

    def __len__(self) -> int:
        return len(self.epochs)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    accuracy: float
    loss: float
    predictions: torch.Tensor  # (N,) predicted class
    labels: torch.Tensor  # (N,) true class
    probabilities: torch.Tensor  # (N, classes) softmax

    def confusion(self, num_classes: int | None = None) -> torch.Tensor:
        """C[i, j] = how many images of true class i were predicted as class j."""
        return confusion_matrix(self.labels, self.predictions, num_classes or self.probabilities.shape[1])


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """C[i, j] = number of examples with true class i predicted as j (rows sum to the class counts)."""
    idx = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def misclassified(evaluation: Evaluation, k: int = 16) -> torch.Tensor:
    """Indices of the ``k`` wrong predictions the model was most confident about."""
    wrong = (evaluation.predictions != evaluation.labels).nonzero().flatten()
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[confidence.argsort(descending=True)[:k]]


def eval_batch_size(size: int | None) -> int:
    """Images per evaluation batch: 1000 up to 64 px, fewer for larger inputs so that one batch's activations stay
    near 1 GB (256 at 224 px), however large the input."""
    side = size or 28
    return max(8, min(1000, 256 * (224 * 224) // (side * side)))


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    *,
    device=None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
    flip_tta: bool = False,
) -> torch.Tensor:
    """Logits (N, classes) on the CPU for uint8 images, made inputs by the model's input contract, computed in
    batches in eval mode (the model's mode is restored). ``flip_tta``: the mean of the logits of each image and
    its mirror image (``augment.flip_averaged``). ``batch_size`` defaults to ``eval_batch_size`` of the input size,
    ``channels_last`` to the layout of the model's weights (``fit`` leaves them channels-last)."""
    device = runtime.place(model, device)
    runtime.keep_freed_memory(device)
    spec, was_training = input_spec(model), model.training
    batch_size = batch_size or eval_batch_size(spec.size)
    if channels_last is None:
        conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        channels_last = conv is not None and conv.weight.is_contiguous(memory_format=torch.channels_last)
    model.eval()
    try:
        dummy = torch.zeros(len(images), dtype=torch.long)
        forward = (lambda x: augment.flip_averaged(model, x)) if flip_tta else model
        out = [
            forward(x).float().cpu()
            for x, _ in batches(images, dummy, batch_size, spec=spec, device=device, channels_last=channels_last)
        ]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, len(spec.classes))


def evaluate(
    model: nn.Module,
    data: FashionMNIST,
    split: str = "val",
    *,
    device=None,
    batch_size: int | None = None,
    details: bool = False,
    flip_tta: bool = False,
):
    """Accuracy of ``model`` on the ``split`` ("val", "test" or "train") of ``data``: a float in [0, 1].

    Choose and compare on "val"; report "test" once, at the end. With ``details=True`` returns an ``Evaluation``:
    accuracy, mean cross-entropy loss, the predictions, labels and softmax probabilities. ``flip_tta``: classify
    each image by the mean of its logits and its mirror image's (test-time augmentation, ``predict``).
    """
    images, labels = data.split(split)
    if not len(labels):
        raise ValueError(
            f"the {split!r} split of {data!r} is empty"
            + (": hold out a validation split first, data.hold_out(5000)" if split == "val" else "")
        )
    logits = predict(model, images, device=device, batch_size=batch_size, flip_tta=flip_tta)
    predictions = logits.argmax(1)
    accuracy = int((predictions == labels).sum()) / len(labels)  # exact: 443 of 500 is 0.886
    if not details:
        return accuracy
    return Evaluation(accuracy, float(F.cross_entropy(logits, labels)), predictions, labels.clone(), logits.softmax(1))


# ---------------------------------------------------------------------------------------------------------------
# Optimiser and schedule
# ---------------------------------------------------------------------------------------------------------------


OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle", "step", "plateau", "plateau3")
"""What ``make_optimizer`` and ``make_scheduler`` know (and the CLI offers)."""


def make_optimizer(model, name: str, lr: float, momentum: float, weight_decay: float):
    """SGD (``momentum=0``: d2l's plain SGD; 0.9: the paper's), Adam (weight decay added to the gradient, as SGD's)
    or AdamW (weight decay decoupled from the gradient, Loshchilov & Hutter 2019)."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(map(repr, OPTIMIZERS))}")


def make_scheduler(optimizer, name: str, total_steps: int):
    """A per-step scheduler for "constant", "cosine", "onecycle"; an epoch-level ``ReduceLROnPlateau`` for
    "plateau" (stepped with the epoch's validation accuracy)."""
    total_steps = max(1, total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0)
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))
        )
    if name == "onecycle":
        warm = max(1, round(0.25 * total_steps))

        def one_cycle(t):
            if t < warm:
                return 0.04 + 0.96 * t / warm
            return 0.5 * (1 + math.cos(math.pi * min(t - warm, total_steps - warm) / max(1, total_steps - warm)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, one_cycle)
    if name == "step":  # the paper's divide-by-10, at fixed points of the run: 1/2 and 3/4
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.1 ** ((t >= total_steps // 2) + (t >= 3 * total_steps // 4))
        )
    if name in ("plateau", "plateau3"):  # "plateau3": the practical-tips source's ReduceLROnPlateau('max', patience=3)
        patience = 3 if name == "plateau3" else 1
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.1, patience=patience)
    raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(map(repr, SCHEDULES))}")


# ---------------------------------------------------------------------------------------------------------------
# A run: its state, one step, one epoch
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything a training run changes as it goes, so that it can be saved and continued exactly."""

    model: nn.Module
    data: FashionMNIST
    spec: InputSpec
    options: dict
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    history: History
    epoch: int = 0  # the epoch in progress (0-based)
    batch: int = 0  # batches of it done
    step: int = 0  # optimizer steps done in all
    sums: dict = field(default_factory=dict)  # the epoch so far: loss_sum, correct, seen, train_s
    wall_s: float = 0.0  # wall time before this process took over the run
    started: float = field(default_factory=time.perf_counter)
    interrupted: bool = False
    ddp: nn.Module | None = None  # the model in DistributedDataParallel under torchrun (vgg_edu.distributed)

    @property
    def per_epoch(self) -> int:
        return num_batches(len(self.data.train_labels), self.options["batch_size"])

    @property
    def stop(self) -> int:
        """The step this call of ``fit`` stops at: the run's end, or ``max_steps``."""
        total = self.options["epochs"] * self.per_epoch
        return total if self.options["max_steps"] is None else min(total, self.options["max_steps"])

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def wall(self) -> float:
        return self.wall_s + time.perf_counter() - self.started

    def position(self) -> dict:
        sums = {k: (float(v) if torch.is_tensor(v) else v) for k, v in distributed.summed(self.sums).items()}
        return dict(epoch=self.epoch, batch=self.batch, step=self.step, sums=sums, wall_s=self.wall())


def _fresh_sums(device) -> dict:
    return dict(
        loss_sum=torch.zeros((), device=device, dtype=torch.float64),
        correct=torch.zeros((), device=device, dtype=torch.long),
        seen=0,
        train_s=0.0,
    )


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Forward, loss, backward, optimizer step, schedule step: one step of mini-batch SGD. Returns the loss."""
    model, opt, o = run.model, run.optimizer, run.options
    amp_dtype = torch.bfloat16 if run.device.type != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    with torch.autocast(run.device.type, dtype=amp_dtype, enabled=o["amp"]):
        out = (run.ddp or model)(x)
        loss = (
            o["loss_fn"](out, y, x) if o["loss_fn"] else F.cross_entropy(out, y, label_smoothing=o["label_smoothing"])
        )
    opt.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(opt)
    run.scaler.update()
    if not o["schedule"].startswith("plateau"):
        run.scheduler.step()
    with torch.no_grad():
        run.sums["loss_sum"] += loss.detach().double() * len(y)
        run.sums["correct"] += (out.argmax(1) == y).sum()
    run.sums["seen"] += len(y)
    run.step, run.batch = run.step + 1, run.batch + 1
    return loss.detach()


def _log_step(run: Run, loss: torch.Tensor) -> float:
    """Record the loss of this step (a device sync: every ``log_every`` steps only); stop on NaN or infinity."""
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"the training loss became {value} at step {run.step} (learning rate {run.lr:.3g}); the weights are "
            "now useless, so training stopped. What usually helps: lower the learning rate (try a third of it), "
            "use a warm-up schedule ('onecycle'), add BatchNorm (batch_norm=True) or a better init (init='kaiming' "
            "or 'xavier'), and check the inputs are normalised. Start again from a fresh model (or an earlier "
            "checkpoint)."
        )
    run.history.steps.append(
        dict(step=run.step, epoch=run.epoch + run.batch / run.per_epoch, loss=value, lr=run.lr, wall_s=run.wall())
    )
    return value


def _end_epoch(run: Run) -> dict:
    """The epoch's row (evaluated on validation when due); moves the run to the next epoch if this one is done."""
    o, s, done = run.options, distributed.summed(run.sums), run.batch >= run.per_epoch
    distributed.sync_buffers(run.model)  # every process evaluates rank 0's network
    row = dict(
        epoch=run.epoch + run.batch / run.per_epoch,
        step=run.step,
        train_loss=float(s["loss_sum"]) / max(s["seen"], 1),
        train_acc=float(s["correct"]) / max(s["seen"], 1),
        val_acc=None,
        val_loss=None,
        examples_per_s=s["seen"] / s["train_s"] if s["train_s"] else math.nan,
        lr=run.lr,
        epoch_s=s["train_s"],
    )
    if not math.isfinite(row["train_loss"]):
        _log_step(run, torch.tensor(row["train_loss"]))
    last = run.step >= run.stop
    if o["eval_every"] and len(run.data.val_labels) and (last or (done and (run.epoch + 1) % o["eval_every"] == 0)):
        ev = evaluate(run.model, run.data, "val", device=run.device, details=True, flip_tta=o["flip_tta"])
        row.update(val_acc=ev.accuracy, val_loss=ev.loss)
    row["wall_s"] = run.wall()
    run.history.epochs.append(row)
    if o["schedule"].startswith("plateau") and row["val_acc"] is not None:
        run.scheduler.step(row["val_acc"])
    if done:
        run.epoch, run.batch, run.sums = run.epoch + 1, 0, _fresh_sums(run.device)
    return row


def _train_epoch(run: Run, callbacks) -> None:
    """The rest of the current epoch (from ``run.batch``), or up to ``run.stop``."""
    o = run.options
    order = batches(
        run.data.train_images,
        run.data.train_labels,
        o["batch_size"],
        spec=run.spec,
        device=run.device,
        shuffle=True,
        flip=o["flip"],
        seed=o["seed"] + run.epoch,
        start=run.batch,
        channels_last=o["channels_last"],
    )
    shift_and_zoom = augment.for_epoch(
        len(run.data.train_labels),
        seed=o["seed"] + run.epoch,
        translate_px=o["translate"],
        max_zoom=o["max_zoom"],
        fill=augment.background(run.spec.mean, run.spec.std).to(run.device),
    )
    layout = torch.channels_last if o["channels_last"] else torch.contiguous_format
    run.model.train()
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(order, start=run.batch):
        x = shift_and_zoom(x, i * o["batch_size"]).contiguous(memory_format=layout)
        x, y = distributed.local_part(x, y)  # under torchrun: this process's slice of the global batch
        loss = train_step(run, x, y)
        logged = run.step == 1 or run.step % o["log_every"] == 0 or run.step >= run.stop
        value = _log_step(run, loss) if logged else None
        for cb in callbacks:
            cb.on_step(run, value)
        if run.interrupted or run.step >= run.stop:
            break
    run.sums["train_s"] += time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------------------------
# Callbacks: what happens around the loop
# ---------------------------------------------------------------------------------------------------------------


class Callback:
    """What ``fit`` calls as it goes: subclass, override what you need, pass ``fit(..., callbacks=[...])``."""

    def on_step(self, run: Run, loss: float | None) -> None:
        """After every step; ``loss`` is a float on logged steps (every ``log_every``), else None."""

    def on_epoch(self, run: Run, row: dict) -> None:
        """After every epoch (and where a run stopped by ``max_steps`` ends): ``row`` is the history's new row."""

    def on_stop(self, run: Run, reason: str) -> None:
        """Once, at the end: ``reason`` is "done", "interrupted" (Ctrl-C) or "error"."""


class ProgressBar(Callback):
    """A tqdm bar per epoch (a widget in Jupyter) with the latest loss and learning rate."""

    bar = None

    def on_step(self, run, loss):
        if self.bar is None:
            self.bar = tqdm(
                total=run.per_epoch,
                initial=run.batch - 1,
                leave=False,
                desc=f"epoch {run.epoch + 1}/{run.options['epochs']}",
            )
        self.bar.update(1)
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{run.lr:.3g}")

    def on_epoch(self, run, row):
        self.on_stop(run, "epoch")

    def on_stop(self, run, reason):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class PrintEpochs(Callback):
    """One line per epoch: loss, accuracies, throughput, time."""

    def on_epoch(self, run, row):
        val = f"{row['val_acc']:.4f}" if row["val_acc"] is not None else "-"
        print(
            f"epoch {row['epoch']:.2f}: loss {row['train_loss']:.4f}, train acc {row['train_acc']:.4f}, "
            f"val acc {val}, {row['examples_per_s']:.0f} examples/s, {row['wall_s']:.0f} s"
        )


class SaveCheckpoint(Callback):
    """Save the run after every epoch, at the end and on Ctrl-C (not after an error: those weights are useless)."""

    def __init__(self, path, meta: dict | None = None):
        self.path, self.meta = Path(path), dict(meta or {})

    saved_step = None

    def on_epoch(self, run, row):
        save_run(self.path, run, self.meta)
        self.saved_step = run.step

    def on_stop(self, run, reason):
        if reason in ("done", "interrupted") and run.step != self.saved_step:
            save_run(self.path, run, self.meta)


def save_run(path, run: Run, meta: dict | None = None) -> Path:
    """Write the run to a checkpoint (see ``vgg_edu.checkpoint``): enough to load the model and to continue."""
    rng = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "ranks": distributed.rng_states(),  # under torchrun: every process's own stream
    }
    return ckpt.save(
        path,
        dict(
            hparams=dict(run.model.hparams),
            model=run.model.state_dict(),
            inputs=run.spec.as_dict(),
            fit=run.history.config,
            history={"epochs": run.history.epochs, "steps": run.history.steps},
            training=dict(
                optimizer=run.optimizer.state_dict(),
                scheduler=run.scheduler.state_dict(),
                scaler=run.scaler.state_dict(),
                rng=rng,
                position=run.position(),
                finished=run.step >= run.options["epochs"] * run.per_epoch,
            ),
            meta=dict(meta or {}, val_acc=run.history.final.get("val_acc")),
        ),
    )


# ---------------------------------------------------------------------------------------------------------------
# Starting, restoring and stopping a run
# ---------------------------------------------------------------------------------------------------------------


def _check_options(o: dict, data: FashionMNIST) -> None:
    """A clear ValueError for options no run can have."""

    def positive_int(name, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number; got {value!r}")

    for name in ("epochs", "batch_size", "log_every"):
        positive_int(name, o[name])
    if o["max_steps"] is not None:
        positive_int("max_steps", o["max_steps"])
    if not (isinstance(o["lr"], (int, float)) and math.isfinite(o["lr"]) and o["lr"] > 0):
        raise ValueError(f"lr must be a positive number; got {o['lr']!r}")
    if not 0 <= o["momentum"] < 1 or o["weight_decay"] < 0 or not 0 <= o["label_smoothing"] < 1:
        raise ValueError(
            "momentum and label_smoothing must be in [0, 1) and weight_decay at least 0; got "
            f"{o['momentum']}, {o['label_smoothing']} and {o['weight_decay']}"
        )
    augment.draw_shifts(0, o["translate"]), augment.draw_zooms(0, o["max_zoom"])  # a ValueError if impossible
    if isinstance(o["eval_every"], bool) or not isinstance(o["eval_every"], int) or o["eval_every"] < 0:
        raise ValueError(f"eval_every must be 0 (never) or a positive whole number; got {o['eval_every']!r}")
    if not len(data.train_labels):
        raise ValueError(f"{data!r} has no training images")
    if o["schedule"].startswith("plateau") and not (len(data.val_labels) and o["eval_every"]):
        raise ValueError(
            "schedule 'plateau' lowers the learning rate when validation accuracy stops rising: it "
            "needs a validation split (data.hold_out, --val-size) and eval_every >= 1"
        )


def _fingerprint(data: FashionMNIST) -> dict:
    """Which images a run trains on: the split sizes and a hash of the training labels in order."""
    labels = data.train_labels.cpu().numpy().astype(np.int64).tobytes()
    return dict(
        train=len(data.train_labels),
        val=len(data.val_labels),
        test=len(data.test_labels),
        train_labels_sha1=hashlib.sha1(labels).hexdigest()[:16],
    )


def _record(o: dict, data: FashionMNIST, device) -> dict:
    """The run's configuration, stored once in the checkpoint and the metrics JSON."""
    return {k: o[k] for k in RUN_OPTIONS} | dict(
        max_steps=o["max_steps"],
        amp=o["amp"],
        channels_last=o["channels_last"],
        data=_fingerprint(data),
        device=runtime.device_name(device),
        world_size=distributed.world_size(),
    )


def _check_same_run(path, state: dict, run: Run) -> None:
    """Refuse to continue a saved run with other options, another network, other inputs or other data."""
    saved, now = dict(state.get("fit") or {}), run.history.config
    defaults = {k: p.default for k, p in inspect.signature(fit).parameters.items()}  # older runs lack new options
    defaults["world_size"] = 1
    differ = [
        f"{k}: saved {saved.get(k, defaults.get(k))!r}, now {now[k]!r}"
        for k in (*RUN_OPTIONS, "data", "world_size")
        if saved.get(k, defaults.get(k)) != now[k]
    ]
    if dict(state["hparams"]) != dict(run.model.hparams):
        differ.append(f"network: saved {state['hparams']}, now {run.model.hparams}")
    if ckpt.input_spec(state) != run.spec:
        differ.append(f"inputs: saved {ckpt.input_spec(state)}, now {run.spec}")
    if differ:
        raise RunMismatch(
            f"{path} was saved by another run, so it cannot be continued with these options:\n  "
            + "\n  ".join(differ)
            + "\nTo continue it, use the saved options. To start a new run "
            "from its weights, load them (checkpoint.load_weights, or the CLI's --init-from) and "
            "train to another checkpoint (or pass overwrite=True)."
        )


def _restore(run: Run, path) -> None:
    """Continue the saved run: weights, buffers, optimizer, schedule, random state, history and position."""
    state = ckpt.load(path)
    if not state.get("training"):
        raise RunMismatch(f"{path} holds a model but no training state to continue")
    _check_same_run(path, state, run)
    t, p = state["training"], state["training"]["position"]
    p = p | {"sums": distributed.own_share(p["sums"])}  # under torchrun the saved totals go to rank 0 only
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(t["optimizer"])
    run.scheduler.load_state_dict(t["scheduler"])
    run.scaler.load_state_dict(t["scaler"])
    torch.set_rng_state(t["rng"]["torch"].cpu())
    if t["rng"].get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([r.cpu() for r in t["rng"]["cuda"]])
    distributed.restore_rng(t["rng"].get("ranks"))
    run.history = History(list(state["history"]["epochs"]), list(state["history"]["steps"]), run.history.config)
    run.epoch, run.batch, run.step, run.wall_s = p["epoch"], p["batch"], p["step"], p["wall_s"]
    run.sums = _fresh_sums(run.device)
    run.sums["loss_sum"] += p["sums"].get("loss_sum", 0.0)
    run.sums["correct"] += int(p["sums"].get("correct", 0))
    run.sums.update(seen=p["sums"].get("seen", 0), train_s=p["sums"].get("train_s", 0.0))


def _start(model: nn.Module, data: FashionMNIST, o: dict) -> Run:
    """A new run, or the saved one continued (``resume``); refuses to overwrite a checkpoint unless asked."""
    _check_options(o, data)
    path = Path(o["checkpoint"]) if o["checkpoint"] is not None else None
    if path is not None:
        _check_writable(path)
        if path.exists() and not (o["resume"] or o["overwrite"]):
            raise FileExistsError(
                f"{path} already holds a checkpoint. Pass resume=True (--resume) to continue "
                "that run, overwrite=True (--overwrite) to replace it, or another path."
            )
    device = runtime.place(model, o["device"])
    runtime.keep_freed_memory(device)
    o["amp"] = device.type == "cuda" if o["amp"] is None else o["amp"]
    if o["channels_last"]:
        model.to(memory_format=torch.channels_last)
    spec = input_spec(model, data)
    opt = make_optimizer(model, o["optimizer"], o["lr"], o["momentum"], o["weight_decay"])
    sched = make_scheduler(opt, o["schedule"], o["epochs"] * num_batches(len(data.train_labels), o["batch_size"]))
    low_precision = o["amp"] and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=low_precision)
    run = Run(
        model,
        data,
        spec,
        o,
        device,
        opt,
        sched,
        scaler,
        History(config=_record(o, data, device)),
        sums=_fresh_sums(device),
    )
    if path is not None and o["resume"] and path.exists():
        _restore(run, path)
    else:
        if path is not None and o["resume"]:
            print(f"No checkpoint at {path} yet: starting a new run there.")
        runtime.seed_everything(o["seed"])
        distributed.seed_per_rank(o["seed"])  # under torchrun: each process its own dropout masks
    run.ddp = distributed.wrap(model, device, len(data.train_labels), o["batch_size"])  # None on one process
    return run


def _check_writable(path: Path) -> None:
    """Fail before training, not after an epoch, when the checkpoint cannot be written."""
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {path} is a folder; give a file path such as {path / 'model.pt'}")
    folder = next((d for d in (path.parent, *path.parent.parents) if d.exists()), Path("."))
    if (
        not folder.is_dir()
        or not os.access(folder, os.W_OK | os.X_OK)
        or (path.exists() and not os.access(path, os.W_OK))
    ):
        raise PermissionError(
            f"cannot write the checkpoint {path}: no write permission in {folder}. Choose another path."
        )


@contextlib.contextmanager
def _deferred_interrupt(run: Run):
    """Ctrl-C (SIGINT, also Jupyter's interrupt) sets ``run.interrupted``: the step in progress finishes and ``fit``
    stops between two steps, so what is saved is a state the uninterrupted run passed through too. A second Ctrl-C
    stops at once, without saving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if run.interrupted:
            raise KeyboardInterrupt
        run.interrupted = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _default_callbacks(run: Run) -> list:
    o, live = run.options, run.options["live_plot"]
    callbacks = distributed.callbacks() + ([ProgressBar()] if o["progress"] else [])
    if o["verbose"]:
        callbacks.append(PrintEpochs())
    if live or (live is None and _in_notebook()):
        from .plots.training import LivePlot

        callbacks.append(LivePlot())
    if o["checkpoint"] is not None:
        callbacks.append(SaveCheckpoint(o["checkpoint"], o["meta"]))
    return callbacks


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return hasattr(get_ipython(), "kernel")


# ---------------------------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------------------------


def fit(
    model: nn.Module,
    data: FashionMNIST,
    *,
    epochs: int = 1,
    batch_size: int = 128,
    lr: float = 0.05,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    flip: bool = False,
    translate: int = 0,
    max_zoom: float = 1.0,
    flip_tta: bool = False,
    label_smoothing: float = 0.0,
    seed: int = 0,
    max_steps: int | None = None,
    loss_fn=None,
    device=None,
    amp: bool | None = None,
    channels_last: bool = True,
    checkpoint=None,
    resume: bool = False,
    overwrite: bool = False,
    eval_every: int = 1,
    log_every: int = 20,
    progress: bool = True,
    verbose: bool = True,
    live_plot: bool | None = None,
    callbacks=(),
    meta: dict | None = None,
) -> History:
    """Train ``model`` on ``data``'s training split, inputs made by its ``input_spec``; return the ``History``.

    - the run: ``epochs``, ``batch_size``, ``lr`` (peak), ``optimizer`` ("sgd", "adam", "adamw"), ``momentum``,
      ``weight_decay``, ``schedule`` (module docstring), ``flip`` (mirror a random half), ``translate`` (shift
      each image by up to this many pixels of the input, the background filling in) and ``max_zoom`` (the paper's
      scale jitter: zoom in by up to this factor), see ``vgg_edu.augment``; ``flip_tta`` (validate on the mean of
      the logits of each image and its mirror image), ``label_smoothing``, ``seed``;
      ``loss_fn(logits, labels, inputs)`` replaces cross-entropy (distillation, say).
    - ``max_steps``: stop after this many steps in all; the schedule still spans ``epochs``, so a run stopped early
      and resumed is the run never stopped. ``device``: see ``runtime``. ``amp``: mixed precision, default on CUDA
      only (bf16 is ~10x slower on CPUs without bf16 units). ``channels_last``: NHWC, faster convolutions.
    - ``checkpoint``: saved after every epoch, at the end and on Ctrl-C (which then raises ``KeyboardInterrupt``).
      ``resume=True`` continues the saved run exactly (options that differ are refused); ``overwrite=True``
      replaces it; without either an existing file is never touched.
    - ``eval_every``: validation accuracy and loss every this many epochs and at the end (0: never).
      ``progress``, ``verbose``, ``live_plot`` (default: in notebooks) and ``callbacks`` watch the run.
    """
    options = {k: v for k, v in locals().items() if k in FIT_OPTIONS}
    run = _start(model, data, options)
    callbacks = _default_callbacks(run) + list(callbacks)
    reason = "error"
    try:
        with _deferred_interrupt(run):
            while run.step < run.stop and not run.interrupted:
                _train_epoch(run, callbacks)
                if not run.interrupted:
                    row = _end_epoch(run)
                    for cb in callbacks:
                        cb.on_epoch(run, row)
        reason = "interrupted" if run.interrupted else "done"
    finally:
        for cb in callbacks:
            cb.on_stop(run, reason)
    if run.interrupted:
        saved = f" Saved to {checkpoint}: continue with resume=True (CLI: --resume)." if checkpoint else ""
        print(f"Interrupted at step {run.step}.{saved}")
        raise KeyboardInterrupt
    return run.history


FIT_OPTIONS = tuple(inspect.signature(fit).parameters)[2:]
"""``fit``'s keywords, read from its signature."""


# ---------------------------------------------------------------------------------------------------------------
# Short runs and comparisons for the lessons
# ---------------------------------------------------------------------------------------------------------------


def train_steps(
    model: nn.Module,
    data: FashionMNIST,
    *,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 0.05,
    device=None,
    seed: int = 0,
) -> list[float]:
    """``fit`` cut down to the short runs the lessons compare networks with: ``steps`` steps of SGD with momentum
    0.9 and a constant learning rate, no evaluation, no checkpoint. Returns the training loss of every step and
    leaves the model in eval mode."""
    epochs = math.ceil(steps / num_batches(len(data.train_labels), batch_size))
    history = fit(
        model,
        data,
        epochs=epochs,
        max_steps=steps,
        batch_size=batch_size,
        lr=lr,
        momentum=0.9,
        device=device,
        seed=seed,
        eval_every=0,
        log_every=1,
        verbose=False,
        live_plot=False,
    )
    model.eval()
    return [s["loss"] for s in history.steps]


def input_size_sweep(
    data: FashionMNIST,
    sizes=(32, 64, 96),
    *,
    recipe_name: str = "classroom",
    seed: int = 0,
    model_kw: dict | None = None,
    **fit_kw,
) -> dict:
    """Train the recipe's model once per input size (same data, seed and steps): ``{"32 px": History}``."""
    runs = {}
    for size in sizes:
        model = build_model(recipe_name, seed=seed, data=data, input_size=size, **(model_kw or {}))
        runs[f"{size} px"] = fit(model, data, **fit_kwargs(recipe_name, **fit_kw) | {"seed": seed})
    return runs


def schedule_curve(name: str, total_steps: int, lr: float = 0.1) -> list[float]:
    """The learning rate at every step of a run of ``total_steps`` under schedule ``name`` (``make_scheduler``'s
    per-step schedules; "plateau" depends on validation accuracy and has no curve of its own)."""
    if name.startswith("plateau"):
        raise ValueError(f"schedule {name!r} follows validation accuracy: it has no fixed curve to draw")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched, lrs = make_scheduler(opt, name, total_steps), []
    for _ in range(total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def ablation(
    data: FashionMNIST, changes: dict, *, recipe_name: str = "classroom", seed: int = 0, **fit_kw
) -> dict[str, History]:
    """Train the recipe once per entry of ``changes`` (a label and the model or ``fit`` keywords it changes, one
    thing at a time: ``{"recipe": {}, "no BatchNorm": {"batch_norm": False}}``), same data, seed and steps; then
    compare them on validation. ``fit_kw`` (model or ``fit`` keywords) apply to every run. A run whose loss blows
    up is kept, marked ``config["diverged"]`` (its step)."""
    runs = {}
    for label, change in changes.items():
        every = fit_kw | change  # the keywords common to all runs (model or fit), then this run's change
        model_change = {k: v for k, v in every.items() if k not in FIT_OPTIONS}
        model = build_model(recipe_name, seed=seed, data=data, **model_change)
        keep = _KeepHistory()
        try:
            kw = fit_kwargs(recipe_name, **{k: v for k, v in every.items() if k in FIT_OPTIONS}) | {"seed": seed}
            runs[label] = fit(model, data, callbacks=[keep], **kw)
        except TrainingDiverged:
            keep.history.config["diverged"] = keep.history.steps[-1]["step"] if keep.history.steps else 0
            runs[label] = keep.history
    return runs


class _KeepHistory(Callback):
    """Keeps the run's history, so that a run stopped by an error can still be shown."""

    history = None

    def on_stop(self, run, reason):
        self.history = run.history


def summarize(runs: dict) -> pd.DataFrame:
    """One row per run: final validation accuracy (NaN where the loss blew up), wall time and throughput."""
    rows = []
    for k, h in runs.items():
        speeds = [r["examples_per_s"] for r in h.epochs] or [math.nan]
        val = h.final.get("val_acc") if "diverged" not in h.config else None
        rows.append(
            dict(
                run=k,
                val_acc=val if val is not None else math.nan,
                wall_s=h.final.get("wall_s", math.nan),
                examples_per_s=float(np.mean(speeds)),
                steps=h.final.get("step", h.config.get("diverged")),
                diverged="diverged" in h.config,
            )
        )
    return pd.DataFrame(rows).set_index("run")


def accuracy_gap(
    model: nn.Module, data: FashionMNIST, history: History, *, n: int = 5000, seed: int = 0, name="accuracy", **fit_kw
):
    """Why training accuracy trails validation accuracy early on, in four measurements of the same training images
    (``n`` of them): the running mean over the epoch that ``fit`` reports; the end-of-epoch model in train mode
    (dropout, BatchNorm's batch statistics) on augmented images (``fit_kw``: flip, translate, max_zoom); the same
    in eval mode; in eval mode on the images as stored; then the validation accuracy. A table, its column ``name``."""
    images, labels = data.train_images[:n], data.train_labels[:n]
    spec, device = input_spec(model, data), runtime.model_device(model)
    shift_and_zoom = augment.for_epoch(
        len(labels),
        seed=seed,
        translate_px=fit_kw.get("translate", 0),
        max_zoom=fit_kw.get("max_zoom", 1.0),
        fill=augment.background(spec.mean, spec.std).to(device),
    )
    mirror = torch.rand(len(labels), generator=torch.Generator().manual_seed(seed)) < 0.5
    augmented = shift_and_zoom(spec(images, device, flip=mirror if fit_kw.get("flip") else None), 0)
    clean = spec(images, device)
    scratch = copy.deepcopy(model)  # train mode updates BatchNorm's running statistics: not on the real model

    def accuracy(x, training):
        scratch.train(training)
        with torch.no_grad():
            predicted = torch.cat([scratch(chunk).argmax(1).cpu() for chunk in x.split(500)])
        return int((predicted == labels).sum()) / len(labels)

    rows = {
        "train: running mean over the epoch (fit's train_acc)": history.final["train_acc"],
        "train: end-of-epoch model, train mode (dropout, batch statistics), augmented": accuracy(augmented, True),
        "train: end-of-epoch model, eval mode, augmented": accuracy(augmented, False),
        "train: end-of-epoch model, eval mode, as stored": accuracy(clean, False),
        "validation: end-of-epoch model, eval mode": evaluate(model, data, "val"),
    }
    return pd.DataFrame({name: rows})


def pipeline_costs(data: FashionMNIST, *, size: int = 224, batch_size: int = 32, device=None) -> pd.DataFrame:
    """Milliseconds per image of three parts of training at ``size`` px: d2l's PIL resize (torchvision ``Resize``
    and ``ToTensor`` on each image), this package's batched ``F.interpolate`` (``data.to_input``), and one training
    step (forward, backward, SGD) of d2l's VGG-11/4 in channels-last layout, on ``batch_size`` images, with freed
    memory kept on the CPU as ``fit`` keeps it (``runtime.keep_freed_memory``)."""
    from PIL import Image
    from torchvision import transforms

    device = runtime.get_device(device) if device is not None else torch.device("cpu")
    runtime.keep_freed_memory(device)
    images, labels = data.train_images[:batch_size], data.train_labels[:batch_size].to(device)
    to_tensor = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    model = build_model("d2l", data=data).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def pil():
        return torch.stack([to_tensor(Image.fromarray(im.numpy(), mode="L")) for im in images])

    def tensor():
        return model.input_spec(images, device, channels_last=True)

    def step():
        loss = F.cross_entropy(model(tensor()), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    timings = {}
    for name, work in (
        ("PIL resize (d2l, per image)", pil),
        ("F.interpolate (batched)", tensor),
        ("training step", step),
    ):
        work()  # warm-up
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize()
        timings[name] = 1e3 * (time.perf_counter() - start) / len(images)
    return pd.DataFrame({f"ms per image at {size} px": timings})


def d2l_on_gpu(data: FashionMNIST, device=None) -> dict[str, History]:
    """The book's d2l recipe trained on ``data`` when ``device`` is a CUDA GPU (12 steps in fast mode):
    ``{"d2l": History}``; elsewhere ``{}`` and a line saying why (on a CPU it takes hours)."""
    device = runtime.get_device(device) if device is not None else runtime.best_device()
    if device.type != "cuda":
        print(f"No CUDA GPU here ({runtime.device_name(device)}): the d2l recipe is skipped; hours on a CPU.")
        return {}
    model = build_model("d2l", seed=0, data=data)
    kw = fit_kwargs("d2l", **runtime.fast_or_full({"epochs": 1, "max_steps": 12}, {}))
    return {"d2l": fit(model, data, device=device, **kw)}


def lesson_checkpoint() -> Path:
    """Where notebook 04 saves its model: ``artifacts/vgg11_fashion_mnist.pt``, the file notebooks 05-07 load; in
    fast mode ``vgg11_fashion_mnist_fast.pt``, so that a CI run never replaces a model trained in full."""
    name = runtime.fast_or_full(DEFAULT_CHECKPOINT.replace(".pt", "_fast.pt"), DEFAULT_CHECKPOINT)
    return runtime.artifacts_dir() / name


def lesson_model(data: FashionMNIST, *, device=None, path=None) -> nn.Module:
    """The model the lessons after notebook 04 look inside: notebook 04's trained VGG-11 (``path``, default
    ``artifacts/vgg11_fashion_mnist.pt``) where it exists, else (and always in fast mode) the classroom network
    trained here for a short while, with a line saying which."""
    path = Path(path) if path is not None else runtime.artifacts_dir() / DEFAULT_CHECKPOINT
    if path.is_file() and not runtime.fast_mode():
        model = ckpt.load_model(path, device=device)
        print(f"Loaded notebook 04's VGG-11 from {path} ({model.input_spec.size} px inputs).")
        return model
    why = "fast mode" if runtime.fast_mode() else f"no checkpoint at {path} (run notebook 04 to make one)"
    model = build_model("classroom", data=data)
    # Fast mode has ~100 steps: AdamW gets much further than SGD in so few. Otherwise the recipe, for 2 epochs.
    quick = dict(epochs=1, batch_size=32, optimizer="adamw", lr=2e-3, weight_decay=0.0) if runtime.fast_mode() else {}
    history = fit(
        model, data, device=device, progress=False, live_plot=False, **fit_kwargs("classroom", epochs=2) | quick
    )
    print(
        f"{why}: trained a small VGG-11 quickly instead ({history.final['step']} steps on "
        f"{len(data.train_labels):,} images); expect rougher pictures than with notebook 04's model."
    )
    return model.eval()

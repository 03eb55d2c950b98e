"""Train a VGG on Fashion-MNIST: recipes, ``fit``, ``evaluate``, checkpoints and the training figures.

One step of mini-batch SGD with learning rate eta, momentum mu and weight decay lambda (PyTorch's form)::

    g = grad L(w) + lambda * w;   v = mu * v + g;   w = w - eta * v        (mu = lambda = 0: d2l's plain SGD)

Loss: cross-entropy, L = -mean_i log softmax(f(x_i))[y_i] (with label smoothing eps the target puts 1 - eps on
y_i and eps/10 everywhere). Schedules, with t the step and T the run's total steps:

- "constant":  eta_t = eta
- "cosine":    eta_t = eta * (1 + cos(pi * t / T)) / 2
- "onecycle":  Smith & Topin 2017: eta_t rises linearly from eta/25 to eta over the first W = T/4 steps, then
               eta_t = eta * (1 + cos(pi * (t - W) / (T - W))) / 2 anneals it to 0
- "plateau":   divide eta by 10 when the epoch's training loss stops falling (``ReduceLROnPlateau``)

Two recipes (``RECIPES``): "d2l", the book's run (edition 0.17) for a GPU, and "classroom", chosen by measurement
to reach the book's test accuracy (0.92) in at most 5 minutes on a 2-core CPU.
"""
from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import runtime
from .data import CLASSES, FashionMNIST, batches, num_batches, to_input
from .models import VGG, init_weights

# A recipe is the model's keywords (``model``) and ``fit``'s keywords (``fit``).
RECIPES: dict[str, dict] = {
    # Dive into Deep Learning, edition 0.17, "Networks Using Blocks (VGG)": test acc 0.922 after 10 epochs on a V100.
    "d2l": dict(
        model=dict(width_divisor=4, batch_norm=False, hidden=4096, dropout=0.5, head="fc", init="xavier"),
        fit=dict(resize=224, epochs=10, batch_size=128, lr=0.05, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                 schedule="constant", flip=False, label_smoothing=0.0),
    ),
    # For a 2-core CPU, chosen by measurement (docs/benchmarks.md): VGG-11/8 with BatchNorm and a global-average-pool
    # head at 32 px (2.4 M MACs per image, d2l's 512 M); 10 epochs reached test acc 0.923 on the full test set.
    "classroom": dict(
        model=dict(width_divisor=8, batch_norm=True, dropout=0.2, head="gap", init="torchvision"),
        fit=dict(resize=32, epochs=10, batch_size=128, lr=0.1, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                 schedule="onecycle", flip=True, label_smoothing=0.0),
    ),
}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def recipe(name: str) -> dict:
    """A deep copy of ``RECIPES[name]`` (so edits do not leak), with a clear error for unknown names."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; the recipes are {list(RECIPES)}")
    return copy.deepcopy(RECIPES[name])


def build_model(name: str = "classroom", *, seed: int = 0, config="A", **overrides) -> VGG:
    """The recipe's VGG (config A, i.e. VGG-11, by default) for Fashion-MNIST: 1 input channel, 10 classes.

    ``overrides`` replace the recipe's model keywords (``width_divisor``, ``batch_norm``, ``hidden``, ``dropout``,
    ``head``, ``init``). Seeded, so the same seed gives the same initial weights.
    """
    kw = recipe(name)["model"] | overrides
    init = kw.pop("init", "torchvision")
    runtime.seed_everything(seed)
    return init_weights(VGG(config, in_channels=1, num_classes=10, **kw), init)


def fit_kwargs(name: str = "classroom", **overrides) -> dict:
    """The recipe's keywords for ``fit``, with ``overrides`` (e.g. ``epochs=1``) applied."""
    unknown = set(overrides) - set(FIT_OPTIONS)
    if unknown:
        raise TypeError(f"fit has no option(s) {sorted(unknown)}; it takes {FIT_OPTIONS}")
    return recipe(name)["fit"] | overrides


# ---------------------------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class History:
    """What a run measured: one row per epoch, and the training loss every ``log_every`` steps.

    Epoch rows: epoch, step, train_loss, train_acc, test_acc, test_loss, examples_per_s (training steps only),
    lr (at the end of the epoch), epoch_s, wall_s (since the run began, evaluation included).
    """

    epochs: list = field(default_factory=list)
    steps: list = field(default_factory=list)  # dicts: step, epoch (fractional), loss, acc, lr
    config: dict = field(default_factory=dict)

    def to_frame(self):
        import pandas as pd
        return pd.DataFrame(self.epochs)

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def as_dict(self) -> dict:
        return {"config": self.config, "epochs": self.epochs, "steps": self.steps}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d.get("epochs", [])), list(d.get("steps", [])), dict(d.get("config", {})))

    def save_json(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=1, default=float))
        return path

    def __len__(self) -> int:
        return len(self.epochs)


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------

def save_checkpoint(path, model: VGG, *, optimizer=None, scheduler=None, scaler=None, history: History | None = None,
                    progress: dict | None = None, meta: dict | None = None) -> Path:
    """Write a checkpoint atomically (a temporary file in the same folder, then ``os.replace``), so a run killed
    while saving never leaves a half-written file. Holds ``model.hparams`` so ``load_model`` can rebuild the net."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": "vgg_edu.checkpoint/1",
        "hparams": dict(model.hparams),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "history": history.as_dict() if history is not None else None,
        "progress": progress or {},
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        "meta": meta or {},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a checkpoint is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """The checkpoint's dictionary (see ``save_checkpoint``), with a clear error when the file is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}. Train one first: notebook 04, or "
                                f"`python -m vgg_edu train --checkpoint {path}`.")
    state = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(state, dict) or "hparams" not in state or "model" not in state:
        raise ValueError(f"{path} is not a vgg_edu checkpoint (it has no 'hparams' and 'model'); "
                         "write checkpoints with vgg_edu.train.save_checkpoint.")
    return state


def load_model(path, device=None) -> VGG:
    """Rebuild ``VGG(**hparams)`` from a checkpoint, load its weights, and return it in eval mode on ``device``.

    ``model.meta`` holds what the run recorded: ``resize`` (the input size it was trained at), ``classes``,
    ``test_acc``, the recipe and the fit options, so a later notebook can feed it the same inputs.
    """
    state = load_checkpoint(path)
    model = VGG(**state["hparams"])
    model.load_state_dict(state["model"])
    model.meta = dict(state.get("meta") or {})
    if state.get("history"):
        model.history = History.from_dict(state["history"])
    return model.to(runtime.get_device(device)).eval()


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    accuracy: float
    loss: float
    predictions: torch.Tensor   # (N,) predicted class
    labels: torch.Tensor        # (N,) true class
    probabilities: torch.Tensor  # (N, 10) softmax

    def confusion(self, num_classes: int = 10) -> torch.Tensor:
        """C[i, j] = how many images of true class i were predicted as class j."""
        return confusion_matrix(self.labels, self.predictions, num_classes)


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """C[i, j] = number of examples with true class i predicted as j (rows sum to the class counts)."""
    idx = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, resize=None, device=None, batch_size: int = 500,
            channels_last: bool = False) -> torch.Tensor:
    """Logits (N, classes) for uint8 images, computed in batches in eval mode (the model's mode is restored)."""
    device = runtime.get_device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    dummy = torch.zeros(len(images), dtype=torch.long)
    out = [model(x).float().cpu() for x, _ in batches(images, dummy, batch_size, resize=resize, device=device,
                                                      channels_last=channels_last)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 10)


def evaluate(model: nn.Module, data: FashionMNIST, *, resize=None, device=None, split: str = "test",
             batch_size: int = 500, details: bool = False):
    """Accuracy of ``model`` on the ``split`` ("test" or "train") of ``data``: a float in [0, 1].

    With ``details=True`` returns an ``Evaluation`` instead: accuracy, mean cross-entropy loss, the predictions,
    labels and softmax probabilities; ``.confusion()`` gives the confusion matrix.
    """
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', not {split!r}")
    images, labels = (data.test_images, data.test_labels) if split == "test" else (data.train_images, data.train_labels)
    logits = predict(model, images, resize=resize, device=device, batch_size=batch_size)
    predictions = logits.argmax(1)
    accuracy = float((predictions == labels).float().mean()) if len(labels) else float("nan")
    if not details:
        return accuracy
    loss = float(F.cross_entropy(logits, labels)) if len(labels) else float("nan")
    return Evaluation(accuracy, loss, predictions, labels.clone(), logits.softmax(1))


# ---------------------------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------------------------

FIT_OPTIONS = ["epochs", "batch_size", "lr", "resize", "device", "max_steps", "optimizer", "momentum", "weight_decay",
               "schedule", "flip", "label_smoothing", "amp", "channels_last", "seed", "checkpoint", "resume",
               "eval_every", "progress", "verbose", "live_plot", "log_every", "meta"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def make_optimizer(model, name: str, lr: float, momentum: float, weight_decay: float):
    """SGD (``momentum=0``: d2l's plain SGD; 0.9 with Nesterov off: the paper's) or AdamW."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use 'sgd' or 'adamw'")


def make_scheduler(optimizer, name: str, lr: float, total_steps: int):
    """A per-step scheduler for "constant", "cosine", "onecycle"; an epoch-level ``ReduceLROnPlateau`` for
    "plateau" (stepped with the epoch's training loss)."""
    total_steps = max(1, total_steps)
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0)
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps)))
    if name == "onecycle":
        warm = max(1, round(0.25 * total_steps))

        def one_cycle(t):
            if t < warm:
                return 0.04 + 0.96 * t / warm
            return 0.5 * (1 + math.cos(math.pi * min(t - warm, total_steps - warm) / max(1, total_steps - warm)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, one_cycle)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=1)
    raise ValueError(f"unknown schedule {name!r}; use 'constant', 'cosine', 'onecycle' or 'plateau'")


def _diverged(step: int, lr: float, loss: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"the training loss became {loss} at step {step} (learning rate {lr:.3g}); the weights are now useless, "
        "so training stopped. What usually helps: lower the learning rate (try a third of it), use a warm-up "
        "schedule ('onecycle'), add BatchNorm (batch_norm=True) or a better init (init='kaiming' or 'xavier'), and "
        "check the inputs are normalised. Start again from a fresh model (or an earlier checkpoint)."
    )


def fit(model: nn.Module, data: FashionMNIST, *, epochs: int = 1, batch_size: int = 128, lr: float = 0.05,
        resize: int | None = None, device=None, max_steps: int | None = None, optimizer: str = "sgd",
        momentum: float = 0.0, weight_decay: float = 0.0, schedule: str = "constant", flip: bool = False,
        label_smoothing: float = 0.0, amp: bool | None = None, channels_last: bool = True, seed: int = 0,
        checkpoint=None, resume: bool = False, eval_every: int = 1, progress: bool = True, verbose: bool = True,
        live_plot: bool | None = None, log_every: int = 20, meta: dict | None = None) -> History:
    """Train ``model`` on ``data.train_*`` with mini-batch SGD and return its ``History``.

    - ``resize``: input side in pixels (28 -> ``resize`` bilinear, on the device); VGG-11 needs at least 32.
    - ``max_steps``: stop after this many optimizer steps in all (a short run). The schedule always spans
      ``epochs`` full epochs, so a run stopped early and resumed is the same run as one never stopped.
    - ``amp``: mixed precision (bf16, or fp16 with loss scaling) - default on for CUDA only (slow on CPUs).
    - ``channels_last``: NHWC memory layout, faster convolutions on CPUs and tensor cores.
    - ``checkpoint``: written atomically after every epoch, at the end, and on Ctrl-C / kernel interrupt. With
      ``resume=True`` and an existing file the same run continues: weights, optimizer, schedule, RNG, history and
      position in the epoch are restored, so the next step is the one the uninterrupted run would have taken.
    - ``eval_every``: test accuracy (full test split of ``data``) every this many epochs and at the end; 0: never.
    - ``progress``: tqdm bars (notebook widgets in Jupyter); ``verbose``: one printed line per epoch;
      ``live_plot``: redraw the loss/accuracy figure while training (default: in notebooks).
    - A NaN or infinite loss stops the run with ``TrainingDiverged`` and advice.
    """
    from tqdm.auto import tqdm

    device = runtime.get_device(device)
    amp = device.type == "cuda" if amp is None else amp
    live_plot = _in_notebook() if live_plot is None else live_plot
    n = len(data.train_labels)
    per_epoch = num_batches(n, batch_size)
    horizon = epochs * per_epoch  # the schedule's length in steps
    config = dict(epochs=epochs, batch_size=batch_size, lr=lr, resize=resize, max_steps=max_steps,
                  optimizer=optimizer, momentum=momentum, weight_decay=weight_decay, schedule=schedule, flip=flip,
                  label_smoothing=label_smoothing, amp=amp, channels_last=channels_last, seed=seed,
                  train_size=n, test_size=len(data.test_labels), device=runtime.device_name(device))
    if resize is not None and hasattr(model, "min_size") and resize < model.min_size:
        raise ValueError(f"resize={resize} is too small for this VGG: it needs at least {model.min_size} px")

    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    state = None
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, map_location=device)
        horizon = state["progress"].get("horizon", horizon)
    sched = make_scheduler(opt, schedule, lr, horizon)
    amp_dtype = torch.bfloat16 if device.type != "cuda" or torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype == torch.float16)
    history, epoch, start_batch, step, wall0 = History(config=config), 0, 0, 0, 0.0

    if state is not None:
        model.load_state_dict(state["model"])
        if state["optimizer"]:
            opt.load_state_dict(state["optimizer"])
        if state["scheduler"]:
            sched.load_state_dict(state["scheduler"])
        if state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if state["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        history = History.from_dict(state["history"] or {})
        history.config = config
        p = state["progress"]
        epoch, start_batch, step = p.get("epoch", 0), p.get("batch", 0), p.get("step", 0)
        wall0 = max([r["wall_s"] for r in history.epochs + history.steps] or [0.0])
        if start_batch >= per_epoch:
            epoch, start_batch = epoch + 1, 0
    else:
        runtime.seed_everything(seed)

    stop = epochs * per_epoch if max_steps is None else min(epochs * per_epoch, max_steps)

    def progress_state(batch):
        return {"epoch": epoch, "batch": batch, "step": step, "horizon": horizon}

    def save(batch):
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer=opt, scheduler=sched, scaler=scaler, history=history,
                            progress=progress_state(batch),
                            meta=dict(meta or {}, resize=resize, classes=list(data.classes),
                                      test_acc=history.final.get("test_acc"), fit=config))

    plot = LivePlot() if live_plot else None
    t_start = time.perf_counter()
    batch = start_batch
    try:
        while epoch < epochs and step < stop:
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen, t_train, t0 = 0, 0.0, time.perf_counter()
            bar = tqdm(batches(data.train_images, data.train_labels, batch_size, resize=resize, device=device,
                               shuffle=True, flip=flip, seed=seed + epoch, start=start_batch,
                               channels_last=channels_last),
                       total=per_epoch, initial=start_batch, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                       disable=not progress)
            for batch, (x, y) in enumerate(bar, start=start_batch):
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    out = model(x)
                    loss = F.cross_entropy(out, y, label_smoothing=label_smoothing)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                step += 1
                if schedule != "plateau" and sched.last_epoch < horizon:
                    sched.step()
                with torch.no_grad():
                    loss_sum += loss.detach().float() * len(y)
                    correct += (out.argmax(1) == y).sum()
                seen += len(y)
                if step == 1 or step % log_every == 0 or step == stop:
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise _diverged(step, opt.param_groups[0]["lr"], value)
                    history.steps.append(dict(step=step, epoch=epoch + (batch + 1) / per_epoch, loss=value,
                                              acc=float((out.argmax(1) == y).float().mean()),
                                              lr=opt.param_groups[0]["lr"],
                                              wall_s=wall0 + time.perf_counter() - t_start))
                    bar.set_postfix(loss=f"{value:.3f}", lr=f"{opt.param_groups[0]['lr']:.3g}")
                    if plot is not None:
                        plot.update(history)
                if step >= stop:
                    break
            batch += 1
            t_train = time.perf_counter() - t0
            bar.close()
            train_loss = float(loss_sum) / max(seen, 1)
            if not math.isfinite(train_loss):
                raise _diverged(step, opt.param_groups[0]["lr"], train_loss)
            done = batch >= per_epoch
            last = step >= stop or (done and epoch + 1 >= epochs)
            row = dict(epoch=epoch + batch / per_epoch, step=step, train_loss=train_loss,
                       train_acc=float(correct) / max(seen, 1), test_acc=None, test_loss=None,
                       examples_per_s=seen / t_train if t_train else float("nan"), lr=opt.param_groups[0]["lr"],
                       epoch_s=t_train)
            if eval_every and len(data.test_labels) and (last or (done and (epoch + 1) % eval_every == 0)):
                ev = evaluate(model, data, resize=resize, device=device, details=True)
                row.update(test_acc=ev.accuracy, test_loss=ev.loss)
            row["wall_s"] = wall0 + time.perf_counter() - t_start
            history.epochs.append(row)
            if schedule == "plateau":
                sched.step(train_loss)
            if verbose:
                acc = f"{row['test_acc']:.4f}" if row["test_acc"] is not None else "-"
                print(f"epoch {row['epoch']:.2f}: loss {train_loss:.4f}, train acc {row['train_acc']:.4f}, "
                      f"test acc {acc}, {row['examples_per_s']:.0f} examples/s, {row['wall_s']:.0f} s")
            if plot is not None:
                plot.update(history)
            if done:
                epoch, start_batch, batch = epoch + 1, 0, 0
            else:
                start_batch = batch
            save(batch)
    except KeyboardInterrupt:
        save(batch)
        print(f"Interrupted at step {step}." + (f" Checkpoint saved to {checkpoint}: run fit(..., checkpoint=..., "
                                                 "resume=True) to continue." if checkpoint else ""))
    finally:
        if plot is not None:
            plot.update(history, force=True)  # the final state, whatever the throttle skipped
    return history


def train_steps(model: nn.Module, data: FashionMNIST, *, steps: int = 300, batch_size: int = 64, lr: float = 0.05,
                resize: int | None = None, device=None, seed: int = 0) -> list[float]:
    """``fit`` cut down to the short runs the lessons compare networks with: ``steps`` steps of SGD with momentum
    0.9 and a constant learning rate, no evaluation, no checkpoint. Returns the training loss of every step and
    leaves the model in eval mode on ``device`` (default: where its parameters are)."""
    device = device if device is not None else next(model.parameters()).device
    history = fit(model, data, epochs=math.ceil(steps / num_batches(len(data.train_labels), batch_size)),
                  max_steps=steps, batch_size=batch_size, lr=lr, momentum=0.9, resize=resize, device=device,
                  seed=seed, eval_every=0, log_every=1, verbose=False, live_plot=False)
    model.eval()
    return [s["loss"] for s in history.steps]


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------

def plot_history(history: History, fig=None):
    """Training loss per logged step (left) and train/test accuracy per epoch (right)."""
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(10, 3.6))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    if history.steps:
        ax1.plot([s["epoch"] for s in history.steps], [s["loss"] for s in history.steps], lw=1, label="batch")
    if history.epochs:
        e = [r["epoch"] for r in history.epochs]
        ax1.plot(e, [r["train_loss"] for r in history.epochs], "o-", label="train (epoch mean)")
        test = [(r["epoch"], r["test_loss"]) for r in history.epochs if r.get("test_loss") is not None]
        if test:
            ax1.plot(*zip(*test), "s-", label="test")
        ax2.plot(e, [r["train_acc"] for r in history.epochs], "o-", label="train")
        test = [(r["epoch"], r["test_acc"]) for r in history.epochs if r.get("test_acc") is not None]
        if test:
            ax2.plot(*zip(*test), "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    return fig


class LivePlot:
    """A loss/accuracy figure that redraws in place in a notebook while ``fit`` runs."""

    def __init__(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.fig = plt.figure(figsize=(10, 3.6))
        plt.close(self.fig)  # shown through the display handle only, never twice
        self.handle = display(self.fig, display_id=True)
        self.last = 0.0

    def update(self, history: History, force: bool = False):
        now = time.perf_counter()
        if now - self.last < 5.0 and not force:  # a redraw costs 0.1-0.2 s of CPU: at most every 5 s
            return
        self.last = now
        plot_history(history, self.fig)
        self.handle.update(self.fig)



def plot_confusion(confusion: torch.Tensor, classes=CLASSES, fig=None):
    """The confusion matrix, each row normalised to the fraction of that true class (the diagonal is recall)."""
    import matplotlib.pyplot as plt

    c = confusion.double()
    frac = (c / c.sum(1, keepdim=True).clamp(min=1)).numpy()
    fig = fig or plt.figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if confusion[i, j]:
                ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (counts; colour: fraction of the row)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def misclassified(evaluation: Evaluation, k: int = 16) -> torch.Tensor:
    """Indices of the ``k`` wrong predictions the model was most confident about."""
    wrong = (evaluation.predictions != evaluation.labels).nonzero().flatten()
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[confidence.argsort(descending=True)[:k]]


def plot_misclassified(images: torch.Tensor, evaluation: Evaluation, k: int = 16, classes=CLASSES, cols: int = 8):
    """A grid of the most confident mistakes: true class, predicted class and the predicted probability."""
    import matplotlib.pyplot as plt

    idx = misclassified(evaluation, k)
    rows = max(1, math.ceil(len(idx) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, idx.tolist()):
        p = int(evaluation.predictions[i])
        ax.imshow(images[i].cpu().numpy(), cmap="gray_r")
        ax.set_title(f"{classes[int(evaluation.labels[i])]}\n-> {classes[p]} {evaluation.probabilities[i, p]:.0%}",
                     fontsize=7)
    fig.suptitle("most confident mistakes (true -> predicted, probability)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_time_vs_accuracy(runs: dict, target: float | None = 0.92, budget_s: float | None = 300, fig=None):
    """Test accuracy against wall-clock time, one line per run: ``runs`` maps a label to a ``History``."""
    import matplotlib.pyplot as plt

    fig = fig or plt.figure(figsize=(6.4, 4))
    ax = fig.subplots()
    for label, h in runs.items():
        pts = [(r["wall_s"], r["test_acc"]) for r in h.epochs if r.get("test_acc") is not None]
        if pts:
            ax.plot(*zip(*pts), "o-", label=label)
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target}")
    if budget_s is not None:
        ax.axvline(budget_s, color="gray", ls=":", lw=1, label=f"{budget_s:.0f} s budget")
    ax.set(xlabel="wall time (s), evaluation included", ylabel="test accuracy", title="time versus accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Measuring the choices: what a width divisor and an input size cost, and what they buy
# ---------------------------------------------------------------------------------------------------------------

def cost_table(divisors=(1, 2, 4, 8), sizes=(224, 96, 64, 32), **model_kw):
    """Parameters (millions) and multiply-accumulates per image (millions) of a 1-channel, 10-class VGG-11 for each
    width divisor and input size, counted by ``analysis.layer_table`` on the meta device (no memory, no time).

    Conv MACs grow as H * W (the input's area) and shrink as 1 / d^2 with the width divisor d (both channel counts of
    a conv are divided); the FC head sees a 7 x 7 map whatever the input size (``AdaptiveAvgPool2d``).
    """
    import pandas as pd

    from .analysis import layer_table, totals

    model_kw = {"hidden": 4096, "head": "fc"} | model_kw
    rows = []
    for d in divisors:
        with torch.device("meta"):
            model = VGG("A", in_channels=1, num_classes=10, width_divisor=d, **model_kw)
        for s in sizes:
            table = layer_table(model, input_size=(1, s, s))
            t = totals(table)
            conv = int(table.loc[table["type"].str.startswith("Conv"), "macs"].sum())
            rows.append(dict(width_divisor=d, size=s, params_M=t["params"] / 1e6, MACs_M=t["macs"] / 1e6,
                             conv_MACs_M=conv / 1e6))
    return pd.DataFrame(rows)


def input_size_sweep(data: FashionMNIST, sizes=(32, 64, 96), *, recipe_name: str = "classroom", seed: int = 0,
                     model_kw: dict | None = None, **fit_kw) -> dict:
    """Train the recipe's model once per input size (same data, seed and steps) and return ``{"32 px": History}``.

    Compare ``h.final["test_acc"]`` and ``h.final["wall_s"]``, or draw them with ``plot_time_vs_accuracy``.
    """
    runs = {}
    for size in sizes:
        model = build_model(recipe_name, seed=seed, **(model_kw or {}))
        kw = fit_kwargs(recipe_name, **fit_kw) | {"resize": size}
        runs[f"{size} px"] = fit(model, data, seed=seed, **kw)
    return runs


def summarize(runs: dict):
    """One row per run: final test accuracy, wall time and training throughput."""
    import pandas as pd

    return pd.DataFrame([dict(run=k, test_acc=h.final.get("test_acc"), wall_s=h.final.get("wall_s"),
                              examples_per_s=float(np.mean([r["examples_per_s"] for r in h.epochs])),
                              steps=h.final.get("step")) for k, h in runs.items()]).set_index("run")

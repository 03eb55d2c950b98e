"""The training loop: ``fit`` a model to a data set's training split, one ``train_step`` at a time.

One step: forward, loss, backward, optimizer step, schedule step (the update rule and the schedules:
``training.optim``). Loss: cross-entropy, L = -mean_i log softmax(f(x_i))[y_i] (with label smoothing eps the target
puts 1 - eps + eps/10 on y_i and eps/10 on each other class). Everything else happens around the loop, in
callbacks (``training.callbacks``): progress, printed epochs, checkpoints, live plots, stopping early.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import cpu, runtime, timing
from ..data import augment
from ..data.image_splits import ImageSplits
from ..data.inputs import InputSpec, num_batches, spec_of
from . import distributed, throughput
from .batches import training_batches
from .callbacks import PrintEpochs, ProgressBar, StopTraining
from .checkpoint import Lock, SaveCheckpoint, refuse_to_replace, restore_run, run_record
from .config import FitConfig
from .evaluation import evaluate
from .history import History
from .optim import Schedule, make_optimizer, make_schedule, needs_validation


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``kill``, JupyterHub or a cluster scheduler sends) stopped ``fit``: the run was saved as on
    Ctrl-C. The command line exits with 143 (128 + 15) instead of Ctrl-C's 130."""


@dataclass
class Run:
    """Everything a training run changes as it goes, so that it can be saved and continued exactly."""

    model: nn.Module
    data: ImageSplits
    spec: InputSpec
    config: FitConfig
    device: torch.device
    amp: bool  # mixed precision, resolved (``config.amp`` None: on CUDA only)
    optimizer: torch.optim.Optimizer
    schedule: Schedule  # when it steps: after every step, or after every validated epoch
    scaler: torch.amp.GradScaler
    history: History
    loss_fn: object = None
    epoch: int = 0  # the epoch in progress (0-based)
    batch: int = 0  # batches of it done
    step: int = 0  # optimizer steps done in all
    sums: dict = field(default_factory=dict)  # the epoch so far: loss_sum, correct, seen, train_s
    wall_s: float = 0.0  # wall time before this process took over the run
    started: float = field(default_factory=time.perf_counter)
    interrupted: int = 0  # the signal (SIGINT: Ctrl-C, SIGTERM) that asked to stop after this step, save, raise
    stopped: bool = False  # a callback raised StopTraining: end the run after this step
    ddp: nn.Module | None = None  # the model in DistributedDataParallel under torchrun (training.distributed)

    @property
    def per_epoch(self) -> int:
        return num_batches(len(self.data.train_labels), self.config.batch_size)

    @property
    def total_steps(self) -> int:
        """The run's length: what the schedule spans."""
        return self.config.epochs * self.per_epoch

    @property
    def stop(self) -> int:
        """The step this call of ``fit`` stops at: the run's end, or ``max_steps``."""
        return self.total_steps if self.config.max_steps is None else min(self.total_steps, self.config.max_steps)

    @property
    def over(self) -> bool:
        return self.step >= self.stop or self.stopped

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @functools.cached_property
    def amp_dtype(self) -> torch.dtype:
        """bf16 where the device has it, else (older GPUs) float16 with the ``scaler``; asked once per run."""
        return _amp_dtype(self.device)

    @property
    def prefetch(self) -> bool:
        """Make the next batch while this step runs (``config.prefetch``; None: on CUDA only)."""
        return self.device.type == "cuda" if self.config.prefetch is None else self.config.prefetch

    @functools.cached_property
    def net(self) -> nn.Module:
        """What a step calls: the model (under torchrun, its DDP wrapper), compiled if ``config.compile``."""
        net = self.ddp or self.model
        return throughput.compiled(net, self.device) if self.config.compile else net

    def wall(self) -> float:
        return self.wall_s + time.perf_counter() - self.started

    def position(self) -> dict:
        sums = {k: (float(v) if torch.is_tensor(v) else v) for k, v in distributed.summed(self.sums).items()}
        return dict(epoch=self.epoch, batch=self.batch, step=self.step, sums=sums, wall_s=self.wall())

    def move_to(self, position: dict) -> None:
        """Continue from a saved ``position()``."""
        self.epoch, self.batch, self.step = position["epoch"], position["batch"], position["step"]
        self.wall_s, sums = position["wall_s"], position["sums"]
        self.sums = _fresh_sums(self.device)
        self.sums["loss_sum"] += sums.get("loss_sum", 0.0)
        self.sums["correct"] += int(sums.get("correct", 0))
        self.sums.update(seen=sums.get("seen", 0), train_s=sums.get("train_s", 0.0))


def _amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed precision's 16-bit type: bf16 where the device has it, else (older GPUs) float16, which alone needs the
    loss scaling of a ``GradScaler``."""
    bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16 else torch.float16


def _fresh_sums(device) -> dict:
    return dict(
        loss_sum=torch.zeros((), device=device, dtype=torch.float64),
        correct=torch.zeros((), device=device, dtype=torch.long),
        seen=0,
        train_s=0.0,
    )


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Forward, loss, backward, optimizer step, schedule step: one step of mini-batch SGD. Returns the loss."""
    opt, c = run.optimizer, run.config
    throughput.step_begins(run.device, graphs=c.compile)
    with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.amp):
        out = run.net(x)
        loss = run.loss_fn(out, y, x) if run.loss_fn else F.cross_entropy(out, y, label_smoothing=c.label_smoothing)
    opt.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(opt)
    run.scaler.update()
    run.schedule.after_step()
    with torch.no_grad():  # kept on the device: read once per logging interval and per epoch, never waited for here
        run.sums["loss_sum"] += loss.detach().double() * len(y)
        run.sums["correct"] += (out.argmax(1) == y).sum()
    run.sums["seen"] += len(y)  # a Python count: the batch's size is known without asking the GPU
    run.step, run.batch = run.step + 1, run.batch + 1
    return loss.detach()


def _log_step(run: Run, loss: torch.Tensor) -> float:
    """Record the loss of this step (a device sync: every ``log_every`` steps only); stop on NaN or infinity."""
    value = float(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"the training loss became {value} at step {run.step} (learning rate {run.lr:.3g}); the weights are "
            "now useless, so training stopped. What usually helps: lower the learning rate (try a third of it), "
            "use a warm-up schedule ('onecycle'), add BatchNorm (batch_norm=True) or a better init "
            "(init='kaiming_fan_in' or 'xavier'), and check the inputs are normalised. Start again from a fresh "
            "model (or an earlier checkpoint)."
        )
    run.history.steps.append(
        dict(step=run.step, epoch=run.epoch + run.batch / run.per_epoch, loss=value, lr=run.lr, wall_s=run.wall())
    )
    return value


def _end_epoch(run: Run) -> dict:
    """The epoch's row (evaluated on validation when due); moves the run to the next epoch if this one is done."""
    c, s, done = run.config, distributed.summed(run.sums), run.batch >= run.per_epoch
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
    due = run.over or (done and (run.epoch + 1) % max(c.eval_every, 1) == 0)
    if c.eval_every and len(run.data.val_labels) and due:
        ev = evaluate(run.model, run.data, "val", device=run.device, details=True, flip_tta=c.flip_tta)
        row.update(val_acc=ev.accuracy, val_loss=ev.loss)
    row["wall_s"] = run.wall()
    run.history.epochs.append(row)
    run.schedule.after_epoch(row["val_acc"])
    if done:
        run.epoch, run.batch, run.sums = run.epoch + 1, 0, _fresh_sums(run.device)
    return row


def _epoch_batches(run: Run):
    """The rest of the current epoch's batches (from ``run.batch``), made inputs and augmented, this process's
    part of each (under torchrun)."""
    c = run.config
    for x, y in training_batches(
        run.data.train_images,
        run.data.train_labels,
        c,
        spec=run.spec,
        device=run.device,
        seed=c.seed + run.epoch,
        start=run.batch,
    ):
        yield distributed.local_part(x, y)  # under torchrun: this process's slice of the global batch


def _train_epoch(run: Run, callbacks) -> None:
    """The rest of the current epoch (from ``run.batch``), or up to ``run.stop``. The GPU is waited for on logged
    steps only (``log_every``) and once at the end, so that the epoch's time is the time its steps took."""
    c = run.config
    run.model.train()
    t0 = time.perf_counter()
    for x, y in throughput.ahead(_epoch_batches(run), run.device, enabled=run.prefetch):
        loss = train_step(run, x, y)
        logged = run.step == 1 or run.step % c.log_every == 0 or run.step >= run.stop
        value = _log_step(run, loss) if logged else None
        for cb in callbacks:
            try:
                cb.on_step(run, value)
            except StopTraining:  # the others still see this step
                run.stopped = True
        if run.interrupted or run.over:
            break
    timing.synchronize(run.device)
    run.sums["train_s"] += time.perf_counter() - t0


def _check_data(config: FitConfig, data: ImageSplits) -> None:
    """A clear ValueError for a config this data cannot run."""
    if not isinstance(data, ImageSplits):
        raise TypeError(
            f"fit trains on an ImageSplits (load_fashion_mnist, lesson_data, load_image_folder); got "
            f"{type(data).__name__}"
        )
    if not len(data.train_labels):
        raise ValueError(f"{data!r} has no training images")
    if needs_validation(config.schedule) and not (len(data.val_labels) and config.eval_every):
        raise ValueError(
            f"schedule {config.schedule!r} lowers the learning rate when validation accuracy stops rising: it "
            "needs a validation split (data.hold_out, --val-size) and eval_every >= 1"
        )


def _outputs(model: nn.Module) -> int | None:
    """How many classes the model scores: the out_features of its last Linear layer (None: no Linear layer)."""
    last = next((m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear)), None)
    return last.out_features if last is not None else None


def _check_model(model: nn.Module, data: ImageSplits, spec: InputSpec) -> InputSpec:
    """Before any training: the model scores every class of the data, and what a checkpoint records of it (its
    ``hparams``, its input contract's class names) is the model it holds, even after a student replaced its head
    (``model.classifier[-1] = nn.Linear(128, 5)``). Returns the input contract to record."""
    outputs, labels = _outputs(model), int(data.train_labels.max()) + 1
    if outputs is not None and outputs < labels:
        raise ValueError(
            f"the model scores {outputs} classes but the data has labels up to {labels - 1} ({len(data.classes)} "
            f"classes): give it a head of {len(data.classes)} outputs (num_classes=, or transfer.new_head)"
        )
    hparams = getattr(model, "hparams", None)
    if outputs is not None and isinstance(hparams, dict) and hparams.get("num_classes") not in (None, outputs):
        model.hparams = dict(hparams, num_classes=outputs)  # the head was replaced: record the model as it is
    if outputs is not None and len(spec.classes) != outputs:
        classes = tuple(data.classes) if len(data.classes) == outputs else tuple(f"class {i}" for i in range(outputs))
        spec = dataclasses.replace(spec, classes=classes)
    return spec


def _start(
    model: nn.Module, data: ImageSplits, config: FitConfig, device, loss_fn, path, resume, overwrite, meta
) -> Run:
    """A new run, or the saved one continued (``resume``); refuses to overwrite a checkpoint unless asked."""
    _check_data(config, data)
    if path is not None:  # writable: checked by the run's Lock, which fit takes first
        refuse_to_replace(path, resume=resume, overwrite=overwrite)
    device = runtime.place(model, device)
    cpu.keep_freed_memory(device)
    amp = device.type == "cuda" if config.amp is None else config.amp
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, config.optimizer, config.lr, config.momentum, config.weight_decay)
    sched = make_schedule(opt, config.schedule, config.epochs * num_batches(len(data.train_labels), config.batch_size))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and _amp_dtype(device) == torch.float16)
    record = run_record(config, data, amp=amp, device=device)
    spec = _check_model(model, data, spec_of(model, data))
    side = spec.size or data.train_images.shape[-1]
    augment.check_shift(config.translate, side, side)  # before any step, not at the first batch
    history = History(config=record, meta=dict(meta or {}))
    run = Run(model, data, spec, config, device, amp, opt, sched, scaler, history, loss_fn)
    run.sums = _fresh_sums(device)
    if path is not None and resume and path.exists():
        restore_run(run, path)
        if config.max_steps is not None and config.max_steps < run.step:
            raise ValueError(
                f"max_steps={config.max_steps}, but the run saved in {path} is already at step {run.step}: "
                "pass a later max_steps, or none to finish the run"
            )
    else:
        if path is not None and resume:
            print(f"No checkpoint at {path} yet: starting a new run there.")
        runtime.seed_everything(config.seed)
        distributed.seed_per_rank(config.seed)  # under torchrun: each process its own dropout masks
    run.ddp = distributed.wrap(model, device, len(data.train_labels), config.batch_size)  # None on one process
    return run


@contextlib.contextmanager
def _deferred_interrupt(run: Run):
    """Ctrl-C (SIGINT, also Jupyter's interrupt) and SIGTERM (``kill``, JupyterHub, a scheduler) set
    ``run.interrupted``: the step in progress finishes and ``fit`` stops between two steps, so what is saved is a
    state the uninterrupted run passed through too. A second signal stops at once, without saving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if run.interrupted:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        run.interrupted = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _epoch_left_open(run: Run) -> bool:
    """A run saved right after the last step of an epoch (or of the run) by Ctrl-C has no row for it yet."""
    last = run.history.epochs[-1]["step"] if run.history.epochs else 0
    return run.batch > 0 and (run.batch >= run.per_epoch or run.step >= run.stop) and last != run.step


def fit(
    model: nn.Module,
    data: ImageSplits,
    config: FitConfig | None = None,
    *,
    device=None,
    loss_fn=None,
    checkpoint=None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    callbacks=(),
    meta: dict | None = None,
    **changes,
) -> History:
    """Train ``model`` on ``data``'s training split, inputs made by its input contract; return the ``History``.

    - the run: ``config`` (a ``FitConfig``; default ``FitConfig()``), with ``changes`` to its fields applied:
      ``fit(model, data, epochs=1, lr=0.01)``, or a recipe's ``fit(model, data, recipes.fit_config("classroom"))``.
      ``loss_fn(logits, labels, inputs)`` replaces cross-entropy (distillation, say). ``device``: see ``runtime``.
    - ``checkpoint``: saved after every epoch, at the end and on Ctrl-C (which then raises ``KeyboardInterrupt``).
      ``resume=True`` continues the saved run exactly (a config that differs is refused); ``overwrite=True``
      replaces it; without either an existing file is never touched.
    - ``quiet``: no progress bar and no line per epoch. ``callbacks`` watch the run (``training.callbacks``; a live
      plot: ``plots.training.LivePlot()``) and may stop it (``StopTraining``); ``meta``: notes kept in the history
      and the checkpoint (a resumed run keeps the saved ones, ``meta`` adding to them).
    """
    config = (config if config is not None else FitConfig()).replace(**changes)
    path = Path(checkpoint) if checkpoint is not None else None
    with Lock(path) if path is not None else contextlib.nullcontext():
        run = _start(model, data, config, device, loss_fn, path, resume, overwrite, meta)
        watchers = distributed.callbacks() + ([] if quiet else [ProgressBar(), PrintEpochs()])
        callbacks = watchers + list(callbacks) + ([SaveCheckpoint(path)] if path is not None else [])
        _run(run, callbacks)
    if run.interrupted:
        saved = f" Saved to {path}: continue with resume=True (CLI: --resume)." if path is not None else ""
        if distributed.is_main():
            print(f"Interrupted at step {run.step}.{saved}")
        raise Terminated if run.interrupted == signal.SIGTERM else KeyboardInterrupt
    return run.history


def _run(run: Run, callbacks: list) -> None:
    """Epochs until the run is over, stopped or interrupted; every callback hears how it ended."""
    reason = "error"
    try:
        with _deferred_interrupt(run):
            while not run.interrupted:
                if _epoch_left_open(run):  # resumed right after an epoch's last step: its row first
                    row = _end_epoch(run)
                    for cb in callbacks:
                        cb.on_epoch(run, row)
                if run.over:
                    break
                _train_epoch(run, callbacks)
                if not run.interrupted:
                    row = _end_epoch(run)
                    for cb in callbacks:
                        cb.on_epoch(run, row)
        reason = "interrupted" if run.interrupted else "stopped" if run.stopped else "done"
    finally:
        for cb in callbacks:
            cb.on_stop(run, reason)

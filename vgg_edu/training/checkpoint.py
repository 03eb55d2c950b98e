"""The checkpoint format, in one place: written atomically, read with errors that say what is wrong, turned back
into a model, and restored into a run to continue it exactly.

A checkpoint holds, once each: the network's constructor arguments (``hparams``, so ``VGG(**hparams)`` rebuilds
it), its weights, its input contract (``inputs``: size, mean, std, class names, as torchvision's weights carry
their transforms), the options of the run that trained it (``fit``), the training state needed to continue that
run exactly (``training``: optimizer, schedule, random state, position), its ``history`` and free-form ``meta``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from .. import runtime
from ..data.inputs import InputSpec, with_spec
from ..models import VGG
from ..paths import check_writable
from . import distributed
from .callbacks import Callback
from .config import FitConfig
from .history import History

FORMAT = "vgg_edu.checkpoint/2"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: corrupt, foreign, of another format or of another model."""


def temporary_files(path) -> list[Path]:
    """Temporary files a crash while writing ``path`` may have left beside it (``.NAME.*.tmp``)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []


def refuse_to_replace(path, *, resume: bool, overwrite: bool, resumable: bool = True) -> None:
    """The one overwrite refusal: a ``FileExistsError`` when ``path`` exists and neither ``resume`` (continue the run
    saved there; ``resumable=False`` for a file that is replaced when the run it belongs to is continued, as the
    CLI's metrics) nor ``overwrite`` was asked for; an existing file is never touched otherwise."""
    path = Path(path)
    if path.exists() and not (resume or overwrite):
        how = "resume=True (--resume) to continue that run, " if resumable else ""
        raise FileExistsError(
            f"{path} already exists: pass {how}overwrite=True (--overwrite) to replace it, or another path"
        )


class CheckpointBusy(OSError):
    """Another run is writing the same checkpoint."""


class Lock:
    """A run's hold on its checkpoint: an exclusive ``flock`` on ``.NAME.lock`` beside it, taken before any work and
    released (the file removed) when the run ends, so that two runs never write one file; taking it first checks (by
    trying) that the checkpoint can be written. Where ``fcntl`` is missing (Windows) there is no lock. Under torchrun
    only rank 0 takes it (it alone writes)."""

    def __init__(self, path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.fd = None

    def __enter__(self) -> Lock:
        check_writable(self.path)  # a clear PermissionError first, for a folder that takes no files
        try:
            import fcntl
        except ImportError:
            return self
        if not distributed.is_main():
            return self
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        while self.fd is None:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise CheckpointBusy(
                    f"another run is writing {self.path} right now ({owner}); wait for it to finish, or give this "
                    "run another checkpoint path"
                ) from None
            if os.path.exists(self.lock_path) and os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                os.ftruncate(fd, 0)
                os.write(fd, f"process {os.getpid()} on {platform.node()}".encode())
                self.fd = fd
            else:  # the previous holder removed the file between our open and our lock: take the new one
                os.close(fd)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            self.lock_path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def save(path, state: dict) -> Path:
    """Write ``state`` (see the module's docstring) to ``path`` atomically: a temporary file in the same folder,
    then ``os.replace``, so a run killed while saving never leaves a half-written checkpoint. Leftovers of earlier
    crashed writes of the same file are removed first. Under torchrun only rank 0 writes (``distributed``)."""
    path = Path(path)
    try:
        if distributed.is_main():
            _write(path, state)
    finally:
        distributed.barrier()  # under torchrun the others wait, so the file is there when save returns
    return path


def _write(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in temporary_files(path):
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a checkpoint is meant to be shared
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # a full disk reaches torch.save as OSError, then its zip writer's error
        Path(tmp).unlink(missing_ok=True)
        chain = [err, err.__context__, err.__cause__]
        full = any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain)
        kept = "the previous checkpoint there is intact" if path.exists() else "nothing was written"
        why = "the disk is full" if full else (getattr(err, "strerror", None) or str(err).splitlines()[0])
        raise OSError(
            f"could not write the checkpoint {path}: {why}; {kept}. Free some space or choose another path."
        ) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path, map_location="cpu") -> dict:
    """The checkpoint's dictionary, or a ``FileNotFoundError`` / ``CheckpointError`` that says what to do."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; give the .pt file's path")
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}. Train one first: notebook 04, or `python -m vgg_edu train --checkpoint {path}`."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError as err:
        raise CheckpointError(f"{path}: no permission to read it ({err.strerror})") from err
    except Exception as err:  # torch's unpickler fails on foreign bytes in many ways (KeyError, EOFError, ...)
        raise CheckpointError(
            f"{path} cannot be read as a PyTorch checkpoint: it is corrupt, cut short or another "
            f"kind of file ({type(err).__name__}). Train it again, or pass another file."
        ) from err
    if not isinstance(state, dict) or not {"hparams", "model"} <= state.keys():
        raise CheckpointError(
            f"{path} is not a vgg_edu checkpoint (it has no 'hparams' and 'model'); "
            "write checkpoints with vgg_edu.training.loop.fit(..., checkpoint=...)."
        )
    if state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a checkpoint of format {state.get('format')!r}; this version of vgg_edu "
            f"reads {FORMAT!r}. Train it again with this version."
        )
    return state


def saved_spec(state: dict) -> InputSpec:
    """The input contract stored in a checkpoint's dictionary."""
    return InputSpec.from_dict(state.get("inputs") or {})


def load_model(path, device=None) -> VGG:
    """Rebuild ``VGG(**hparams)`` from a checkpoint, load its weights, and return it in eval mode on ``device``
    (default: the CPU, where it is built; see ``runtime``'s device rule).

    The model carries what the run recorded: ``model.input_spec`` (its input contract: call it on uint8 images),
    ``model.history`` (the training ``History``), ``model.fit_options`` and ``model.meta``.
    """
    state = load(path)
    model = VGG(**state["hparams"])
    model.load_state_dict(state["model"])
    with_spec(model, saved_spec(state))
    model.history = History.from_dict(state.get("history") or {})
    model.fit_options = dict(state.get("fit") or {})
    model.meta = dict(state.get("meta") or {})
    runtime.place(model, device)
    return model.eval()


def load_weights(model: VGG, path) -> VGG:
    """Copy a checkpoint's weights into ``model`` (same network required): to start a new run from them."""
    state = load(path)
    if dict(state["hparams"]) != dict(model.hparams):
        saved = state["hparams"]
        differ = sorted(k for k in set(saved) | set(model.hparams) if saved.get(k) != model.hparams.get(k))
        there = ", ".join(f"{k}={saved.get(k)!r}" for k in differ)
        raise CheckpointError(f"{path} holds another network: {', '.join(differ)} differ ({there} there)")
    model.load_state_dict(state["model"])
    return model


class RunMismatch(ValueError):
    """``resume=True`` with options, a network, inputs or data other than the saved run's."""


def save_run(path, run) -> Path:
    """Write a run (``loop.Run``) to a checkpoint: enough to load the model and to continue the run exactly."""
    rng = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "ranks": distributed.rng_states(),  # under torchrun: every process's own stream
    }
    return save(
        path,
        dict(
            hparams=dict(run.model.hparams),
            model=run.model.state_dict(),
            inputs=run.spec.as_dict(),
            fit=run.history.config,
            history={"epochs": run.history.epochs, "steps": run.history.steps},
            training=dict(
                optimizer=run.optimizer.state_dict(),
                scheduler=run.schedule.state_dict(),
                scaler=run.scaler.state_dict(),
                rng=rng,
                position=run.position(),
                finished=run.step >= run.total_steps,
            ),
            meta=dict(run.history.meta, val_acc=run.history.final.get("val_acc")),
        ),
    )


def fingerprint(data) -> dict:
    """Which images a run trains on: the split sizes and a hash of the training labels in order."""
    labels = data.train_labels.cpu().numpy().astype(np.int64).tobytes()
    return dict(
        train=len(data.train_labels),
        val=len(data.val_labels),
        test=len(data.test_labels),
        train_labels_sha1=hashlib.sha1(labels).hexdigest()[:16],
    )


def run_record(config: FitConfig, data, *, amp: bool, device: torch.device) -> dict:
    """What a checkpoint records of a run (its ``fit``) and ``check_same_run`` compares: the config's fields, the
    precision it resolved to, the data's ``fingerprint``, the device and the number of processes."""
    return config.as_dict() | dict(
        amp=amp, data=fingerprint(data), device=runtime.device_name(device), world_size=distributed.world_size()
    )


def check_same_run(path, state: dict, run) -> None:
    """Refuse to continue a saved run with other options, another network, other inputs or other data."""
    saved, now = dict(state.get("fit") or {}), run.history.config
    defaults = FitConfig().run_fields() | {"world_size": 1}  # older runs lack newer options
    differ = [
        f"{k}: saved {saved.get(k, defaults.get(k))!r}, now {now[k]!r}"
        for k in (*FitConfig().run_fields(), "data", "world_size")
        if saved.get(k, defaults.get(k)) != now[k]
    ]
    if dict(state["hparams"]) != dict(run.model.hparams):
        differ.append(f"network: saved {state['hparams']}, now {run.model.hparams}")
    if saved_spec(state) != run.spec:
        differ.append(f"inputs: saved {saved_spec(state)}, now {run.spec}")
    if differ:
        raise RunMismatch(
            f"{path} was saved by another run, so it cannot be continued with these options:\n  "
            + "\n  ".join(differ)
            + "\nTo continue it, use the saved options. To start a new run "
            "from its weights, load them (checkpoint.load_weights, or the CLI's --init-from) and "
            "train to another checkpoint (or pass overwrite=True)."
        )


def restore_run(run, path) -> dict:
    """Continue the saved run in ``run``: weights, buffers, optimizer, schedule, random state, history and position.
    Returns the checkpoint's dictionary (its ``meta``, say), read once."""
    state = load(path)
    if not state.get("training"):
        raise RunMismatch(f"{path} holds a model but no training state to continue")
    check_same_run(path, state, run)
    t, p = state["training"], state["training"]["position"]
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(t["optimizer"])
    run.schedule.load_state_dict(t["scheduler"])
    run.scaler.load_state_dict(t["scaler"])
    torch.set_rng_state(t["rng"]["torch"].cpu())
    if t["rng"].get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([r.cpu() for r in t["rng"]["cuda"]])
    distributed.restore_rng(t["rng"].get("ranks"))
    saved_meta = {k: v for k, v in (state.get("meta") or {}).items() if k != "val_acc"}
    epochs, steps = list(state["history"]["epochs"]), list(state["history"]["steps"])
    given = {k: v for k, v in run.history.meta.items() if v is not None}  # what this call adds to the record
    run.history = History(epochs, steps, run.history.config, saved_meta | given)
    run.move_to(p | {"sums": distributed.own_share(p["sums"])})  # under torchrun the saved totals go to rank 0 only
    return state


class SaveCheckpoint(Callback):
    """Save the run after every epoch, at the end and on Ctrl-C (not after an error: those weights are useless)."""

    saved_step = None

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch(self, run, row):
        save_run(self.path, run)
        self.saved_step = run.step

    def on_stop(self, run, reason):
        if reason in ("done", "stopped", "interrupted") and run.step != self.saved_step:
            save_run(self.path, run)

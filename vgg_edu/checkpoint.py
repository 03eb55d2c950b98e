"""Checkpoints: written atomically, read with errors that say what is wrong, and turned back into a model.

A checkpoint holds, once each: the network's constructor arguments (``hparams``, so ``VGG(**hparams)`` rebuilds
it), its weights, its input contract (``inputs``: size, mean, std, class names, as torchvision's weights carry
their transforms), the options of the run that trained it (``fit``), the training state needed to continue that
run exactly (``training``: optimizer, schedule, random state, position), its ``history`` and free-form ``meta``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from . import distributed, runtime
from .data import InputSpec
from .models import VGG

FORMAT = "vgg_edu.checkpoint/2"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: corrupt, foreign, of another format or of another model."""


def temporary_files(path) -> list[Path]:
    """Temporary files a crash while writing ``path`` may have left beside it (``.NAME.*.tmp``)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []


def check_writable(path) -> Path:
    """Raise a ``PermissionError`` naming ``path`` when it cannot be written, by trying: a file is created (and
    removed) in the nearest folder that exists, since ``os.access`` says yes to root on read-only mounts and
    ``/proc``. An existing file is opened for appending, which changes nothing in it."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file path such as {path / 'model.pt'}")
    folder = next((d for d in (path.parent, *path.parent.parents) if d.exists()), Path("."))
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder", str(folder))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".vgg_edu-write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
        if path.exists():
            with open(path, "ab"):
                pass
    except OSError as err:
        raise PermissionError(
            f"cannot write {path}: {folder} does not take new files ({err.strerror or err}). Choose another path."
        ) from err
    return path


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
            "write checkpoints with vgg_edu.train.fit(..., checkpoint=...)."
        )
    if state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a checkpoint of format {state.get('format')!r}; this version of vgg_edu "
            f"reads {FORMAT!r}. Train it again with this version."
        )
    return state


def input_spec(state: dict) -> InputSpec:
    """The input contract stored in a checkpoint's dictionary."""
    return InputSpec.from_dict(state.get("inputs") or {})


def load_model(path, device=None) -> VGG:
    """Rebuild ``VGG(**hparams)`` from a checkpoint, load its weights, and return it in eval mode on ``device``
    (default: the CPU, where it is built; see ``runtime``'s device rule).

    The model carries what the run recorded: ``model.input_spec`` (its input contract: call it on uint8 images),
    ``model.history`` (the training ``History``), ``model.fit_options`` and ``model.meta``.
    """
    from .train import History

    state = load(path)
    model = VGG(**state["hparams"])
    model.load_state_dict(state["model"])
    model.input_spec = input_spec(state)
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

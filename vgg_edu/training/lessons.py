"""Short runs and comparisons for the lessons (notebook 04 and after): a few hundred steps of SGD, ablations of a
recipe, the train/validation accuracy gap, what each part of a step costs, and the model notebooks 05 and 08 load.
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import analysis, claims, cpu, paths, runtime, timing
from ..data.fashion_mnist import FashionMNIST
from ..data.inputs import spec_of
from . import checkpoint
from .batches import training_batches
from .callbacks import KeepHistory
from .config import DEFAULT_CHECKPOINT, FitConfig
from .evaluation import evaluate
from .history import History
from .loop import TrainingDiverged, fit
from .recipes import build_model, fit_config, recipe


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
    leaves the model in eval mode.

    A run whose loss becomes NaN or infinite (a plain network at a high learning rate can, on one machine and not
    another) is a result, not an error: it stops there, says so, and its losses end with that step's NaN."""
    config = FitConfig(batch_size=batch_size, lr=lr, momentum=0.9, seed=seed).for_steps(steps, len(data.train_labels))
    keep = KeepHistory()
    try:
        history = fit(model, data, config.replace(eval_every=0, log_every=1), device=device, quiet=True,
                      callbacks=[keep])  # fmt: skip
        losses = [s["loss"] for s in history.steps]
    except TrainingDiverged:
        losses = [s["loss"] for s in keep.history.steps] + [math.nan]
        print(f"This run's loss became NaN at step {len(losses)} of {steps} (learning rate {lr:g}): it stops there.")
    model.eval()
    return losses


def ablation(
    data: FashionMNIST, changes: dict, *, recipe_name: str = "classroom", seed: int = 0, device=None, **common
) -> dict[str, History]:
    """Train the recipe once per entry of ``changes`` (a label and the network keywords or ``FitConfig`` fields it
    changes, one thing at a time: ``{"recipe": {}, "no BatchNorm": {"batch_norm": False}}``), same data, seed and
    steps, quietly; then compare them on validation. ``common`` (network keywords or ``FitConfig`` fields) apply to
    every run. A run whose loss blows up is kept, marked ``config["diverged"]`` (its step)."""
    runs = {}
    for label, change in changes.items():
        every = common | change  # the keywords common to all runs (network or fit), then this run's change
        network, config = recipe(recipe_name).split(every | {"seed": seed})
        model = build_model(recipe_name, seed=seed, data=data, **network)
        keep = KeepHistory()
        try:
            runs[label] = fit(model, data, config, device=device, quiet=True, callbacks=[keep])
        except TrainingDiverged:
            keep.history.config["diverged"] = keep.history.steps[-1]["step"] if keep.history.steps else 0
            runs[label] = keep.history
    return runs


def seeded_ablation(data: FashionMNIST, changes: dict, seeds=(0, 1, 2), **kw) -> dict[str, list[History]]:
    """``ablation`` once per seed: ``{label: [History of each seed]}``. The same seed gives every variant the same
    initial weights (where the shapes agree), data order and flips, so differences can be paired seed by seed."""
    per_seed = [ablation(data, changes, seed=seed, **kw) for seed in seeds]
    return {label: [runs[label] for runs in per_seed] for label in changes}


def summarize_seeds(runs: dict[str, list[History]]) -> pd.DataFrame:
    """One row per variant of ``seeded_ablation``'s runs: validation accuracy over the seeds (mean, standard
    deviation, min, max), the steps (of the first seed), the mean wall time, and against the first variant (the
    baseline) the difference in points at each seed, paired, with the verdict it supports (``claims.paired``)."""
    accuracy = {label: [h.final.get("val_acc", math.nan) for h in hs] for label, hs in runs.items()}
    first = next(iter(accuracy))
    rows = []
    for label, acc in accuracy.items():
        points = [round(100 * (a - b), 1) for a, b in zip(acc, accuracy[first], strict=True)]
        rows.append(
            dict(
                run=label,
                val_acc=np.mean(acc),
                sd=np.std(acc, ddof=1) if len(acc) > 1 else math.nan,
                min=min(acc),
                max=max(acc),
                steps=runs[label][0].final.get("step"),
                wall_s=np.mean([h.final.get("wall_s", math.nan) for h in runs[label]]),
                points_vs_first=points,
                verdict=claims.paired(points) if label != first else "(the baseline)",
            )
        )
    return pd.DataFrame(rows).set_index("run")


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
    model: nn.Module, data: FashionMNIST, history: History, config: FitConfig, *, n: int = 5000, name="accuracy"
):
    """Why training accuracy trails validation accuracy early on, in four measurements of the same training images
    (``n`` of them): the running mean over the epoch that ``fit`` reports; the end-of-epoch model in train mode
    (dropout, BatchNorm's batch statistics) on images augmented as ``config`` says (flip, translate, max_zoom); the
    same in eval mode; in eval mode on the images as stored; then the validation accuracy. A table, its column
    ``name``."""
    images, labels = data.train_images[:n], data.train_labels[:n]
    spec, device = spec_of(model, data), runtime.model_device(model)
    one_batch = training_batches(images, labels, config, spec=spec, device=device, seed=config.seed, shuffle=False,
                                 batch_size=len(labels))  # fmt: skip
    augmented, _ = next(one_batch)
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


def _training_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device):
    """One SGD step of ``model`` on ``images`` made into its input (channels-last) within the step, to time."""
    inputs = functools.partial(spec_of(model), images, device, channels_last=True)
    return timing.training_step(model, inputs, labels, optimizer=torch.optim.SGD(model.parameters(), lr=0.05))


def pipeline_costs(
    data: FashionMNIST, *, size: int = 224, batch_size: int = 32, device=None, repeats: int = 5
) -> pd.DataFrame:
    """Milliseconds per image of three parts of training at ``size`` px: d2l's PIL resize (torchvision ``Resize``
    and ``ToTensor`` on each image) on one thread, as a DataLoader worker runs it; this package's batched
    ``F.interpolate`` (``inputs.to_input``); and one training step (forward, backward, SGD) of d2l's VGG-11/4 in
    channels-last layout, on ``batch_size`` images, with freed memory kept on the CPU as ``fit`` keeps it
    (``cpu.keep_freed_memory``). The last two run on the threads the pipeline has (``torch.get_num_threads``);
    medians of ``repeats`` rounds, timed in turns (``timing.median_ms_in_turns``)."""
    from PIL import Image
    from torchvision import transforms

    device = runtime.get_device(device) if device is not None else torch.device("cpu")
    cpu.keep_freed_memory(device)
    images, labels = data.train_images[:batch_size], data.train_labels[:batch_size].to(device)
    to_tensor = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    model = build_model("d2l", data=data).to(device, memory_format=torch.channels_last)

    def pil():
        return torch.stack([to_tensor(Image.fromarray(im.numpy(), mode="L")) for im in images])

    def tensor():
        return spec_of(model)(images, device, channels_last=True)

    threads = torch.get_num_threads()
    works = {
        "PIL resize (d2l, per image)": (pil, 1),
        "F.interpolate (batched)": (tensor, threads),
        "training step": (_training_step(model, images, labels, device), threads),
    }
    timings = timing.median_ms_in_turns(works, per=len(images), repeats=repeats, device=device)
    return pd.DataFrame({f"ms per image at {size} px": timings})


def step_ms(
    data: FashionMNIST, changes: dict, *, recipe_name: str = "classroom", batch_size: int = 128, repeats: int = 5,
    device=None,
) -> pd.DataFrame:  # fmt: skip
    """What one training step costs per image for the recipe's network with each of ``changes`` (a label and the
    keywords it changes, as ``ablation`` takes them: ``{"56 px": {"input_size": 56}}``; ``FitConfig`` fields such as
    ``epochs`` change the run, not the step, and are left out here): its MACs (millions,
    ``analysis.layer_table``) and its milliseconds, on the same batch of ``data``'s training images, medians of
    ``repeats`` rounds timed in turns on the threads the pipeline has (apart from the evaluation and load changes
    that a run's wall time holds)."""
    device = runtime.get_device(device) if device is not None else torch.device("cpu")
    cpu.keep_freed_memory(device)
    images, labels = data.train_images[:batch_size], data.train_labels[:batch_size].to(device)
    works, macs = {}, {}
    for label, change in changes.items():
        model = build_model(recipe_name, data=data, **recipe(recipe_name).split(change)[0])
        spec = spec_of(model)
        macs[label] = analysis.totals(analysis.layer_table(model, (len(spec.mean), spec.size, spec.size)))["macs"] / 1e6
        model = model.to(device, memory_format=torch.channels_last)
        works[label] = (_training_step(model.train(), images, labels, device), torch.get_num_threads())
    timed = timing.median_ms_in_turns(works, per=len(images), repeats=repeats, device=device)
    return pd.DataFrame({"MACs_M": macs, "ms_per_image": timed})


def _times(ratio: float) -> str:
    """A ratio as a reader says it: ``"35x"`` from 10 up, ``"2.4x"`` below."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def step_against_resize(ms: pd.Series) -> str:
    """What a run of ``pipeline_costs`` shows (``ms``: its column of milliseconds per image), in words: how many
    times as long as each resize one training step took, and which lesson that supports on this machine: over ten
    times both, the time goes to the convolutions; otherwise a resize is of the step's order, and the input pipeline
    can keep the device waiting."""
    step = ms["training step"]
    ratios = {"PIL's resize": step / ms["PIL resize (d2l, per image)"],
              "F.interpolate": step / ms["F.interpolate (batched)"]}  # fmt: skip
    said = "a training step took " + " and ".join(f"{_times(r)} as long as {k}" for k, r in ratios.items())
    close = [k for k, r in ratios.items() if r <= 10]
    if not close:
        return f"{said}: the step costs over ten times either resize, so the time goes to the convolutions"
    return (f"{said}: {' and '.join(close)} {'is' if len(close) == 1 else 'are'} within a tenth of the step here, "
            "so the input pipeline can keep the device waiting")  # fmt: skip


def time_against_macs(step_cost: pd.DataFrame) -> str:
    """What a ``step_ms`` table shows (its ``MACs_M`` and ``ms_per_image`` columns), in words: whether a training
    step took more time the more MACs it did on this machine, with the numbers in order of MACs."""
    rows = step_cost.sort_values("MACs_M")
    numbers = ", ".join(f"{k} {m:.1f} M MACs, {t:.3f} ms" for k, (m, t) in rows[["MACs_M", "ms_per_image"]].iterrows())
    if (rows.ms_per_image.diff().iloc[1:] > 0).all():  # strictly: two equal times do not rise
        return f"a step took more time the more MACs it did ({numbers})"
    return (f"a step's time did not follow its MACs ({numbers}): a network this small can leave the device partly "
            "idle, and then the MACs do not set the time")  # fmt: skip


def d2l_on_gpu(data: FashionMNIST, device=None) -> dict[str, History]:
    """The book's d2l recipe trained on ``data`` when ``device`` is a CUDA GPU (12 steps in fast mode):
    ``{"d2l": History}``; elsewhere ``{}`` and a line saying why (on a CPU it takes hours)."""
    device = runtime.get_device(device) if device is not None else runtime.best_device()
    if device.type != "cuda":
        print(f"No CUDA GPU here ({runtime.device_name(device)}): the d2l recipe is skipped; hours on a CPU.")
        return {}
    model = build_model("d2l", seed=0, data=data)
    config = fit_config("d2l", **runtime.fast_or_full({"epochs": 1, "max_steps": 12}, {}))
    return {"d2l": fit(model, data, config, device=device)}


def lesson_checkpoint() -> Path:
    """Where notebook 04 saves its model: ``artifacts/vgg11_fashion_mnist.pt``, the file notebooks 05 and 08 load; in
    fast mode ``vgg11_fashion_mnist_fast.pt``, so that a CI run never replaces a model trained in full."""
    name = runtime.fast_or_full(DEFAULT_CHECKPOINT.replace(".pt", "_fast.pt"), DEFAULT_CHECKPOINT)
    return paths.artifacts_dir() / name


def lesson_model(data: FashionMNIST, *, device=None, path=None) -> nn.Module:
    """The model the lessons after notebook 04 look inside: notebook 04's trained VGG-11 (``path``, default
    ``artifacts/vgg11_fashion_mnist.pt``) where it exists and is a Fashion-MNIST VGG, else (and always in fast mode)
    the classroom network trained here for a short while, with a line saying which and why."""
    path = Path(path) if path is not None else paths.artifacts_dir() / DEFAULT_CHECKPOINT
    why = "fast mode" if runtime.fast_mode() else f"no checkpoint at {path} (run notebook 04 to make one)"
    if path.is_file() and not runtime.fast_mode():
        model = checkpoint.load_model(path, device=device)
        spec = spec_of(model)
        if tuple(spec.classes) == tuple(data.classes) and len(spec.mean) == 1:
            print(f"Loaded notebook 04's VGG-11 from {path} ({spec.size} px inputs).")
            return model
        why = (
            f"{path} holds a model of other data ({len(spec.classes)} classes: {', '.join(spec.classes[:4])}...), "
            "not notebook 04's Fashion-MNIST VGG-11 (run notebook 04 again to remake it; train on your own images "
            "with another --checkpoint)"
        )
    model = build_model("classroom", data=data)
    # Fast mode has ~100 steps: AdamW gets much further than SGD in so few. Otherwise the recipe, for 2 epochs.
    quick = dict(epochs=1, batch_size=32, optimizer="adamw", lr=2e-3, weight_decay=0.0) if runtime.fast_mode() else {}
    history = fit(model, data, fit_config("classroom", **{"epochs": 2} | quick), device=device, quiet=True)
    print(
        f"{why}: trained a small VGG-11 quickly instead ({history.final['step']} steps on "
        f"{len(data.train_labels):,} images); expect rougher pictures than with notebook 04's model."
    )
    return model.eval()

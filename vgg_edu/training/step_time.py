"""What one training step costs: per image against the input pipeline's resizes (``pipeline_costs``), per
network change against its MACs (``step_ms``), and what each table shows, in words. Every timing is
``timing``'s: steps timed in turns after a warm-up round, medians.
"""

from __future__ import annotations

import functools

import pandas as pd
import torch
from torch import nn

from .. import analysis, cpu, runtime, timing
from ..data.image_splits import ImageSplits
from ..data.inputs import spec_of
from .recipes import build_model, recipe


def _training_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device):
    """One SGD step of ``model`` on ``images`` made into its input (channels-last) within the step, to time."""
    inputs = functools.partial(spec_of(model), images, device, channels_last=True)
    return timing.training_step(model, inputs, labels, optimizer=torch.optim.SGD(model.parameters(), lr=0.05))


def pipeline_costs(
    data: ImageSplits, *, size: int = 224, batch_size: int = 32, device=None, repeats: int = 5
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
    data: ImageSplits, changes: dict, *, recipe_name: str = "classroom", batch_size: int = 128, repeats: int = 5,
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

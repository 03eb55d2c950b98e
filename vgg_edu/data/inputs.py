"""A model's input contract and the batches made by it, on the device, one tensor operation each.

uint8 pixels become inputs as ``x = (pixels / 255 - mean) / std`` per channel, after an optional bilinear resize
(``F.interpolate``) and an optional horizontal flip. No PIL, no worker processes: the data live in memory.

A trained model's input contract (its input size, mean, std and class names) is an ``InputSpec``: checkpoints carry
it, as torchvision's weights carry their transforms. ``spec_of(model)`` is the one way to read a model's contract,
``with_spec(model, spec)`` the one way to give a model one.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Fashion-MNIST's, the course's data set: the contract of a model that says nothing else.
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MEAN, STD = 0.2860, 0.3530


@dataclass(frozen=True)
class InputSpec:
    """A model's input contract, as torchvision's weights carry theirs: ``size`` (the side images are resized to;
    None: as stored), the per-channel ``mean`` and ``std`` it was normalised with, and the ``classes`` its outputs
    name. Calling it turns uint8 images into the model's inputs (``to_input``)."""

    size: int | None = None
    mean: tuple = (MEAN,)
    std: tuple = (STD,)
    classes: tuple = CLASSES

    def __call__(self, images: torch.Tensor, device=None, *, flip=None, channels_last: bool = False) -> torch.Tensor:
        return to_input(images, self.size, device, mean=self.mean, std=self.std, flip=flip, channels_last=channels_last)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def spec_of(model: nn.Module, data=None) -> InputSpec:
    """The model's input contract (``model.input_spec``). A model that carries none gets the contract of ``data``
    at its stored size (``data.input_spec()``: its classes and normalisation) when given, else Fashion-MNIST's."""
    spec = getattr(model, "input_spec", None)
    if spec is not None:
        return spec
    return data.input_spec() if data is not None else InputSpec()


def with_spec(model: nn.Module, spec: InputSpec) -> nn.Module:
    """Give ``model`` the input contract ``spec`` (what checkpoints save and ``predict`` reads); returns the model."""
    if not isinstance(spec, InputSpec):
        raise TypeError(f"with_spec takes an InputSpec; got {type(spec).__name__}")
    model.input_spec = spec
    return model


def pixel_stats(images: torch.Tensor, chunk: int = 512) -> tuple[tuple, tuple]:
    """Per-channel mean and standard deviation of uint8 images (N, H, W) or (N, C, H, W) as fractions of 255, four
    decimals: mean = E[x], std = sqrt(E[x^2] - E[x]^2), summed in float64 a chunk at a time."""
    if not len(images):
        raise ValueError("pixel_stats needs at least one image")
    images = images.unsqueeze(1) if images.dim() == 3 else images
    total = torch.zeros(2, images.shape[1], dtype=torch.float64)
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].to(torch.float64).div_(255).transpose(0, 1).flatten(1)
        total += torch.stack([x.sum(1), x.square().sum(1)])
    n = images.numel() / images.shape[1]
    mean, square = total / n
    std = (square - mean.square()).clamp(min=0).sqrt()
    return tuple(round(float(v), 4) for v in mean), tuple(round(max(float(v), 1e-4), 4) for v in std)


def to_input(
    images: torch.Tensor,
    resize: int | None = None,
    device=None,
    *,
    mean=(MEAN,),
    std=(STD,),
    flip: torch.Tensor | None = None,
    channels_last: bool = False,
) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, C, H, W) -> normalised float32 (N, C, size, size) on ``device``.

    ``x = (pixels / 255 - mean) / std`` per channel (Fashion-MNIST's: 0.2860 and 0.3530), bilinearly resized to
    ``resize`` x ``resize`` first when given. ``flip`` is an optional boolean mask (N,): those images are mirrored
    left-right (data augmentation).
    """
    if not torch.is_tensor(images) or images.dtype != torch.uint8:
        kind = images.dtype if torch.is_tensor(images) else type(images).__name__
        raise TypeError(
            f"to_input expects uint8 pixels (0-255) as load_fashion_mnist gives them; got {kind}. "
            "Float images in [0, 1]: (x * 255).round().to(torch.uint8)."
        )
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"to_input expects (N, H, W) or (N, C, H, W) images; got shape {tuple(images.shape)}")
    device = torch.device(device) if device is not None else images.device
    if device.type == "cuda" and images.device.type == "cpu":
        images = images.pin_memory()  # copied while the host goes on, not waited for (nor is the flip mask)
    x = images.to(device, non_blocking=True).float().div_(255)
    if flip is not None:
        flip = flip.to(device, non_blocking=True)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if resize is not None and (resize, resize) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
    x = x.sub_(_on_device(tuple(mean), device)).div_(_on_device(tuple(std), device))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@functools.lru_cache(maxsize=64)
def _on_device(values: tuple, device: torch.device) -> torch.Tensor:
    """Per-channel constants as a (1, C, 1, 1) tensor on ``device``, made once: making it again for every batch
    would be a blocking copy, a wait for the GPU, at every step."""
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1).to(device, non_blocking=True)


def batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    spec: InputSpec | None = None,
    device=None,
    shuffle: bool = False,
    flip: bool = False,
    seed: int = 0,
    start: int = 0,
    channels_last: bool = False,
):
    """Yield ``(x, y)`` mini-batches: x = ``spec(images)`` (default ``InputSpec()``: 28 px, Fashion-MNIST's
    statistics) on ``device``, y int64 labels there.

    ``shuffle`` draws a new order from ``seed`` (pass ``seed + epoch`` for a fresh order each epoch, repeatably);
    ``flip`` mirrors a random half of the images (drawn from the same seed). ``start`` skips the first ``start``
    batches of that same sequence, so a run stopped mid-epoch can resume exactly. The last batch may be smaller.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    spec = spec if spec is not None else InputSpec()
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g) if shuffle else torch.arange(len(labels))
    mirror = torch.rand(len(labels), generator=g) < 0.5 if flip else None
    for begin in range(start * batch_size, len(order), batch_size):
        idx = order[begin : begin + batch_size]
        mask = mirror[begin : begin + batch_size] if flip else None
        x = spec(images[idx], device, flip=mask, channels_last=channels_last)
        yield x, labels[idx].to(x.device, non_blocking=True)


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)

"""What every probe shares: layers named by module name or by the paper's names (``resolve``, ``relu_layers``),
one image or a batch made the model's inputs (``_as_batch``, ``pixel_input``), forward hooks and progress over
chunks of a batch."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..data.inputs import spec_of
from ..models import layer_names


def resolve(model: nn.Module, layer: str) -> tuple[str, nn.Module]:
    """(module name, module) for a layer name; a ValueError listing the valid names if there is no such layer."""
    names = layer_names(model)
    if layer not in names:
        raise ValueError(f"{type(model).__name__} has no layer {layer!r}. Valid names: {', '.join(names)}")
    return names[layer], model.get_submodule(names[layer])


def relu_layers(model: nn.Module) -> list[str]:
    """The paper names of the ReLUs in ``features`` (relu1_1, ...), in order: the maps the lessons look at."""
    return [
        n
        for n, full in layer_names(model).items()
        if n != full and full.startswith("features.") and isinstance(model.get_submodule(full), nn.ReLU)
    ]


def _as_batch(x: torch.Tensor, model: nn.Module | None = None) -> tuple[torch.Tensor, bool]:
    """(N, C, H, W) float batch and whether ``x`` was a single image. uint8 pixels become inputs through the
    model's input contract (``model.input_spec``; Fashion-MNIST's statistics at the stored size without one); for
    a one-channel model, uint8 (N, H, W) with N > 1 are N images, as stored."""
    if not torch.is_tensor(x) or x.dim() not in (3, 4):
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"expected one image (C, H, W) or a batch (N, C, H, W); got {shape}")
    grey_model = len(spec_of(model).mean) == 1
    stored = x.dtype == torch.uint8 and x.dim() == 3 and grey_model and x.shape[0] != 1
    single = x.dim() == 3 and not stored
    batch = x.unsqueeze(0) if single else x
    if not len(batch):
        raise ValueError(f"no images to probe: x has shape {tuple(x.shape)}; pass at least one image")
    if batch.dtype == torch.uint8:
        return spec_of(model)(batch), single
    if not batch.is_floating_point():
        raise ValueError(f"expected uint8 pixels or float inputs, got {x.dtype}")
    return batch, single


def pixel_input(model: nn.Module, pixel: int = 0):
    """The model's input value for a uint8 ``pixel`` value (0: black) by its input contract (``model.input_spec``;
    Fashion-MNIST's statistics without one): (pixel / 255 - mean) / std per channel, a float for one channel.
    A black pixel, Fashion-MNIST's background, is (0 - 0.286) / 0.353 = -0.81 after normalising, not 0."""
    if isinstance(pixel, bool) or not isinstance(pixel, int) or not 0 <= pixel <= 255:
        raise ValueError(f"pixel is a uint8 value, a whole number from 0 to 255; got {pixel!r}")
    spec = spec_of(model)
    value = spec(torch.full((1, len(spec.mean), 1, 1), pixel, dtype=torch.uint8))[0, :, 0, 0]
    return float(value[0]) if len(value) == 1 else tuple(float(v) for v in value)


@contextlib.contextmanager
def _hooks(modules_and_hooks):
    handles = [m.register_forward_hook(h) for m, h in modules_and_hooks]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _chunks(n: int, batch_size: int, desc: str):
    from tqdm.auto import tqdm

    starts = range(0, n, batch_size)
    return tqdm(starts, desc=desc, leave=False, disable=len(starts) < 4)

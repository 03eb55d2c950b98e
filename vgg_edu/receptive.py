"""Receptive fields: the recurrence that says what one unit sees, and the *effective* field, measured.

Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019. Going forward through
layers l = 1..L with kernel k_l (dilated: d_l (k_l - 1) + 1), stride s_l, padding p_l::

    jump_l  = jump_{l-1} * s_l                                 (input pixels between neighbouring units)
    rf_l    = rf_{l-1} + (k_l - 1) * jump_{l-1}                (side of the input square one unit sees)
    start_l = start_{l-1} + ((k_l - 1) / 2 - p_l) * jump_{l-1}  (input coordinate of unit 0's centre)

with rf_0 = jump_0 = 1, start_0 = 0.5 (pixel centres at 0.5, 1.5, ...). Unit i of layer l is centred on input
coordinate start_l + i * jump_l. Closed form: rf_L = 1 + sum_l (k_l - 1) * prod_{i<l} s_i.

Effective receptive field (Luo et al. 2016): the gradient of one output unit with respect to the input; its support
is the theoretical field, its mass a roughly Gaussian centre.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from . import runtime


def step(rf: float, jump: float, start: float, kernel: int, stride: int, padding: int) -> tuple[float, float, float]:
    """One layer of the recurrence above: (rf, jump, start) after a layer, from the values before it."""
    return rf + (kernel - 1) * jump, jump * stride, start + ((kernel - 1) / 2 - padding) * jump


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a conv or pool with ``kernel``, ``stride`` and ``padding`` fits along a side of ``size``
    pixels: floor((size + 2 padding - kernel) / stride) + 1, as ``nn.Conv2d`` and ``nn.MaxPool2d`` (default
    ``ceil_mode=False``) compute it. The floor drops a last window that would overhang the padded input.

    >>> output_size(32, 3, 1, 1), output_size(7, 2, 2), output_size(224, 11, 4, 2)   # VGG conv, VGG pool, AlexNet
    (32, 3, 55)
    """
    if kernel < 1 or stride < 1 or padding < 0:
        raise ValueError(
            f"kernel and stride must be positive and padding not negative; got {kernel}, {stride}, {padding}"
        )
    if size + 2 * padding < kernel:
        raise ValueError(f"a {kernel}-pixel window does not fit in {size} pixels with padding {padding}")
    return (size + 2 * padding - kernel) // stride + 1


def receptive_field(layers) -> list[tuple[int, int]]:
    """The recurrence above for a list of (kernel, stride) pairs: [(rf, jump) after each layer].

    >>> receptive_field([(3, 1), (3, 1)])   # two 3x3 convs see 5x5
    [(3, 1), (5, 1)]
    """
    rf, jump, out = 1, 1, []
    for k, s in layers:
        rf, jump, _ = step(rf, jump, 0.5, k, s, 0)
        out.append((rf, jump))
    return out


def stack_layers(layers: int = 2, kernel: int = 3, stride: int = 1, pool: bool = False) -> list[tuple[int, int]]:
    """A plain conv stack as (kernel, stride) pairs: ``layers`` convs of ``kernel`` x ``kernel`` with ``stride``,
    each followed by a 2x2 max-pool (stride 2) when ``pool``. Feed it to ``receptive_field``."""
    if layers < 1 or kernel < 1 or stride < 1:
        raise ValueError(f"layers, kernel and stride must be positive; got {layers}, {kernel}, {stride}")
    return [pair for _ in range(layers) for pair in ([(kernel, stride), (2, 2)] if pool else [(kernel, stride)])]


def stack_vs_single(layers: int = 2, kernel: int = 3, channels: int = 64) -> dict:
    """A stack of ``layers`` k x k convs (stride 1, C channels in and out) against the one conv that sees as much.

    The stack sees r = layers (k - 1) + 1 pixels and holds layers * k^2 * C^2 weights; one r x r conv holds
    r^2 * C^2 (biases left out, as in the paper's argument, Sec. 2.3): two 3x3 give 18 C^2 vs 25 C^2,
    three give 27 C^2 vs 49 C^2. The stack also has ``layers`` ReLUs where the single conv has one.
    """
    rf = receptive_field(stack_layers(layers, kernel))[-1][0]
    stack, single = layers * kernel**2 * channels**2, rf**2 * channels**2
    return {
        "layers": layers,
        "kernel": kernel,
        "channels": channels,
        "rf": rf,
        "stack_params": stack,
        "single_params": single,
        "saving": 1 - stack / single,
        "stack_relus": layers,
        "single_relus": 1,
    }


def effective_receptive_field(features: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Luo et al. 2016, "Understanding the Effective Receptive Field in Deep CNNs": set the gradient of the centre
    unit of ``features``' output to 1 (every channel) and all others to 0, back-propagate to the input, and average
    |d out_centre / d x| over the images in ``inputs`` (N, C, H, W, taken ``batch_size`` at a time) and channels.

    Returns an (H, W) map scaled to a maximum of 1. Its support is the theoretical receptive field; its mass
    is concentrated in a roughly Gaussian centre.
    """
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be a batch N x C x H x W; got shape {tuple(inputs.shape)}")
    device = next(features.parameters()).device
    total = torch.zeros(inputs.shape[-2:], dtype=torch.float64)
    with runtime.evaluating(features):
        for chunk in inputs.split(batch_size):
            x = chunk.detach().to(device).requires_grad_(True)
            out = features(x)
            if out.dim() != 4:
                raise ValueError(
                    "pass the convolutional part of the network (e.g. model.features): its output must be "
                    f"a feature map N x C x H x W, got shape {tuple(out.shape)}"
                )
            h, w = out.shape[-2] // 2, out.shape[-1] // 2
            out[:, :, h, w].sum().backward()
            total += x.grad.abs().sum(dim=(0, 1)).double().cpu()
    return (total / total.max().clamp_min(1e-30)).float()


def erf_centre(erf: torch.Tensor) -> tuple[float, float]:
    """(row, col) of the centre of the map's non-zero support: the centre of the unit's theoretical receptive
    field (a half-integer when the support has an even side)."""
    rows, cols = erf.sum(1).nonzero(), erf.sum(0).nonzero()
    return (rows.min() + rows.max()).item() / 2, (cols.min() + cols.max()).item() / 2


def erf_extent(erf: torch.Tensor, mass: float = 0.95) -> int:
    """The side, in pixels, of the smallest square centred on the unit's theoretical receptive field (the centre of
    the map's non-zero support) that holds ``mass`` of the gradient's total: one number for the size of the
    effective receptive field, to set against the theoretical side."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass is a fraction of the total, in (0, 1]; got {mass}")
    erf = erf.double()
    if not erf.sum(1).any():  # an all-zero map has no support
        return 0
    cy, cx = erf_centre(erf)
    total, side = erf.sum(), 1 + int(2 * (cy % 1))  # an even-sided support has a centre between two pixels
    while side < 2 * max(erf.shape):
        top, left = math.ceil(cy - (side - 1) / 2), math.ceil(cx - (side - 1) / 2)
        window = erf[max(top, 0) : max(top + side, 0), max(left, 0) : max(left + side, 0)]
        if window.sum() >= mass * total - 1e-12:
            return side
        side += 2
    return side


def coordinates(layers) -> list[dict]:
    """The full recurrence above for a list of (kernel, stride, padding) triples: after each layer, the field's side
    ``rf``, the ``jump`` and the ``start`` (input coordinate of unit 0's centre, pixel centres at 0.5, 1.5, ...).

    >>> coordinates([(3, 1, 1), (2, 2, 0)])   # a padded 3x3 conv keeps the centres; a 2x2 pool moves them by 0.5
    [{'rf': 3, 'jump': 1, 'start': 0.5}, {'rf': 4, 'jump': 2, 'start': 1.0}]
    """
    rf, jump, start, out = 1, 1, 0.5, []
    for kernel, stride, padding in layers:
        rf, jump, start = step(rf, jump, start, kernel, stride, padding)
        out.append({"rf": rf, "jump": jump, "start": start})
    return out


def unit_field(rf: float, jump: float, start: float, index: int, size: int | None = None) -> tuple[int, int]:
    """The input pixels [first, last) that unit ``index`` of a layer sees along one axis: the square of side ``rf``
    centred on ``start + index * jump``, clipped to an input of ``size`` pixels when given (padding is not image)."""
    centre = start + index * jump
    first, last = int(round(centre - rf / 2)), int(round(centre + rf / 2))
    return (first, last) if size is None else (max(first, 0), min(last, size))


def gradient_support(features: nn.Module, input_size, row: int, col: int) -> tuple[int, int, int, int]:
    """The input pixels (top, left, bottom, right; bottom and right exclusive) on which unit (row, col) of
    ``features``' output depends, found by back-propagation: the non-zero support of d out[row, col] / d x summed
    over channels. An independent check of ``unit_field``: run on a copy in double precision with weights set to
    1 (a positive weight on every path, so no gradient cancels) and max-pools replaced by average pools."""
    net = copy.deepcopy(features).double().eval()
    for name, m in list(net.named_modules()):
        if isinstance(m, nn.MaxPool2d):
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], nn.AvgPool2d(m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.ReLU):
            m.inplace = False
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    x = torch.ones(1, *input_size, dtype=torch.double, requires_grad=True)
    net(x)[0, :, row, col].sum().backward()
    rows, cols = x.grad[0].abs().sum(0).sum(1).nonzero(), x.grad[0].abs().sum(0).sum(0).nonzero()
    return rows.min().item(), cols.min().item(), rows.max().item() + 1, cols.max().item() + 1


def random_placement(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Paste each image (N, C, h, w) or (N, h, w) at a random position of a ``size`` x ``size`` canvas filled with
    the image's own top-left pixel (the background). Averaged over many such inputs, an effective receptive field
    shows where a unit looks, not the silhouette of objects that always sit at the same place."""
    if images.dim() == 3:
        return random_placement(images.unsqueeze(1), size, generator).squeeze(1)
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, h, w) or (N, h, w); got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    if size < max(h, w):
        raise ValueError(f"size must be at least the images' side ({max(h, w)} px); got {size}")
    canvas = images[:, :, :1, :1].expand(n, c, size, size).clone()
    top = torch.randint(0, size - h + 1, (n,), generator=generator)
    left = torch.randint(0, size - w + 1, (n,), generator=generator)
    for i in range(n):
        canvas[i, :, top[i] : top[i] + h, left[i] : left[i] + w] = images[i]
    return canvas

"""Data augmentation on batches that are already on the device: random translations (crops of a padded image),
the paper's scale jitter adapted to small images (Fashion-MNIST at the network's input size), and test-time flip
averaging.

Each transform takes the batch and the random draws for it, so that the draws can come from the run's seeded
generator: ``for_epoch`` draws every image's shift and zoom for an epoch up front (as ``inputs.batches`` draws its
flips), and a batch takes its slice of them. A run stopped mid-epoch and resumed therefore sees the same augmented
images, bit for bit. Batches are normalised float tensors (N, C, H, W); the background that fills what a shift
uncovers is the value a black pixel takes after normalising, ``(0 - mean) / std`` = -0.81 for Fashion-MNIST
(``background``), not 0, which would paint grey borders.

- translate: pad by p with the background and crop back at a random offset: image shifted by (dy, dx), each a
  whole number of pixels in [-p, p] (the "random crop with padding" of CIFAR recipes, He et al. 2016); p must be
  less than the image's side (``check_shift``), or an image could leave the view entirely.
- scale jitter (Simonyan & Zisserman, Sec. 3.1): the paper rescales each training image so that its smaller side
  S is random in [256, 512] and crops 224 x 224 from it, i.e. it zooms in by up to 2x. Here: zoom in by s drawn
  in [1, max_zoom] about a random centre that keeps the crop inside the image (bilinear).
- flip averaging (test time, Sec. 3.2): the soft-max posteriors of x and of its mirror image averaged, p = (softmax
  f(x) + softmax f(mirror(x))) / 2, for a model trained with flips; returned as log p, so that it stands where
  logits do (its soft-max is p, its argmax p's, and cross-entropy on it is -log p of the label).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .inputs import to_input

STREAM = 0x5EED_0000_0000
"""Added to a run's seed for augmentation's generator, so its draws do not repeat those of ``inputs.batches``."""


def background(mean=(0.2860,), std=(0.3530,)) -> torch.Tensor:
    """The normalised value of a black pixel per channel, shape (1, C, 1, 1): ``(0 - mean) / std``, by the same
    ``inputs.to_input`` that normalises the images."""
    return to_input(torch.zeros(1, len(mean), 1, 1, dtype=torch.uint8), mean=mean, std=std)


def draw_shifts(n: int, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 2) whole-pixel shifts (dy, dx), each uniform in [-max_shift, max_shift]."""
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift (translate) must be a whole number of pixels, 0 or more; got {max_shift!r}")
    return torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)


def check_shift(max_shift: int, height: int, width: int) -> None:
    """A ValueError when shifts of up to ``max_shift`` px can move a ``height`` x ``width`` image out of view."""
    if max_shift >= min(height, width):
        raise ValueError(
            f"translate={max_shift} px can shift a {height} x {width} px image entirely out of view: use fewer "
            f"pixels than the image's side (a tenth of it, {max(1, min(height, width) // 10)} px, is usual)"
        )


def translate(x: torch.Tensor, shifts: torch.Tensor, fill=0.0) -> torch.Tensor:
    """Shift image i of ``x`` (N, C, H, W) down by ``shifts[i, 0]`` and right by ``shifts[i, 1]`` pixels; what is
    uncovered takes ``fill`` (a number, or per channel (1, C, 1, 1): use ``background``). Same shape, channels-last
    memory layout."""
    if shifts.shape != (len(x), 2):
        raise ValueError(f"shifts must have shape ({len(x)}, 2), one (dy, dx) per image; got {tuple(shifts.shape)}")
    p = int(shifts.abs().max()) if len(x) else 0
    if p == 0:
        return x
    n, c, h, w = x.shape
    check_shift(p, h, w)
    fill = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
    padded = fill.expand(n, c, h + 2 * p, w + 2 * p).clone()  # the fill value (per channel) all around
    padded[:, :, p : p + h, p : p + w] = x
    shifts = shifts.to(x.device, non_blocking=True)
    rows = (p - shifts[:, :1]) + torch.arange(h, device=x.device)  # output row r reads input row r - dy
    cols = (p - shifts[:, 1:]) + torch.arange(w, device=x.device)
    out = padded[torch.arange(n, device=x.device).view(-1, 1, 1), :, rows[:, :, None], cols[:, None, :]]  # N,H,W,C
    return out.permute(0, 3, 1, 2)


def draw_zooms(n: int, max_zoom: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 3): a zoom factor s uniform in [1, max_zoom] and a centre (u, v) uniform in [-1, 1]^2 per image."""
    if not isinstance(max_zoom, (int, float)) or isinstance(max_zoom, bool) or not 1 <= max_zoom <= 4:
        raise ValueError(f"max_zoom must be a number from 1 (no zoom) to 4; got {max_zoom!r}")
    draws = torch.rand(n, 3, generator=generator)
    return torch.stack([1 + (max_zoom - 1) * draws[:, 0], 2 * draws[:, 1] - 1, 2 * draws[:, 2] - 1], 1)


def zoom(x: torch.Tensor, zooms: torch.Tensor) -> torch.Tensor:
    """Zoom image i of ``x`` in by ``s = zooms[i, 0]`` (bilinear), the crop's centre at (u, v) * (1 - 1/s) in
    [-1, 1] coordinates: the 1/s-sized window always lies inside the image, so no border is invented. s = 1 is
    the identity."""
    if zooms.shape != (len(x), 3):
        raise ValueError(f"zooms must have shape ({len(x)}, 3), one (s, u, v) per image; got {tuple(zooms.shape)}")
    zooms = zooms.to(device=x.device, dtype=x.dtype, non_blocking=True)
    inv = 1 / zooms[:, 0]
    theta = torch.zeros(len(x), 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = inv
    theta[:, 0, 2], theta[:, 1, 2] = zooms[:, 2] * (1 - inv), zooms[:, 1] * (1 - inv)  # x is columns, y rows
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def for_epoch(
    n: int, *, seed: int, translate_px: int = 0, max_zoom: float = 1.0, fill=0.0
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The epoch's augmentation: ``augment(x, begin)`` transforms the batch holding images ``begin ...`` of the
    epoch's order. All ``n`` draws are made here, from ``seed`` (pass the run's seed + epoch), so any batch of the
    epoch can be rebuilt alone. With nothing to do it returns ``x`` unchanged."""
    g = torch.Generator().manual_seed(STREAM + seed)
    shifts = draw_shifts(n, translate_px, g) if translate_px else None
    zooms = draw_zooms(n, max_zoom, g) if max_zoom != 1 else None

    def augment(x: torch.Tensor, begin: int) -> torch.Tensor:
        if shifts is not None:
            check_shift(translate_px, *x.shape[-2:])  # the setting, not only this batch's draws
        if zooms is not None:
            x = zoom(x, zooms[begin : begin + len(x)])
        if shifts is not None:
            x = translate(x, shifts[begin : begin + len(x)], fill)
        return x

    return augment


def flip_averaged(model: Callable, x: torch.Tensor) -> torch.Tensor:
    """Test-time augmentation as the paper does it (Sec. 3.2): the mean of the soft-max posteriors for ``x`` and for
    ``x`` mirrored left-right, returned as its logarithm (float32, N x classes), so that callers can treat it as
    logits: ``.softmax(1)`` gives the averaged posteriors, ``argmax`` the class they favour, and cross-entropy on it
    the loss of the averaged posteriors. (Averaging the logits is another rule: their mean's soft-max is the
    normalised geometric mean of the two posteriors.)"""
    log_posteriors = torch.stack([model(x).float().log_softmax(-1), model(x.flip(-1)).float().log_softmax(-1)])
    return torch.logsumexp(log_posteriors, dim=0) - math.log(2)

"""What excites a channel (Zeiler & Fergus 2014): the top-k images by a channel's strongest unit, and that
unit's receptive field in input pixels, the patch it sees (``analysis.layer_table``'s columns, ``receptive``'s
recurrence)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import analysis, receptive
from .activations import capture
from .layers import _as_batch, _chunks, resolve


@dataclass
class TopK:
    """The ``k`` images that excite ``channel`` of ``layer`` most, best first.

    ``values`` the max activation in each, ``indices`` the images' indices in the input batch, ``positions`` the
    (row, col) of the arg-max unit in the feature map, ``boxes`` its receptive field in input pixels
    (top, left, bottom, right), clipped to the image: the patch is ``x[n, :, top:bottom, left:right]``.
    """

    layer: str
    channel: int
    values: torch.Tensor
    indices: torch.Tensor
    positions: torch.Tensor
    boxes: list[tuple[int, int, int, int]]


def receptive_box(model: nn.Module, layer: str, row: int, col: int, input_size, *, table=None):
    """The input pixels (top, left, bottom, right) that unit (row, col) of ``layer`` sees, clipped to the image.

    From ``analysis.layer_table``: centre start + i * jump, side rf, so top = start + row * jump - rf / 2
    (``receptive.unit_field`` along each axis, as notebook 01 checks by back-propagation). ``input_size`` is
    (C, H, W) of one image.
    """
    full, _ = resolve(model, layer)
    table = analysis.layer_table(model, tuple(input_size)) if table is None else table
    row_of_table = table.loc[table["layer"] == full].iloc[0]
    rf, jump, start = row_of_table[["rf", "jump", "start"]]
    if math.isnan(rf):
        raise ValueError(f"{layer} mixes all positions (after a Linear layer): its units see the whole image")
    out_h, out_w = row_of_table["output_shape"][1:]
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(
            f"{layer} is a {out_h} x {out_w} map at this input size: row must be 0 to {out_h - 1} "
            f"and col 0 to {out_w - 1}; got ({row}, {col})"
        )
    h, w = input_size[1:]
    top, bottom = receptive.unit_field(rf, jump, start, row, size=h)
    left, right = receptive.unit_field(rf, jump, start, col, size=w)
    return top, left, bottom, right


@torch.no_grad()
def top_k(
    model: nn.Module, x: torch.Tensor, layer: str, channel: int, k: int = 9, *, batch_size: int = 256, device=None
) -> TopK:
    """The ``k`` images of ``x`` whose strongest unit in ``channel`` of ``layer`` is strongest (see ``TopK``)."""
    x, _ = _as_batch(x, model)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or not len(x):
        raise ValueError(f"top_k needs k >= 1 and at least one image; got k={k!r} and {len(x)} images")
    best, where = [], []
    for i in _chunks(len(x), batch_size, f"top-{k} {layer}:{channel}"):
        a = capture(model, x[i : i + batch_size], layer, device=device)[layer]
        shape = a.shape
        if not 0 <= channel < shape[1]:
            raise ValueError(f"{layer} has {shape[1]} channels (0 to {shape[1] - 1}); got channel {channel}")
        a = a[:, channel].reshape(len(a), -1)  # N x positions (one position after a Linear)
        value, pos = a.max(1)
        best.append(value.cpu())
        where.append(pos.cpu())
    best, where = torch.cat(best), torch.cat(where)
    k = min(k, len(best))
    values, indices = best.topk(k)
    width = shape[-1] if len(shape) == 4 else 1
    positions = torch.stack([where[indices] // width, where[indices] % width], 1)
    if len(shape) == 4:
        table = analysis.layer_table(model, tuple(x.shape[1:]))
        boxes = [receptive_box(model, layer, int(r), int(c), x.shape[1:], table=table) for r, c in positions]
    else:
        boxes = [(0, 0, x.shape[2], x.shape[3])] * k
    return TopK(layer, channel, values, indices, positions, boxes)

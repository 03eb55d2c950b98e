"""Receptive fields and per-layer tables: what each layer outputs, holds, computes and sees.

Receptive field (Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019).
Going forward through layers l = 1..L with kernel k_l (dilated: d_l (k_l - 1) + 1), stride s_l, padding p_l:

    jump_l  = jump_{l-1} * s_l                       (distance in input pixels between neighbouring units)
    rf_l    = rf_{l-1} + (k_l - 1) * jump_{l-1}      (side of the input square one unit sees)
    start_l = start_{l-1} + ((k_l - 1) / 2 - p_l) * jump_{l-1}   (input coordinate of unit 0's centre)

with rf_0 = jump_0 = 1, start_0 = 0.5 (pixel centres at 0.5, 1.5, ...). Closed form:
rf_L = 1 + sum_l (k_l - 1) * prod_{i<l} s_i.
"""
from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

# Layers that change the spatial grid, and how: (kernel, stride, padding, dilation).
_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def receptive_field(layers) -> list[tuple[int, int]]:
    """The recurrence above for a list of (kernel, stride) pairs: [(rf, jump) after each layer].

    >>> receptive_field([(3, 1), (3, 1)])   # two 3x3 convs see 5x5
    [(3, 1), (5, 1)]
    """
    rf, jump, out = 1, 1, []
    for k, s in layers:
        rf, jump = rf + (k - 1) * jump, jump * s
        out.append((rf, jump))
    return out


def _pair(v) -> int:
    """Square kernels, strides and paddings only: the table reports one number per layer."""
    if isinstance(v, tuple):
        if len(set(v)) != 1:
            raise ValueError(f"layer_table handles square kernels, strides and padding; got {v}")
        return v[0]
    return v


def _geometry(module: nn.Module, in_hw, out_hw):
    """(kernel, stride, padding) of a layer on the spatial grid, or None if it has no grid (Linear)."""
    if isinstance(module, _SPATIAL):
        dil = _pair(getattr(module, "dilation", 1))
        k = _pair(module.kernel_size)
        return dil * (k - 1) + 1, _pair(module.stride), _pair(module.padding)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and in_hw and out_hw:
        (h, w), (oh, ow) = in_hw, out_hw
        if h % oh == 0 and w % ow == 0 and h // oh == w // ow:
            return h // oh, h // oh, 0          # exact tiling: an ordinary pool
        if oh % h == 0 and ow % w == 0:
            return "copy"                        # upsampling by repetition: each unit copies one input unit
        return None
    if isinstance(module, nn.Linear):
        return None
    return 1, 1, 0                               # elementwise (ReLU, BatchNorm, Dropout, LRN): grid unchanged


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return f"Conv2d {m.in_channels}->{m.out_channels} {_pair(m.kernel_size)}x{_pair(m.kernel_size)}"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{type(m).__name__} {_pair(m.kernel_size)}x{_pair(m.kernel_size)}/{_pair(m.stride)}"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}->{m.out_features}"
    return type(m).__name__


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates per image for the weights (biases, BN, ReLU and pools count 0, as torchvision's)."""
    if isinstance(m, nn.Conv2d):
        return out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return out[0].numel() * m.in_features
    return 0


@torch.no_grad()
def layer_table(model: nn.Module, input_size=(3, 224, 224), *, device=None) -> pd.DataFrame:
    """One row per layer as the model runs on one image of ``input_size`` (C, H, W).

    Columns: ``layer`` (module name), ``type``, ``output_shape`` (C, H, W), ``params``, ``macs``,
    ``activations`` (output elements per image), ``rf`` and ``jump`` (receptive-field side and effective stride in
    input pixels, by the recurrence in this module's docstring; NaN after a layer that mixes all positions, such as
    Linear), ``start`` (input coordinate of the first unit's receptive-field centre), ``inplace``.
    Works for any stack of conv / pool / norm / activation / linear layers. See ``totals`` for the sums.
    """
    if len(input_size) != 3:
        raise ValueError(f"input_size is (channels, height, width) of one image, e.g. (3, 224, 224); got {input_size}")
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    rows, seen = [], set()
    names = {m: n for n, m in model.named_modules()}
    state = {"rf": 1.0, "jump": 1.0, "start": 0.5, "hw": tuple(input_size[1:])}

    def hook(module, inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        in_hw = state["hw"]
        out_hw = tuple(out.shape[2:]) if out.dim() == 4 else None
        geo = _geometry(module, in_hw, out_hw)
        if geo is None or out_hw is None:
            state.update(rf=math.nan, jump=math.nan, start=math.nan)
        elif geo != "copy":
            k, s, p = geo
            state.update(rf=state["rf"] + (k - 1) * state["jump"],
                         start=state["start"] + ((k - 1) / 2 - p) * state["jump"],
                         jump=state["jump"] * s)
        state["hw"] = out_hw
        rows.append({
            "layer": names.get(module, type(module).__name__),
            "type": _describe(module),
            "output_shape": tuple(out.shape[1:]),
            "params": 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False)),
            "macs": _macs(module, out),
            "activations": out[0].numel(),
            "rf": state["rf"], "jump": state["jump"], "start": state["start"],
            "inplace": bool(getattr(module, "inplace", False)),
        })
        seen.add(module)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    table = pd.DataFrame(rows)
    for col in ("rf", "jump", "start"):
        table[col] = table[col].astype(float)
    return table


def totals(table: pd.DataFrame) -> pd.Series:
    """Sums of a ``layer_table``: params, macs, and activations (in-place layers share their input's memory,
    so they are not counted again; add the input image yourself if you want it)."""
    return pd.Series({
        "params": int(table["params"].sum()),
        "macs": int(table["macs"].sum()),
        "activations": int(table.loc[~table["inplace"], "activations"].sum()),
    })


def stage_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``layer_table`` at each pooling layer: the network stage by stage (pool1, pool2, ...)."""
    pools = table[table["type"].str.contains("Pool2d ")].copy()
    pools.insert(0, "stage", [f"pool{i + 1}" for i in range(len(pools))])
    return pools.reset_index(drop=True)

"""Per-layer tables and what they add up to: shapes, parameters, MACs, activations and receptive fields; the
paper's configurations side by side; forward time and memory, measured.

Counting conventions (torchvision's): a MAC is one multiply-accumulate, so a conv layer with C_in inputs, C_out
outputs, a k x k kernel and an H_out x W_out output does ``H_out * W_out * C_out * C_in * k * k`` MACs (about
twice as many FLOPs); a Linear layer ``in * out``; biases, BatchNorm, ReLU and pools count 0. Parameters: a conv
holds ``C_out * C_in * k * k + C_out``, a Linear ``in * out + out``.
"""

from __future__ import annotations

import math
import statistics

import pandas as pd
import torch
from torch import nn

from . import receptive, runtime, timing
from .models import CONFIGS, VGG, layer_names

# Layers that change the spatial grid, and how: (kernel, stride, padding, dilation).
_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


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
            return h // oh, h // oh, 0  # exact tiling: an ordinary pool
        if oh % h == 0 and ow % w == 0:
            return "copy"  # upsampling by repetition: each unit copies one input unit
        return None
    if isinstance(module, nn.Linear):
        return None
    return 1, 1, 0  # elementwise (ReLU, BatchNorm, Dropout, LRN): grid unchanged


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

    Columns: ``layer`` (module name, "features.0"), ``name`` (the paper's: conv1_1 ... conv5_3, pool1 ... pool5,
    fc6 ... fc8, from ``models.layer_names``; the module name where the paper has none), ``type``,
    ``output_shape`` (C, H, W), ``params``, ``macs``, ``activations`` (output elements per image), ``rf`` and
    ``jump`` (receptive-field side and effective stride in input pixels, by ``receptive.step``; NaN after a layer
    that mixes all positions, such as Linear), ``start`` (input coordinate of the first unit's receptive-field
    centre), ``inplace``. Works for any stack of conv / pool / norm / activation / linear layers; ``totals`` sums.
    """
    if len(input_size) != 3:
        raise ValueError(f"input_size is (channels, height, width) of one image, e.g. (3, 224, 224); got {input_size}")
    device = runtime.place(model, device)
    rows, seen = [], set()
    names = {m: n for n, m in model.named_modules()}
    paper = {}
    for short, full in layer_names(model).items():
        paper.setdefault(full, short)  # the paper's name comes first; a leaf's own name is the fallback
    state = {"rf": 1.0, "jump": 1.0, "start": 0.5, "hw": tuple(input_size[1:])}

    def hook(module, inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        in_hw = state["hw"]
        out_hw = tuple(out.shape[2:]) if out.dim() == 4 else None
        geo = _geometry(module, in_hw, out_hw)
        if geo is None or out_hw is None:
            state.update(rf=math.nan, jump=math.nan, start=math.nan)
        elif geo != "copy":
            state["rf"], state["jump"], state["start"] = receptive.step(
                state["rf"], state["jump"], state["start"], *geo
            )
        state["hw"] = out_hw
        rows.append(
            {
                "layer": names.get(module, type(module).__name__),
                "name": paper.get(names.get(module), names.get(module, type(module).__name__)),
                "type": _describe(module),
                "output_shape": tuple(out.shape[1:]),
                "params": 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False)),
                "macs": _macs(module, out),
                "activations": out[0].numel(),
                "rf": state["rf"],
                "jump": state["jump"],
                "start": state["start"],
                "inplace": bool(getattr(module, "inplace", False)),
            }
        )
        seen.add(module)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with runtime.evaluating(model):
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    table = pd.DataFrame(rows)
    for col in ("rf", "jump", "start"):
        table[col] = table[col].astype(float)
    return table


def totals(table: pd.DataFrame) -> pd.Series:
    """Sums of a ``layer_table``: params, macs, and activations (in-place layers share their input's memory,
    so they are not counted again; add the input image yourself if you want it)."""
    return pd.Series(
        {
            "params": int(table["params"].sum()),
            "macs": int(table["macs"].sum()),
            "activations": int(table.loc[~table["inplace"], "activations"].sum()),
        }
    )


def activations_by_kind(table: pd.DataFrame) -> pd.Series:
    """``totals``' activations split by the kind of layer that outputs them (``Conv2d``, ``BatchNorm2d``,
    ``MaxPool2d``, ``Linear`` ...: the first word of ``type``), in-place layers left out as there, largest first.
    A BatchNorm's output is as large as the conv output it normalises, so a network with BatchNorm after every conv
    counts its conv outputs twice: training keeps both (BatchNorm's backward needs its input), while at inference a
    BatchNorm can be folded into the conv before it, and only the conv outputs remain."""
    kept = table.loc[~table["inplace"]]
    return kept.groupby(kept["type"].str.split().str[0])["activations"].sum().astype(int).sort_values(ascending=False)


def stage_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``layer_table`` at each pooling layer: the network stage by stage (pool1, pool2, ...)."""
    pools = table[table["type"].str.contains("Pool2d ")].copy()
    pools.insert(0, "stage", [f"pool{i + 1}" for i in range(len(pools))])
    return pools.reset_index(drop=True)


@torch.no_grad()
def conv_input_stats(features: nn.Sequential, x: torch.Tensor) -> pd.DataFrame:
    """What every conv after the first receives (``conv``: its number, ``name``: the paper's, conv2_1 ...): mean, std
    and fraction of exact zeros of its input, on ``x``.

    With BN before ReLU the next conv sees rectified values (many exact zeros, mean > 0); with BN after ReLU it sees
    standardised values (mean 0, std 1 per channel at training time) and no exact zeros.
    """
    rows, conv_index, stage, in_stage = [], 0, 1, 0
    for m in features:
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            stage, in_stage = stage + 1, 0
        if isinstance(m, nn.Conv2d):
            in_stage += 1
            if conv_index > 0:
                rows.append(
                    {
                        "conv": conv_index + 1,
                        "name": f"conv{stage}_{in_stage}",
                        "mean": x.mean().item(),
                        "std": x.std().item(),
                        "zeros": (x == 0).float().mean().item(),
                    }
                )
            conv_index += 1
        x = m(x)
    return pd.DataFrame(rows)


PAPER_TABLE2_M = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
"""Simonyan & Zisserman 2014, Table 2: number of parameters (in millions) of each configuration."""


PAPER_TABLE3 = {
    "A": (29.6, 10.4),
    "A-LRN": (29.7, 10.5),
    "B": (28.7, 9.9),
    "C": (28.1, 9.4),
    "D": (27.0, 8.8),
    "E": (27.3, 9.0),
}
"""Simonyan & Zisserman 2014, Table 3: single-scale evaluation, top-1 and top-5 validation error (%) of each
configuration trained at S = 256 and tested at Q = 256 (one fixed scale, no scale jitter)."""


def config_table(input_size=(3, 224, 224), num_classes: int = 1000) -> pd.DataFrame:
    """The paper's six configurations side by side: weight layers, parameters (ours and Table 2's), GMACs at
    ``input_size``, and Table 3's top-1 / top-5 validation errors (%, S = Q = 256). Built on the meta device: no
    memory, instant."""
    rows = []
    for name in CONFIGS:
        with torch.device("meta"):
            table = layer_table(VGG(name, num_classes=num_classes), input_size)
        t = totals(table)
        rows.append(
            {
                "config": name,
                "weight_layers": int(table["type"].str.startswith(("Conv2d", "Linear")).sum()),
                "params": t["params"],
                "params_M": round(t["params"] / 1e6, 1),
                "paper_M": PAPER_TABLE2_M[name],
                "GMACs": round(t["macs"] / 1e9, 2),
                "top1_err": PAPER_TABLE3[name][0],
                "top5_err": PAPER_TABLE3[name][1],
            }
        )
    return pd.DataFrame(rows)


def where_params_and_compute(table: pd.DataFrame) -> pd.DataFrame:
    """A ``layer_table`` grouped into the conv layers, the first FC layer and the other FC layers, named as in the
    paper ("conv1_1 ... conv5_3", "fc6", "fc7 + fc8" for VGG-16): their parameters and MACs, and each one's share of
    the total."""
    names = table["name"] if "name" in table else table["layer"]
    convs = names[table["type"].str.startswith("Conv2d")]
    linears = names[table["type"].str.startswith("Linear")]
    kind = pd.Series(None, index=table.index, dtype=object)
    kind[convs.index] = f"{convs.iloc[0]} ... {convs.iloc[-1]}" if len(convs) > 1 else convs.iloc[0]
    kind[linears.index[:1]] = linears.iloc[0]
    kind[linears.index[1:]] = " + ".join(linears.iloc[1:])
    out = table.assign(group=kind).dropna(subset=["group"]).groupby("group", sort=False)[["params", "macs"]].sum()
    out["params_share"] = out["params"] / table["params"].sum()
    out["macs_share"] = out["macs"] / table["macs"].sum()
    return out


def cs231n_memory(table: pd.DataFrame, input_size=(3, 224, 224), bytes_per_value: int = 4) -> dict:
    """Activation memory per image counted CS231n's way: the input plus every conv, pool and FC output (ReLUs are
    in place; torchvision's avgpool and dropout outputs are left out, as in their table). CS231n's text says
    "24M * 4 bytes ~= 93MB / image"; its own table sums to about 15.2M values (cs231n.github.io issue #88)."""
    counted = table["type"].str.match(r"(Conv2d|MaxPool2d|Linear) ")
    values = int(table.loc[counted, "activations"].sum()) + math.prod(input_size)
    return {
        "values": values,
        "MB": values * bytes_per_value / 1e6,
        "MiB": values * bytes_per_value / 2**20,
        "claimed_values": 24_000_000,
        "claimed_MB": 93,
    }


def inference_memory_estimate(
    table: pd.DataFrame, batch_size: int, input_size=(3, 224, 224), bytes_per_value: int = 4
) -> int:
    """Bytes of activations alive at once in an inference forward (no autograd): each layer needs its input and
    its output together, earlier outputs are freed, in-place layers (ReLU) add nothing. The peak is the largest
    input + output pair, times the batch size. Weights are not included."""
    sizes = [math.prod(input_size)] + table["activations"].tolist()
    pairs = [a + (0 if inplace else b) for a, b, inplace in zip(sizes, sizes[1:], table["inplace"])]
    return max(pairs) * batch_size * bytes_per_value


def measure_forward(
    model: nn.Module, input_size=(3, 224, 224), batch_sizes=(1, 8, 32), *, device=None, repeats: int = 3
) -> pd.DataFrame:
    """Time an inference forward pass (``torch.no_grad``, eval mode) for each batch size, and its peak memory.

    Time: every batch size timed in turns (``timing.ms_in_turns``: a warm-up round, then ``repeats`` rounds of one
    pass at each size, synchronised on CUDA), the median of its rounds (``ms_min`` and ``ms_max`` give the spread).
    Memory: ``weights_MB`` is the parameters' size (always resident, whatever the batch);
    ``peak_memory_MB`` is the activations' peak on top of it: on CUDA measured as ``torch.cuda.max_memory_allocated``
    during the forward minus what was allocated before it (weights and input); elsewhere PyTorch has no allocator
    counter, so it holds ``inference_memory_estimate`` from the layer table, and ``memory_source`` says which.
    """
    device = runtime.place(model, device)
    model.eval()
    table = layer_table(model, input_size, device=device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    inputs = {batch: torch.randn(batch, *input_size, device=device) for batch in batch_sizes}
    threads = torch.get_num_threads()
    works = {batch: (timing.forward_pass(model, x), threads) for batch, x in inputs.items()}
    times = timing.ms_in_turns(works, per=1, repeats=repeats, device=device)
    rows = []
    for batch, x in inputs.items():
        if device.type == "cuda":
            memory, source = _cuda_peak(model, x), "measured (CUDA allocator)"
        else:
            memory, source = inference_memory_estimate(table, batch, input_size), "estimate (layer table)"
        ms = statistics.median(times[batch])
        rows.append(
            {
                "batch_size": batch,
                "ms_per_batch": ms,
                "ms_min": min(times[batch]),
                "ms_max": max(times[batch]),
                "images_per_s": batch / ms * 1e3,
                "weights_MB": weights / 1e6,
                "peak_memory_MB": memory / 1e6,
                "memory_source": source,
            }
        )
    return pd.DataFrame(rows)


def _cuda_peak(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes CUDA's allocator held at the peak of one inference forward pass, above what it held before."""
    torch.cuda.synchronize(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    before = torch.cuda.memory_allocated(x.device)
    timing.forward_pass(model, x)()
    torch.cuda.synchronize(x.device)
    return torch.cuda.max_memory_allocated(x.device) - before


def cost_table(divisors=(1, 2, 4, 8), sizes=(224, 96, 64, 32), **model_kw):
    """Parameters (millions) and multiply-accumulates per image (millions) of a 1-channel, 10-class VGG-11 for each
    width divisor and input size, counted by ``layer_table`` on the meta device (no memory, no time).

    Conv MACs grow as H * W (the input's area) and shrink as 1 / d^2 with the width divisor d (both channel counts of
    a conv are divided); the FC head sees a 7 x 7 map whatever the input size (``AdaptiveAvgPool2d``).
    """
    model_kw = {"hidden": 4096, "head": "fc"} | model_kw
    rows = []
    for d in divisors:
        with torch.device("meta"):
            model = VGG("A", in_channels=1, num_classes=10, width_divisor=d, **model_kw)
        for s in sizes:
            table = layer_table(model, input_size=(1, s, s))
            t = totals(table)
            conv = int(table.loc[table["type"].str.startswith("Conv"), "macs"].sum())
            rows.append(
                dict(
                    width_divisor=d, size=s, params_M=t["params"] / 1e6, MACs_M=t["macs"] / 1e6, conv_MACs_M=conv / 1e6
                )
            )
    return pd.DataFrame(rows)

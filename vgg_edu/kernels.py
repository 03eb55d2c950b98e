"""3x3 stacks against one large kernel: the same receptive field, fewer weights and MACs, and the time per MAC.

A stack of n 3x3 convs (C -> C channels, padding 1) sees (2n + 1) x (2n + 1) pixels, like one (2n + 1)^2 conv
(paper, Sec. 2.3). On an H x W map per image::

    n 3x3 convs:        weights 9 n C^2,        MACs 9 n C^2 H W
    one k x k conv:     weights k^2 C^2,        MACs k^2 C^2 H W          (k = 2n + 1: 25 for n = 2, 49 for n = 3)

So the stack does less work (18/25 and 27/49 of it). Whether each MAC also runs *faster* (the practical-tips
source: "3x3 convolutions run about 15-20% faster than large kernels on GPUs", cuDNN's Winograd kernels for 3x3)
depends on the library and the machine: ``time_per_mac`` measures it with ``torch.utils.benchmark``.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from torch.utils import benchmark

from .analysis import layer_table, totals


def three_by_three_stack(n: int, channels: int) -> nn.Sequential:
    """``n`` 3x3 convs with padding 1, C -> C (no ReLUs between them: the timing is of the convolutions alone)."""
    return nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=1) for _ in range(n)])


def large_kernel(k: int, channels: int) -> nn.Sequential:
    """One k x k conv with padding k // 2, C -> C: the same receptive field as (k - 1) / 2 stacked 3x3 convs."""
    return nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2))


def _timed(layers: nn.Module, x: torch.Tensor, backward: bool, min_run_time: float) -> float:
    """Median seconds per call (``torch.utils.benchmark`` synchronises CUDA and picks the repeats)."""
    if backward:
        stmt = "layers(x).sum().backward()"
    else:
        stmt = "with torch.no_grad(): layers(x)"
    timer = benchmark.Timer(stmt=stmt, globals=dict(layers=layers, x=x, torch=torch))
    return timer.blocked_autorange(min_run_time=min_run_time).median


def time_per_mac(
    channels: int = 64,
    size: int = 56,
    batch_size: int = 8,
    *,
    stacks=(2, 3),
    device=None,
    backward: bool = False,
    min_run_time: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """For each n in ``stacks``: n stacked 3x3 convs and one (2n + 1) x (2n + 1) conv on a batch of C x size x
    size maps, timed (forward, or forward + backward). One row per network: receptive field, weights, MACs per
    image (``analysis.layer_table``), ms per batch, ns per MAC per image, and ``speed_per_mac`` = the large
    kernel's time per MAC over the stack's (above 1: each 3x3 MAC is cheaper)."""
    if min(channels, size, batch_size) < 1:
        raise ValueError(f"channels, size and batch_size must be at least 1; got {channels}, {size}, {batch_size}")
    if not stacks or any(int(n) != n or n < 1 for n in stacks):
        raise ValueError(f"stacks must be whole numbers of 3x3 convs, at least 1 each (e.g. (2, 3)); got {stacks}")
    device = torch.device(device if device is not None else "cpu")
    torch.manual_seed(seed)
    x = torch.randn(batch_size, channels, size, size, device=device)
    rows = []
    for n in stacks:
        k = 2 * n + 1
        pair = {}
        for name, layers in (
            (f"{n} x 3x3", three_by_three_stack(n, channels)),
            (f"1 x {k}x{k}", large_kernel(k, channels)),
        ):
            layers = layers.to(device)
            t = totals(layer_table(layers, (channels, size, size), device=device))
            seconds = _timed(layers, x, backward, min_run_time)
            pair[name] = seconds / (t["macs"] * batch_size)
            rows.append(
                dict(network=name, receptive_field=k, weights=t["params"], macs=t["macs"],
                     ms_per_batch=seconds * 1e3, ns_per_mac=pair[name] * 1e9)
            )  # fmt: skip
        rows[-2]["speed_per_mac"] = pair[f"1 x {k}x{k}"] / pair[f"{n} x 3x3"]
        rows[-1]["speed_per_mac"] = 1.0
    return pd.DataFrame(rows)

"""3x3 stacks against one large kernel: the same receptive field, fewer weights and MACs, and the time per MAC.

A stack of n 3x3 convs (C -> C channels, padding 1) sees (2n + 1) x (2n + 1) pixels, like one (2n + 1)^2 conv
(paper, Sec. 2.3). On an H x W map per image::

    n 3x3 convs:        weights 9 n C^2,        MACs 9 n C^2 H W
    one k x k conv:     weights k^2 C^2,        MACs k^2 C^2 H W          (k = 2n + 1: 25 for n = 2, 49 for n = 3)

So the stack does less work (18/25 and 27/49 of it). Whether each MAC also runs *faster* (the practical-tips
source: "3x3 convolutions run about 15-20% faster than large kernels on GPUs", cuDNN's Winograd kernels for 3x3)
depends on the library and the machine: ``time_per_mac`` measures it, every network timed in turns
(``timing.median_ms_in_turns``), so that a change in a shared machine's load hits all of them alike.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from . import timing
from .analysis import layer_table, totals


def three_by_three_stack(n: int, channels: int) -> nn.Sequential:
    """``n`` 3x3 convs with padding 1, C -> C (no ReLUs between them: the timing is of the convolutions alone)."""
    return nn.Sequential(*[nn.Conv2d(channels, channels, 3, padding=1) for _ in range(n)])


def large_kernel(k: int, channels: int) -> nn.Sequential:
    """One k x k conv with padding k // 2, C -> C: the same receptive field as (k - 1) / 2 stacked 3x3 convs."""
    return nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2))


def time_per_mac(
    channels: int = 64,
    size: int = 56,
    batch_size: int = 8,
    *,
    stacks=(2, 3),
    device=None,
    backward: bool = False,
    repeats: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """For each n in ``stacks``: n stacked 3x3 convs and one (2n + 1) x (2n + 1) conv on a batch of C x size x
    size maps, timed (forward, or forward + backward): a warm-up round, then ``repeats`` rounds of one call of each
    network in turns, on this process's thread count; medians. One row per network: receptive field, weights, MACs per
    image (``analysis.layer_table``), ms per batch, ns per MAC per image, and the stack's speed against its large
    kernel read two ways: ``speed_per_batch`` = the large kernel's time over the stack's (above 1: the stack takes
    less time for the same receptive field) and ``speed_per_mac`` = the large kernel's time per MAC over the stack's
    (above 1: each 3x3 MAC is cheaper)."""
    if min(channels, size, batch_size) < 1:
        raise ValueError(f"channels, size and batch_size must be at least 1; got {channels}, {size}, {batch_size}")
    if not stacks or any(int(n) != n or n < 1 for n in stacks):
        raise ValueError(f"stacks must be whole numbers of 3x3 convs, at least 1 each (e.g. (2, 3)); got {stacks}")
    device = torch.device(device if device is not None else "cpu")
    torch.manual_seed(seed)
    x = torch.randn(batch_size, channels, size, size, device=device)
    networks = {}
    for n in stacks:
        k = 2 * n + 1
        networks[f"{n} x 3x3"] = (k, three_by_three_stack(n, channels).to(device))
        networks[f"1 x {k}x{k}"] = (k, large_kernel(k, channels).to(device))
    threads = torch.get_num_threads()
    step = timing.training_step if backward else timing.forward_pass
    works = {name: (step(layers, x), threads) for name, (_, layers) in networks.items()}
    ms = timing.median_ms_in_turns(works, per=1, repeats=repeats, device=device)
    rows = []
    for name, (k, layers) in networks.items():
        t = totals(layer_table(layers, (channels, size, size), device=device))
        rows.append(dict(network=name, receptive_field=k, weights=t["params"], macs=t["macs"], ms_per_batch=ms[name],
                         ns_per_mac=ms[name] * 1e6 / (t["macs"] * batch_size)))  # fmt: skip
    for stack, large in zip(rows[::2], rows[1::2]):
        stack["speed_per_batch"], large["speed_per_batch"] = large["ms_per_batch"] / stack["ms_per_batch"], 1.0
        stack["speed_per_mac"], large["speed_per_mac"] = large["ns_per_mac"] / stack["ns_per_mac"], 1.0
    return pd.DataFrame(rows)

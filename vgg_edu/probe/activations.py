"""Capturing activations: forward hooks (``capture``) or torchvision's FX ``create_feature_extractor``
(``extract``); each ReLU's width (``layer_widths``) and every channel's statistics (``channel_stats``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import runtime
from .layers import _as_batch, _chunks, _hooks, relu_layers, resolve


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor, layers, *, clone: bool = True, device=None) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` and return {layer: its output}, recorded by forward hooks.

    ``clone=False`` shows the in-place pitfall: a hook that keeps a conv's output without copying it keeps a
    tensor that the following ``ReLU(inplace=True)`` then overwrites, so it ends up holding the post-ReLU values.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    store: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, inputs, output):
            store[name] = output.detach().clone() if clone else output.detach()  # detach() shares memory

        return hook

    with runtime.evaluating(model), _hooks([(resolve(model, name)[1], keep(name)) for name in layers]):
        model(x.to(device))
    return {name: store[name][0] if single else store[name] for name in layers}


class _Traceable(nn.Module):
    """A VGG without its input checks (their Python ``if`` cannot be traced by torch.fx); the same modules."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.features, self.avgpool, self.classifier = model.features, model.avgpool, model.classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@torch.no_grad()
def extract(model: nn.Module, x: torch.Tensor, layers, *, device=None) -> dict[str, torch.Tensor]:
    """Like ``capture``, with torchvision's ``create_feature_extractor``: torch.fx traces the model into a graph
    and returns the requested nodes as extra outputs, no hooks.

    The traced graph calls the same in-place ReLUs, so the same pitfall applies whenever a node after a conv's
    ReLU is requested too (the graph is cut after the last requested node): this function switches ``inplace``
    off while it runs (and back on after), so that a conv's output is returned as computed.

    ``VGG.forward`` checks its input with Python ``if``s, which ``torch.fx`` cannot trace: the checks run here
    first, then a copy of the forward without them (``_Traceable``, on the same modules) is traced.
    """
    from torchvision.models.feature_extraction import create_feature_extractor

    layers = [layers] if isinstance(layers, str) else list(layers)
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    nodes = {resolve(model, name)[0]: name for name in layers}
    if hasattr(model, "check_input"):  # the traced graph skips forward's checks: the same clear errors first
        model.check_input(x.to(device))
    traceable = _Traceable(model) if hasattr(model, "check_input") else model
    inplace = [m for m in model.modules() if getattr(m, "inplace", False)]
    with runtime.evaluating(model):
        extractor = create_feature_extractor(traceable.eval(), return_nodes=nodes)  # eval: BN running stats
        try:
            for m in inplace:
                m.inplace = False
            out = extractor(x.to(device))
        finally:
            for m in inplace:
                m.inplace = True
    return {name: out[name][0] if single else out[name] for name in layers}


@torch.no_grad()
def layer_widths(model: nn.Module, x: torch.Tensor, layers=None) -> dict[str, int]:
    """The number of channels of each layer (default: every ReLU of ``features``) on input ``x``: the range a
    channel control may take."""
    layers = relu_layers(model) if layers is None else list(layers)
    x, _ = _as_batch(x, model)
    return {name: a.shape[1] for name, a in capture(model, x[:1], layers).items()}


@torch.no_grad()
def channel_stats(
    model: nn.Module, x: torch.Tensor, layers=None, *, batch_size: int = 256, device=None
) -> pd.DataFrame:
    """Per channel of each layer, over all images and positions: ``mean`` activation and ``zero_fraction``
    (share of exact zeros: after a ReLU, how often the unit is off; ``dead`` when it is always off).

    ``layers`` defaults to every ReLU in ``features`` (``relu_layers``), so the rows run from shallow to deep.
    """
    layers = relu_layers(model) if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    x, _ = _as_batch(x, model)
    sums: dict[str, torch.Tensor] = {}
    zeros: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = dict.fromkeys(layers, 0)
    for i in _chunks(len(x), batch_size, "channel stats"):
        acts = capture(model, x[i : i + batch_size], layers, device=device)
        for name, a in acts.items():
            a = a.flatten(2) if a.dim() > 2 else a.unsqueeze(2)  # N x C x positions
            sums[name] = sums.get(name, 0) + a.double().sum((0, 2)).cpu()
            zeros[name] = zeros.get(name, 0) + (a == 0).sum((0, 2)).double().cpu()
            counts[name] += a.shape[0] * a.shape[2]
    rows = []
    for depth, name in enumerate(layers):
        mean, zf = (sums[name] / counts[name]).numpy(), (zeros[name] / counts[name]).numpy()
        rows.append(
            pd.DataFrame(
                {
                    "layer": name,
                    "depth": depth,
                    "channel": np.arange(len(mean)),
                    "mean": mean,
                    "zero_fraction": zf,
                    "dead": zf == 1.0,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)

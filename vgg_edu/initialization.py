"""Initialising a deep VGG: the paper's N(0, 0.01), Xavier, Kaiming, and what each does to the signal by depth.

A conv layer l with fan-in n_l = C_in * k * k and weights drawn with variance v_l gives pre-activations y_l with
(He et al. 2015, eq. 7, zero-mean weights, biases 0, ReLU before the layer)::

    Var(y_l) = n_l * v_l * E[x_l^2],    E[x_l^2] = Var(y_{l-1}) / 2    (ReLU keeps half of a symmetric y)

so each layer multiplies the variance by ``n_l * v_l / 2``:

- "std=0.01": N(0, 0.01^2), "N(0, 0.01)" read as a standard deviation (as torchvision initialises its linear
             layers). For VGG-16's conv3 (n = 9 * 256): gain 0.115 per layer: the signal vanishes.
- "std=0.1":  N(0, 10^-2) as the paper writes it: "sampled from a normal distribution with the zero mean and
             10^-2 variance", std 0.1. For VGG-16's conv3: gain 11.5 per layer: the signal explodes. The paper
             trained net A from random weights and initialised the deeper nets from A (``init_from_shallower``);
             it adds that, after submission, Glorot & Bengio's init was found to work without that pre-training.
- "xavier":  Glorot & Bengio 2010, uniform with v = 2 / (fan_in + fan_out): gain about 1/2 per layer under ReLU.
- "kaiming_fan_out": He et al. 2015, normal with v = 2 / fan_out (torchvision's convs, the post's ``mode="fan_out"``);
             gain 1 per layer when C_in = C_out. Linear layers N(0, 0.01), as torchvision's.

The names are ``models.INIT_SCHEMES``'s and ``models.init_weights`` draws them; this module compares them.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import runtime
from .models import init_weights, layer_names
from .training.recipes import build_model

COMPARED = ("std=0.01", "std=0.1", "xavier", "kaiming_fan_out")
"""The four initialisations notebook 06 compares (names from ``models.INIT_SCHEMES``, drawn by
``models.init_weights``): two fixed standard deviations, Xavier, Kaiming."""


def _conv_names(model: nn.Module) -> dict[nn.Module, str]:
    modules = dict(model.named_modules())
    return {modules[m]: n for n, m in layer_names(model).items() if n.startswith("conv")}


def predicted_scale(model: nn.Module, input_std: float = 1.0) -> pd.DataFrame:
    """The std of each conv's pre-activation by the variance recurrence of the module docstring, from the weights
    actually drawn (their empirical variance), pools ignored. One row per conv: layer (conv1_1 ...), fan_in,
    gain (n * v / 2, the first layer's n * v, since its input is not rectified), predicted_std."""
    rows, var = [], input_std**2
    for m, name in _conv_names(model).items():
        fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
        gain = fan_in * float(m.weight.detach().var()) / (1 if not rows else 2)
        var *= gain
        rows.append(dict(layer=name, fan_in=fan_in, gain=gain, predicted_std=math.sqrt(var)))
    return pd.DataFrame(rows)


def scale_by_depth(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    """Measured on one batch: the std of each conv's output (pre-activation) in the forward pass, and after one
    backward pass of the cross-entropy the std of its weight gradient and the ratio grad std / weight std (how
    far one SGD step moves that layer, per unit of learning rate). One row per conv, the paper's names."""
    names, stats, handles = _conv_names(model), {}, []

    def keep(name):
        def hook(module, inputs, output):  # before the in-place ReLU rewrites the output
            stats[name] = float(output.detach().float().std())

        return hook

    for m, name in names.items():
        handles.append(m.register_forward_hook(keep(name)))
    model.zero_grad(set_to_none=True)
    try:
        with runtime.evaluating(model, training=True):
            F.cross_entropy(model(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    rows = []
    for m, name in names.items():
        grad_std = float(m.weight.grad.std())
        rows.append(
            dict(
                layer=name,
                activation_std=stats[name],
                grad_std=grad_std,
                grad_to_weight=grad_std / float(m.weight.detach().std()),
            )
        )
    model.zero_grad(set_to_none=True)
    return pd.DataFrame(rows)


A_TO_DEEPER = ("conv1_1", "conv2_1", "conv3_1", "conv3_2")
"""Where net A's first four convs go in a deeper net: the paper initialised "the first four convolutional layers
and the last three fully-connected layers with the layers of net A" without saying which layers of the deeper net
received them. This is the reading in which each has a twin of the same shape in B, D and E (A's conv2_1 is
64 -> 128, so is D's conv2_1; D's conv1_2 is 64 -> 64 and has no twin in A)."""


def init_from_shallower(deeper: nn.Module, shallower: nn.Module) -> nn.Module:
    """Copy ``shallower``'s (net A's) first four convs into ``deeper`` at ``A_TO_DEEPER``, and its classifier
    (the FC layers) whole, as the paper did; the other layers keep their own init. Returns ``deeper``."""
    src, dst = layer_names(shallower), layer_names(deeper)
    a_convs = [n for n in src if n.startswith("conv")][: len(A_TO_DEEPER)]
    modules_src, modules_dst = dict(shallower.named_modules()), dict(deeper.named_modules())
    pairs = [(modules_src[src[a]], modules_dst[dst[d]]) for a, d in zip(a_convs, A_TO_DEEPER)]
    pairs += [(shallower.classifier, deeper.classifier)]
    for a, d in pairs:
        a_state, d_state = a.state_dict(), d.state_dict()
        if {k: v.shape for k, v in a_state.items()} != {k: v.shape for k, v in d_state.items()}:
            raise ValueError(f"{a} and {d} differ in shape: the nets need the same widths and head")
        d.load_state_dict(a_state)
    return deeper


def narrow_vgg(
    config="D", scheme: str = "kaiming_fan_out", *, batch_norm: bool = False, data=None, seed: int = 0, **kw
):
    """The classroom network's shape (1 channel, 10 classes, 32 px inputs, global-average-pool head) at width / 8
    (half the classroom's: these experiments train many networks) as configuration ``config``, without dropout,
    initialised by ``scheme``; seeded. ``kw`` go to ``build_model``."""
    kw = {"width_divisor": 8} | kw
    model = build_model("classroom", config=config, batch_norm=batch_norm, dropout=0.0, data=data, seed=seed, **kw)
    torch.manual_seed(seed)
    return init_weights(model, scheme)

"""d2l's VGG, as the book writes it (Dive into Deep Learning, 1.0, "Networks Using Blocks (VGG)").

Notebook 02 shows this file's ``vgg_block`` and ``VGG`` with ``inspect.getsource`` and builds them beside
``vgg_edu``'s. The book's chapter code is not in the ``d2l`` package (only ``Classifier`` and ``init_cnn`` are), and
this package never imports ``d2l`` (its pinned numpy and pandas break Python 3.12), so the two helpers the code needs
are written here the way d2l 1.0.3 writes them; ``tests/test_d2l_reference.py`` checks them against the real package
when it is installed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import torch
from torch import nn

from . import models


class Classifier(nn.Module):
    """What the book's VGG uses of ``d2l.Classifier``: ``save_hyperparameters``, ``forward`` through ``self.net``
    and ``apply_init`` (one forward pass to materialise the lazy layers, then the initialiser)."""

    def save_hyperparameters(self):
        pass

    def forward(self, x):
        return self.net(x)

    def apply_init(self, inputs, init=None):
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


def init_cnn(module):
    """d2l's ``init_cnn``: Xavier-uniform weights for Linear and Conv2d layers."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


d2l = SimpleNamespace(Classifier=Classifier, init_cnn=init_cnn)  # the book's code says d2l.Classifier, d2l.init_cnn


# ---- the book's code, as printed --------------------------------------------------------------------------------


def vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(d2l.Classifier):
    def __init__(self, arch, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        conv_blks = []
        for num_convs, out_channels in arch:
            conv_blks.append(vgg_block(num_convs, out_channels))
        self.net = nn.Sequential(
            *conv_blks,
            nn.Flatten(),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.LazyLinear(num_classes),
        )
        self.net.apply(d2l.init_cnn)


# ---- side by side with vgg_edu -----------------------------------------------------------------------------------

VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
"""d2l's ``conv_arch`` for VGG-11: (number of convs, channels) per stage."""


def build(arch=VGG11_ARCH, *, num_classes: int = 10, input_size=(1, 224, 224)) -> VGG:
    """The book's VGG for ``arch``, its lazy layers materialised on one ``input_size`` image and initialised as
    the book does (``model.apply_init([x], d2l.init_cnn)``)."""
    model = VGG(list(arch), num_classes=num_classes)
    with torch.no_grad():
        model.apply_init([torch.zeros(1, *input_size)], d2l.init_cnn)
    return model


def compare(arch=VGG11_ARCH, *, num_classes: int = 10, in_channels: int = 1, size: int = 224) -> pd.DataFrame:
    """d2l's VGG and ``vgg_edu``'s for the same ``arch``: parameters and output shape, side by side. At 224 px the
    two are the same network (ours adds an ``AdaptiveAvgPool2d((7, 7))``, the identity on a 7x7 map)."""
    ours = models.VGG([c for n, ch in arch for c in [ch] * n + ["M"]], num_classes=num_classes, in_channels=in_channels)
    theirs = build(arch, num_classes=num_classes, input_size=(in_channels, size, size))
    x = torch.zeros(1, in_channels, size, size)
    with torch.no_grad():
        shapes = [tuple(theirs.eval()(x).shape), tuple(ours.eval()(x).shape)]
    return pd.DataFrame(
        {
            "model": ["d2l's VGG (the book's code)", "vgg_edu's VGG"],
            "params": [sum(p.numel() for p in m.parameters()) for m in (theirs, ours)],
            "output_shape": shapes,
        }
    )

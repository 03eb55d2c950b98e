"""The book's VGG code, as the course shows it, against our VGG and against the real d2l package when installed."""

import inspect
import math

import pytest
import torch

from vgg_edu import d2l_reference
from vgg_edu.models import VGG
from vgg_edu.training.recipes import build_model, recipe


def test_d2l_vgg_has_our_parameter_count():
    arch = ((1, 8), (1, 16))
    table = d2l_reference.compare(arch, size=28)
    # independent count: two convs, then three FC layers on 16 x 7 x 7
    expected = (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (784 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)
    assert table["params"].tolist() == [expected, expected]
    assert table["output_shape"].tolist() == [(1, 10), (1, 10)]


def test_the_books_network_layer_by_layer():
    model = d2l_reference.build(((1, 8),), input_size=(1, 14, 14))
    assert [type(m).__name__ for m in model.net] == [
        "Sequential",
        "Flatten",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert [type(m).__name__ for m in model.net[0]] == ["Conv2d", "ReLU", "MaxPool2d"]
    w = model.net[2].weight  # xavier_uniform: bound sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= math.sqrt(6 / (8 * 49 + 4096)) and w.std() > 0.01


def test_the_source_shown_is_the_books_block():
    source = inspect.getsource(d2l_reference.vgg_block)
    assert "nn.LazyConv2d(out_channels, kernel_size=3, padding=1)" in source
    assert "nn.MaxPool2d(kernel_size=2, stride=2)" in source
    assert "class VGG(d2l.Classifier)" in inspect.getsource(d2l_reference.VGG)


def test_the_helpers_match_the_real_d2l():
    """Our two stand-ins behave as d2l 1.0.3's own: the same model, built on the real d2l.Classifier, gets the
    same weights from the same seed."""
    d2l = pytest.importorskip("d2l.torch", reason="d2l is not installed (the README's set-up installs it)")
    namespace = {"nn": torch.nn, "d2l": d2l, "vgg_block": d2l_reference.vgg_block}
    exec(inspect.getsource(d2l_reference.VGG), namespace)  # the book's class, on the real base class
    arch, x = ((1, 4), (1, 8)), torch.zeros(1, 1, 16, 16)
    torch.manual_seed(0)
    real = namespace["VGG"](list(arch))
    real.apply_init([x], d2l.init_cnn)
    torch.manual_seed(0)
    ours = d2l_reference.build(arch, input_size=(1, 16, 16))
    assert isinstance(real, d2l.Classifier)
    for (name, a), b in zip(real.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), name


def _book_vgg(conv_arch):
    """Edition 0.17's ``vgg`` (the d2l recipe's source), as the book prints it: fresh layers, PyTorch's init."""

    def vgg_block(num_convs, in_channels, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(torch.nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
            layers.append(torch.nn.ReLU())
            in_channels = out_channels
        layers.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
        return torch.nn.Sequential(*layers)

    conv_blks, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    nn = torch.nn
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10),
    )  # fmt: skip


def test_the_d2l_recipe_starts_from_the_books_initialisation():
    """The book's network (edition 0.17's code, fresh layers) initialised by d2l's own ``init_cnn`` (what
    ``train_ch6`` applies), from the same random state: the recipe's weights and biases, draw for draw. The biases
    keep PyTorch's default; the "xavier" scheme, which zeroes them, is not the book's."""
    d2l = pytest.importorskip("d2l.torch", reason="d2l is not installed (the README's set-up installs it)")
    ours = build_model("d2l", seed=3)
    kw = {k: v for k, v in recipe("d2l").model.items() if k not in ("init", "input_size")}
    torch.manual_seed(3)
    VGG("A", in_channels=1, num_classes=10, **kw)  # build_model's draws before the init: the same random state
    book = _book_vgg([(n, c // 4) for n, c in d2l_reference.VGG11_ARCH])
    book.apply(d2l.init_cnn)
    pairs = list(zip(ours.parameters(), book.parameters(), strict=True))
    assert len(pairs) == 2 * 11  # 8 convs and 3 linear layers, weight and bias each
    for i, (a, b) in enumerate(pairs):
        assert a.shape == b.shape and torch.equal(a, b), i
    fc8 = ours.classifier[-1]
    assert fc8.bias.abs().max() <= 1 / math.sqrt(fc8.in_features) and fc8.bias.abs().min() > 0  # PyTorch's default
    zeroed = build_model("d2l", seed=3, init="xavier")
    assert not zeroed.classifier[-1].bias.any()

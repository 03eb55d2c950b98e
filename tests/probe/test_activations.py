"""``vgg_edu.probe.activations``: captured activations against a forward written out by hand, hooks against
torch.fx, per-channel statistics against a direct computation."""

import numpy as np
import pytest
import torch
from torch import nn

from vgg_edu import probe as P
from vgg_edu.models import VGG
from vgg_edu.probe.activations import _Traceable


def _manual(model, x, upto):
    """Run features[0..upto] by hand, with out-of-place ReLUs: the reference for captured activations."""
    with torch.no_grad():
        for m in model.features[: upto + 1]:
            x = torch.relu(x) if isinstance(m, nn.ReLU) else m(x)
    return x


def test_hook_capture_equals_manual_forward(model, x):
    acts = P.capture(model, x, ["conv1_1", "conv3_2", "relu3_2", "pool4"])
    assert torch.allclose(acts["conv1_1"], _manual(model, x, 0), atol=1e-6)
    assert torch.allclose(acts["conv3_2"], _manual(model, x, 8), atol=1e-5)
    assert torch.allclose(acts["relu3_2"], _manual(model, x, 9), atol=1e-5)
    assert acts["pool4"].shape == (4, 32, 2, 2)
    fx = P.extract(model, x, ["conv1_1", "conv3_2", "pool4"])
    for name in fx:
        assert torch.allclose(fx[name], acts[name], atol=1e-5)
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))  # extract restores inplace


def test_capture_and_extract_agree_with_batch_norm_and_dropout(x):
    torch.manual_seed(0)
    bn = VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64, batch_norm=True)
    for m in bn.modules():
        if isinstance(m, nn.BatchNorm2d):  # running statistics unlike a batch's own
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    bn.train()
    layers = ["bn1_1", "relu3_2", "fc7"]
    hooks, fx = P.capture(bn, x, layers), P.extract(bn, x, layers)
    assert bn.training  # the mode is restored
    bn.eval()
    with torch.no_grad():
        a = bn.features[:2](x)
        f7 = bn.classifier[:4](torch.flatten(bn.avgpool(bn.features(x)), 1))
    assert torch.allclose(hooks["bn1_1"], a, atol=1e-5) and a.min() < 0
    assert torch.allclose(hooks["fc7"], f7, atol=1e-5)  # eval mode: no dropout
    for name in layers:
        assert torch.allclose(fx[name], hooks[name], atol=1e-5)


def test_inplace_relu_pitfall(model, x):
    conv = _manual(model, x, 0)
    assert conv.min() < 0  # the conv's real output has negatives
    uncloned = P.capture(model, x, "conv1_1", clone=False)["conv1_1"]
    assert uncloned.min() == 0 and torch.allclose(uncloned, conv.relu())  # ...but the kept tensor was overwritten
    assert torch.allclose(P.capture(model, x, "conv1_1")["conv1_1"], conv)  # clone() keeps what the conv computed
    # torch.fx has the same pitfall as soon as a later node is asked for too: the traced graph then runs the
    # in-place ReLU on the conv's output (asked alone, the graph is cut after the conv and no ReLU runs).
    from torchvision.models.feature_extraction import create_feature_extractor

    fx = create_feature_extractor(_Traceable(model), {"features.0": "conv", "features.2": "pool1"})
    assert torch.allclose(fx(x)["conv"], conv.relu())
    assert torch.allclose(P.extract(model, x, ["conv1_1", "pool1"])["conv1_1"], conv)


def test_channel_stats_match_a_direct_computation(model, x):
    stats = P.channel_stats(model, x, batch_size=3)  # two batches: the sums must add up
    assert list(dict.fromkeys(stats["layer"])) == P.relu_layers(model)
    a = _manual(model, x, 4)  # relu2_1
    row = stats[stats["layer"] == "relu2_1"]
    assert np.allclose(row["mean"], a.mean((0, 2, 3)).numpy(), atol=1e-5)
    assert np.allclose(row["zero_fraction"], (a == 0).float().mean((0, 2, 3)).numpy())
    assert (row["depth"] == 1).all() and len(row) == 8


def test_extract_refuses_float64_input_as_capture_does():
    model = VGG("A", width_divisor=16, in_channels=1, num_classes=10, head="gap").eval()
    x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    for fn in (P.capture, P.extract):
        with pytest.raises(ValueError, match="float64"):
            fn(model, x, ["features.0"])

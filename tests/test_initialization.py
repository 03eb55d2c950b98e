"""Initialisation schemes against their formulas; the variance recurrence against a measured forward pass; net A's
layers copied into D where the paper puts them."""

import math

import pytest
import torch
from torch import nn

from vgg_edu import initialization
from vgg_edu.models import INIT_SCHEMES, VGG, init_weights

pytestmark = pytest.mark.usefixtures("one_thread")


def _convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(
    "scheme, expected_std",
    [
        ("std=0.01", lambda m: 0.01),
        ("std=0.1", lambda m: 0.1),
        ("kaiming_fan_out", lambda m: math.sqrt(2 / (m.out_channels * 9))),  # fan_out, relu
        ("xavier", lambda m: math.sqrt(2 / ((m.in_channels + m.out_channels) * 9))),  # uniform, same variance
    ],
)
def test_each_scheme_draws_the_std_of_its_formula(scheme, expected_std):
    torch.manual_seed(0)
    model = init_weights(VGG("A", width_divisor=2, num_classes=10, head="gap"), scheme)
    for m in _convs(model)[2:]:  # layers with at least 64 * 128 * 9 weights: the sample std is within 2%
        assert float(m.weight.detach().std()) == pytest.approx(expected_std(m), rel=0.02), (scheme, m)
        assert torch.all(m.bias == 0)


def test_unknown_scheme_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="kaiming_fan_out"):
        init_weights(VGG("A", num_classes=10, head="gap"), "he")


def test_one_vocabulary_and_the_fixed_stds_draw_what_they_always_drew():
    assert set(initialization.COMPARED) <= set(INIT_SCHEMES)  # notebook 06's four, by the one table's names
    with pytest.raises(ValueError, match="unknown init scheme 'torchvision'"):  # one name per scheme
        init_weights(VGG("A", width_divisor=8, num_classes=10, head="gap"), "torchvision")
    torch.manual_seed(3)
    model = init_weights(VGG("A", width_divisor=8, num_classes=10, head="gap"), "std=0.1")
    torch.manual_seed(3)
    reference = init_weights(VGG("A", width_divisor=8, num_classes=10, head="gap"), "kaiming_fan_out")
    for m in reference.modules():  # what initialization.initialize did before the vocabularies were one
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.1)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def test_predicted_scale_follows_the_recurrence_and_matches_a_measured_forward():
    """Pools aside (config without them), the recurrence predicts the measured std of every conv's output."""
    torch.manual_seed(0)
    model = init_weights(VGG([64] * 6, in_channels=16, num_classes=10, head="gap"), "kaiming_fan_out")
    predicted = initialization.predicted_scale(model)
    w = [float(m.weight.detach().var()) for m in _convs(model)]
    assert predicted["gain"].iloc[0] == pytest.approx(16 * 9 * w[0])  # the image is not rectified
    assert predicted["gain"].iloc[3] == pytest.approx(64 * 9 * w[3] / 2)
    x, y = torch.randn(8, 16, 24, 24), torch.randint(0, 10, (8,))
    measured = initialization.scale_by_depth(model, x, y)
    assert list(measured["layer"]) == [f"conv1_{i}" for i in range(1, 7)]
    ratio = measured["activation_std"] / predicted["predicted_std"]
    assert ratio.between(0.8, 1.25).all(), ratio  # zero padding at the border lowers it a little


def test_scale_by_depth_shows_the_vanishing_signal_of_std_001():
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 32, 32), torch.randint(0, 10, (4,))
    small = initialization.scale_by_depth(initialization.narrow_vgg("D", "std=0.01"), x, y)
    he = initialization.scale_by_depth(initialization.narrow_vgg("D", "kaiming_fan_out"), x, y)
    assert small["activation_std"].iloc[-1] < 1e-12 < 1e-2 < he["activation_std"].iloc[-1]
    assert (he["grad_std"] > 0).all()


def test_init_from_shallower_copies_the_papers_layers_only():
    a = initialization.narrow_vgg("A", "kaiming_fan_out", seed=1)
    d = initialization.narrow_vgg("D", "std=0.01", seed=2)
    before = {k: v.clone() for k, v in d.state_dict().items()}
    initialization.init_from_shallower(d, a)
    names_a, names_d = (dict(m.named_modules()) for m in (a, d))
    from vgg_edu.models import layer_names

    la, ld = layer_names(a), layer_names(d)
    for src, dst in zip(["conv1_1", "conv2_1", "conv3_1", "conv3_2"], initialization.A_TO_DEEPER):
        assert torch.equal(names_d[ld[dst]].weight, names_a[la[src]].weight)
    assert torch.equal(d.classifier[-1].weight, a.classifier[-1].weight)
    untouched = ld["conv1_2"] + ".weight"
    assert torch.equal(d.state_dict()[untouched], before[untouched])


def test_init_from_shallower_refuses_other_widths():
    a = initialization.narrow_vgg("A", "kaiming_fan_out", width_divisor=16)
    with pytest.raises(ValueError, match="same widths"):
        initialization.init_from_shallower(initialization.narrow_vgg("D"), a)

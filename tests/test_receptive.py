"""The receptive-field recurrence and the effective receptive field, against closed forms, gradients and the
published fields of VGG-16."""

import pytest
import torch
from torch import nn

from vgg_edu import models, receptive
from vgg_edu.analysis import layer_table, stage_table
from vgg_edu.receptive import receptive_field

from conftest import on_meta


def test_receptive_fields_at_pool5_match_published():
    assert stage_table(layer_table(on_meta(models.vgg16)))["rf"].tolist() == [6, 16, 44, 100, 212]
    vgg11 = stage_table(layer_table(on_meta(models.vgg11)))
    assert vgg11["rf"].iloc[-1] == 150 and vgg11["jump"].iloc[-1] == 32


def test_recurrence_matches_closed_form_and_backward_recurrence():
    layers = [(3, 1), (3, 1), (2, 2), (5, 1), (3, 2), (7, 3), (2, 2)]
    rf, jump = receptive_field(layers)[-1]
    closed = 1
    prod = 1
    for k, s in layers:
        closed += (k - 1) * prod
        prod *= s
    backward = 1  # r_{l-1} = s_l * r_l + (k_l - s_l), from the output unit back to the input
    for k, s in reversed(layers):
        backward = s * backward + (k - s)
    assert rf == closed == backward and jump == prod


def test_receptive_field_equals_gradient_support():
    """Independent check: the input pixels that reach one output unit, found by back-propagation."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),
        nn.Conv2d(1, 1, 3, padding=1),
        nn.AvgPool2d(2),
        nn.Conv2d(1, 1, 5, padding=2),
        nn.AvgPool2d(2),
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
    )
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    x = torch.zeros(1, 1, 96, 96, requires_grad=True)
    y = net(x)
    i = y.shape[-1] // 2
    y[0, 0, i, i].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    support = (rows.max() - rows.min() + 1).item()
    table = layer_table(net, (1, 96, 96))
    assert table["rf"].iloc[-1] == support
    # and the unit's centre is where the table's start + i * jump puts it
    centre = (rows.max() + rows.min() + 1).item() / 2
    assert table["start"].iloc[-1] + i * table["jump"].iloc[-1] == centre


@pytest.mark.parametrize("layers, rf, stack, single", [(2, 5, 18, 25), (3, 7, 27, 49)])
def test_stack_of_3x3_against_single_conv(layers, rf, stack, single):
    c = receptive.stack_vs_single(layers, 3, channels=10)
    assert c["rf"] == rf
    assert c["stack_params"] == stack * 100 and c["single_params"] == single * 100
    # against real conv layers
    convs = nn.Sequential(*[nn.Conv2d(10, 10, 3, bias=False) for _ in range(layers)])
    assert sum(p.numel() for p in convs.parameters()) == c["stack_params"]
    assert nn.Conv2d(10, 10, rf, bias=False).weight.numel() == c["single_params"]


def test_stack_layers_with_pool_matches_layer_table():
    net = nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(1, 1, 5, stride=1, padding=2), nn.MaxPool2d(2))])
    table = layer_table(net, (1, 64, 64))
    rf, jump = receptive.receptive_field(receptive.stack_layers(3, 5, 1, pool=True))[-1]
    assert (rf, jump) == (table["rf"].iloc[-1], table["jump"].iloc[-1]) == (36, 8)
    with pytest.raises(ValueError, match="positive"):
        receptive.stack_layers(0)


def test_effective_receptive_field_support_is_the_theoretical_field():
    torch.manual_seed(0)
    features = models.make_layers([4, 4, "M", 8, 8], in_channels=1)  # rf: 3, 5, 6, 10, 14
    erf = receptive.effective_receptive_field(features, torch.randn(4, 1, 40, 40))
    rows, cols = erf.sum(1).nonzero(), erf.sum(0).nonzero()
    assert rows.max() - rows.min() + 1 <= 14 and cols.max() - cols.min() + 1 <= 14
    assert erf.max() == 1 and erf.shape == (40, 40)
    # the extent of the whole mass is the support; half the mass sits in a smaller centre (Luo et al.)
    side = (rows.max() - rows.min() + 1).item()
    assert receptive.erf_extent(erf, 1.0) == side
    assert receptive.erf_extent(erf, 0.5) < side


def test_effective_receptive_field_rejects_a_classifier_output():
    model = models.VGG([4, "M"], in_channels=1, num_classes=3, hidden=8)
    with pytest.raises(ValueError, match="features"):
        receptive.effective_receptive_field(model, torch.randn(1, 1, 8, 8))


def test_erf_extent_on_known_maps():
    m = torch.zeros(10, 10)
    m[3:7, 2:6] = 1  # a 4 x 4 support: even sides, centre between pixels
    assert receptive.erf_extent(m, 1.0) == 4 and receptive.erf_extent(m, 0.25) == 2
    m = torch.zeros(11, 11)
    m[2:9, 2:9] = 1
    m[5, 5] = 100  # 100 of 148 at the centre pixel
    assert receptive.erf_extent(m, 0.6) == 1 and receptive.erf_extent(m, 0.7) == 3


def test_coordinates_match_layer_table_and_the_gradient_support():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 5, padding=1),
                        nn.MaxPool2d(2), nn.Conv2d(2, 2, 3))  # fmt: skip
    geometry = [(3, 1, 1), (1, 1, 0), (2, 2, 0), (5, 1, 1), (2, 2, 0), (3, 1, 0)]
    coords = receptive.coordinates(geometry)
    table = layer_table(net, (1, 40, 40))
    assert [(c["rf"], c["jump"], c["start"]) for c in coords] == list(zip(table["rf"], table["jump"], table["start"]))
    # by hand: rf 3, 3, 4 (jump 2, start 1), 12 (start 3), 14 (jump 4, start 4), 22 (start 8)
    assert coords[-1] == {"rf": 22, "jump": 4, "start": 8.0}
    last = coords[-1]
    n = table["output_shape"].iloc[-1][-1]
    for row, col in [(0, 0), (0, n - 1), (n // 2, 1), (n - 1, n - 1)]:
        top, bottom = receptive.unit_field(last["rf"], last["jump"], last["start"], row, size=40)
        left, right = receptive.unit_field(last["rf"], last["jump"], last["start"], col, size=40)
        assert receptive.gradient_support(net, (1, 40, 40), row, col) == (top, left, bottom, right)
    assert receptive.unit_field(22, 4, 8.0, 0) == (-3, 19)  # unclipped, the field reaches into the padding


def test_random_placement_keeps_each_image_and_fills_with_its_background():
    images = torch.zeros(5, 1, 4, 4, dtype=torch.uint8)
    images[:, :, 1:3, 1:3] = torch.arange(1, 6, dtype=torch.uint8).view(5, 1, 1, 1)
    placed = receptive.random_placement(images, 10, generator=torch.Generator().manual_seed(0))
    assert placed.shape == (5, 1, 10, 10) and placed.dtype == torch.uint8
    for i in range(5):
        assert (placed[i] == i + 1).sum() == 4 and placed[i].sum() == 4 * (i + 1)
    assert receptive.random_placement(images[:, 0], 10).shape == (5, 10, 10)
    with pytest.raises(ValueError, match="at least"):
        receptive.random_placement(images, 3)


def test_effective_receptive_field_is_the_same_in_batches():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    x = torch.randn(10, 1, 12, 12)
    whole = receptive.effective_receptive_field(net, x, batch_size=10)
    assert torch.allclose(receptive.effective_receptive_field(net, x, batch_size=3), whole, atol=1e-6)


@pytest.mark.parametrize("size", [1, 2, 7, 13, 32, 33, 224, 227])
@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 1), (2, 2, 0), (3, 2, 0), (7, 2, 3), (11, 4, 2)])
def test_output_size_is_what_conv2d_and_maxpool2d_return(size, kernel, stride, padding):
    """The formula floor((H + 2p - k) / s) + 1 against PyTorch's own layers, square and not, with sizes that do not
    divide evenly (the floor) and a window that does not fit (an error from both)."""
    x = torch.zeros(1, 1, size, size + 5)
    layers = [nn.Conv2d(1, 1, kernel, stride=stride, padding=padding), nn.MaxPool2d(kernel, stride, padding)]
    if size + 2 * padding < kernel:
        with pytest.raises(ValueError, match="does not fit"):
            receptive.output_size(size, kernel, stride, padding)
        for layer in layers:
            with pytest.raises(RuntimeError):
                layer(x)
        return
    expected = (
        receptive.output_size(size, kernel, stride, padding),
        receptive.output_size(size + 5, kernel, stride, padding),
    )
    for layer in layers:
        assert tuple(layer(x).shape[2:]) == expected, layer


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(0, 1, 0), (3, 0, 1), (3, 1, -1)])
def test_output_size_refuses_a_layer_that_cannot_exist(kernel, stride, padding):
    with pytest.raises(ValueError, match="must be positive"):
        receptive.output_size(32, kernel, stride, padding)

"""Layer tables and receptive fields, against torchinfo, torchvision's published MACs and the Distill article."""
import pytest
import torch
from torch import nn
from torchinfo import summary

from vgg_edu import models
from vgg_edu.analysis import layer_table, receptive_field, stage_table, totals

# torchvision's weights metadata, "GFLOPS" (really GMACs) at 224 px.
TORCHVISION_GMACS = {"vgg11": 7.609, "vgg13": 11.308, "vgg16": 15.47, "vgg19": 19.632}


def on_meta(build, **kwargs):
    """Build a model on PyTorch's meta device: shapes without memory, so big tables are instant."""
    with torch.device("meta"):
        return build(**kwargs)


@pytest.fixture(scope="module")
def vgg16_table():
    return layer_table(on_meta(models.vgg16))


def test_columns_and_totals(vgg16_table):
    assert {"layer", "output_shape", "params", "macs", "activations", "rf", "jump"} <= set(vgg16_table.columns)
    t = totals(vgg16_table)
    assert t["params"] == 138_357_544
    assert vgg16_table.iloc[-1]["output_shape"] == (1000,)
    # CS231n's table, computed by hand: conv outputs, pool outputs, FC outputs (15,087,080; 15.2M with the
    # 150,528-value input), plus what torchvision's layout adds: avgpool's 7x7x512 and the two Dropout outputs.
    convs = 224**2 * 64 * 2 + 112**2 * 128 * 2 + 56**2 * 256 * 3 + 28**2 * 512 * 3 + 14**2 * 512 * 3
    pools = 112**2 * 64 + 56**2 * 128 + 28**2 * 256 + 14**2 * 512 + 7**2 * 512
    fcs = 4096 + 4096 + 1000
    assert convs + pools + fcs == 15_087_080
    assert t["activations"] == convs + pools + fcs + 7**2 * 512 + 2 * 4096


@pytest.mark.parametrize("name", TORCHVISION_GMACS)
@pytest.mark.parametrize("bn", [False, True])
def test_macs_match_torchvision_published(name, bn):
    t = totals(layer_table(on_meta(getattr(models, name), batch_norm=bn)))
    assert round(t["macs"] / 1e9, 3) == pytest.approx(TORCHVISION_GMACS[name], abs=1e-9)


def test_params_and_macs_agree_with_torchinfo():
    model = models.VGG("A", batch_norm=True, width_divisor=4, in_channels=1, num_classes=10, hidden=256)
    table = layer_table(model, (1, 64, 64))
    info = summary(model, input_size=(1, 1, 64, 64), verbose=0)
    leaves = [l for l in info.summary_list if l.is_leaf_layer]
    assert len(leaves) == len(table)
    for row, leaf in zip(table.itertuples(), leaves):
        assert row.params == leaf.num_params, row.layer
        assert row.output_shape == tuple(leaf.output_size[1:]), row.layer
        if row.type.startswith(("Conv2d", "Linear")):
            # torchinfo also counts one add per output for the bias; the published figures (and ours) do not.
            assert row.macs + row.activations == leaf.macs, row.layer
    assert totals(table)["params"] == info.total_params


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
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2),
                        nn.Conv2d(1, 1, 5, padding=2), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, stride=2, padding=1))
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


def test_layer_table_works_for_any_stack():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7 * 7, 2))
    table = layer_table(net, (3, 16, 16))
    assert table["layer"].tolist() == ["0", "1", "2", "3"]
    assert table["macs"].tolist() == [4 * 7 * 7 * 27, 0, 0, 4 * 7 * 7 * 2]
    assert table["rf"].iloc[0] == 3 and table["jump"].iloc[0] == 2


def test_layer_table_rejects_bad_input_size():
    with pytest.raises(ValueError, match="channels, height, width"):
        layer_table(on_meta(models.vgg11), (224, 224))

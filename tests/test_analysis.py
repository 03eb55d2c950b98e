"""Layer tables, the six configurations, memory and time, against torchinfo, torchvision's published MACs, the
paper's Table 2 and counts by hand."""

import pytest
import torch
from torch import nn
from torchinfo import summary

from vgg_edu import analysis, models
from vgg_edu.analysis import layer_table, totals

from conftest import on_meta, requires_cuda

# torchvision's weights metadata, "GFLOPS" (really GMACs) at 224 px.
TORCHVISION_GMACS = {"vgg11": 7.609, "vgg13": 11.308, "vgg16": 15.47, "vgg19": 19.632}
# The paper's Table 2, parameters in millions.
PAPER_TABLE2 = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}


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


def test_layer_table_works_for_any_stack():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7 * 7, 2))
    table = layer_table(net, (3, 16, 16))
    assert table["layer"].tolist() == ["0", "1", "2", "3"]
    assert table["macs"].tolist() == [4 * 7 * 7 * 27, 0, 0, 4 * 7 * 7 * 2]
    assert table["rf"].iloc[0] == 3 and table["jump"].iloc[0] == 2


def test_layer_table_rejects_bad_input_size():
    with pytest.raises(ValueError, match="channels, height, width"):
        layer_table(on_meta(models.vgg11), (224, 224))


def test_conv_input_stats_tell_the_placements_apart():
    torch.manual_seed(0)
    features = models.make_layers([8, 8, 8], in_channels=1, batch_norm=True).train()
    x = torch.randn(16, 1, 12, 12)
    before = analysis.conv_input_stats(features, x)
    after = analysis.conv_input_stats(models.bn_after_relu(features), x)
    assert before["conv"].tolist() == [2, 3]
    assert (before["zeros"] > 0.3).all() and (before["mean"] > 0.2).all()  # rectified: zeros, positive
    assert (after["zeros"] == 0).all() and after["mean"].abs().max() < 1e-5  # standardised in train mode
    assert after["std"].sub(1).abs().max() < 0.01


def test_config_table_matches_paper_table_2_and_torchvision():
    table = analysis.config_table().set_index("config")
    assert table["paper_M"].to_dict() == PAPER_TABLE2  # the column the notebook shows is the paper's
    assert table["weight_layers"].to_dict() == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    assert table.loc["D", "params"] == 138_357_544 and table.loc["E", "GMACs"] == 19.63


def test_where_the_parameters_and_compute_are():
    where = analysis.where_params_and_compute(analysis.layer_table(on_meta(models.vgg16)))
    assert where.index.tolist() == ["conv1_1 ... conv5_3", "fc6", "fc7 + fc8"]  # the paper's names
    assert where.loc["fc6", "params"] == 25088 * 4096 + 4096
    assert where.loc["conv1_1 ... conv5_3", "params"] == 14_714_688
    assert where["params"].sum() == 138_357_544
    assert where.loc["conv1_1 ... conv5_3", "macs_share"] > 0.99


def test_cs231n_memory_count():
    m = analysis.cs231n_memory(analysis.layer_table(on_meta(models.vgg16)))
    assert m["values"] == 15_087_080 + 3 * 224 * 224  # the course's hand count of CS231n's table + the input
    assert round(m["MiB"]) == 58 and m["values"] < m["claimed_values"]


def test_inference_memory_estimate_is_the_largest_pair():
    table = analysis.layer_table(on_meta(models.vgg16))
    # the first conv: 3 x 224 x 224 in, 64 x 224 x 224 out; then conv1_2: 64 in, 64 out (ReLUs in place)
    assert analysis.inference_memory_estimate(table, 2) == 2 * 4 * (64 + 64) * 224 * 224


def test_measure_forward_on_cpu():
    model = models.VGG("A", width_divisor=16, num_classes=10, hidden=32)
    result = analysis.measure_forward(model, (3, 32, 32), (1, 4), device="cpu", repeats=1)
    assert result["batch_size"].tolist() == [1, 4]
    assert (result["ms_per_batch"] > 0).all()
    assert result["memory_source"].iloc[0].startswith("estimate")
    assert result["peak_memory_MB"].iloc[1] == pytest.approx(4 * result["peak_memory_MB"].iloc[0])


@requires_cuda
def test_measure_forward_on_cuda_measures_memory():
    model = models.VGG("A", width_divisor=4, num_classes=10, hidden=64)
    result = analysis.measure_forward(model, (3, 64, 64), (1, 16), device="cuda", repeats=1)
    assert result["memory_source"].iloc[0].startswith("measured")
    table = analysis.layer_table(model.cpu(), (3, 64, 64))
    estimate = analysis.inference_memory_estimate(table, 16, (3, 64, 64)) / 1e6
    assert estimate * 0.5 < result["peak_memory_MB"].iloc[1] < estimate * 4


def test_layer_table_names_layers_as_the_paper_does(vgg16_table):
    named = vgg16_table[vgg16_table["type"].str.startswith(("Conv", "MaxPool", "Linear"))]["name"].tolist()
    expected = [f"conv{s}_{i}" for s, n in enumerate([2, 2, 3, 3, 3], 1) for i in range(1, n + 1)]
    assert [n for n in named if n.startswith("conv")] == expected
    assert [n for n in named if not n.startswith("conv")] == ["pool1", "pool2", "pool3", "pool4", "pool5", "fc6",
                                                              "fc7", "fc8"]  # fmt: skip
    assert vgg16_table["layer"].iloc[0] == "features.0"  # the module names stay: probe and notebook 05 use them
    plain = layer_table(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), (3, 8, 8))
    assert plain["name"].tolist() == ["0", "1"]


def test_config_table_carries_table_3():
    table = analysis.config_table().set_index("config")
    assert table.loc["D", "top1_err"] == 27.0 and table.loc["A-LRN", "top5_err"] == 10.5
    assert table["top1_err"].idxmin() == "D"


def test_conv_input_stats_name_the_receiving_convs():
    stats = analysis.conv_input_stats(models.make_layers("A", batch_norm=True), torch.randn(2, 3, 32, 32))
    assert stats["name"].tolist() == ["conv2_1", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1", "conv5_2"]


def test_measure_forward_reports_the_weights_beside_the_activations():
    model = models.VGG("A", width_divisor=16, num_classes=10, hidden=32)
    result = analysis.measure_forward(model, (3, 32, 32), (1, 2), device="cpu", repeats=2)
    assert (result["weights_MB"] == 4 * sum(p.numel() for p in model.parameters()) / 1e6).all()
    assert (result["ms_min"] <= result["ms_per_batch"]).all() and (result["ms_per_batch"] <= result["ms_max"]).all()


def test_activations_by_kind_split_the_total_by_layer_kind(vgg16_table):
    """VGG-16 without BatchNorm: its convs' outputs counted by hand (13 convs, 3x3 padding 1), the pools' and the
    head's; the kinds add up to ``totals``; in-place ReLUs are left out."""
    kinds = analysis.activations_by_kind(vgg16_table)
    assert kinds.sum() == analysis.totals(vgg16_table)["activations"] and "ReLU" not in kinds
    stages = [(2, 64, 224), (2, 128, 112), (3, 256, 56), (3, 512, 28), (3, 512, 14)]
    assert kinds["Conv2d"] == sum(n * c * side * side for n, c, side in stages)  # 13,547,520
    assert kinds["MaxPool2d"] == sum(c * (side // 2) ** 2 for _, c, side in stages)
    assert kinds["Linear"] == 4096 + 4096 + 1000


def test_a_batchnorm_doubles_the_count_of_its_convs_outputs():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
    kinds = analysis.activations_by_kind(analysis.layer_table(net, (3, 10, 10)))
    assert kinds.to_dict() == {"Conv2d": 800, "BatchNorm2d": 800}

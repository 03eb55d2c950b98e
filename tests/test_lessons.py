"""The numbers notebooks 01-03 compute, checked against independent computations and published figures."""
import math

import pytest
import torch
from torch import nn

from vgg_edu import analysis, exercises, models
from tests.conftest import requires_cuda


def on_meta(build, *args, **kwargs):
    with torch.device("meta"):
        return build(*args, **kwargs)


# --- 01: receptive fields -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layers, rf, stack, single", [(2, 5, 18, 25), (3, 7, 27, 49)])
def test_stack_of_3x3_against_single_conv(layers, rf, stack, single):
    c = analysis.stack_vs_single(layers, 3, channels=10)
    assert c["rf"] == rf
    assert c["stack_params"] == stack * 100 and c["single_params"] == single * 100
    # against real conv layers
    convs = nn.Sequential(*[nn.Conv2d(10, 10, 3, bias=False) for _ in range(layers)])
    assert sum(p.numel() for p in convs.parameters()) == c["stack_params"]
    assert nn.Conv2d(10, 10, rf, bias=False).weight.numel() == c["single_params"]


def test_stack_layers_with_pool_matches_layer_table():
    net = nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(1, 1, 5, stride=1, padding=2), nn.MaxPool2d(2))])
    table = analysis.layer_table(net, (1, 64, 64))
    rf, jump = analysis.receptive_field(analysis.stack_layers(3, 5, 1, pool=True))[-1]
    assert (rf, jump) == (table["rf"].iloc[-1], table["jump"].iloc[-1]) == (36, 8)
    with pytest.raises(ValueError, match="positive"):
        analysis.stack_layers(0)


def test_effective_receptive_field_support_is_the_theoretical_field():
    torch.manual_seed(0)
    features = models.make_layers([4, 4, "M", 8, 8], in_channels=1)   # rf: 3, 5, 6, 10, 14
    erf = analysis.effective_receptive_field(features, torch.randn(4, 1, 40, 40))
    rows, cols = erf.sum(1).nonzero(), erf.sum(0).nonzero()
    assert rows.max() - rows.min() + 1 <= 14 and cols.max() - cols.min() + 1 <= 14
    assert erf.max() == 1 and erf.shape == (40, 40)
    # the extent of the whole mass is the support; half the mass sits in a smaller centre (Luo et al.)
    side = (rows.max() - rows.min() + 1).item()
    assert analysis.erf_extent(erf, 1.0) == side
    assert analysis.erf_extent(erf, 0.5) < side


def test_effective_receptive_field_rejects_a_classifier_output():
    model = models.VGG([4, "M"], in_channels=1, num_classes=3, hidden=8)
    with pytest.raises(ValueError, match="features"):
        analysis.effective_receptive_field(model, torch.randn(1, 1, 8, 8))


def test_erf_extent_on_known_maps():
    m = torch.zeros(10, 10)
    m[3:7, 2:6] = 1                     # a 4 x 4 support: even sides, centre between pixels
    assert analysis.erf_extent(m, 1.0) == 4 and analysis.erf_extent(m, 0.25) == 2
    m = torch.zeros(11, 11)
    m[2:9, 2:9] = 1
    m[5, 5] = 100                       # 100 of 148 at the centre pixel
    assert analysis.erf_extent(m, 0.6) == 1 and analysis.erf_extent(m, 0.7) == 3


# --- 02: blocks, BatchNorm, d2l --------------------------------------------------------------------------------------

def test_bn_after_relu_swaps_the_order():
    features = models.make_layers([4, "M", 8], in_channels=1, batch_norm=True)
    swapped = analysis.bn_after_relu(features)
    kinds = [type(m).__name__ for m in swapped]
    assert kinds == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Conv2d", "ReLU", "BatchNorm2d"]
    assert swapped[2] is features[1]     # the same modules, reordered


def test_conv_input_stats_tell_the_placements_apart():
    torch.manual_seed(0)
    features = models.make_layers([8, 8, 8], in_channels=1, batch_norm=True).train()
    x = torch.randn(16, 1, 12, 12)
    before = analysis.conv_input_stats(features, x)
    after = analysis.conv_input_stats(analysis.bn_after_relu(features), x)
    assert before["conv"].tolist() == [2, 3]
    assert (before["zeros"] > 0.3).all() and (before["mean"] > 0.2).all()        # rectified: zeros, positive
    assert (after["zeros"] == 0).all() and after["mean"].abs().max() < 1e-5     # standardised in train mode
    assert after["std"].sub(1).abs().max() < 0.01


def test_d2l_vgg_has_our_parameter_count():
    arch = ((1, 8), (1, 16))
    table = analysis.compare_with_d2l(arch, size=28)
    # independent count: two convs, then three FC layers on 16 x 7 x 7
    expected = (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (784 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)
    assert table["params"].tolist() == [expected, expected]
    assert table["output_shape"].tolist() == [(1, 10), (1, 10)]


def test_d2l_stand_in_builds_the_same_network():
    real, source = analysis.d2l_vgg(((1, 8),), input_size=(1, 14, 14), use_d2l=False)
    assert "stand-in" in source
    assert [type(m).__name__ for m in real.net] == ["Sequential", "Flatten", "Linear", "ReLU", "Dropout", "Linear",
                                                  "ReLU", "Dropout", "Linear"]
    w = real.net[2].weight        # xavier_uniform: bound sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= math.sqrt(6 / (8 * 49 + 4096)) and w.std() > 0.01


# --- 03: the full VGG-16 --------------------------------------------------------------------------------------------

def test_config_table_matches_paper_table_2_and_torchvision():
    table = analysis.config_table().set_index("config")
    assert (table["params_M"].round() == table["paper_M"]).all()
    assert table["weight_layers"].to_dict() == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    assert table.loc["D", "params"] == 138_357_544 and table.loc["E", "GMACs"] == 19.63


def test_where_the_parameters_and_compute_are():
    where = analysis.where_params_and_compute(analysis.layer_table(on_meta(models.vgg16)))
    assert where.loc["first FC layer", "params"] == 25088 * 4096 + 4096
    assert where.loc["conv layers", "params"] == 14_714_688
    assert where["params"].sum() == 138_357_544
    assert where.loc["conv layers", "macs_share"] > 0.99


def test_cs231n_memory_count():
    m = analysis.cs231n_memory(analysis.layer_table(on_meta(models.vgg16)))
    assert m["values"] == 15_087_080 + 3 * 224 * 224     # the course's hand count of CS231n's table + the input
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


def test_torchvision_weights_load_and_give_the_same_outputs():
    r = analysis.torchvision_equivalence("vgg11", batch_norm=True, size=32)
    assert r["missing"] == [] and r["unexpected"] == [] and r["keys"] > 0
    assert r["max_abs_diff"] == 0


def test_predict_imagenet_uses_the_weights_categories():
    weights = models.torchvision_weights("vgg16")
    torch.manual_seed(0)
    model = models.VGG("A", width_divisor=16, hidden=32)       # 1000 outputs, random weights
    top = analysis.predict_imagenet(model, analysis.sample_image(), weights, topk=3)
    assert len(top) == 3 and set(top["class"]) <= set(weights.meta["categories"])
    assert top["probability"].is_monotonic_decreasing and top["probability"].sum() <= 1


def test_pretrained_weights_absent_says_so(tmp_path):
    with pytest.raises(models.PretrainedWeightsNotFound, match="download=True"):
        models.load_pretrained("vgg16", path=tmp_path / "missing.pth")


# --- the exercises of notebooks 01-03 ---------------------------------------------------------------------------------

MINE = [i for i in exercises.list_exercises() if i[:2] in ("01", "02", "03")]


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "analysis": analysis, "models": models}
    exec(code, namespace)
    return namespace["answer"]


@pytest.mark.parametrize("id", MINE)
def test_solution_is_accepted(id, capsys):
    assert exercises.check(id, _run(exercises.EXERCISES[id].solution))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("id", sorted(exercises.BUGS))
def test_broken_snippet_is_rejected(id, capsys):
    try:
        answer = _run(exercises.BUGS[id])
    except Exception:       # the snippet itself fails (a typo): then the student has nothing to pass yet
        answer = None
    assert not exercises.check(id, answer)
    assert "Not" in capsys.readouterr().out


@pytest.mark.parametrize("id, wrong", [("01.1", 9), ("01.2", 25 * 256**2), ("01.3", [(3, 1), (2, 2)]), ("01.4", 26),
                                       ("03.1", 74.3), ("03.2", 138_357_544), ("03.3", 2 * 1_849_688_064),
                                       ("02.5", [(2, 64)] * 5 + [(1, 512)])])
def test_wrong_answer_is_rejected(id, wrong, capsys):
    assert not exercises.check(id, wrong)
    assert "Not yet" in capsys.readouterr().out

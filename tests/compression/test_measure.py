"""Notebook 08's measurements: MACs against the conv formula, the pruning sweep, the GAP head against torchvision's
counts, the speed table timed in turns."""

import pytest
import torch

from vgg_edu import analysis
from vgg_edu.compression import measure
from vgg_edu.compression.measure import costs, head_table, pruning_sweep, speed_table
from vgg_edu.compression.prune import convs, prune_channels
from vgg_edu.compression.quantize import file_size
from vgg_edu.training.config import FitConfig
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.recipes import build_model

from conftest import small_model, tiny_data


def vgg11_conv_macs(widths, side=32):
    """The conv formula, H x W x C_out x C_in x 3 x 3 summed over VGG-11's eight convs (pools after 1, 2, 4, 6)."""
    sides = [side, side // 2, side // 4, side // 4, side // 8, side // 8, side // 16, side // 16]
    inputs = [1] + widths[:-1]
    return sum(s * s * c_out * c_in * 9 for s, c_out, c_in in zip(sides, widths, inputs))


def test_pruned_macs_match_the_layer_table_and_the_conv_formula():
    model = build_model("classroom", width_divisor=8)  # VGG-11 / 8 at 32 px
    pruned = prune_channels(model, 0.5)
    conv_macs = vgg11_conv_macs([4, 8, 16, 16, 32, 32, 32, 32])
    table = analysis.layer_table(pruned, (1, 32, 32))
    assert int(table.loc[table["type"].str.startswith("Conv"), "macs"].sum()) == conv_macs
    assert costs(pruned)["macs"] == conv_macs + 32 * 10
    assert costs(model)["macs"] == 2_433_664
    assert costs(pruned)["macs"] == 627_008


def test_pruning_sweep_reports_each_fraction(one_thread):
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    model = small_model()
    before = model.features[0].weight.clone()
    sweep, models = pruning_sweep(model, ds, FitConfig(epochs=1, batch_size=32), (0.5,))
    assert sweep["fraction"].tolist() == [0.0, 0.5]
    # VGG-11 / 16 with a GAP head (32 inputs to 10 classes), then half of every conv's channels
    assert sweep["macs"].iloc[0] == vgg11_conv_macs([4, 8, 16, 16, 32, 32, 32, 32]) + 32 * 10
    assert sweep["macs"].iloc[1] == vgg11_conv_macs([2, 4, 8, 8, 16, 16, 16, 16]) + 16 * 10
    assert [m.out_channels for m in convs(models[0.5])] == [2, 4, 8, 8, 16, 16, 16, 16]
    assert 0 <= sweep["val_acc"].min() and sweep["val_acc"].max() <= 1
    # the unpruned baseline is fine-tuned like the pruned network: a trained copy, the model given unchanged
    assert sweep["finetune_s"].iloc[0] > 0 and models[0.0] is not model
    assert not torch.equal(models[0.0].features[0].weight, before) and torch.equal(model.features[0].weight, before)


def test_vgg16_heads_against_torchvision_counts():
    heads = head_table("D", num_classes=1000)
    assert heads.loc["fc", "total_params"] == 138_357_544  # torchvision's vgg16
    assert heads.loc["fc", "head_params"] == 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert heads.loc["gap", "head_params"] == 512 * 1000 + 1000
    assert heads.loc["gap", "total_params"] == 138_357_544 - heads.loc["fc", "head_params"] + 513_000


def test_speed_table_times_every_model_and_batch_in_turns(monkeypatch):
    ds = tiny_data(n_train=32, n_val=16)
    models = {"a": small_model(), "b": small_model(width_divisor=32)}
    calls, forward = [], measure._forward
    monkeypatch.setattr(measure, "_forward", lambda m, x: calls.append((m, len(x))) or forward(m, x))
    table = speed_table(models, ds, batch_sizes=(1, 4), repeats=2)
    one_round = [(models["a"], 1), (models["a"], 4), (models["b"], 1), (models["b"], 4)]
    assert calls == one_round * 3  # a warm-up round, then two timed rounds: never one model's passes in a row
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["file_MB", "ms_batch_1", "ms_batch_4", "val_acc"]
    assert (table[["ms_batch_1", "ms_batch_4"]] > 0).all().all()
    assert table.loc["b", "file_MB"] == file_size(models["b"]) / 1e6 < table.loc["a", "file_MB"]
    assert table.loc["a", "val_acc"] == evaluate(models["a"], ds)


@pytest.mark.parametrize("kw, name", [(dict(repeats=0), "repeats"), (dict(batch_sizes=(1, 0)), "batch size")])
def test_speed_table_needs_a_timed_pass(kw, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive whole number"):
        speed_table({"a": small_model()}, tiny_data(n_train=32, n_val=16), **kw)

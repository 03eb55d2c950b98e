"""Notebook 08's measurements: MACs against the conv formula, the pruning sweep, the GAP head against torchvision's
counts."""

import torch

from vgg_edu import analysis
from vgg_edu.compression.measure import costs, head_table, pruning_sweep
from vgg_edu.compression.prune import convs, prune_channels
from vgg_edu.training.config import FitConfig
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

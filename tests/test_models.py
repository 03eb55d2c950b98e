"""The models against torchvision's published parameter counts and the paper's Table 1 and 2."""

import pytest
import torch
from torch import nn

from vgg_edu import models
from vgg_edu.models import CONFIGS, VGG, make_layers, stages, vgg_block

# torchvision's weights metadata: num_params for each variant.
TORCHVISION_PARAMS = {
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
}
# The paper's Table 2, parameters in millions.
PAPER_TABLE2 = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}


def count(model):
    return sum(p.numel() for p in model.parameters())


def build(variant, device=None):
    name, bn = variant.removesuffix("_bn"), variant.endswith("_bn")
    with torch.device(device or "cpu"):
        return getattr(models, name)(batch_norm=bn)


@pytest.mark.parametrize("variant", TORCHVISION_PARAMS)
def test_param_counts_match_torchvision(variant):
    assert count(build(variant, "meta")) == TORCHVISION_PARAMS[variant]


@pytest.mark.parametrize("config", CONFIGS)
def test_param_counts_match_paper_table2(config):
    with torch.device("meta"):  # shapes only: no memory, no init time
        assert round(count(VGG(config)) / 1e6) == PAPER_TABLE2[config]


def test_six_configurations_with_their_depths():
    weight_layers = {c: sum(1 for v in cfg if v not in ("M", "LRN")) + 3 for c, cfg in CONFIGS.items()}
    assert weight_layers == {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
    with torch.device("meta"):
        convs_c = [m for m in VGG("C").features if isinstance(m, nn.Conv2d)]
        assert [m.kernel_size for m in convs_c].count((1, 1)) == 3
        assert isinstance(VGG("A-LRN").features[2], nn.LocalResponseNorm)


def test_initialisation_matches_torchvision_scheme():
    torch.manual_seed(0)
    m = VGG("A", batch_norm=True)
    conv = m.features[0]
    fan_out = conv.out_channels * 9
    assert conv.bias.abs().sum() == 0
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.15)
    assert torch.all(m.features[1].weight == 1) and torch.all(m.features[1].bias == 0)
    assert m.classifier[0].weight.std().item() == pytest.approx(0.01, rel=0.02)


def test_d2l_reduced_vgg11_channels():
    m = VGG("A", width_divisor=4, in_channels=1, num_classes=10)
    assert [c for _, c in stages([v // 4 if isinstance(v, int) else v for v in CONFIGS["A"]])] == [16, 32, 64, 128, 128]
    assert [x.out_channels for x in m.features if isinstance(x, nn.Conv2d)] == [16, 32, 64, 64, 128, 128, 128, 128]
    assert m(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_vgg_block_is_convs_then_pool():
    block = vgg_block(2, 3, 8, batch_norm=True)
    assert [type(m).__name__ for m in block] == [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "MaxPool2d",
    ]
    assert block(torch.zeros(1, 3, 16, 16)).shape == (1, 8, 8, 8)
    assert stages("D") == [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]


def test_gap_head_parameters():
    # 14,714,688 conv parameters (138,357,544 - 123,642,856 in the FC layers) + 512*1000 + 1000
    with torch.device("meta"):
        assert count(VGG("D", head="gap")) == 14_714_688 + 513_000


def test_make_layers_accepts_custom_list():
    assert len(make_layers([8, "M"], in_channels=1)) == 3


@pytest.mark.parametrize("bad", ["F", "vgg15", ""])
def test_unknown_config_error_lists_choices(bad):
    with pytest.raises(ValueError, match=r"unknown VGG config.*'A'.*'vgg16'"):
        VGG(bad)


def test_too_small_input_error_says_resize():
    m = VGG("A", width_divisor=8, num_classes=10)
    with pytest.raises(ValueError, match=r"28x28 px is too small.*at least 32x32.*Resize"):
        m(torch.zeros(1, 3, 28, 28))


def test_wrong_channel_count_error_says_fix():
    m = VGG("A", width_divisor=8, num_classes=10)
    with pytest.raises(ValueError, match=r"3-channel.*got 1 channels.*in_channels=1"):
        m(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"N x C x H x W.*unsqueeze"):
        m(torch.zeros(3, 32, 32))


def test_import_does_not_pull_d2l_or_jupyter():
    import subprocess
    import sys

    code = (
        "import sys, vgg_edu, vgg_edu.models, vgg_edu.analysis; "
        "bad = [m for m in ('d2l', 'jupyter', 'IPython', 'ipywidgets', 'notebook') if m in sys.modules]; "
        "print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_hparams_rebuild_the_same_network():
    m = VGG("B", width_divisor=8, in_channels=1, num_classes=10, hidden=64, batch_norm=True, head="fc")
    twin = VGG(**m.hparams)
    assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}


def test_inputs_of_the_wrong_type_say_how_to_convert():
    m = VGG("A", width_divisor=16, in_channels=1, num_classes=10, hidden=8)
    with pytest.raises(ValueError, match=r"float inputs; got torch.uint8.*to_input"):
        m(torch.zeros(1, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(
        ValueError, match=r"weights are torch.float32 but the input is torch.float64.*x.to\(torch.float32\)"
    ):
        m(torch.zeros(1, 1, 32, 32, dtype=torch.float64))


def test_a_batch_norm_model_name_points_to_batch_norm_true():
    with pytest.raises(
        ValueError, match=r"'vgg16_bn' is 'vgg16' with BatchNorm: pass config='vgg16' and batch_norm=True"
    ):
        VGG("vgg16_bn")


@pytest.mark.parametrize("divisor", [3, 0, -2, 2.5])
def test_a_width_divisor_must_divide_every_width(divisor):
    with pytest.raises(ValueError, match="width_divisor"):
        VGG("A", width_divisor=divisor)


@pytest.mark.parametrize("config", [[], ["M"], ["M", "LRN"]])
def test_a_config_without_convs_is_refused(config):
    with pytest.raises(ValueError, match="no conv layer"):
        VGG(config)


def test_impossible_heads_are_refused():
    with pytest.raises(ValueError, match="hidden"):
        VGG("A", hidden=-1)
    with pytest.raises(ValueError, match="dropout"):
        VGG("A", dropout=1.5)


def test_fully_convolutional_gives_the_same_scores_at_224_and_a_map_of_crops_beyond():
    torch.manual_seed(0)
    model = VGG("A", width_divisor=16, num_classes=10, hidden=64).eval()
    fcn = models.fully_convolutional(model)
    x = torch.randn(2, 3, 288, 256)
    with torch.no_grad():
        scores = fcn(x)
        assert scores.shape == (2, 10, 288 // 32 - 6, 256 // 32 - 6)
        assert torch.allclose(fcn(x[:, :, :224, :224]).flatten(1), model(x[:, :, :224, :224]), atol=1e-5)
        # each cell is the FC classifier applied to one 7 x 7 window of the pool5 map (not quite the output on a
        # 224 px crop: the crop's convs would pad its borders with zeros, paper Sec. 3.2)
        pool5 = model.features(x)
        for i, j in [(0, 1), (2, 0), (2, 1)]:
            window = torch.flatten(pool5[:, :, i : i + 7, j : j + 7], 1)
            assert torch.allclose(scores[:, :, i, j], model.classifier(window), atol=1e-5)
    assert fcn[-1].weight.data_ptr() == model.classifier[-1].weight.data_ptr()  # shared, not copied


def test_fully_convolutional_refuses_the_gap_head():
    with pytest.raises(ValueError, match="head='fc'"):
        models.fully_convolutional(VGG("A", width_divisor=16, head="gap"))

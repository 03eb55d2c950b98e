"""``vgg_edu.probe.layers``: layer names (the paper's and the modules'), the input rules every probe shares (one
image or a batch, uint8 pixels through the model's input contract, no empty batch), a pixel's input value."""

import pytest
import torch

from vgg_edu import models
from vgg_edu import probe as P
from vgg_edu.data.inputs import MEAN, STD, InputSpec, to_input
from vgg_edu.models import VGG


def test_paper_names_for_vgg16():
    with torch.device("meta"):
        m = VGG("D")
    names = models.layer_names(m)
    assert sum(n.startswith("conv") for n in names) == 13
    assert (names["conv1_1"], names["relu1_1"], names["pool1"]) == ("features.0", "features.1", "features.4")
    assert (names["conv5_3"], names["relu5_3"], names["pool5"]) == ("features.28", "features.29", "features.30")
    assert (names["fc6"], names["relu6"], names["drop6"], names["fc7"], names["fc8"]) == (
        "classifier.0",
        "classifier.1",
        "classifier.2",
        "classifier.3",
        "classifier.6",
    )
    assert names["features.17"] == "features.17" and names["avgpool"] == "avgpool"
    assert len(P.relu_layers(m)) == 13


def test_bad_layer_name_lists_the_valid_ones(model, x):
    with pytest.raises(ValueError, match=r"no layer 'conv9_9'.*conv1_1, relu1_1, pool1.*features\.0"):
        P.capture(model, x, "conv9_9")
    with pytest.raises(ValueError, match="Valid names"):
        P.grad_cam(model, x, layer="features.99")


def test_bad_input_says_what_to_do(model):
    with pytest.raises(ValueError, match=r"one image \(C, H, W\) or a batch"):
        P.capture(model, torch.zeros(32, 32), "conv1_1")
    with pytest.raises(ValueError, match="uint8 pixels or float inputs"):
        P.capture(model, torch.zeros(1, 1, 32, 32, dtype=torch.int64), "conv1_1")


def test_uint8_images_go_through_the_models_input_contract(model):
    pixels = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    model.input_spec = InputSpec(size=32)
    try:
        got = P.capture(model, pixels[:, None], "relu1_1")["relu1_1"]
        expected = P.capture(model, to_input(pixels, 32), "relu1_1")["relu1_1"]
    finally:
        del model.input_spec
    assert got.shape == (3, 4, 32, 32) and torch.equal(got, expected)


def test_single_image_gives_results_without_batch_dimension(model, x):
    one = P.capture(model, x[2], "relu2_1")["relu2_1"]
    assert one.shape == (8, 16, 16)
    assert torch.allclose(one, P.capture(model, x, "relu2_1")["relu2_1"][2], atol=1e-6)
    assert torch.allclose(P.grad_cam(model, x[2], 3), P.grad_cam(model, x, 3)[2], atol=1e-5)
    assert torch.allclose(P.saliency(model, x[2], 3), P.saliency(model, x, 3)[2], atol=1e-6)
    assert P.occlusion(model, x[0], window=16, stride=16).shape == (32, 32)


def test_pixel_input_is_the_contracts_value_of_a_pixel(model):
    black = P.pixel_input(model, 0)  # no input_spec: Fashion-MNIST's statistics
    assert black == pytest.approx((0 - MEAN) / STD) and black == pytest.approx(-0.8102, abs=1e-4)
    assert P.pixel_input(model, 255) == pytest.approx((1 - MEAN) / STD)
    rgb = VGG("A", width_divisor=16)
    rgb.input_spec = InputSpec(mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))
    assert P.pixel_input(rgb, 0) == pytest.approx((-1.0, -1.0, 0.0))
    for bad in (-1, 256, 0.5, True):
        with pytest.raises(ValueError, match="pixel is a uint8 value"):
            P.pixel_input(model, bad)


def test_uint8_images_in_their_stored_shape_are_one_channel_images(model):
    pixels = torch.randint(0, 256, (4, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    got = P.capture(model, pixels, "relu1_1")["relu1_1"]  # as data.train_images[:4] holds them: (N, H, W)
    assert got.shape == (4, 4, 32, 32) and torch.equal(got, P.capture(model, to_input(pixels), "relu1_1")["relu1_1"])
    assert P.saliency(model, pixels).shape == (4, 32, 32) and P.grad_cam(model, pixels).shape == (4, 32, 32)
    assert P.capture(model, pixels[:1], "relu1_1")["relu1_1"].shape == (4, 32, 32)  # (1, H, W): one image


@pytest.mark.parametrize("probe", ["capture", "extract", "channel_stats", "top_k", "occlusion", "saliency", "grad_cam"])
def test_an_empty_batch_gets_one_clear_error(model, probe):
    args = {"capture": ("relu1_1",), "extract": ("relu1_1",), "top_k": ("relu1_1", 0)}.get(probe, ())
    for empty in (torch.zeros(0, 1, 32, 32), torch.zeros(0, 32, 32, dtype=torch.uint8)):
        with pytest.raises(ValueError, match=r"no images to probe: x has shape \(0, "):
            getattr(P, probe)(model, empty, *args)

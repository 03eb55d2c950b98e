"""``vgg_edu.probe.attribution``: occlusion, saliency and Grad-CAM against captum, constructed examples and
gradients; targets by index or class name; the errors a wrong argument gets."""

import pytest
import torch
from torch import nn

from vgg_edu import probe as P
from vgg_edu.models import VGG, init_weights

from conftest import requires_cuda


def test_out_of_range_targets_positions_and_windows_are_refused(model, x):
    with pytest.raises(ValueError, match=r"classes 0 to 9"):
        P.grad_cam(model, x, target=10)
    with pytest.raises(ValueError, match=r"classes 0 to 9"):
        P.saliency(model, x, target=-1)
    with pytest.raises(ValueError, match=r"4 x 4 map.*row must be 0 to 3"):
        P.receptive_box(model, "pool3", 4, 0, (1, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        P.top_k(model, x, "relu1_1", channel=4)
    for window, stride in ((0, 4), (8, 0), (-2, 4), (33, 4), (8, 40)):
        with pytest.raises(ValueError, match="window|stride"):
            P.occlusion(model, x[:1], window=window, stride=stride)


def test_occluding_zeros_of_a_zero_image_changes_nothing(model):
    heat = P.occlusion(model, torch.zeros(2, 1, 32, 32), target=[3, 5], window=8, stride=4, baseline=0.0)
    assert heat.shape == (2, 32, 32) and torch.equal(heat, torch.zeros(2, 32, 32))


def test_occluding_a_black_background_with_black_changes_nothing(model):
    """Only the garment square moves the probability: windows on pure background, filled with the background
    value, leave the input as it was (drop 0), while a grey (0) occluder there is a change the net reacts to."""
    black = P.pixel_input(model, 0)
    img = torch.full((1, 32, 32), black)
    img[:, 12:20, 12:20] = P.pixel_input(model, 255)
    on_black = P.occlusion(model, img, target=3, window=4, stride=4, baseline=black)
    on_grey = P.occlusion(model, img, target=3, window=4, stride=4, baseline=0.0)
    background = torch.ones(32, 32, dtype=torch.bool)
    background[12:20, 12:20] = False
    assert on_black[background].abs().max() < 1e-6  # float noise of a batched forward, no more
    assert on_black[~background].abs().max() > 1e-3 and on_grey[background].abs().max() > 1e-3
    per_channel = P.occlusion(model, img, target=3, window=4, stride=4, baseline=(black,))
    assert torch.equal(per_channel, on_black)
    with pytest.raises(ValueError, match="one value or one per input channel"):
        P.occlusion(model, img, target=3, window=4, stride=4, baseline=(0.0, 0.0))


def test_occlusion_matches_captum(model, x):
    from captum.attr import Occlusion

    t = torch.tensor([1, 4, 7, 9])
    ref = Occlusion(lambda z: model(z).softmax(1)).attribute(
        x, target=t, sliding_window_shapes=(1, 8, 8), strides=(1, 4, 4), baselines=-1.0
    )[:, 0]
    ours = P.occlusion(model, x, t, window=8, stride=4, baseline=-1.0)
    assert ours.abs().max() > 1e-3
    assert torch.allclose(ours, ref, atol=1e-6)


def test_saliency_of_a_linear_model_is_its_weights():
    torch.manual_seed(0)
    lin = nn.Linear(2 * 5 * 5, 3)
    net = nn.Sequential(nn.Flatten(), lin)
    s = P.saliency(net, torch.randn(2, 2, 5, 5), target=1)
    expected = lin.weight[1].detach().reshape(2, 5, 5).abs().amax(0)
    assert torch.allclose(s, expected.expand(2, 5, 5))


@pytest.mark.parametrize("layer", ["relu5_2", "conv4_2", "relu3_1", "pool3"])
def test_grad_cam_matches_captum(model, x, layer):
    from captum.attr import LayerAttribution, LayerGradCam

    t = torch.tensor([0, 3, 7, 9])
    ref = LayerGradCam(model, P.resolve(model, layer)[1]).attribute(x, target=t, relu_attributions=True)
    ours = P.grad_cam(model, x, t, layer, upsample=False)
    assert ours.abs().max() > 1e-3  # a map that is not all zero
    assert torch.allclose(ours, ref[:, 0], rtol=1e-4, atol=1e-6)
    up = LayerAttribution.interpolate(ref, (32, 32), "bilinear")[:, 0]
    assert torch.allclose(P.grad_cam(model, x, t, layer), up, rtol=1e-4, atol=1e-6)


def test_grad_cam_defaults_to_the_prediction_and_the_last_relu(model, x):
    assert P.default_cam_layer(model) == "relu5_2"
    pred = model(x).argmax(1)
    assert torch.allclose(P.grad_cam(model, x), P.grad_cam(model, x, pred, "relu5_2"))


@requires_cuda
def test_runs_on_cuda_like_on_cpu(x):
    torch.manual_seed(0)
    cpu = init_weights(VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming_fan_in").eval()
    gpu = VGG(**cpu.hparams).eval()
    gpu.load_state_dict(cpu.state_dict())
    assert torch.allclose(P.grad_cam(gpu, x, 3, device="cuda"), P.grad_cam(cpu, x, 3), atol=1e-4)
    assert P.capture(gpu, x, "relu2_1", device="cuda")["relu2_1"].device.type == "cuda"
    assert torch.allclose(
        P.occlusion(gpu, x[:1], 3, window=16, stride=8, device="cuda"),
        P.occlusion(cpu, x[:1], 3, window=16, stride=8),
        atol=1e-4,
    )


def test_more_bad_arguments_get_clear_errors(model, x):
    with pytest.raises(ValueError, match="spatial maps"):
        P.grad_cam(model, x, layer="fc6")
    with pytest.raises(ValueError, match="whole number"):
        P.saliency(model, x, target=2.7)
    with pytest.raises(ValueError, match="k >= 1"):
        P.top_k(model, x, "relu1_1", 0, k=0)
    with pytest.raises(ValueError, match="at least one image"):
        P.top_k(model, x[:0], "relu1_1", 0)


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_saliency_and_grad_cam_work_inside_no_grad(model, x, mode):
    expected = P.saliency(model, x, target=3), P.grad_cam(model, x, target=3)
    with mode():
        got = P.saliency(model, x, target=3), P.grad_cam(model, x, target=3)
        assert not torch.is_grad_enabled()  # and the caller's mode is left as it was
    assert all(torch.equal(a, b) for a, b in zip(got, expected)) and got[0].abs().max() > 0


def test_a_target_may_be_a_class_name(model, x):
    by_index = P.saliency(model, x, target=8), P.grad_cam(model, x, target=8), P.occlusion(model, x[:1], target=8)
    by_name = P.saliency(model, x, target="Bag"), P.grad_cam(model, x, target="bag"), P.occlusion(model, x[:1], "Bag")
    assert all(torch.equal(a, b) for a, b in zip(by_index, by_name))  # Fashion-MNIST's names, case aside
    per_image = P.saliency(model, x, target=["Bag", "Coat", "Bag", "Sandal"])
    assert torch.equal(per_image, P.saliency(model, x, target=[8, 4, 8, 5]))
    with pytest.raises(ValueError, match="'Cat' is not a class of this model; its classes are T-shirt/top, Trouser"):
        P.saliency(model, x, target="Cat")
    net = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 3))  # 3 outputs: Fashion-MNIST's names do not apply
    with pytest.raises(ValueError, match="3 outputs have no class names .* pass the class index, 0 to 2"):
        P.saliency(net, x, target="Bag")

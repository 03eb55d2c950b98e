"""Probing a trained network, against manual forwards, constructed examples, gradients and captum."""

import numpy as np
import pytest
import torch
from torch import nn

from vgg_edu import analysis, models
from vgg_edu import probe as P
from vgg_edu.data.inputs import MEAN, STD, InputSpec, to_input
from vgg_edu.models import VGG, init_weights
from vgg_edu.probe.activations import _Traceable

from conftest import requires_cuda


@pytest.fixture(scope="module")
def model():
    """A small VGG-11 for 1 x 32 x 32 inputs, He-initialised so that activations and gradients are not tiny."""
    torch.manual_seed(0)
    return init_weights(VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming_fan_in").eval()


@pytest.fixture(scope="module")
def x():
    return torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))


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


def _manual(model, x, upto):
    """Run features[0..upto] by hand, with out-of-place ReLUs: the reference for captured activations."""
    with torch.no_grad():
        for m in model.features[: upto + 1]:
            x = torch.relu(x) if isinstance(m, nn.ReLU) else m(x)
    return x


def test_hook_capture_equals_manual_forward(model, x):
    acts = P.capture(model, x, ["conv1_1", "conv3_2", "relu3_2", "pool4"])
    assert torch.allclose(acts["conv1_1"], _manual(model, x, 0), atol=1e-6)
    assert torch.allclose(acts["conv3_2"], _manual(model, x, 8), atol=1e-5)
    assert torch.allclose(acts["relu3_2"], _manual(model, x, 9), atol=1e-5)
    assert acts["pool4"].shape == (4, 32, 2, 2)
    fx = P.extract(model, x, ["conv1_1", "conv3_2", "pool4"])
    for name in fx:
        assert torch.allclose(fx[name], acts[name], atol=1e-5)
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))  # extract restores inplace


def test_capture_and_extract_agree_with_batch_norm_and_dropout(x):
    torch.manual_seed(0)
    bn = VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64, batch_norm=True)
    for m in bn.modules():
        if isinstance(m, nn.BatchNorm2d):  # running statistics unlike a batch's own
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    bn.train()
    layers = ["bn1_1", "relu3_2", "fc7"]
    hooks, fx = P.capture(bn, x, layers), P.extract(bn, x, layers)
    assert bn.training  # the mode is restored
    bn.eval()
    with torch.no_grad():
        a = bn.features[:2](x)
        f7 = bn.classifier[:4](torch.flatten(bn.avgpool(bn.features(x)), 1))
    assert torch.allclose(hooks["bn1_1"], a, atol=1e-5) and a.min() < 0
    assert torch.allclose(hooks["fc7"], f7, atol=1e-5)  # eval mode: no dropout
    for name in layers:
        assert torch.allclose(fx[name], hooks[name], atol=1e-5)


def test_single_image_gives_results_without_batch_dimension(model, x):
    one = P.capture(model, x[2], "relu2_1")["relu2_1"]
    assert one.shape == (8, 16, 16)
    assert torch.allclose(one, P.capture(model, x, "relu2_1")["relu2_1"][2], atol=1e-6)
    assert torch.allclose(P.grad_cam(model, x[2], 3), P.grad_cam(model, x, 3)[2], atol=1e-5)
    assert torch.allclose(P.saliency(model, x[2], 3), P.saliency(model, x, 3)[2], atol=1e-6)
    assert P.occlusion(model, x[0], window=16, stride=16).shape == (32, 32)


def test_inplace_relu_pitfall(model, x):
    conv = _manual(model, x, 0)
    assert conv.min() < 0  # the conv's real output has negatives
    uncloned = P.capture(model, x, "conv1_1", clone=False)["conv1_1"]
    assert uncloned.min() == 0 and torch.allclose(uncloned, conv.relu())  # ...but the kept tensor was overwritten
    assert torch.allclose(P.capture(model, x, "conv1_1")["conv1_1"], conv)  # clone() keeps what the conv computed
    # torch.fx has the same pitfall as soon as a later node is asked for too: the traced graph then runs the
    # in-place ReLU on the conv's output (asked alone, the graph is cut after the conv and no ReLU runs).
    from torchvision.models.feature_extraction import create_feature_extractor

    fx = create_feature_extractor(_Traceable(model), {"features.0": "conv", "features.2": "pool1"})
    assert torch.allclose(fx(x)["conv"], conv.relu())
    assert torch.allclose(P.extract(model, x, ["conv1_1", "pool1"])["conv1_1"], conv)


def test_channel_stats_match_a_direct_computation(model, x):
    stats = P.channel_stats(model, x, batch_size=3)  # two batches: the sums must add up
    assert list(dict.fromkeys(stats["layer"])) == P.relu_layers(model)
    a = _manual(model, x, 4)  # relu2_1
    row = stats[stats["layer"] == "relu2_1"]
    assert np.allclose(row["mean"], a.mean((0, 2, 3)).numpy(), atol=1e-5)
    assert np.allclose(row["zero_fraction"], (a == 0).float().mean((0, 2, 3)).numpy())
    assert (row["depth"] == 1).all() and len(row) == 8


def test_top_k_on_a_constructed_example():
    # A 1x1 conv with weights 1 and 2: channel c's map is (c + 1) * image. Each image is dark but for one pixel.
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight[:, 0, 0, 0] = torch.tensor([1.0, 2.0])
    net = nn.Sequential(conv)
    values = torch.tensor([0.3, 0.9, 0.1, 0.7, 0.5])
    spots = [(0, 0), (3, 5), (7, 7), (2, 1), (6, 4)]
    x = torch.zeros(5, 1, 8, 8)
    for n, (r, c) in enumerate(spots):
        x[n, 0, r, c] = values[n]
    best = P.top_k(net, x, "0", channel=1, k=3, batch_size=2)
    assert best.indices.tolist() == [1, 3, 4]
    assert torch.allclose(best.values, 2 * values[[1, 3, 4]])
    assert best.positions.tolist() == [[3, 5], [2, 1], [6, 4]]
    assert best.boxes == [(3, 5, 4, 6), (2, 1, 3, 2), (6, 4, 7, 5)]  # a 1x1 conv sees one pixel
    with pytest.raises(ValueError, match="2 channels"):
        P.top_k(net, x, "0", channel=2)


def test_receptive_box_is_where_the_gradient_reaches():
    # All-positive weights, average pooling and a positive input: every pixel in the receptive field gets gradient.
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, padding=1))
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.zeros_(m.bias)
    table = analysis.layer_table(net, (1, 16, 16))
    for r, c in [(0, 0), (3, 5), (7, 7)]:
        x = torch.ones(1, 1, 16, 16, requires_grad=True)
        net(x)[0, 0, r, c].backward()
        rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
        expected = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
        assert P.receptive_box(net, "3", r, c, (1, 16, 16), table=table) == expected


def test_occluding_zeros_of_a_zero_image_changes_nothing(model):
    heat = P.occlusion(model, torch.zeros(2, 1, 32, 32), target=[3, 5], window=8, stride=4, baseline=0.0)
    assert heat.shape == (2, 32, 32) and torch.equal(heat, torch.zeros(2, 32, 32))


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


def test_penultimate_features_are_the_last_linear_input(model, x):
    f = P.penultimate(model, x, batch_size=3)
    with torch.no_grad():
        expected = model.classifier[:-1](torch.flatten(model.avgpool(model.features(x)), 1))
    assert f.shape == (4, 64) and torch.allclose(f, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_separates_two_clusters(method):
    g = torch.Generator().manual_seed(0)
    feats = torch.cat([torch.randn(30, 80, generator=g), torch.randn(30, 80, generator=g) + 6])
    xy = P.embed_2d(feats, method)
    assert xy.shape == (60, 2)
    a, b = xy[:30], xy[30:]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    assert gap > 2 * max(a.std(0).max(), b.std(0).max())
    with pytest.raises(ValueError, match="pca"):
        P.embed_2d(feats, "umap")


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


def test_extract_refuses_float64_input_as_capture_does():
    model = VGG("A", width_divisor=16, in_channels=1, num_classes=10, head="gap").eval()
    x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    for fn in (P.capture, P.extract):
        with pytest.raises(ValueError, match="float64"):
            fn(model, x, ["features.0"])


def test_uint8_images_in_their_stored_shape_are_one_channel_images(model):
    pixels = torch.randint(0, 256, (4, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    got = P.capture(model, pixels, "relu1_1")["relu1_1"]  # as data.train_images[:4] holds them: (N, H, W)
    assert got.shape == (4, 4, 32, 32) and torch.equal(got, P.capture(model, to_input(pixels), "relu1_1")["relu1_1"])
    assert P.saliency(model, pixels).shape == (4, 32, 32) and P.grad_cam(model, pixels).shape == (4, 32, 32)
    assert P.capture(model, pixels[:1], "relu1_1")["relu1_1"].shape == (4, 32, 32)  # (1, H, W): one image


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_saliency_and_grad_cam_work_inside_no_grad(model, x, mode):
    expected = P.saliency(model, x, target=3), P.grad_cam(model, x, target=3)
    with mode():
        got = P.saliency(model, x, target=3), P.grad_cam(model, x, target=3)
        assert not torch.is_grad_enabled()  # and the caller's mode is left as it was
    assert all(torch.equal(a, b) for a, b in zip(got, expected)) and got[0].abs().max() > 0


@pytest.mark.parametrize("probe", ["capture", "extract", "channel_stats", "top_k", "occlusion", "saliency", "grad_cam"])
def test_an_empty_batch_gets_one_clear_error(model, probe):
    args = {"capture": ("relu1_1",), "extract": ("relu1_1",), "top_k": ("relu1_1", 0)}.get(probe, ())
    for empty in (torch.zeros(0, 1, 32, 32), torch.zeros(0, 32, 32, dtype=torch.uint8)):
        with pytest.raises(ValueError, match=r"no images to probe: x has shape \(0, "):
            getattr(P, probe)(model, empty, *args)


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


def test_neighbour_agreement_against_scikit_learns_nearest_neighbours():
    """Per class, the share of each image's k nearest neighbours (itself left out) with its label, counted
    independently with scikit-learn; a class apart scores 1, two classes drawn from one cloud about a half."""
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(0)
    feats = torch.cat([torch.randn(30, 5, generator=g) + 20, torch.randn(60, 5, generator=g)])  # class 0 far away
    labels = torch.tensor([0] * 30 + [1, 2] * 30)  # classes 1 and 2 mixed in one cloud
    got = P.neighbour_agreement(feats, labels, k=5)
    index = NearestNeighbors(n_neighbors=6).fit(feats.numpy()).kneighbors(feats.numpy(), return_distance=False)
    same = (labels.numpy()[index[:, 1:]] == labels.numpy()[:, None]).mean(1)  # column 0 is the image itself
    expected = [same[labels.numpy() == c].mean() for c in range(3)]
    assert np.allclose(got.numpy(), expected, atol=1e-6)
    assert got[0] == 1 and 0.2 < got[1] < 0.8 and 0.2 < got[2] < 0.8

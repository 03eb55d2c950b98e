"""torchvision's ImageNet weights load into our VGG by key, from a file or the cache, and are used as published."""

import pytest
import torch
import torchvision

from vgg_edu import models, pretrained
from vgg_edu.models import VGG

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`


def build(variant):
    name, bn = variant.removesuffix("_bn"), variant.endswith("_bn")
    return getattr(models, name)(batch_norm=bn)


@pytest.mark.parametrize("variant", ["vgg11", "vgg16_bn"])
def test_torchvision_state_dict_loads_and_gives_same_outputs(variant):
    torch.manual_seed(0)
    tv = getattr(torchvision.models, variant)().eval()
    ours = build(variant).eval()
    ours_keys = {k: v.shape for k, v in ours.state_dict().items()}
    assert ours_keys == {k: v.shape for k, v in tv.state_dict().items()}
    ours.load_state_dict(tv.state_dict())  # strict: every key
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x))


def test_missing_pretrained_weights_say_where_and_how(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(pretrained.PretrainedWeightsNotFound, match=r"nope\.pth.*download=True.*IMAGENET1K_V1"):
        pretrained.load_pretrained("vgg11", path=missing)


def test_pretrained_weights_load_from_a_file(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.vgg11()
    path = tmp_path / "vgg11.pth"
    torch.save(tv.state_dict(), path)
    ours = pretrained.load_pretrained("vgg11", path=path)
    assert not ours.training
    torch.testing.assert_close(ours.features[0].weight, tv.features[0].weight)


def test_pretrained_weights_load_from_torchvision_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    weights = pretrained.torchvision_weights("vgg11", batch_norm=True)
    cached = tmp_path / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    cached.parent.mkdir()
    torch.save(torchvision.models.vgg11_bn().state_dict(), cached)
    assert isinstance(pretrained.load_pretrained("vgg11_bn", batch_norm=True), VGG)


def test_torchvision_weights_load_and_give_the_same_outputs():
    r = pretrained.torchvision_equivalence("vgg11", batch_norm=True, size=32)
    assert r["missing"] == [] and r["unexpected"] == [] and r["keys"] > 0
    assert r["max_abs_diff"] == 0


def test_predict_imagenet_uses_the_weights_categories():
    weights = pretrained.torchvision_weights("vgg16")
    torch.manual_seed(0)
    model = models.VGG("A", width_divisor=16, hidden=32)  # 1000 outputs, random weights
    top = pretrained.predict_imagenet(model, pretrained.sample_image(), weights, topk=3)
    assert len(top) == 3 and set(top["class"]) <= set(weights.meta["categories"])
    assert top["probability"].is_monotonic_decreasing and top["probability"].sum() <= 1


def test_imagenet_input():
    img = torch.zeros(2, 28, 28, dtype=torch.uint8)
    img[1] = 255
    x = pretrained.imagenet_input(img, size=64)
    assert x.shape == (2, 3, 64, 64)
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]))
    assert torch.allclose(x[1, :, 5, 7], torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]))


def test_the_sample_photo_loads_without_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys; from vgg_edu import pretrained; print(pretrained.sample_image().size, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "(512, 600) False", out.stderr


def test_published_metrics_are_torchvisions():
    table = pretrained.published_metrics(["vgg16", "vgg16_bn", "resnet18", "resnet50"]).set_index("model")
    # REFERENCE.md: torchvision's weights metadata
    assert table.loc["vgg16", "params"] == 138_357_544 and table.loc["vgg16", "acc@1"] == 71.592
    assert table.loc["vgg16_bn", "acc@1"] == 73.360 and table.loc["vgg16", "GMACs"] == 15.47
    assert table.loc["resnet18", "params"] == 11_689_512 and table.loc["resnet50", "acc@1"] == 76.130
    assert table.loc["vgg16", "file_MiB"] == pytest.approx(4 * 138_357_544 / 2**20, rel=1e-3)  # MiB, not MB
    with pytest.raises(ValueError, match="names"):
        pretrained.published_metrics(["vgg17"])


def test_photo_input_keeps_the_whole_image_at_the_test_scale():
    image = pretrained.sample_image()  # 512 wide, 600 high
    x = pretrained.photo_input(image, 256)
    assert x.shape == (1, 3, 300, 256)
    assert abs(x.mean().item()) < 3 and x.dtype == torch.float32
    with pytest.raises(ValueError, match="shorter side"):
        pretrained.photo_input(image, 200)


def test_a_failed_download_says_how_to_get_the_weights(tmp_path, monkeypatch):
    def offline(url, progress=True):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(pretrained.PretrainedWeightsNotFound, match="could not download.*no network.*path="):
        pretrained.load_pretrained("vgg16", download=True)


def test_alexnets_published_metrics():
    row = pretrained.published_metrics(["alexnet"]).set_index("model").loc["alexnet"]
    assert row["params"] == 61_100_840 and row["GMACs"] == pytest.approx(0.714, abs=1e-3)  # REFERENCE.md

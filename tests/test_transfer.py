"""vgg_edu.transfer: class splits, few labels, the digits target, freezing, layer-wise learning rates (against
torch.optim's parameter groups), the four methods, and the ImageNet path on a small stand-in network."""

import copy

import pytest
import torch
from torch import nn

from vgg_edu import pretrained, transfer
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data


def test_split_classes_keeps_and_relabels_those_classes():
    ds = tiny_data(n_train=200, n_test=50, n_val=40)
    part = transfer.split_classes(ds, [7, 2])
    assert part.classes == (ds.classes[7], ds.classes[2])
    for split in ("train", "val", "test"):
        images, labels = ds.split(split)
        got_images, got_labels = part.split(split)
        keep = (labels == 7) | (labels == 2)
        assert torch.equal(got_images, images[keep])
        assert torch.equal(got_labels, (labels[keep] == 2).long())  # 7 -> 0, 2 -> 1


@pytest.mark.parametrize("classes", [[], [1, 1], [10], [-1]])
def test_split_classes_refuses_bad_classes(classes):
    with pytest.raises(ValueError, match="distinct indices"):
        transfer.split_classes(tiny_data(), classes)


def test_few_labels_keeps_that_many_per_class():
    ds = transfer.split_classes(tiny_data(n_train=400, n_val=40), range(3))
    few = transfer.few_labels(ds, 5, seed=1)
    assert torch.bincount(few.train_labels, minlength=3).tolist() == [5, 5, 5]
    assert torch.equal(few.val_labels, ds.val_labels)
    with pytest.raises(ValueError, match="fewer than"):
        transfer.few_labels(ds, 10_000)


def test_digits_is_sklearns_bundled_set_in_the_course_container():
    from sklearn.datasets import load_digits

    d = transfer.digits(n_val=300, n_test=200)
    assert (len(d.train_labels), len(d.val_labels), len(d.test_labels)) == (1297, 300, 200)
    assert d.train_images.dtype == torch.uint8 and d.train_images.shape[1:] == (8, 8)
    assert int(d.train_images.max()) == 255 and d.classes == tuple("0123456789")
    raw = load_digits()
    first = int(torch.randperm(1797, generator=torch.Generator().manual_seed(0))[0])  # the first validation image
    assert torch.equal(d.val_images[0], torch.from_numpy((raw.images[first] * 255 / 16).round().astype("uint8")))


def test_scaled_gradients_equal_a_smaller_learning_rate_for_sgd():
    """What transfer.scale_lr relies on: SGD with momentum and no weight decay, gradients times r, moves a layer
    exactly as torch.optim's parameter group with learning rate r * lr does."""
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    b = copy.deepcopy(a)
    transfer.scale_lr(a[0], 0.1)
    opt_a = torch.optim.SGD(a.parameters(), lr=0.5, momentum=0.9)
    opt_b = torch.optim.SGD([{"params": b[0].parameters(), "lr": 0.05}, {"params": b[2].parameters()}], lr=0.5,
                            momentum=0.9)  # fmt: skip
    for _ in range(5):
        x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_frozen_layers_do_not_move_and_keep_their_batch_norm_statistics(one_thread):
    ds = tiny_data(n_train=64, n_val=16)
    model = small_model()
    transfer.freeze(model.features)
    before = {k: v.clone() for k, v in model.features.state_dict().items()}
    head = model.classifier[-1].weight.clone()
    fit(model, ds, epochs=1, batch_size=32, quiet=True)
    assert all(torch.equal(before[k], v) for k, v in model.features.state_dict().items())
    assert not torch.equal(head, model.classifier[-1].weight)
    model.train()
    assert not any(m.training for m in model.features.modules() if isinstance(m, nn.BatchNorm2d))
    assert copy.deepcopy(model).features[1].train().training is False  # survives a copy


@pytest.mark.parametrize(
    "method, frozen_stages", [("linear probe", 5), ("last two blocks", 3), ("full fine-tune", 0), ("from scratch", 0)]
)
def test_each_method_trains_the_layers_it_says(method, frozen_stages):
    source = small_model()
    target = transfer.split_classes(tiny_data(), range(4))
    model = transfer.prepare(source, target, method)
    assert model.classifier[-1].out_features == 4 and model.input_spec.classes == target.classes
    stages = transfer.stage_slices(model)
    for i, s in enumerate(stages):
        trainable = all(p.requires_grad for p in model.features[s].parameters())
        assert trainable == (i >= frozen_stages), (method, i)
    same = torch.equal(model.features[0].weight, source.features[0].weight)
    assert same == (method != "from scratch")
    assert source.classifier[-1].out_features == 10  # the source is untouched


def test_prepare_refuses_unknown_methods():
    with pytest.raises(ValueError, match="unknown method"):
        transfer.prepare(small_model(), tiny_data(), "fine tune")


def test_compare_methods_reports_every_method(one_thread):
    target = transfer.split_classes(tiny_data(n_train=120, n_val=30), range(3))
    table, models = transfer.compare_methods(small_model(), target, epochs=1, batch_size=32, lr=0.05)
    assert list(table.index) == list(transfer.METHODS) == list(models)
    assert table.loc["linear probe", "trainable_params"] == 32 * 3 + 3
    assert table["val_acc"].between(0, 1).all()


def test_labels_sweep_has_a_row_per_count_and_method(one_thread):
    target = transfer.split_classes(tiny_data(n_train=200, n_val=30), range(2))
    sweep = transfer.labels_sweep(small_model(), target, (2, 4), ["linear probe"], epochs=1, batch_size=8)
    assert list(sweep.index) == [(2, "linear probe"), (4, "linear probe")]
    assert sweep["val_acc"].between(0, 1).all()


def test_imagenet_vgg16_uses_the_recipe_learning_rates_on_a_stand_in(one_thread):
    """The path that needs ImageNet weights, run on a small 3-channel VGG: a grey image becomes three equal
    channels (ImageNet-normalised), a new fc8, and the features' gradients scaled by 0.1 (1e-5 against 1e-4)."""
    from vgg_edu.models import VGG

    target = transfer.as_rgb(transfer.split_classes(tiny_data(n_train=60, n_val=20), range(2)))
    assert target.train_images.shape[1] == 3 and torch.equal(target.train_images[:, 0], target.train_images[:, 2])
    stand_in = VGG("A", in_channels=3, width_divisor=16, batch_norm=True, head="gap", num_classes=1000)
    model = transfer.imagenet_vgg16(target, model=stand_in, size=32)
    assert getattr(stand_in, "input_spec", None) is None and stand_in.classifier[-1].out_features == 1000  # untouched
    assert model.classifier[-1].out_features == 2 and model.input_spec.classes == target.classes
    x = model.input_spec(target.train_images[:4])
    assert x.shape == (4, 3, 32, 32)
    assert torch.allclose(x[:, 0] * 0.229 + 0.485, x[:, 2] * 0.225 + 0.406, atol=1e-5)
    plain = transfer.new_head(stand_in, target.classes)
    plain.load_state_dict(model.state_dict())
    for m in (model, plain):
        m.eval()
        nn.functional.cross_entropy(m(x), target.train_labels[:4]).backward()
    assert torch.allclose(model.features[0].weight.grad, 0.1 * plain.features[0].weight.grad, rtol=1e-4, atol=1e-9)
    assert torch.allclose(model.classifier[-1].weight.grad, plain.classifier[-1].weight.grad, rtol=1e-4)
    fit(model, target, epochs=1, batch_size=30, lr=1e-4, momentum=0.9, quiet=True)


def test_imagenet_vgg16_says_when_the_weights_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(pretrained.PretrainedWeightsNotFound, match="download=True"):
        transfer.imagenet_vgg16(tiny_data())


@requires_cuda
@pytest.mark.cuda
def test_prepare_keeps_a_model_on_cuda():
    model = small_model(width_divisor=8).cuda()
    classes = transfer.split_classes(tiny_data(n_train=64, n_test=16, n_val=16), range(3))
    assert transfer.prepare(model, classes, "from scratch").features[0].weight.is_cuda

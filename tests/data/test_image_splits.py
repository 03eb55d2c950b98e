"""The data set type every source builds: the validation split and subsets keep each image with its label, the input
contract comes from its normalisation (or is measured), every source builds this one type under this one name, and
DataError is what every source raises."""

import importlib
import pkgutil
import re

import numpy as np
import pytest
import torch
from PIL import Image

import vgg_edu
from vgg_edu import transfer
from vgg_edu.data import fashion_mnist, image_folder, image_splits
from vgg_edu.data.image_splits import DataError, ImageSplits
from vgg_edu.data.inputs import CLASSES, MEAN, STD

from conftest import tiny_data, write_idx


def numbered(n_train: int, n_test: int, seed: int = 0) -> ImageSplits:
    """Images that are told apart by their value (image i of a split is all i), with random labels 0-9."""
    g = torch.Generator().manual_seed(seed)

    def split(n, start):
        images = torch.arange(start, start + n, dtype=torch.uint8).view(-1, 1, 1).expand(-1, 28, 28).contiguous()
        return images, torch.randint(0, 10, (n,), generator=g)

    return ImageSplits(*split(n_train, 0), *split(n_test, 100), source="numbered")


def test_hold_out_moves_a_seeded_validation_split():
    ds = numbered(30, 5)
    split = ds.hold_out(10, seed=2)
    assert len(split.train_labels) == 20 and len(split.val_labels) == 10 and len(split.test_labels) == 5
    together = torch.cat([split.train_images, split.val_images]).flatten(1)
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, ds.train_images.flatten(1).tolist()))
    for image, label in zip(split.val_images, split.val_labels):  # image i keeps label i
        assert ds.train_labels[int(image[0, 0])] == label
    assert torch.equal(ds.hold_out(10, seed=2).val_labels, split.val_labels)
    assert not torch.equal(ds.hold_out(10, seed=3).val_images, split.val_images)
    assert split.split("val")[0] is split.val_images
    assert split.source == "numbered (validation: 10 held out, seed 2)"
    with pytest.raises(ValueError, match="n_val"):
        ds.hold_out(30)
    with pytest.raises(ValueError, match="split must be"):
        ds.split("validation")


def test_subset_keeps_images_with_their_labels():
    ds = numbered(30, 20).hold_out(6)
    small = ds.subset(10, 4, seed=1)
    assert len(small.train_labels) == 10 and small.test_images.shape == (4, 28, 28) and len(small.val_labels) == 4
    for img, lab in zip(small.train_images, small.train_labels):
        i = next(i for i in range(len(ds.train_labels)) if torch.equal(ds.train_images[i], img))
        assert ds.train_labels[i] == lab
    assert len(set(small.train_images[:, 0, 0].tolist())) == 10  # drawn without replacement
    assert torch.equal(ds.subset(10, 4, seed=1).train_labels, small.train_labels)
    assert len(ds.subset(10, 4, n_val=2).val_labels) == 2
    for bad in ((0, 4), (10, 0), (25, 4), (10, 21)):
        with pytest.raises(ValueError, match="must be between 1 and"):
            ds.subset(*bad)


@pytest.mark.parametrize("n_val", [0.1, 2.5, "3"])
def test_hold_out_takes_a_count_and_says_how_to_turn_a_fraction_into_one(n_val):
    ds = numbered(30, 5)
    message = "not a fraction; for 10% of the training images pass round(0.1 * len(data.train_labels)) = 3"
    with pytest.raises(ValueError, match=re.escape(message) if n_val == 0.1 else "a whole number") as err:
        ds.hold_out(n_val)
    assert "n_val is a number of images" in str(err.value)
    assert len(ds.hold_out(np.int64(3)).val_labels) == 3  # numpy's whole numbers are counts too


def test_the_input_contract_is_the_given_normalisation_or_the_training_splits_own():
    ds = numbered(30, 5)
    spec = ds.input_spec(32)
    assert (spec.size, spec.mean, spec.std, spec.classes) == (32, (MEAN,), (STD,), CLASSES)  # Fashion-MNIST's
    rgb = torch.randint(0, 256, (12, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    own = ImageSplits(rgb, torch.zeros(12, dtype=torch.long), rgb[:2], torch.zeros(2, dtype=torch.long), ("a", "b"),
                      mean=None, std=None)  # fmt: skip
    pixels = rgb.numpy().astype(np.float64) / 255
    spec = own.input_spec()
    assert spec.classes == ("a", "b") and spec.size is None
    assert np.allclose(spec.mean, pixels.mean(axis=(0, 2, 3)), atol=5e-5)  # four decimals
    assert np.allclose(spec.std, pixels.std(axis=(0, 2, 3)), atol=5e-5)


def test_repr_names_the_type_and_counts_each_split():
    assert repr(numbered(30, 5).hold_out(4)) == (
        "ImageSplits(train=26, val=4, test=5, size=(28, 28), source='numbered (validation: 4 held out, seed 0)')"
    )


def test_every_source_builds_this_one_type(tmp_path):
    write_idx(tmp_path / "fm", n_train=6, n_test=3)
    for cls in ("cat", "dog"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (12, 12), 40 * i).save(tmp_path / "photos" / cls / f"{i}.png")
    built = (
        fashion_mnist.load_fashion_mnist(tmp_path / "fm", download=False),
        image_folder.load_image_folder(tmp_path / "photos", 8),
        transfer.digits(),
        tiny_data(),
    )
    assert [type(ds) for ds in built] == [ImageSplits] * 4
    assert [len(ds.classes) for ds in built] == [10, 2, 10, 10]


def test_the_type_has_one_name_in_the_package():
    """No alias and no second home: wherever a module of vgg_edu holds the type or DataError, it is under its own
    name, and the old name is gone."""
    for info in pkgutil.walk_packages(vgg_edu.__path__, "vgg_edu."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if value is ImageSplits or value is DataError:
                assert name == value.__name__, f"{info.name}.{name} is {value.__name__} under another name"
        assert not hasattr(module, "FashionMNIST"), info.name
    assert ImageSplits.__module__ == DataError.__module__ == image_splits.__name__

"""The data-source policy: which kind of source a folder is, and how it is opened, described and prepared, each
checked against the loaders and the type's own methods called directly."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from vgg_edu.data import fashion_mnist, image_folder, sources
from vgg_edu.data.image_splits import DataError
from vgg_edu.data.sources import FASHION_MNIST, IMAGE_FOLDER, Source

from conftest import write_idx


def photos(root: Path, per_class: int = 12, classes=("cat", "dog")) -> Path:
    """``per_class`` small grey PNGs in each class's subfolder, the class written into their brightness."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("L", (20, 16), 40 + 150 * c + i).save(root / name / f"{i:02d}.png")
    return root


def same(a, b) -> bool:
    return all(torch.equal(x, y) for k in ("train", "val", "test") for x, y in zip(a.split(k), b.split(k)))


def test_identify_tells_fashion_mnist_from_a_folder_of_images(nowhere):
    write_idx(nowhere / "fm")
    write_idx(nowhere / "tv" / "FashionMNIST" / "raw")  # torchvision's layout below the folder named
    photos(nowhere / "photos")
    assert sources.identify() == Source(FASHION_MNIST, None)  # the usual places, looked in when it is opened
    assert sources.identify(nowhere / "fm") == Source(FASHION_MNIST, nowhere / "fm")
    assert sources.identify(str(nowhere / "tv")) == Source(FASHION_MNIST, nowhere / "tv")
    assert sources.identify(nowhere / "photos") == Source(IMAGE_FOLDER, nowhere / "photos")
    photos(nowhere / "fm")  # the four files win over subfolders beside them
    assert sources.identify(nowhere / "fm").kind == FASHION_MNIST


def test_identify_refuses_what_is_neither_and_never_makes_a_folder(nowhere):
    (nowhere / "empty").mkdir()
    (nowhere / "loose").mkdir()
    Image.new("L", (8, 8)).save(nowhere / "loose" / "a.png")  # images, but in no class subfolder
    (nowhere / "hidden" / ".ipynb_checkpoints").mkdir(parents=True)
    for folder in ("empty", "loose", "hidden"):
        with pytest.raises(DataError, match="holds neither Fashion-MNIST's four files nor subfolders") as err:
            sources.identify(nowhere / folder)
        assert str(nowhere / folder) in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        sources.identify(nowhere / "typo" / "deeper")
    assert not (nowhere / "typo").exists()
    with pytest.raises(DataError, match="is a file, not a folder"):
        sources.identify(nowhere / "loose" / "a.png")


def test_load_opens_each_kind_with_its_own_loader(nowhere):
    write_idx(nowhere / "fm", n_train=10, n_test=4)
    photos(nowhere / "photos")
    fm = sources.load(sources.identify(nowhere / "fm"), 64, seed=3)
    assert same(fm, fashion_mnist.load_fashion_mnist(nowhere / "fm", download=False))
    assert fm.train_images.shape == (10, 28, 28)  # Fashion-MNIST as stored: the model resizes
    mine = sources.load(sources.identify(nowhere / "photos"), 16, seed=3)
    assert same(mine, image_folder.load_image_folder(nowhere / "photos", 16, seed=3))
    assert mine.train_images.shape[1:] == (1, 16, 16) and mine.mean is None


def test_load_downloads_only_when_no_folder_was_named(nowhere, fake_download):
    (nowhere / "mine").mkdir()
    with pytest.raises(FileNotFoundError, match="mine"):
        sources.load(Source(FASHION_MNIST, nowhere / "mine"), 32)
    assert fake_download == []
    assert len(sources.load(sources.identify(), 32).train_labels) == 7 and fake_download == [Path("data")]


def test_describe_says_where_the_data_is_and_how_many_images(nowhere):
    write_idx(nowhere / "fm", n_train=48, n_test=16)
    photos(nowhere / "photos", per_class=5, classes=("ants", "bees", "cats"))
    assert sources.describe(sources.identify(nowhere / "fm")) == (
        f"Fashion-MNIST found in {nowhere / 'fm'}: 48 training and 16 test images"
    )
    assert sources.describe(sources.identify(nowhere / "photos")) == (
        f"Image folder {nowhere / 'photos'}: 15 images of 3 classes (ants, bees, cats)"
    )


def test_describe_reads_every_file_and_says_how_to_get_what_is_missing(nowhere):
    with pytest.raises(FileNotFoundError) as err:
        sources.describe(sources.identify())
    assert str(nowhere / "debian") in str(err.value) and "apt-get install dataset-fashion-mnist" in str(err.value)
    write_idx(nowhere / "fm")
    (nowhere / "fm" / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01 cut")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        sources.describe(sources.identify(nowhere / "fm"))
    photos(nowhere / "one", classes=("cat",))
    with pytest.raises(DataError, match="1 class subfolder"):
        sources.describe(sources.identify(nowhere / "one"))


def test_a_folder_of_images_names_its_own_checkpoint(nowhere):
    write_idx(nowhere / "fm")
    photos(nowhere / "holiday photos")
    assert sources.checkpoint_name(sources.identify()) is None  # the course's default
    assert sources.checkpoint_name(sources.identify(nowhere / "fm")) is None
    assert sources.checkpoint_name(sources.identify(f"{nowhere / 'holiday photos'}/")) == "vgg11_holiday photos.pt"
    above_cat = nowhere / "holiday photos" / "cat" / ".."
    assert sources.checkpoint_name(Source(IMAGE_FOLDER, above_cat)) == "vgg11_holiday photos.pt"


def test_the_default_validation_split_is_fashion_mnists_5000_or_a_tenth_of_yours(nowhere):
    photos(nowhere / "photos")  # 24 images: 2 of each class held out for testing, 20 for training
    mine = sources.load(sources.identify(nowhere / "photos"), 8)
    assert sources.default_val_size(sources.identify(nowhere / "photos"), mine) == len(mine.train_labels) // 10 == 2
    assert sources.default_val_size(sources.identify(), mine) == 5000 == sources.FASHION_MNIST_VAL


def test_prepare_holds_out_then_slices_as_the_type_does(nowhere):
    write_idx(nowhere / "fm", n_train=48, n_test=16)
    source = sources.identify(nowhere / "fm")
    data = sources.load(source, 32)
    ready = sources.prepare(source, data, val_size=8, subset=(10, 4), seed=5)
    assert same(ready, data.hold_out(8, seed=5).subset(10, 4, seed=5))
    assert (len(ready.train_labels), len(ready.val_labels), len(ready.test_labels)) == (10, 4, 4)
    assert sources.prepare(source, data, val_size=0) is data
    photos(nowhere / "photos")
    mine = sources.identify(nowhere / "photos")
    held = sources.prepare(mine, sources.load(mine, 8), val_size=None)
    assert (len(held.train_labels), len(held.val_labels)) == (18, 2)  # the folder's default: a tenth


@pytest.mark.parametrize(
    ("val_size", "subset", "message"),
    [
        (48, None, "--val-size 48: there are 48 training images"),
        (None, None, "--val-size 5000: there are 48 training images"),  # Fashion-MNIST's default needs 5,001
        (8, (41, 4), "--subset 41 4: there are 40 training images (after --val-size 8) and 16 test images"),
        (8, (10, 17), "--subset 10 17: there are 40 training images"),
    ],
)
def test_prepare_refuses_numbers_that_do_not_fit(nowhere, val_size, subset, message):
    write_idx(nowhere / "fm", n_train=48, n_test=16)
    source = sources.identify(nowhere / "fm")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sources.prepare(source, sources.load(source, 32), val_size=val_size, subset=subset)


def test_prepare_refuses_data_without_test_images(nowhere):
    write_idx(nowhere / "fm", n_train=20, n_test=0)
    source = sources.identify(nowhere / "fm")
    with pytest.raises(DataError, match=f"{nowhere / 'fm'} has no test images"):
        sources.prepare(source, sources.load(source, 32), val_size=4)

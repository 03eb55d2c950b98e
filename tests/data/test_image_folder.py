"""Your own images: a generated folder of tiny PNGs (three classes, RGB and grey, of different sizes) loads into the
trainer's data set, trains from the command line, and predictions name its classes; bad folders are refused."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vgg_edu.__main__ import main
from vgg_edu.data import image_folder
from vgg_edu.data.fashion_mnist import DataError, FashionMNIST, load_fashion_mnist
from vgg_edu.data.inputs import MEAN, InputSpec
from vgg_edu.training import checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# brightness says the class, so a small net can learn it: ants dark, bees mid-grey, cats bright
LEVEL = {"ants": 30, "bees": 130, "cats": 230}


def write_folder(root, per_class=12, seed=0):
    """``per_class`` PNGs per class: every third grey ("L"), the others RGB; sizes 20 to 44 px, not square."""
    rng = np.random.default_rng(seed)
    for name, level in LEVEL.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = 20 + 2 * i, 44 - 2 * i
            pixels = np.clip(level + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels[..., 0], "L") if i % 3 == 0 else Image.fromarray(pixels, "RGB")
            image.save(root / name / f"{i:02d}.png")
    return root


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "photos")


def test_a_folder_loads_into_the_trainers_data_set(folder):
    ds = image_folder.load_image_folder(folder, 16, test_fraction=0.25, workers=0)
    assert isinstance(ds, FashionMNIST) and ds.classes == ("ants", "bees", "cats")
    assert ds.train_images.shape == (27, 3, 16, 16) and ds.test_images.shape == (9, 3, 16, 16)
    assert ds.train_images.dtype == torch.uint8 and ds.train_labels.dtype == torch.int64
    assert torch.bincount(ds.test_labels).tolist() == [3, 3, 3]  # a quarter of each class's 12
    for images, labels in (ds.split("train"), ds.split("test")):
        means = images.float().mean((1, 2, 3))
        for c, level in enumerate(LEVEL.values()):
            assert (means[labels == c] - level).abs().max() < 6  # each image under its own class's name
    assert len(ds.val_labels) == 0 and ds.source == str(folder.resolve())
    again = image_folder.load_image_folder(folder, 16, test_fraction=0.25, workers=0)
    assert torch.equal(again.test_images, ds.test_images)  # the split is seeded


def test_grey_images_among_colour_ones_become_grey_rgb(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    Image.new("L", (30, 20), 77).save(tmp_path / "a" / "grey.png")
    Image.new("RGB", (20, 30), (10, 200, 30)).save(tmp_path / "b" / "green.png")
    Image.new("RGBA", (25, 25), (5, 6, 7, 0)).save(tmp_path / "b" / "clear.png")  # alpha is dropped
    ds = image_folder.load_image_folder(tmp_path, 8, workers=0)
    images, labels = torch.cat([ds.train_images, ds.test_images]), torch.cat([ds.train_labels, ds.test_labels])
    by_value = {tuple(img[:, 4, 4].tolist()): int(lab) for img, lab in zip(images, labels)}
    assert by_value == {(77, 77, 77): 0, (10, 200, 30): 1, (5, 6, 7): 1}
    grey_only = tmp_path / "grey"
    for name in ("a", "b"):
        (grey_only / name).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (9, 9), 40 * i).save(grey_only / name / f"{i}.png")
    assert image_folder.load_image_folder(grey_only, 8, workers=0).train_images.shape[1] == 1


def test_the_shorter_side_is_resized_and_the_centre_kept(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # the left quarter red: outside the centre square, so cropped away
    pixels[:, 10:30] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    x = image_folder.read_image(tmp_path / "wide.png", 10)
    # squashed, the left 2.5 columns would be red (255); cropped, only antialiasing bleeds a little red in
    assert x.shape == (3, 10, 10) and int(x[0].max()) < 64 and int(x[2].min()) > 190
    assert image_folder.read_image(tmp_path / "wide.png", 10, channels=1).shape == (1, 10, 10)


def test_normalisation_is_measured_on_the_training_split(folder):
    ds = image_folder.load_image_folder(folder, 16, workers=0).hold_out(5, seed=1)
    spec = ds.input_spec(16)
    pixels = ds.train_images.numpy().astype(np.float64) / 255  # independent: numpy over the training images only
    assert spec.mean == pytest.approx(pixels.mean(axis=(0, 2, 3)), abs=1e-4)
    assert spec.std == pytest.approx(pixels.std(axis=(0, 2, 3)), abs=1e-4)
    assert spec.classes == ("ants", "bees", "cats") and len(spec.mean) == 3
    assert load_fashion_mnist is not None and InputSpec().mean == (MEAN,)  # Fashion-MNIST's unchanged


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    write_folder(tmp_path / "split" / "train", per_class=4)
    write_folder(tmp_path / "split" / "test", per_class=2, seed=1)
    ds = image_folder.load_image_folder(tmp_path / "split", 12, workers=0)
    assert len(ds.train_labels) == 12 and torch.bincount(ds.test_labels).tolist() == [2, 2, 2]
    (tmp_path / "split" / "test" / "cats").rename(tmp_path / "split" / "test" / "dogs")
    with pytest.raises(DataError, match="make them the same"):
        image_folder.load_image_folder(tmp_path / "split", 12, workers=0)


def test_worker_processes_decode_the_same_images(folder):
    alone = image_folder.load_image_folder(folder, 16, workers=0)
    helped = image_folder.load_image_folder(folder, 16, workers=2)
    assert torch.equal(alone.train_images, helped.train_images) and torch.equal(alone.test_labels, helped.test_labels)


@pytest.mark.parametrize("problem", ["empty", "one class", "unreadable", "no images in a class"])
def test_bad_folders_are_refused_with_one_clear_message(tmp_path, problem, capsys):
    root = tmp_path / "bad"
    root.mkdir()
    if problem == "one class":
        write_folder(root)
        for name in ("bees", "cats"):
            for f in (root / name).iterdir():
                f.unlink()
            (root / name).rmdir()
    elif problem == "unreadable":
        write_folder(root)
        (root / "bees" / "05.png").write_bytes(b"\x89PNG not really")
    elif problem == "no images in a class":
        write_folder(root)
        for f in (root / "cats").iterdir():
            f.rename(f.with_suffix(".txt"))
    expected = {
        "empty": "neither Fashion-MNIST's four files nor subfolders",
        "one class": "1 class subfolder (ants); a classifier needs at least two",
        "unreadable": "05.png: cannot read it as an image",
        "no images in a class": "Found no valid file for the classes cats",
    }[problem]
    code = main(["train", "--data", str(root), "--quiet", "--threads", "1", "--checkpoint", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "m.pt").exists()
    if problem != "empty":
        with pytest.raises(DataError, match=expected.split(" (")[0].split(";")[0]):
            image_folder.load_image_folder(root, 16, workers=0)


def test_train_and_predict_from_the_command_line(folder, tmp_path, capsys):
    ck = tmp_path / "photos.pt"
    args = ["train", "--data", folder, "--resize", "32", "--width-divisor", "16", "--hidden", "16", "--epochs", "3"]
    args += ["--batch-size", "8", "--lr", "0.05", "--quiet", "--threads", "1", "--checkpoint", ck]
    assert main(list(map(str, args))) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    model = checkpoint.load_model(ck)
    assert model.input_spec.classes == ("ants", "bees", "cats") and model.hparams["in_channels"] == 3
    assert model.hparams["num_classes"] == 3 and model.input_spec.size == 32
    metrics = json.loads(ck.with_suffix(".json").read_text())
    # 36 images: 2 of each class's 12 (a fifth, rounded) to test, a tenth of the other 30 to validation
    assert metrics["config"]["data"] == dict(metrics["config"]["data"], train=27, val=3, test=6)
    assert metrics["meta"]["data"].startswith(str(folder.resolve()))
    assert (
        metrics["inputs"]["mean"] == pytest.approx(list(model.input_spec.mean)) and len(metrics["inputs"]["std"]) == 3
    )

    files = [folder / "ants" / "00.png", folder / "cats" / "01.png"]
    assert main(["predict", "--checkpoint", str(ck), "--top", "2", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith(str(f)) for line, f in zip(lines, files))
    named = [line.split(": ")[1].split(", ") for line in lines]
    assert all(len(n) == 2 and n[0].split()[0] in LEVEL for n in named)  # the folder's class names, with percentages
    assert all(n[0].endswith("%") for n in named)

    assert main(["data", "--data", str(folder)]) == 0
    assert "36 images of 3 classes (ants, bees, cats)" in capsys.readouterr().out

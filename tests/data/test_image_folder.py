"""Your own images: a generated folder of tiny PNGs (three classes, RGB and grey, of different sizes) loads into the
trainer's data set, trains from the command line, and predictions name its classes; bad folders are refused."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vgg_edu.__main__ import main
from vgg_edu.data import image_folder
from vgg_edu.data.fashion_mnist import load_fashion_mnist
from vgg_edu.data.image_splits import DataError, ImageSplits
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
    assert isinstance(ds, ImageSplits) and ds.classes == ("ants", "bees", "cats")
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


# ---------------------------------------------------------------------------------------------------------------
# Images decoded as a viewer shows them; folders walked as people have them (issue 25)
# ---------------------------------------------------------------------------------------------------------------


def _gradient():
    """A 32 x 48 grey ramp, 0 to 1, and its 8-bit version: what the same picture saved in 8 bits holds."""
    ramp = np.linspace(0, 1, 32 * 48).reshape(32, 48)
    return ramp, np.rint(ramp * 255).astype(np.uint8)


@pytest.mark.parametrize("kind", ["16-bit PNG", "16-bit TIFF", "float TIFF in [0, 1]", "float TIFF in [0, 255]"])
def test_deep_and_float_grey_images_decode_to_the_range_a_viewer_shows(tmp_path, kind):
    ramp, eight = _gradient()
    pixels = {
        "16-bit PNG": np.rint(ramp * 65535).astype(np.uint16),
        "16-bit TIFF": np.rint(ramp * 65535).astype(np.uint16),
        "float TIFF in [0, 1]": ramp.astype(np.float32),
        "float TIFF in [0, 255]": (ramp * 255).astype(np.float32),
    }[kind]
    path = tmp_path / ("deep.png" if "PNG" in kind else "deep.tif")
    Image.fromarray(pixels).save(path)
    with Image.open(path) as image:
        assert image.mode == ("F" if "float" in kind else "I;16")  # the modes the issue saw decode to white or black
    Image.fromarray(eight, "L").save(tmp_path / "eight.png")
    x = image_folder.read_image(path, 32).int()
    reference = image_folder.read_image(tmp_path / "eight.png", 32).int()
    assert x.shape == (1, 32, 32) and (x - reference).abs().max() <= 1
    assert 120 < x.float().mean() < 135  # the ramp's mean grey, not near-white or black


def _tiff_12_bit(path, rows):
    """A minimal uncompressed grey TIFF with 12 bits per sample (as many cameras write), 8 px wide, each row one
    value: 0, 0x888 or 0xFFF, whose packing (two pixels in three bytes) is the same byte repeated, in either
    nibble order."""
    import struct

    w, h = 8, len(rows)
    data = b"".join(bytes([v & 0xFF]) * (w * 3 // 2) for v in rows)
    short, long_ = "<HHIHxx", "<HHII"
    entries = [
        struct.pack(long_, 256, 4, 1, w),
        struct.pack(long_, 257, 4, 1, h),
        struct.pack(short, 258, 3, 1, 12),  # BitsPerSample
        struct.pack(short, 259, 3, 1, 1),  # no compression
        struct.pack(short, 262, 3, 1, 1),  # black is zero
        struct.pack(long_, 273, 4, 1, 8 + 2 + 9 * 12 + 4),  # the strip starts right after this directory
        struct.pack(short, 277, 3, 1, 1),
        struct.pack(long_, 278, 4, 1, h),
        struct.pack(long_, 279, 4, 1, len(data)),
    ]
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 9) + b"".join(entries) + b"\0" * 4 + data)


def test_a_12_bit_tiff_is_scaled_by_its_own_bit_depth(tmp_path):
    _tiff_12_bit(tmp_path / "camera.tif", [0xFFF] * 8 + [0x888] * 8 + [0] * 8)
    with Image.open(tmp_path / "camera.tif") as image:
        assert image.tag_v2[258] in (12, (12,)) and np.unique(np.asarray(image)).tolist() == [0, 0x888, 0xFFF]
    x = image_folder.read_image(tmp_path / "camera.tif", 8, channels=1)[0]  # 24 x 8: the middle 8 rows kept
    _tiff_12_bit(tmp_path / "camera.tif", [0xFFF] * 8)
    white = image_folder.read_image(tmp_path / "camera.tif", 8)
    # 0x888 / 4095 * 255 = 136 (clipped to 8 bits it would be white, scaled by 65535 nearly black: 8)
    assert x.unique().tolist() == [round(0x888 / 4095 * 255)] and white.unique().tolist() == [255]


def test_nan_pixels_are_refused(tmp_path):
    pixels = np.full((20, 20), 0.5, np.float32)
    pixels[3, 4] = np.nan
    Image.fromarray(pixels).save(tmp_path / "nan.tif")
    with pytest.raises(DataError, match="nan.tif: has NaN or infinite pixels"):
        image_folder.read_image(tmp_path / "nan.tif", 8)


def test_the_exif_orientation_of_phone_photos_is_applied(tmp_path):
    shown = np.zeros((24, 12), np.uint8)
    shown[:12] = 255  # as the photo is seen: tall, the top half white
    stored = Image.fromarray(shown).transpose(Image.Transpose.ROTATE_90)  # as a phone held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    stored.save(tmp_path / "phone.png", exif=exif)
    x = image_folder.read_image(tmp_path / "phone.png", 12)[0].float()
    assert x[:5].mean() > 250 and x[-5:].mean() < 5  # upright; ignoring EXIF, the left half would be white
    stored.save(tmp_path / "plain.png")  # without the tag: as stored
    assert image_folder.read_image(tmp_path / "plain.png", 12)[0, :, :5].float().mean() > 250


def test_huge_images_are_never_decoded_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(image_folder, "MAX_PIXELS", 100 * 100)  # as 50 megapixels, at a test's scale
    Image.new("L", (400, 300), 77).save(tmp_path / "huge.png")
    with pytest.raises(DataError, match=r"huge.png: 400 x 300 px .* too large to decode"):
        image_folder.read_image(tmp_path / "huge.png", 16)
    Image.new("RGB", (400, 320), (200, 30, 90)).save(tmp_path / "huge.jpg", quality=95)
    decoded = []
    load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or load(self))
    x = image_folder.read_image(tmp_path / "huge.jpg", 16)
    assert decoded and max(w * h for w, h in decoded) <= 100 * 100  # read at 1/8 scale: 50 x 40 px
    assert x.shape == (3, 16, 16) and (x.int() - torch.tensor([200, 30, 90])[:, None, None]).abs().max() < 6


def test_pils_decompression_bomb_guard_becomes_one_message(tmp_path, monkeypatch):
    import warnings

    Image.new("L", (100, 100), 7).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # PIL warns above this and refuses above twice it
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert image_folder.read_image(tmp_path / "big.png", 8).shape == (1, 8, 8)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataError, match="big.png: too large to decode"):
        image_folder.read_image(tmp_path / "big.png", 8)


@pytest.mark.parametrize(("argument", "match"), [(dict(size=0), "size must be"), (dict(channels=2), "channels")])
def test_read_image_refuses_a_size_or_channel_count_it_cannot_give(tmp_path, argument, match):
    Image.new("RGB", (10, 10)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=match):
        image_folder.read_image(tmp_path / "a.png", **({"size": 8} | argument))


def test_a_folder_named_as_an_image_says_so(tmp_path):
    with pytest.raises(DataError, match="is a folder, not an image file") as err:
        image_folder.read_image(tmp_path, 8)
    assert "Remove or replace" not in str(err.value)


LINKS = {  # one link each (several loops at once multiply without end when loops are followed)
    "loop to the data": ("ants/loop", "..", [5, 5, 5]),
    "loop to its folder": ("bees/again", ".", [5, 5, 5]),
    "a folder above the data": ("cats/up", "../..", [5, 5, 5]),
    "an image of another class": ("cats/dup.png", "../ants/00.png", [5, 5, 5]),
    "a folder outside, twice": ("bees/more", "OUTSIDE", [5, 7, 5]),
}


@pytest.mark.parametrize("link", LINKS)
def test_symlinks_neither_multiply_images_nor_mix_classes(tmp_path, link):
    root = write_folder(tmp_path / "data" / "photos", per_class=5)
    name, target, counts = LINKS[link]
    if target == "OUTSIDE":  # followed once: a second link to the same folder adds nothing
        target = write_folder(tmp_path / "more", per_class=2, seed=3) / "bees"
        (root / "bees" / "more_again").symlink_to(target)
    (root / name).symlink_to(target)
    ds = image_folder.load_image_folder(root, 16, test_fraction=0.25, workers=0)
    assert torch.bincount(torch.cat([ds.train_labels, ds.test_labels])).tolist() == counts
    for images, labels in (ds.split("train"), ds.split("test")):
        means = images.float().mean((1, 2, 3))
        for c, level in enumerate(LEVEL.values()):
            assert (means[labels == c] - level).abs().max() < 6  # no ant labelled cat
    assert f"{sum(counts)} images of 3 classes" in image_folder.describe(root)


def test_a_link_from_the_test_split_to_training_images_is_not_followed(tmp_path):
    split = tmp_path / "split"
    write_folder(split / "train", per_class=3)
    write_folder(split / "test", per_class=1, seed=1)
    (split / "test" / "ants" / "train_ants").symlink_to("../../train/ants")
    ds = image_folder.load_image_folder(split, 16, workers=0)
    assert len(ds.train_labels) == 9 and len(ds.test_labels) == 3


def test_hidden_and_system_entries_are_neither_classes_nor_images(tmp_path):
    root = write_folder(tmp_path / "photos", per_class=3)
    for hidden in (".ipynb_checkpoints", "__MACOSX/ants", "ants/.thumbnails", ".Trash"):
        write_folder(root / hidden, per_class=2)
    (root / "ants" / "._00.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")  # macOS's
    (root / "bees" / ".DS_Store").write_bytes(b"\0" * 16)
    ds = image_folder.load_image_folder(root, 16, workers=0)
    assert ds.classes == ("ants", "bees", "cats") and len(ds.train_labels) + len(ds.test_labels) == 9
    assert image_folder.describe(root).endswith("9 images of 3 classes (ants, bees, cats)")
    only_hidden = tmp_path / "notebooks"
    (only_hidden / ".ipynb_checkpoints").mkdir(parents=True)
    assert not image_folder.is_image_folder(only_hidden) and image_folder.is_image_folder(root)


def test_an_unreadable_file_decoded_in_a_worker_process_gets_the_same_one_line(tmp_path):
    root = write_folder(tmp_path / "photos", per_class=10)
    (root / "cats" / "09.png").write_bytes(b"\x89PNG not really")  # past the 16 decoded before the workers start
    for workers in (0, 2):
        with pytest.raises(DataError) as err:
            image_folder.load_image_folder(root, 16, workers=workers)
        assert str(err.value).startswith(f"{root / 'cats' / '09.png'}: cannot read it as an image")
        assert "Traceback" not in str(err.value) and "worker" not in str(err.value)


@pytest.mark.parametrize(
    ("pixels", "white", "black"),
    [
        (lambda r: np.int32(r * 65535), 65535, 0),  # 32-bit integers that fit 16 bits: 16-bit white
        (lambda r: np.int32(r * 1_000_000), 1_000_000, 0),  # beyond 16 bits: the image's own maximum is white
        (lambda r: np.float32(2 * r - 1), 1.0, -1.0),  # floats outside [0, 255]: from their minimum to their maximum
    ],
)
def test_images_without_a_defined_white_are_scaled_by_their_own_range(tmp_path, pixels, white, black):
    ramp = _gradient()[0]
    values = pixels(ramp)
    Image.fromarray(values).save(tmp_path / "wide.tif")
    with Image.open(tmp_path / "wide.tif") as image:
        assert image.mode in ("I", "F")
    x = image_folder.read_image(tmp_path / "wide.tif", 32)[0].int()
    expected = np.rint((values.astype(np.float64) - black) / (white - black) * 255).astype(np.uint8)
    Image.fromarray(expected).save(tmp_path / "reference.png")  # 8 bits by hand, then resized as read_image does
    assert (x - image_folder.read_image(tmp_path / "reference.png", 32)[0].int()).abs().max() <= 1

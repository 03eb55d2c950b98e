"""Your own images: a folder with one subfolder per class (torchvision's ``ImageFolder`` layout), loaded into the
in-memory data set every source builds (``vgg_edu.data.image_splits.ImageSplits``), so ``fit``, ``evaluate`` and
the command line work unchanged::

    photos/cat/001.jpg  photos/cat/002.png  photos/dog/a.jpg ...          one folder: a test split is held out
    photos/train/cat/... photos/train/dog/... photos/test/cat/... ...    or the splits as you made them

Classes are the subfolders' names, sorted; files are those with an image extension (torchvision's
``IMG_EXTENSIONS``), in the class folder or below it. Folders are walked as people have them: hidden entries
(names starting with "." such as ``.ipynb_checkpoints/``, ``.thumbnails/`` and macOS's ``._photo.jpg``) and
system folders (``__MACOSX/``, ``@eaDir/`` ...) are skipped. A symbolic link to a folder or file outside the data is
followed once; a link into the data, or to a folder above it (a loop such as ``cat/loop -> ..``), is not: what it
points to is taken where it really is. So no image counts twice, under another class, or in both splits.

PIL decodes each image (JPEG, PNG, GIF, BMP, TIFF, WebP ...) to 8 bits per channel as a viewer shows it:

- the EXIF orientation of phone photos is applied (``ImageOps.exif_transpose``);
- 16-bit grey (``I;16``) is scaled by its bit depth (x 255 / 65535, or / 4095 for a 12-bit TIFF); 32-bit integer
  grey (``I``) likewise when its values fit 16 bits, else by its own range; float grey (``F``) in [0, 1] is
  scaled by 255, in [0, 255] kept, otherwise scaled by its own range (NaN or infinite pixels are refused);
- grey or RGB (an alpha channel is dropped; grey images become RGB when any image is in colour);
- images over ``MAX_PIXELS`` (50 megapixels) are never decoded whole: a JPEG is decoded at a reduced scale
  (``Image.draft``, 1/2 to 1/8, still larger than ``size``), anything else is refused with a message.

Its shorter side is then resized to ``size`` (bilinear, antialiased) and the centre ``size`` x ``size`` square kept,
as torchvision's ImageNet transforms do (``Resize`` then ``CenterCrop``). The images are kept as uint8,
(N, C, size, size). Normalisation is measured on the training split (``data.pixel_stats``) when a model is built.
Worker processes decode in parallel (a DataLoader's ``num_workers``) when the first images say that decoding all
of them would take more than a couple of seconds.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from .image_splits import DataError, ImageSplits

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SPLITS = ("train", "test")
MAX_PIXELS = 50_000_000
"""Larger images are decoded at a reduced scale (JPEG) or refused, never decoded whole (a 144-megapixel photo is
2.7 GB as 16-bit RGB)."""
SYSTEM_FOLDERS = ("__MACOSX", "@eaDir", "$RECYCLE.BIN", "System Volume Information")
"""Folders that zip tools, NAS boxes and Windows add beside people's photos: never classes, never images."""


def _visible(name: str) -> bool:
    """Not hidden (".thumbnails", macOS's "._x.png") and not a system folder: a name a person gave."""
    return not name.startswith(".") and name not in SYSTEM_FOLDERS


def is_image_folder(root) -> bool:
    """True when ``root`` is a folder with at least one visible subfolder (class folders, or train/ and test/)."""
    root = Path(root)
    try:
        return root.is_dir() and any(p.is_dir() and _visible(p.name) for p in root.iterdir())
    except PermissionError:
        return False


def read_image(path, size: int, channels: int | None = None) -> torch.Tensor:
    """One image file as uint8 (C, size, size): C = ``channels`` (1 or 3), or the image's own (1 grey, 3 colour),
    decoded as the module's docstring says. The shorter side is resized to ``size`` and the centre square kept."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive whole number of pixels; got {size!r}")
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 (grey), 3 (RGB) or None (the image's own); got {channels!r}")
    try:
        with warnings.catch_warnings():  # our MAX_PIXELS check speaks instead of PIL's DecompressionBombWarning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = _eight_bit(_upright(_reduced(image, size, path)), path)
                grey = image.mode in GREY_MODES
                image = image.convert("L" if (channels == 1 or (channels is None and grey)) else "RGB")
                pixels = TF.pil_to_tensor(image)
    except IsADirectoryError as err:
        raise DataError(f"{path} is a folder, not an image file: name the image files in it") from err
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such file") from err
    except DataError:
        raise
    except Image.DecompressionBombError as err:
        raise DataError(f"{path}: too large to decode ({err})") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read it as an image ({err}). Remove or replace the file.") from err
    pixels = TF.resize(pixels, size, antialias=True)
    return TF.center_crop(pixels, [size, size])


def _reduced(image: Image.Image, size: int, path) -> Image.Image:
    """``image`` with a JPEG over ``MAX_PIXELS`` set to decode at a reduced scale; other huge images refused."""
    w, h = image.size
    if w * h > MAX_PIXELS and image.format == "JPEG":
        image.draft(image.mode, (size, size))  # DCT scaling: 1/2, 1/4 or 1/8, both sides still >= size
    if image.size[0] * image.size[1] > MAX_PIXELS:
        raise DataError(
            f"{path}: {w} x {h} px ({w * h / 1e6:.0f} megapixels) is too large to decode (the limit is "
            f"{MAX_PIXELS / 1e6:.0f}); shrink it first, or save it as JPEG, which is read at a reduced scale"
        )
    return image


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation says (phone photos are stored sideways), when it says so."""
    if image.getexif().get(ExifTags.Base.Orientation, 1) in (None, 1):
        return image
    return ImageOps.exif_transpose(image)


def _eight_bit(image: Image.Image, path) -> Image.Image:
    """A 16-bit, 32-bit integer or float grey image as 8-bit grey ("L"), scaled as the module's docstring says
    (PIL's ``convert("L")`` would clip it: 16-bit to white, [0, 1] floats to black); other modes as they are."""
    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    a = np.asarray(image).astype(np.float64)
    if not np.isfinite(a).all():
        raise DataError(f"{path}: has NaN or infinite pixels; replace them (e.g. numpy.nan_to_num) and save it again")
    lo, hi = float(a.min(initial=0.0)), float(a.max(initial=0.0))
    bits = image.tag_v2.get(258) if image.format == "TIFF" else None  # BitsPerSample: 12 for many cameras
    bits = bits[0] if isinstance(bits, tuple) else bits
    if image.mode.startswith("I") and lo >= 0 and (image.mode != "I" or hi <= 65535):
        white = 2 ** min(bits or 16, 16) - 1
    elif image.mode == "F" and lo >= 0 and hi <= 255:
        white = 1.0 if hi <= 1 else 255.0
    else:  # no white defined: the image's own range, from 0 (or its minimum, below 0) to its maximum
        a, white = a - min(lo, 0.0), max(hi - min(lo, 0.0), 1e-12)
    return Image.fromarray(np.clip(np.rint(a * (255 / white)), 0, 255).astype(np.uint8), "L")


class _Files(Dataset):
    """(path, label) pairs decoded one by one, in a DataLoader's worker processes when it has them."""

    def __init__(self, samples, size):
        self.samples, self.size = samples, size

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        try:
            return read_image(self.samples[i][0], self.size)
        except DataError as err:  # handed back as a value: raised in a worker, it would come wrapped in a traceback
            return err


class _Walk:
    """Where a data root's walk has been: a link to anything inside the root (or to a folder holding it) is not
    followed, since what it points to is taken where it really is; a link outside is followed once. So no folder is
    walked twice (no loops), and no image counts twice, under two classes or in both splits."""

    def __init__(self, root: Path):
        self.top, self.seen = os.path.realpath(root), set()

    def follow(self, path: str) -> bool:
        """Whether to take ``path`` (a folder or a file): visible, and not a link back into the data or a repeat."""
        if not _visible(os.path.basename(path)):
            return False
        real = os.path.realpath(path)
        if os.path.islink(path) and os.path.commonpath([self.top, real]) in (self.top, real):
            return False  # inside the data (taken in its real place), or a folder above it (a loop)
        if real in self.seen:
            return False
        self.seen.add(real)
        return True

    def images(self, folder: Path) -> list[str]:
        """The image files below ``folder``, sorted by folder then name (as torchvision's ``make_dataset``)."""
        found = []
        for parent, dirs, files in os.walk(folder, followlinks=True):
            dirs[:] = [d for d in dirs if self.follow(os.path.join(parent, d))]  # os.walk descends into these only
            found.append((parent, sorted(f for f in files if f.lower().endswith(IMG_EXTENSIONS))))
        return [os.path.join(p, f) for p, files in sorted(found) for f in files if self.follow(os.path.join(p, f))]


def _class_names(folder: Path) -> list[str]:
    """The visible subfolders of ``folder`` (links to folders included), sorted."""
    try:
        return sorted(e.name for e in os.scandir(folder) if _visible(e.name) and e.is_dir())
    except OSError as err:
        raise DataError(f"{folder}: cannot list it ({err})") from err


def _samples(folder: Path, classes: list | None = None, walk: _Walk | None = None) -> tuple[list, list]:
    """(path, class index) for every image below ``folder``'s class subfolders, and the class names (which must be
    ``classes`` when given: a test split of a training split's classes). ``walk``: shared by both splits."""
    found = _class_names(folder)
    if len(found) < 2:
        raise DataError(
            f"{folder}: {len(found)} class subfolder{'s' if len(found) != 1 else ''} "
            f"({', '.join(found) or 'none'}); a classifier needs at least two: put each class's images in a "
            "subfolder named after it (photos/cat/..., photos/dog/...)"
        )
    if classes is not None and list(found) != list(classes):
        raise DataError(f"{folder} has the classes {found}, but the training folder {classes}: make them the same")
    walk = walk or _Walk(folder)
    per_class = [walk.images(folder / name) if walk.follow(str(folder / name)) else [] for name in found]
    empty = [name for name, files in zip(found, per_class) if not files]
    if empty:  # torchvision's words, so that what people search for finds this
        raise DataError(
            f"{folder}: Found no valid file for the classes {', '.join(empty)}. "
            f"Supported extensions are: {', '.join(IMG_EXTENSIONS)}"
        )
    return [(path, c) for c, files in enumerate(per_class) for path in files], found


def _decode(samples: list, size: int, workers: int | None, folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image and label, stacked; ``workers=None``: worker processes when the first 16 images say they pay."""
    start = time.perf_counter()
    head = [read_image(path, size) for path, _ in samples[:16]]
    if workers is None:
        rest = (time.perf_counter() - start) / len(head) * (len(samples) - len(head))
        workers = min(8, os.cpu_count() or 1) if rest > 2.0 and (os.cpu_count() or 1) > 1 else 0
    loader = DataLoader(_Files(samples[len(head) :], size), batch_size=None, num_workers=workers)
    bar = tqdm(loader, desc=f"decoding {folder}", total=len(loader), leave=False, disable=len(loader) < 1000)
    images = head + list(bar)
    problem = next((img for img in images if isinstance(img, DataError)), None)
    if problem is not None:
        raise problem
    return _stack(images, [label for _, label in samples])


def _stack(images: list, labels: list) -> tuple[torch.Tensor, torch.Tensor]:
    channels = max(img.shape[0] for img in images)
    images = [img.expand(channels, -1, -1) for img in images]  # grey among colour: the grey value in R, G and B
    return torch.stack(images).contiguous(), torch.tensor(labels, dtype=torch.long)


def _split_test(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the training and test images: ``fraction`` of each class (rounded, at least one where the class
    has two or more images) to the test split, drawn at random (seeded)."""
    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n = min(max(round(fraction * len(idx)), 1), len(idx) - 1) if len(idx) > 1 else 0
        test.append(idx[:n])
        train.append(idx[n:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def load_image_folder(
    root, size: int, *, test_fraction: float = 0.2, seed: int = 0, workers: int | None = None
) -> ImageSplits:
    """Load ``root`` (see the module's docstring) into memory at ``size`` x ``size`` px.

    With ``train/`` and ``test/`` subfolders those are the splits; otherwise ``test_fraction`` of each class is
    held out for testing (seeded). Hold out a validation split from the training images with ``.hold_out(n)``.
    ``workers``: DataLoader worker processes that decode (None: chosen by timing the first images; 0: none).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of images (one subfolder per class)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive whole number of pixels; got {size!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction!r}")
    walk = _Walk(root)  # both splits: an image is in one of them only
    if all((root / s).is_dir() for s in SPLITS):
        train_samples, classes = _samples(root / "train", walk=walk)
        test_samples = _samples(root / "test", classes, walk)[0]
        train_images, train_labels = _decode(train_samples, size, workers, root / "train")
        test_images, test_labels = _decode(test_samples, size, workers, root / "test")
        if train_images.shape[1] != test_images.shape[1]:  # colour in one split only: both in colour
            train_images, test_images = (x.expand(-1, 3, -1, -1).contiguous() for x in (train_images, test_images))
    else:
        samples, classes = _samples(root, walk=walk)
        images, labels = _decode(samples, size, workers, root)
        tr, te = _split_test(labels, test_fraction, seed)
        train_images, train_labels, test_images, test_labels = images[tr], labels[tr], images[te], labels[te]
    return ImageSplits(
        train_images,
        train_labels,
        test_images,
        test_labels,
        tuple(classes),
        str(root.resolve()),
        train_images[:0],
        train_labels[:0],
        mean=None,  # measured on the training split when a model is built (data.pixel_stats)
        std=None,
    )


def describe(root) -> str:
    """One line: the classes and image counts of an image folder, without decoding anything."""
    root = Path(root)
    folders = [root / s for s in SPLITS] if all((root / s).is_dir() for s in SPLITS) else [root]
    counts, walk = [], _Walk(root)
    for folder in folders:
        samples, classes = _samples(folder, walk=walk)
        counts.append(f"{len(samples):,} images" + (f" in {folder.name}/" if folder != root else ""))
    return f"{root}: {', '.join(counts)} of {len(classes)} classes ({', '.join(classes)})"

"""Your own images: a folder with one subfolder per class (torchvision's ``ImageFolder`` layout), loaded into the same
in-memory data set the trainer uses for Fashion-MNIST (``vgg_edu.data.FashionMNIST``), so ``fit``, ``evaluate`` and
the command line work unchanged::

    photos/cat/001.jpg  photos/cat/002.png  photos/dog/a.jpg ...          one folder: a test split is held out
    photos/train/cat/... photos/train/dog/... photos/test/cat/... ...    or the splits as you made them

Classes are the subfolders' names, sorted (``datasets.folder.find_classes``); files are those with an image
extension (``make_dataset``). PIL decodes each image (JPEG, PNG, GIF, BMP, TIFF, WebP ...), grey or RGB (an alpha
channel is dropped; grey images become RGB when any image is in colour); its shorter side is resized to ``size``
(bilinear, antialiased) and the centre ``size`` x ``size`` square kept, as torchvision's ImageNet transforms do
(``Resize`` then ``CenterCrop``). The images are kept as uint8, (N, C, size, size). Normalisation is measured on the
training split (``data.pixel_stats``) when a model is built. Worker processes decode in parallel (a DataLoader's
``num_workers``) when the first images say that decoding all of them would take more than a couple of seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from .fashion_mnist import DataError, FashionMNIST

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SPLITS = ("train", "test")


def is_image_folder(root) -> bool:
    """True when ``root`` is a folder with at least one subfolder (class folders, or train/ and test/)."""
    root = Path(root)
    try:
        return root.is_dir() and any(p.is_dir() for p in root.iterdir())
    except PermissionError:
        return False


def read_image(path, size: int, channels: int | None = None) -> torch.Tensor:
    """One image file as uint8 (C, size, size): C = ``channels`` (1 or 3), or the image's own (1 grey, 3 colour).
    The shorter side is resized to ``size`` and the centre square kept."""
    try:
        with Image.open(path) as image:
            grey = image.mode in GREY_MODES
            image = image.convert("L" if (channels == 1 or (channels is None and grey)) else "RGB")
            pixels = TF.pil_to_tensor(image)
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such file") from err
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: cannot read it as an image ({err}). Remove or replace the file.") from err
    pixels = TF.resize(pixels, size, antialias=True)
    return TF.center_crop(pixels, [size, size])


class _Files(Dataset):
    """(path, label) pairs decoded one by one, in a DataLoader's worker processes when it has them."""

    def __init__(self, samples, size):
        self.samples, self.size = samples, size

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return read_image(self.samples[i][0], self.size)


def _samples(folder: Path, classes: list | None = None) -> tuple[list, list]:
    """(path, class index) for every image below ``folder``'s class subfolders, and the class names (which must be
    ``classes`` when given: a test split of a training split's classes)."""
    found, class_to_idx = find_classes(str(folder))
    if len(found) < 2:
        raise DataError(
            f"{folder}: {len(found)} class subfolder{'s' if len(found) != 1 else ''} "
            f"({', '.join(found) or 'none'}); a classifier needs at least two: put each class's images in a "
            "subfolder named after it (photos/cat/..., photos/dog/...)"
        )
    if classes is not None and list(found) != list(classes):
        raise DataError(f"{folder} has the classes {found}, but the training folder {classes}: make them the same")
    try:
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as err:  # a class folder without a single image file
        raise DataError(f"{folder}: {err}") from err
    return samples, list(found)


def _decode(samples: list, size: int, workers: int | None, folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image and label, stacked; ``workers=None``: worker processes when the first 16 images say they pay."""
    start = time.perf_counter()
    head = [read_image(path, size) for path, _ in samples[:16]]
    if workers is None:
        rest = (time.perf_counter() - start) / len(head) * (len(samples) - len(head))
        workers = min(8, os.cpu_count() or 1) if rest > 2.0 and (os.cpu_count() or 1) > 1 else 0
    loader = DataLoader(_Files(samples[len(head) :], size), batch_size=None, num_workers=workers)
    bar = tqdm(loader, desc=f"decoding {folder}", total=len(loader), leave=False, disable=len(loader) < 1000)
    return _stack(head + list(bar), [label for _, label in samples])


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
) -> FashionMNIST:
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
    if all((root / s).is_dir() for s in SPLITS):
        train_samples, classes = _samples(root / "train")
        train_images, train_labels = _decode(train_samples, size, workers, root / "train")
        test_images, test_labels = _decode(_samples(root / "test", classes)[0], size, workers, root / "test")
        if train_images.shape[1] != test_images.shape[1]:  # colour in one split only: both in colour
            train_images, test_images = (x.expand(-1, 3, -1, -1).contiguous() for x in (train_images, test_images))
    else:
        samples, classes = _samples(root)
        images, labels = _decode(samples, size, workers, root)
        tr, te = _split_test(labels, test_fraction, seed)
        train_images, train_labels, test_images, test_labels = images[tr], labels[tr], images[te], labels[te]
    return FashionMNIST(
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
    counts = []
    for folder in folders:
        samples, classes = _samples(folder)
        counts.append(f"{len(samples):,} images" + (f" in {folder.name}/" if folder != root else ""))
    return f"{root}: {', '.join(counts)} of {len(classes)} classes ({', '.join(classes)})"

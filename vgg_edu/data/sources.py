"""Data sources: which kind of source a folder is, and how to open, describe and prepare it for a run.

A source is Fashion-MNIST (its four IDX files in a folder, or found in the usual places: ``fashion_mnist``) or a
folder of your images, one subfolder per class (``image_folder``). Each question about a source is answered by one
function here, so the command line (``python -m vgg_edu data`` and ``train --data``) asks and decides nothing::

    source = identify(folder)                        which kind it is (None: Fashion-MNIST, wherever it is)
    describe(source)                                 one line: where it is and how many images it holds
    data = prepare(source, load(source, 32), ...)    opened at 32 px, a validation split held out, sliced

A folder that cannot be used is a ``DataError`` saying what is wrong with it; its messages name the command line's
options (``--data``, ``--val-size``, ``--subset``), where a folder and these numbers come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import fashion_mnist, image_folder
from .image_splits import DataError, ImageSplits

FASHION_MNIST, IMAGE_FOLDER = "Fashion-MNIST", "image folder"
FASHION_MNIST_VAL = 5000
"""Fashion-MNIST's validation split (of its 60,000 training images), as the lessons hold it out (``lesson_data``)."""


@dataclass(frozen=True)
class Source:
    """A data source: its ``kind`` (``FASHION_MNIST`` or ``IMAGE_FOLDER``) and ``folder`` (None: Fashion-MNIST in
    the usual places, downloaded by torchvision when it is in none of them)."""

    kind: str
    folder: Path | None = None


def identify(folder=None) -> Source:
    """Which kind of source ``folder`` is: Fashion-MNIST when it holds the four files (in it or in torchvision's
    ``FashionMNIST/raw`` below it; these win over subfolders), else a folder of images when it has class subfolders.
    None is Fashion-MNIST from the usual places. A folder that does not exist is an error, never a download target."""
    if folder is None:
        return Source(FASHION_MNIST)
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(f"--data {folder} {what}: give the folder of Fashion-MNIST's files or of your images")
    if fashion_mnist.find_fashion_mnist(folder) is not None:
        return Source(FASHION_MNIST, folder)
    if image_folder.is_image_folder(folder):
        return Source(IMAGE_FOLDER, folder)
    raise DataError(
        f"--data {folder}: the folder holds neither Fashion-MNIST's four files nor subfolders of images, one per "
        "class (photos/cat/*.jpg, photos/dog/*.jpg)"
    )


def load(source: Source, size: int, *, seed: int = 0) -> ImageSplits:
    """The source's images in memory: Fashion-MNIST as stored (28 px; downloaded only when no folder was named),
    your images at ``size`` px with a seeded test split when the folder has no ``train/`` and ``test/``."""
    if source.kind == IMAGE_FOLDER:
        return image_folder.load_image_folder(source.folder, size, seed=seed)
    return fashion_mnist.load_fashion_mnist(source.folder, download=source.folder is None)


def describe(source: Source) -> str:
    """One line: where the source is and what it holds. Fashion-MNIST's files are read in full (a truncated or
    unreadable one says so); an image folder's images are counted, not decoded. Fashion-MNIST found nowhere is a
    FileNotFoundError saying where it was looked for and how to get it."""
    if source.kind == IMAGE_FOLDER:
        return f"Image folder {image_folder.describe(source.folder)}"
    found = fashion_mnist.find_fashion_mnist(source.folder)
    if found is None:
        raise FileNotFoundError(
            "Fashion-MNIST not found in: "
            + ", ".join(map(str, fashion_mnist.candidate_dirs(source.folder)))
            + ". Get it with `sudo apt-get install dataset-fashion-mnist`, or set VGG_EDU_DATA to a folder holding "
            "the four *-ubyte(.gz) files; with internet, torchvision downloads it on first use."
        )
    data = fashion_mnist.load_fashion_mnist(found, download=False)
    counts = f"{len(data.train_labels):,} training and {len(data.test_labels):,} test images"
    return f"Fashion-MNIST found in {found}: {counts}"


def checkpoint_name(source: Source) -> str | None:
    """The file name a run on the source is saved under by default: None for Fashion-MNIST (the course's own, the
    model notebook 05 loads); for your images one named after their folder, so it never replaces the lessons' model."""
    if source.kind == IMAGE_FOLDER:
        return f"vgg11_{source.folder.resolve().name or 'images'}.pt"
    return None


def default_val_size(source: Source, data: ImageSplits) -> int:
    """How many training images a run holds out for validation when not told: Fashion-MNIST's 5,000 (as the lessons
    do), a tenth of your images' training split."""
    return FASHION_MNIST_VAL if source.kind == FASHION_MNIST else len(data.train_labels) // 10


def prepare(source: Source, data: ImageSplits, *, val_size: int | None, subset=None, seed: int = 0) -> ImageSplits:
    """``data`` as a run trains on it: ``val_size`` training images held out for validation (None: the source's
    default, ``default_val_size``; 0: none), then sliced by ``subset`` = (N_TRAIN, N_TEST), with at most N_TEST
    validation images. Refused now, before any training, when the numbers do not fit or there are no test images."""
    if val_size is None:
        val_size = default_val_size(source, data)
    if not val_size < len(data.train_labels):
        raise DataError(
            f"--val-size {val_size}: there are {len(data.train_labels):,} training images to hold validation "
            "images out of; pass fewer"
        )
    data = data.hold_out(val_size, seed=seed) if val_size else data
    if not len(data.test_labels):  # found now, not after an epoch of training
        where = source.folder or "the data"
        raise DataError(f"{where} has no test images: the run's test accuracy could not be measured")
    if subset:
        (n_train, n_test), have = subset, (len(data.train_labels), len(data.test_labels))
        if n_train > have[0] or n_test > have[1]:
            raise DataError(
                f"--subset {n_train} {n_test}: there are {have[0]:,} training images (after "
                f"--val-size {val_size}) and {have[1]:,} test images"
            )
        data = data.subset(n_train, n_test, seed=seed)
    return data

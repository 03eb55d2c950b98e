"""Fashion-MNIST: find it, load it, split it.

The four original IDX files (Xiao, Rasul & Vollgraf 2017) are read straight into uint8 tensors: 60,000 train and
10,000 test images of 28 x 28 pixels, with labels 0-9. An IDX file is a big-endian header, then raw bytes::

    images:  magic 2051 (0x00000803), N, rows, cols   (four uint32), then N * rows * cols uint8 pixels
    labels:  magic 2049 (0x00000801), N               (two uint32),  then N uint8 labels

The whole data set is 55 MB and lives in memory; ``vgg_edu.data.inputs`` turns its pixels into a model's inputs.
"""

from __future__ import annotations

import gzip
import numbers
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..runtime import fast_mode
from .inputs import CLASSES, MEAN, STD, InputSpec, pixel_stats

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def _has_files(folder: Path) -> bool:
    try:
        return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in FILES)
    except PermissionError:  # a folder this user may not look into: not one that holds the data
        return False


def candidate_dirs(root=None) -> list[Path]:
    """Where the raw IDX files are looked for, in order (torchvision's FashionMNIST/raw layout too): ``root`` alone
    when it is given (an explicit folder never falls back to another copy), else ``$VGG_EDU_DATA``, ``./data`` and
    Debian's folder."""
    if root is not None:
        bases = [Path(root)]
    else:
        bases = [Path(os.environ["VGG_EDU_DATA"])] if os.environ.get("VGG_EDU_DATA") else []
        bases += [Path("data"), DEBIAN_DIR]
    return [d for b in bases for d in (b, b / "FashionMNIST" / "raw")]


def find_fashion_mnist(root=None) -> Path | None:
    """The first folder holding all four Fashion-MNIST files (plain or .gz), or None."""
    return next((d for d in candidate_dirs(root) if _has_files(d)), None)


class DataError(ValueError):
    """A Fashion-MNIST file is missing, truncated or not an IDX file of the expected kind."""


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file (plain or .gz) into a uint8 tensor: (N, rows, cols) for images, (N,) for labels.

    Checks the magic number (2051 images, 2049 labels) and that the byte count matches the header's dimensions.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except PermissionError as err:
        raise DataError(
            f"{path}: no permission to read it ({err.strerror}). Ask for read access, or copy the "
            "files somewhere you can read and pass that folder."
        ) from err
    except (OSError, EOFError) as err:  # a gzip cut short raises EOFError; a non-gzip file BadGzipFile (OSError)
        raise DataError(f"{path}: cannot read it ({err}). Delete it and get the file again.") from err
    if len(raw) < 8:
        raise DataError(
            f"{path}: only {len(raw)} bytes, too short for an IDX header. The file is truncated; "
            "delete it and get it again."
        )
    magic = int.from_bytes(raw[:4], "big")
    ndim = {IMAGE_MAGIC: 3, LABEL_MAGIC: 1}.get(magic)
    if ndim is None:
        raise DataError(
            f"{path}: magic number {magic} (0x{magic:08x}) is not an IDX image file (2051) or label "
            "file (2049). Is this the right file, and is it decompressed correctly?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: the header is cut short ({len(raw)} bytes). Delete the file and get it again.")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: the header says {' x '.join(map(str, dims))} values ({expected:,} bytes) but the "
            f"file has {len(raw):,} bytes: it is {'truncated' if len(raw) < expected else 'too long'}. "
            "Delete it and get it again."
        )
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy())


def _read_split(folder: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    def path(name):
        plain = folder / name
        return plain if plain.is_file() else folder / f"{name}.gz"

    images = read_idx(path(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(path(f"{prefix}-labels-idx1-ubyte"))
    if images.dim() != 3 or labels.dim() != 1:
        raise DataError(f"{folder}: the {prefix} image and label files are swapped (images must have magic 2051).")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} {prefix} images but {len(labels)} labels; the files do not match.")
    if len(labels) and int(labels.max()) >= len(CLASSES):
        raise DataError(f"{folder}: label {int(labels.max())} found; Fashion-MNIST labels are 0-9.")
    return images, labels.long()


def _empty_images() -> torch.Tensor:
    return torch.zeros(0, 28, 28, dtype=torch.uint8)


def _empty_labels() -> torch.Tensor:
    return torch.zeros(0, dtype=torch.long)


@dataclass
class FashionMNIST:
    """The splits in memory: uint8 images (N, 28, 28), int64 labels (N,), and the ten class names.

    ``val_*`` is empty until ``hold_out`` moves some training images there: choose and compare on validation,
    report the test split once, at the end.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple = CLASSES
    source: str = ""
    val_images: torch.Tensor = field(default_factory=_empty_images)
    val_labels: torch.Tensor = field(default_factory=_empty_labels)
    mean: tuple | None = (MEAN,)  # the normalisation; None: measured on the training split (your own images)
    std: tuple | None = (STD,)

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of "train", "val" or "test"."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', not {name!r}")
        return getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")

    def hold_out(self, n_val: int, seed: int = 0) -> FashionMNIST:
        """Move ``n_val`` training images (a count, not a fraction), drawn at random (seeded), to the validation
        split."""
        if isinstance(n_val, float) and 0 < n_val < 1:
            raise ValueError(
                f"n_val is a number of images, not a fraction; for {n_val:.0%} of the training images pass "
                f"round({n_val} * len(data.train_labels)) = {round(n_val * len(self.train_labels))}"
            )
        if isinstance(n_val, bool) or not isinstance(n_val, numbers.Integral):
            raise ValueError(f"n_val is a number of images, a whole number; got {n_val!r}")
        n_val = int(n_val)
        if not 0 <= n_val < len(self.train_labels):
            raise ValueError(f"n_val must be between 0 and {len(self.train_labels) - 1}; got {n_val}")
        order = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(seed))
        val, tr = order[:n_val], order[n_val:]
        return replace(
            self,
            train_images=self.train_images[tr],
            train_labels=self.train_labels[tr],
            source=f"{self.source} (validation: {n_val} held out, seed {seed})",
            val_images=self.train_images[val],
            val_labels=self.train_labels[val],
        )

    def subset(self, n_train: int, n_test: int, seed: int = 0, n_val: int | None = None) -> FashionMNIST:
        """A smaller data set (fast mode): ``n_train``, ``n_test`` (and ``n_val``, default as many as there are, at
        most ``n_test``) images of each split drawn at random without replacement."""
        for name, n, have in (("n_train", n_train, len(self.train_labels)), ("n_test", n_test, len(self.test_labels))):
            if not 0 < n <= have:
                raise ValueError(f"{name} must be between 1 and {have}; got {n}")
        g = torch.Generator().manual_seed(seed)
        tr = torch.randperm(len(self.train_labels), generator=g)[:n_train]
        te = torch.randperm(len(self.test_labels), generator=g)[:n_test]
        va = torch.randperm(len(self.val_labels), generator=g)[
            : min(n_test, len(self.val_labels)) if n_val is None else n_val
        ]
        return replace(
            self,
            train_images=self.train_images[tr],
            train_labels=self.train_labels[tr],
            test_images=self.test_images[te],
            test_labels=self.test_labels[te],
            source=f"{self.source} (subset {len(tr)}/{len(va)}/{len(te)}, seed {seed})",
            val_images=self.val_images[va],
            val_labels=self.val_labels[va],
        )

    def input_spec(self, size: int | None = None) -> InputSpec:
        """The input contract of a model trained on this data at ``size`` px: its class names and normalisation
        (``mean`` and ``std``, or when they are None those of the training split, ``pixel_stats``)."""
        mean, std = (self.mean, self.std) if self.mean is not None else pixel_stats(self.train_images)
        return InputSpec(size=size, mean=tuple(mean), std=tuple(std), classes=tuple(self.classes))

    def __repr__(self) -> str:
        return (
            f"FashionMNIST(train={len(self.train_labels):,}, val={len(self.val_labels):,}, "
            f"test={len(self.test_labels):,}, size={tuple(self.train_images.shape[1:])}, source={self.source!r})"
        )


def _download(root: Path) -> Path:
    from torchvision import datasets

    datasets.FashionMNIST(str(root), train=True, download=True)
    datasets.FashionMNIST(str(root), train=False, download=True)
    return root / "FashionMNIST" / "raw"


def load_fashion_mnist(root=None, *, download: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST into memory (hold out a validation split with ``.hold_out(n)``).

    Looks in ``root`` alone when it is given; otherwise in ``$VGG_EDU_DATA``, ``./data`` and Debian's
    ``/usr/share/datasets/fashion-mnist`` (each also in torchvision's ``FashionMNIST/raw`` layout). With
    ``download=True`` torchvision downloads what is missing into ``root``, ``$VGG_EDU_DATA`` or ``./data``; a failed
    download leaves no empty folders behind.
    """
    folder, reason = find_fashion_mnist(root), "download=False"
    if folder is None and download:
        target = Path(root if root is not None else os.environ.get("VGG_EDU_DATA") or "data")
        chain = (target / "FashionMNIST" / "raw", target / "FashionMNIST", target, *target.parents)
        made = [d for d in chain if not d.exists()]  # everything under the highest of these is this call's
        try:
            folder = _download(target)
        except Exception as err:  # no network, a proxy, a full disk...: say all the ways to get the data
            folder, reason = None, f"torchvision's download into {target} failed: {err}"
            if made:
                shutil.rmtree(made[-1], ignore_errors=True)
    if folder is None or not _has_files(folder):
        looked = "\n  ".join(str(d) for d in candidate_dirs(root))
        raise FileNotFoundError(
            f"Fashion-MNIST is not on this machine. Looked in:\n  {looked}\n({reason}). To get it:\n"
            "  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist  (or `make data`)\n"
            "  - with internet: vgg_edu.data.fashion_mnist.load_fashion_mnist(download=True) (torchvision downloads "
            "it to ./data)\n"
            "  - or copy the four *-ubyte(.gz) files from https://github.com/zalandoresearch/fashion-mnist into a "
            "folder and set VGG_EDU_DATA=/that/folder or pass root=..."
        )
    return FashionMNIST(*_read_split(folder, "train"), *_read_split(folder, "t10k"), source=str(folder.resolve()))


def lesson_data(fast: tuple[int, int] = (2000, 500), *, n_val: int = 5000, seed: int = 0) -> FashionMNIST:
    """Fashion-MNIST as the lessons use it: ``n_val`` training images held out for validation (seeded), and in
    fast mode (``VGG_EDU_FAST=1``, CI) a random slice of ``fast`` = (train, test) images of it."""
    ds = load_fashion_mnist().hold_out(n_val, seed=seed)
    return ds.subset(*fast, seed=seed) if fast_mode() else ds

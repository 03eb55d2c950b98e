"""Fashion-MNIST: find it, load it, split it.

The four original IDX files (Xiao, Rasul & Vollgraf 2017) are read straight into uint8 tensors: 60,000 train and
10,000 test images of 28 x 28 pixels, with labels 0-9. An IDX file is a big-endian header, then raw bytes::

    images:  magic 2051 (0x00000803), N, rows, cols   (four uint32), then N * rows * cols uint8 pixels
    labels:  magic 2049 (0x00000801), N               (two uint32),  then N uint8 labels

The whole data set is 55 MB and lives in memory, an ``ImageSplits``; ``vgg_edu.data.inputs`` turns its pixels into a
model's inputs. A file that is missing, unreadable or not what it should be is a ``DataError`` naming it.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..runtime import fast_mode
from .image_splits import DataError, ImageSplits
from .inputs import CLASSES

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


def _download(root: Path) -> Path:
    from torchvision import datasets

    datasets.FashionMNIST(str(root), train=True, download=True)
    datasets.FashionMNIST(str(root), train=False, download=True)
    return root / "FashionMNIST" / "raw"


def load_fashion_mnist(root=None, *, download: bool = True) -> ImageSplits:
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
    return ImageSplits(*_read_split(folder, "train"), *_read_split(folder, "t10k"), source=str(folder.resolve()))


def lesson_data(fast: tuple[int, int] = (2000, 500), *, n_val: int = 5000, seed: int = 0) -> ImageSplits:
    """Fashion-MNIST as the lessons use it: ``n_val`` training images held out for validation (seeded), and in
    fast mode (``VGG_EDU_FAST=1``, CI) a random slice of ``fast`` = (train, test) images of it."""
    ds = load_fashion_mnist().hold_out(n_val, seed=seed)
    return ds.subset(*fast, seed=seed) if fast_mode() else ds

"""Fashion-MNIST: find it, load it, batch it.

The four original IDX files (Xiao, Rasul & Vollgraf 2017) are read straight into uint8 tensors: 60,000 train and
10,000 test images of 28 x 28 pixels, with labels 0-9. An IDX file is a big-endian header, then raw bytes::

    images:  magic 2051 (0x00000803), N, rows, cols   (four uint32), then N * rows * cols uint8 pixels
    labels:  magic 2049 (0x00000801), N               (two uint32),  then N uint8 labels

Batches are made on the target device, one tensor operation each: uint8 -> float in [0, 1], an optional bilinear
resize (``F.interpolate``), normalisation ``(x - 0.2860) / 0.3530`` (the train set's mean and std) and an optional
random horizontal flip. No PIL, no worker processes: the whole data set is 55 MB and lives in memory.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MEAN, STD = 0.2860, 0.3530
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def _has_files(folder: Path) -> bool:
    return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in FILES)


def candidate_dirs(root=None) -> list[Path]:
    """Where the raw IDX files are looked for, in order (torchvision's FashionMNIST/raw layout too)."""
    bases = [Path(root)] if root is not None else []
    if os.environ.get("VGG_EDU_DATA"):
        bases.append(Path(os.environ["VGG_EDU_DATA"]))
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
    except (OSError, EOFError) as err:  # a gzip cut short raises EOFError; a non-gzip file BadGzipFile (OSError)
        raise DataError(f"{path}: cannot read it ({err}). Delete it and get the file again.") from err
    if len(raw) < 8:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header. The file is truncated; "
                        "delete it and get it again.")
    magic = int.from_bytes(raw[:4], "big")
    ndim = {IMAGE_MAGIC: 3, LABEL_MAGIC: 1}.get(magic)
    if ndim is None:
        raise DataError(f"{path}: magic number {magic} (0x{magic:08x}) is not an IDX image file (2051) or label "
                        "file (2049). Is this the right file, and is it decompressed correctly?")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: the header is cut short ({len(raw)} bytes). Delete the file and get it again.")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: the header says {' x '.join(map(str, dims))} values ({expected:,} bytes) but the "
                        f"file has {len(raw):,} bytes: it is {'truncated' if len(raw) < expected else 'too long'}. "
                        "Delete it and get it again.")
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


@dataclass
class FashionMNIST:
    """The two splits in memory: uint8 images (N, 28, 28), int64 labels (N,), and the ten class names."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple = CLASSES
    source: str = ""

    def subset(self, n_train: int, n_test: int, seed: int = 0) -> "FashionMNIST":
        """A smaller data set (fast mode): ``n_train`` and ``n_test`` images drawn at random without replacement."""
        g = torch.Generator().manual_seed(seed)
        tr = torch.randperm(len(self.train_labels), generator=g)[:n_train]
        te = torch.randperm(len(self.test_labels), generator=g)[:n_test]
        return FashionMNIST(self.train_images[tr], self.train_labels[tr], self.test_images[te], self.test_labels[te],
                            self.classes, f"{self.source} (subset {len(tr)}/{len(te)}, seed {seed})")

    def __repr__(self) -> str:
        return (f"FashionMNIST(train={len(self.train_labels):,}, test={len(self.test_labels):,}, "
                f"size={tuple(self.train_images.shape[1:])}, source={self.source!r})")


def _download(root: Path) -> Path:
    from torchvision.datasets import FashionMNIST as TV

    TV(str(root), train=True, download=True)
    TV(str(root), train=False, download=True)
    return root / "FashionMNIST" / "raw"


def load_fashion_mnist(root=None, *, download: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST into memory.

    Looks, in order, in ``root``, ``$VGG_EDU_DATA``, ``./data``, Debian's ``/usr/share/datasets/fashion-mnist``
    (each also in torchvision's ``FashionMNIST/raw`` layout), and, with ``download=True``, lets torchvision
    download it into ``root``, ``$VGG_EDU_DATA`` or ``./data``.
    """
    folder, reason = find_fashion_mnist(root), "download=False"
    if folder is None and download:
        target = Path(root if root is not None else os.environ.get("VGG_EDU_DATA") or "data")
        try:
            folder = _download(target)
        except Exception as err:  # no network, a proxy, a full disk...: say all the ways to get the data
            folder, reason = None, f"torchvision's download into {target} failed: {err}"
    if folder is None or not _has_files(folder):
        looked = "\n  ".join(str(d) for d in candidate_dirs(root))
        raise FileNotFoundError(
            f"Fashion-MNIST is not on this machine. Looked in:\n  {looked}\n({reason}). To get it:\n"
            "  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist  (or `make data`)\n"
            "  - with internet: vgg_edu.data.load_fashion_mnist(download=True) (torchvision downloads it to ./data)\n"
            "  - or copy the four *-ubyte(.gz) files from https://github.com/zalandoresearch/fashion-mnist into a "
            "folder and set VGG_EDU_DATA=/that/folder or pass root=..."
        )
    return FashionMNIST(*_read_split(folder, "train"), *_read_split(folder, "t10k"), source=str(folder))


def to_input(images: torch.Tensor, resize: int | None = None, device=None, *, flip: torch.Tensor | None = None,
             channels_last: bool = False) -> torch.Tensor:
    """uint8 images (N, 28, 28) or (N, 1, 28, 28) -> normalised float32 (N, 1, H, W) on ``device``.

    ``x = (pixels / 255 - 0.2860) / 0.3530``, bilinearly resized to ``resize`` x ``resize`` first when given.
    ``flip`` is an optional boolean mask (N,): those images are mirrored left-right (data augmentation).
    """
    if images.dtype != torch.uint8:
        raise TypeError(f"to_input expects uint8 pixels (0-255) as loaded by load_fashion_mnist; got {images.dtype}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"to_input expects (N, 28, 28) or (N, 1, 28, 28) images; got shape {tuple(images.shape)}")
    device = torch.device(device) if device is not None else images.device
    x = images.to(device, non_blocking=True).float().div_(255)
    if flip is not None:
        flip = flip.to(device)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if resize is not None and resize != x.shape[-1]:
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
    x = x.sub_(MEAN).div_(STD)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, resize: int | None = None, device=None,
            shuffle: bool = False, flip: bool = False, seed: int = 0, start: int = 0, channels_last: bool = False):
    """Yield ``(x, y)`` mini-batches: x from ``to_input`` on ``device``, y int64 labels there.

    ``shuffle`` draws a new order from ``seed`` (pass ``seed + epoch`` for a fresh order each epoch, repeatably);
    ``flip`` mirrors a random half of the images (drawn from the same seed). ``start`` skips the first ``start``
    batches of that same sequence, so a run stopped mid-epoch can resume exactly. The last batch may be smaller.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g) if shuffle else torch.arange(len(labels))
    mirror = torch.rand(len(labels), generator=g) < 0.5 if flip else None
    for begin in range(start * batch_size, len(order), batch_size):
        idx = order[begin:begin + batch_size]
        mask = mirror[begin:begin + batch_size] if flip else None
        x = to_input(images[idx], resize, device, flip=mask, channels_last=channels_last)
        yield x, labels[idx].to(x.device, non_blocking=True)


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def plot_samples(ds: FashionMNIST, per_class: int = 6, split: str = "train"):
    """A grid of ``per_class`` images of each class (one row per class), as they are stored: 28 x 28 uint8."""
    import matplotlib.pyplot as plt

    images, labels = (ds.train_images, ds.train_labels) if split == "train" else (ds.test_images, ds.test_labels)
    fig, axes = plt.subplots(len(ds.classes), per_class, figsize=(per_class * 0.9, len(ds.classes) * 0.95))
    for c, row in enumerate(axes):
        idx = (labels == c).nonzero().flatten()[:per_class].tolist()
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, idx):
            ax.imshow(images[i].numpy(), cmap="gray_r")
        row[0].text(-4, 14, ds.classes[c], ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.25, wspace=0.05, hspace=0.05)
    return fig


def plot_resized(size: int = 224, index: int = 0, ds: FashionMNIST | None = None):
    """One Fashion-MNIST image as the network sees it at ``size`` x ``size``: upsampling adds pixels, no detail."""
    import matplotlib.pyplot as plt

    ds = ds if ds is not None else load_fashion_mnist(download=False)
    image = ds.test_images[index]
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    a.imshow(image.numpy(), cmap="gray_r")
    a.set_title(f"stored: 28 x 28 = {28 * 28:,} pixels", fontsize=9)
    b.imshow(to_input(image[None], resize=size)[0, 0].numpy(), cmap="gray_r")
    b.set_title(f"input: {size} x {size} = {size * size:,} pixels", fontsize=9)
    for ax in (a, b):
        ax.axis("off")
    fig.tight_layout()
    return fig

"""Fashion-MNIST: find it, load it, batch it.

The four original IDX files (Xiao, Rasul & Vollgraf 2017) are read straight into uint8 tensors: 60,000 train and
10,000 test images of 28 x 28 pixels, with labels 0-9. An IDX file is a big-endian header, then raw bytes::

    images:  magic 2051 (0x00000803), N, rows, cols   (four uint32), then N * rows * cols uint8 pixels
    labels:  magic 2049 (0x00000801), N               (two uint32),  then N uint8 labels

Batches are made on the target device, one tensor operation each: uint8 -> float in [0, 1], an optional bilinear
resize (``F.interpolate``), normalisation ``(x - 0.2860) / 0.3530`` (the train set's mean and std) and an optional
random horizontal flip. No PIL, no worker processes: the whole data set is 55 MB and lives in memory.

A trained model's input contract (its input size, mean, std and class names) is an ``InputSpec``: checkpoints carry
it, as torchvision's weights carry their transforms, and ``model.input_spec(images)`` turns pixels into inputs.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
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
        """Move ``n_val`` training images, drawn at random (seeded), to the validation split."""
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


@dataclass(frozen=True)
class InputSpec:
    """A model's input contract, as torchvision's weights carry theirs: ``size`` (the side images are resized to;
    None: as stored), the per-channel ``mean`` and ``std`` it was normalised with, and the ``classes`` its outputs
    name. Calling it turns uint8 images into the model's inputs (``to_input``)."""

    size: int | None = None
    mean: tuple = (MEAN,)
    std: tuple = (STD,)
    classes: tuple = CLASSES

    def __call__(self, images: torch.Tensor, device=None, *, flip=None, channels_last: bool = False) -> torch.Tensor:
        return to_input(images, self.size, device, mean=self.mean, std=self.std, flip=flip, channels_last=channels_last)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> InputSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def pixel_stats(images: torch.Tensor, chunk: int = 512) -> tuple[tuple, tuple]:
    """Per-channel mean and standard deviation of uint8 images (N, H, W) or (N, C, H, W) as fractions of 255, four
    decimals: mean = E[x], std = sqrt(E[x^2] - E[x]^2), summed in float64 a chunk at a time."""
    if not len(images):
        raise ValueError("pixel_stats needs at least one image")
    images = images.unsqueeze(1) if images.dim() == 3 else images
    total = torch.zeros(2, images.shape[1], dtype=torch.float64)
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].to(torch.float64).div_(255).transpose(0, 1).flatten(1)
        total += torch.stack([x.sum(1), x.square().sum(1)])
    n = images.numel() / images.shape[1]
    mean, square = total / n
    std = (square - mean.square()).clamp(min=0).sqrt()
    return tuple(round(float(v), 4) for v in mean), tuple(round(max(float(v), 1e-4), 4) for v in std)


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
            "  - with internet: vgg_edu.data.load_fashion_mnist(download=True) (torchvision downloads it to ./data)\n"
            "  - or copy the four *-ubyte(.gz) files from https://github.com/zalandoresearch/fashion-mnist into a "
            "folder and set VGG_EDU_DATA=/that/folder or pass root=..."
        )
    return FashionMNIST(*_read_split(folder, "train"), *_read_split(folder, "t10k"), source=str(folder.resolve()))


def to_input(
    images: torch.Tensor,
    resize: int | None = None,
    device=None,
    *,
    mean=(MEAN,),
    std=(STD,),
    flip: torch.Tensor | None = None,
    channels_last: bool = False,
) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, C, H, W) -> normalised float32 (N, C, size, size) on ``device``.

    ``x = (pixels / 255 - mean) / std`` per channel (Fashion-MNIST's: 0.2860 and 0.3530), bilinearly resized to
    ``resize`` x ``resize`` first when given. ``flip`` is an optional boolean mask (N,): those images are mirrored
    left-right (data augmentation).
    """
    if not torch.is_tensor(images) or images.dtype != torch.uint8:
        kind = images.dtype if torch.is_tensor(images) else type(images).__name__
        raise TypeError(
            f"to_input expects uint8 pixels (0-255) as load_fashion_mnist gives them; got {kind}. "
            "Float images in [0, 1]: (x * 255).round().to(torch.uint8)."
        )
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"to_input expects (N, H, W) or (N, C, H, W) images; got shape {tuple(images.shape)}")
    device = torch.device(device) if device is not None else images.device
    x = images.to(device, non_blocking=True).float().div_(255)
    if flip is not None:
        flip = flip.to(device)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if resize is not None and (resize, resize) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (mean, std))
    x = x.sub_(mean).div_(std)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    spec: InputSpec | None = None,
    device=None,
    shuffle: bool = False,
    flip: bool = False,
    seed: int = 0,
    start: int = 0,
    channels_last: bool = False,
):
    """Yield ``(x, y)`` mini-batches: x = ``spec(images)`` (default ``InputSpec()``: 28 px, Fashion-MNIST's
    statistics) on ``device``, y int64 labels there.

    ``shuffle`` draws a new order from ``seed`` (pass ``seed + epoch`` for a fresh order each epoch, repeatably);
    ``flip`` mirrors a random half of the images (drawn from the same seed). ``start`` skips the first ``start``
    batches of that same sequence, so a run stopped mid-epoch can resume exactly. The last batch may be smaller.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    spec = spec if spec is not None else InputSpec()
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g) if shuffle else torch.arange(len(labels))
    mirror = torch.rand(len(labels), generator=g) < 0.5 if flip else None
    for begin in range(start * batch_size, len(order), batch_size):
        idx = order[begin : begin + batch_size]
        mask = mirror[begin : begin + batch_size] if flip else None
        x = spec(images[idx], device, flip=mask, channels_last=channels_last)
        yield x, labels[idx].to(x.device, non_blocking=True)


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def lesson_data(fast: tuple[int, int] = (2000, 500), *, n_val: int = 5000, seed: int = 0) -> FashionMNIST:
    """Fashion-MNIST as the lessons use it: ``n_val`` training images held out for validation (seeded), and in
    fast mode (``VGG_EDU_FAST=1``, CI) a random slice of ``fast`` = (train, test) images of it."""
    from .runtime import fast_mode

    ds = load_fashion_mnist().hold_out(n_val, seed=seed)
    return ds.subset(*fast, seed=seed) if fast_mode() else ds

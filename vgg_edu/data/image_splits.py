"""The data set type every source builds, and the error every source raises.

``ImageSplits`` holds labelled images in memory, split into training, validation and test images, with their class
names and normalisation: Fashion-MNIST (``fashion_mnist``), a folder of your images (``image_folder``),
scikit-learn's digits (``vgg_edu.transfer.digits``) and the tests' synthetic images are all one. ``DataError`` says
what is wrong with a source: the file or folder, and how to fix it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

import torch

from .inputs import CLASSES, MEAN, STD, InputSpec, pixel_stats


class DataError(ValueError):
    """A data source cannot be used as it is: a file missing, unreadable, truncated or of the wrong kind, a folder
    without the layout it needs. The message names the file or folder, what is wrong with it, and the fix."""


def _empty_images() -> torch.Tensor:
    return torch.zeros(0, 28, 28, dtype=torch.uint8)


def _empty_labels() -> torch.Tensor:
    return torch.zeros(0, dtype=torch.long)


@dataclass
class ImageSplits:
    """A labelled image data set in memory, in three splits: uint8 images (N, H, W) or (N, C, H, W), int64
    labels (N,), the class names, where it came from, and its normalisation.

    Every data source builds one (``load_fashion_mnist``, ``load_image_folder``, ``transfer.digits``, a test's
    tensors), and ``fit``, ``evaluate`` and the lessons take any of them. The class names and normalisation default
    to Fashion-MNIST's, the course's data set (as ``InputSpec``'s do); ``mean=None, std=None``: measured on the
    training split (``input_spec``). ``val_*`` is empty until ``hold_out`` moves some training images there: choose
    and compare on validation, report the test split once, at the end.
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

    def hold_out(self, n_val: int, seed: int = 0) -> ImageSplits:
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

    def subset(self, n_train: int, n_test: int, seed: int = 0, n_val: int | None = None) -> ImageSplits:
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
            f"ImageSplits(train={len(self.train_labels):,}, val={len(self.val_labels):,}, "
            f"test={len(self.test_labels):,}, size={tuple(self.train_images.shape[1:])}, source={self.source!r})"
        )

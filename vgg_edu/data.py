"""Fashion-MNIST: find it, load it, batch it."""
from __future__ import annotations

import os
from pathlib import Path

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


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

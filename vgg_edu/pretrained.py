"""Everything ImageNet: torchvision's pretrained weights, their labels and transforms, and predictions.

torchvision's weights carry their own input contract (``weights.transforms()``: resize 256, centre crop 224,
normalise with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225)) and metadata (the 1000
category names, the published accuracy), and load into ``vgg_edu.models.VGG`` key for key.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import runtime
from .models import NAMES, VGG

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class PretrainedWeightsNotFound(FileNotFoundError):
    """Raised when torchvision's ImageNet weights are neither at the given path nor in torchvision's cache."""


def torchvision_weights(name: str = "vgg16", *, batch_norm: bool = False):
    """torchvision's weights enum entry (URL, categories, transforms) for vgg11/13/16/19, with or without BN."""
    from torchvision import models

    name = name.lower().removesuffix("_bn")
    if name not in NAMES:
        raise ValueError(
            f"torchvision has ImageNet weights for {list(NAMES)} (with or without batch_norm), not {name!r}"
        )
    return getattr(models, f"{name.upper()}{'_BN' if batch_norm else ''}_Weights").IMAGENET1K_V1


def load_pretrained(
    name: str = "vgg16",
    *,
    batch_norm: bool = False,
    path: str | Path | None = None,
    download: bool = False,
    device=None,
) -> VGG:
    """Build ``name`` (vgg11/13/16/19, or with ``_bn``) and load torchvision's ImageNet weights into it, by key.

    Looks at ``path`` if given, else in torchvision's cache (``torch.hub.get_dir()/checkpoints``). With
    ``download=True`` (needs internet; notebooks pass ``runtime.on_colab()``) it fetches missing weights into that
    cache. A missing file, or a download that fails, raises ``PretrainedWeightsNotFound`` saying where it looked and
    how to get the file. Returned in eval mode, on
    ``device`` (default: the CPU, where it is built).
    """
    name = name.lower()
    if name.endswith("_bn"):
        name, batch_norm = name.removesuffix("_bn"), True
    weights = torchvision_weights(name, batch_norm=batch_norm)
    cache = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    candidates = [Path(path)] if path is not None else [cache]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None and download and path is None:
        try:
            torch.hub.load_state_dict_from_url(weights.url, progress=True)
            found = cache
        except OSError as err:  # no network (URLError is an OSError), a full disk, a refused connection
            raise PretrainedWeightsNotFound(
                f"could not download the ImageNet weights for {name} from {weights.url} ({err}). Download the file "
                f"on a machine with internet into {cache.parent}, or pass path=... ."
            ) from err
    if found is None:
        raise PretrainedWeightsNotFound(
            f"no ImageNet weights for {name}{'_bn' if batch_norm else ''}: looked for "
            f"{', '.join(str(p) for p in candidates)}. To get them, on a machine with internet run "
            f"`vgg_edu.pretrained.load_pretrained({name!r}, download=True)` (or torchvision's "
            f"`models.{name}(weights='IMAGENET1K_V1')`), or download {weights.url} and pass path=... ."
        )
    model = VGG(NAMES[name], batch_norm=batch_norm)
    model.load_state_dict(torch.load(found, map_location="cpu", weights_only=True))
    runtime.place(model, device)
    return model.eval()


def torchvision_equivalence(name: str = "vgg16", *, batch_norm: bool = False, size: int = 224, seed: int = 0) -> dict:
    """Load a torchvision VGG's ``state_dict`` (random weights, seeded) into ``vgg_edu``'s and compare outputs on
    one random image: the key sets must be identical and the largest output difference ~0."""
    from torchvision import models as tvm

    torch.manual_seed(seed)
    theirs = getattr(tvm, name + ("_bn" if batch_norm else ""))(weights=None).eval()
    ours = VGG(NAMES[name], batch_norm=batch_norm).eval()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    return {
        "model": name + ("_bn" if batch_norm else ""),
        "keys": len(theirs.state_dict()),
        "missing": list(missing),
        "unexpected": list(unexpected),
        "max_abs_diff": diff,
    }


def sample_image():
    """A photograph that ships with matplotlib (Grace Hopper, 512 px wide, 600 high) as a PIL image: no network needed.
    The file is found without importing matplotlib (only ``vgg_edu.plots`` does that)."""
    from PIL import Image

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the sample photograph ships with matplotlib: pip install matplotlib")
    path = Path(spec.submodule_search_locations[0]) / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as image:
        return image.convert("RGB")


@torch.no_grad()
def predict_imagenet(model: nn.Module, image, weights, topk: int = 5, *, device=None) -> pd.DataFrame:
    """Classify a PIL ``image`` with an ImageNet model, using ``weights``' own preprocessing (resize 256, centre
    crop 224, normalise) and category names (``torchvision_weights``)."""
    device = runtime.place(model, device)
    x = weights.transforms()(image).unsqueeze(0).to(device)
    probs = model.eval()(x).softmax(dim=1)[0]
    p, idx = probs.topk(topk)
    categories = weights.meta["categories"]
    return pd.DataFrame({"class": [categories[i] for i in idx.tolist()], "probability": p.cpu().tolist()})


def imagenet_input(images: torch.Tensor, size: int = 224, device=None) -> torch.Tensor:
    """uint8 grayscale images (N, H, W) or (N, 1, H, W) -> (N, 3, size, size) inputs for an ImageNet VGG:
    pixels / 255, resized bilinearly, gray copied to R, G and B, then (x - mean) / std with ImageNet's statistics."""
    if images.dtype != torch.uint8:
        raise TypeError(f"imagenet_input expects uint8 pixels (0-255); got {images.dtype}")
    x = images.unsqueeze(1) if images.dim() == 3 else images
    x = x.to(device).float().div(255)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    mean, std = (torch.tensor(v, device=x.device).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return (x - mean) / std


def published_metrics(names=("vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet50")) -> pd.DataFrame:
    """What torchvision publishes with its ImageNet weights (``weights.meta``, read from the installed torchvision,
    no download): parameters, single-crop ImageNet-1K validation acc@1 and acc@5 (%), GMACs per 224 px image
    (torchvision calls them "GFLOPS", but they count multiply-accumulates) and the weights file's size in MiB
    (torchvision's "MB" are 2^20 bytes: VGG-16's 138,357,544 float32 values are 553 MB, 527.8 MiB). Every model's
    IMAGENET1K_V1 weights (ResNet-50 also has V2 weights, 80.858 acc@1, from a newer training recipe)."""
    from torchvision import models

    rows = []
    for name in names:
        base = name.removesuffix("_bn")
        enum = f"{base.upper()}{'_BN' if name.endswith('_bn') else ''}_Weights"
        enum = enum.replace("RESNET", "ResNet").replace("ALEXNET", "AlexNet")
        if not hasattr(models, enum):
            raise ValueError(
                f"names: torchvision has no ImageNet weights called {name!r}; try 'vgg16', 'vgg16_bn', "
                "'alexnet', 'resnet18' or 'resnet50'"
            )
        meta = getattr(models, enum).IMAGENET1K_V1.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        rows.append(
            {
                "model": name,
                "params": meta["num_params"],
                "acc@1": metrics["acc@1"],
                "acc@5": metrics["acc@5"],
                "GMACs": meta["_ops"],
                "file_MiB": meta["_file_size"],
            }
        )
    return pd.DataFrame(rows)


def photo_input(image, size: int = 256, device=None) -> torch.Tensor:
    """A PIL photograph as one ImageNet input (1, 3, H, W), uncropped: resized so that its shorter side is ``size``
    (the paper's test scale Q, Sec. 3.2), pixels / 255, normalised with ImageNet's mean and std. For dense
    evaluation (``models.fully_convolutional``), which takes the whole image, not a 224 px crop."""
    from torchvision.transforms import functional as TF

    if not isinstance(size, int) or size < 224:
        raise ValueError(
            f"size is the shorter side in pixels, at least 224 (fc6 as a 7x7 conv needs a 7 x 7 pool5 map); got {size}"
        )
    x = TF.to_tensor(TF.resize(image.convert("RGB"), size, antialias=True))
    return TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD).unsqueeze(0).to(device)

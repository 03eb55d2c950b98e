"""What a network learned to compute, read from its weights and its last layer's input: the first layer's
filters, the penultimate features (the last Linear's input), their 2-d embedding (PCA or t-SNE), and how far each
class keeps to itself in them (``neighbour_agreement``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import runtime
from .layers import _as_batch, _chunks


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The weights of the first Conv2d, (out_channels, in_channels, k, k), on the CPU."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError("the model has no Conv2d layer")
    return conv.weight.detach().cpu()


@torch.no_grad()
def penultimate(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256, device=None) -> torch.Tensor:
    """The input of the last Linear layer for each image, (N, D) on the CPU: the features the classifier separates
    with one linear map (4096-d after fc7 in the paper's VGG)."""
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError("the model has no Linear layer, so no penultimate features")
    out = []
    with runtime.evaluating(model):
        handle = last[-1].register_forward_pre_hook(lambda m, inputs: out.append(inputs[0].detach().flatten(1).cpu()))
        try:
            for i in _chunks(len(x), batch_size, "features"):
                model(x[i : i + batch_size].to(device))
        finally:
            handle.remove()
    feats = torch.cat(out)
    return feats[0] if single else feats


def embed_2d(features, method: str = "pca", *, seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of (N, D) features: "pca" (linear: the two directions of largest variance) or "tsne"
    (non-linear, keeps neighbours; run on the first 50 principal components, as is usual)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    z = np.asarray(features.cpu() if torch.is_tensor(features) else features, dtype=np.float32)
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(z)
    if method == "tsne":
        if min(z.shape) > 50:
            z = PCA(50, random_state=seed).fit_transform(z)
        return TSNE(2, init="pca", perplexity=min(30.0, (len(z) - 1) / 3), random_state=seed).fit_transform(z)
    raise ValueError(f"unknown method {method!r}; use 'pca' or 'tsne'")


def neighbour_agreement(features, labels, k: int = 10) -> torch.Tensor:
    """For each class (0 to the largest label), the mean share of its images' ``k`` nearest neighbours in
    ``features`` (Euclidean; an image is not its own neighbour) that have the same label: near 1 for a class that
    forms a cluster of its own, lower for one that overlaps others. Read in the features themselves, so unlike a
    t-SNE picture it does not depend on a projection."""
    z = torch.as_tensor(np.asarray(features.cpu() if torch.is_tensor(features) else features), dtype=torch.float32)
    labels = torch.as_tensor(labels).cpu()
    distances = torch.cdist(z, z)
    distances.fill_diagonal_(float("inf"))
    nearest = distances.topk(k, dim=1, largest=False).indices
    same = (labels[nearest] == labels[:, None]).float().mean(1)
    return torch.stack([same[labels == c].mean() for c in range(int(labels.max()) + 1)])

"""Probe a trained network: what each layer computes, what excites a channel, where the network looks.

Every function follows ``runtime``'s device rule (``device=None``: where the model's parameters are; a given device
moves the model there) and takes one image (C, H, W) or a batch (N, C, H, W) of at least one image: uint8 pixels
are made inputs by the model's input contract (``model.input_spec``, from its checkpoint), float inputs are used as
they are. uint8 images as Fashion-MNIST stores them, (N, H, W), are N one-channel images for a one-channel model
(as ``data.to_input`` reads them). A single image gives results without the batch dimension. A target class is an
index or a class name of the model's contract ("Bag"); saliency and Grad-CAM compute their gradients even inside
``torch.no_grad()``. Layers are named by module name ("features.3") or by the paper's
names ("conv2_1", "relu2_1", "pool2", "fc6"); ``models.layer_names`` lists both. Figures: ``plots.feature_maps``.

The methods, with their formulas (c is the target class, y_c its logit, A_k the k-th channel of a layer):

- activations: forward hooks (``capture``) or torchvision's FX ``create_feature_extractor`` (``extract``).
- top-k (Zeiler & Fergus 2014): score image n by max_ij A_k[n, i, j]; its patch is the receptive field of the
  arg-max unit (i, j): the square of side ``rf`` centred at (start + i * jump, start + j * jump)
  (``analysis.layer_table``'s columns, ``receptive``'s recurrence).
- occlusion (Zeiler & Fergus 2014): S(p) = mean over the windows W that cover pixel p of P(c | x) - P(c | x_W),
  where x_W is x with W set to the baseline.
- saliency (Simonyan, Vedaldi & Zisserman 2013): S_ij = max over input channels of |d y_c / d x_ij|.
- Grad-CAM (Selvaraju et al. 2017): alpha_k = mean_ij d y_c / d A_k[i, j];  L = ReLU(sum_k alpha_k A_k).
- embedding: PCA, or t-SNE (van der Maaten & Hinton 2008), of the penultimate features (the last Linear's input).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import analysis, receptive, runtime
from .data.inputs import spec_of
from .models import layer_names

# ---------------------------------------------------------------------------------------------------------------
# Layer names, inputs, devices
# ---------------------------------------------------------------------------------------------------------------


def resolve(model: nn.Module, layer: str) -> tuple[str, nn.Module]:
    """(module name, module) for a layer name; a ValueError listing the valid names if there is no such layer."""
    names = layer_names(model)
    if layer not in names:
        raise ValueError(f"{type(model).__name__} has no layer {layer!r}. Valid names: {', '.join(names)}")
    return names[layer], model.get_submodule(names[layer])


def relu_layers(model: nn.Module) -> list[str]:
    """The paper names of the ReLUs in ``features`` (relu1_1, ...), in order: the maps the lessons look at."""
    return [
        n
        for n, full in layer_names(model).items()
        if n != full and full.startswith("features.") and isinstance(model.get_submodule(full), nn.ReLU)
    ]


def _as_batch(x: torch.Tensor, model: nn.Module | None = None) -> tuple[torch.Tensor, bool]:
    """(N, C, H, W) float batch and whether ``x`` was a single image. uint8 pixels become inputs through the
    model's input contract (``model.input_spec``; Fashion-MNIST's statistics at the stored size without one); for
    a one-channel model, uint8 (N, H, W) with N > 1 are N images, as stored."""
    if not torch.is_tensor(x) or x.dim() not in (3, 4):
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"expected one image (C, H, W) or a batch (N, C, H, W); got {shape}")
    grey_model = len(spec_of(model).mean) == 1
    stored = x.dtype == torch.uint8 and x.dim() == 3 and grey_model and x.shape[0] != 1
    single = x.dim() == 3 and not stored
    batch = x.unsqueeze(0) if single else x
    if not len(batch):
        raise ValueError(f"no images to probe: x has shape {tuple(x.shape)}; pass at least one image")
    if batch.dtype == torch.uint8:
        return spec_of(model)(batch), single
    if not batch.is_floating_point():
        raise ValueError(f"expected uint8 pixels or float inputs, got {x.dtype}")
    return batch, single


def pixel_input(model: nn.Module, pixel: int = 0):
    """The model's input value for a uint8 ``pixel`` value (0: black) by its input contract (``model.input_spec``;
    Fashion-MNIST's statistics without one): (pixel / 255 - mean) / std per channel, a float for one channel.
    A black pixel, Fashion-MNIST's background, is (0 - 0.286) / 0.353 = -0.81 after normalising, not 0."""
    if isinstance(pixel, bool) or not isinstance(pixel, int) or not 0 <= pixel <= 255:
        raise ValueError(f"pixel is a uint8 value, a whole number from 0 to 255; got {pixel!r}")
    spec = spec_of(model)
    value = spec(torch.full((1, len(spec.mean), 1, 1), pixel, dtype=torch.uint8))[0, :, 0, 0]
    return float(value[0]) if len(value) == 1 else tuple(float(v) for v in value)


def _targets(target, logits: torch.Tensor, classes=None) -> torch.Tensor:
    """Class index per image: the prediction when ``target`` is None, else an int or a class name (of ``classes``),
    or one per image."""
    if target is None:
        return logits.argmax(1)
    if isinstance(target, str) or (isinstance(target, (list, tuple)) and any(isinstance(t, str) for t in target)):
        target = [_class_index(t, classes, logits.shape[1]) for t in ([target] if isinstance(target, str) else target)]
    t = torch.as_tensor(target, device=logits.device).reshape(-1)
    if t.is_floating_point() and not torch.equal(t, t.round()):
        raise ValueError(f"target is a class index, a whole number; got {target}")
    t = t.long()
    if t.numel() not in (1, len(logits)):
        raise ValueError(f"target: give one class or one per image ({len(logits)}); got {t.numel()}")
    if t.min() < 0 or t.max() >= logits.shape[1]:
        raise ValueError(f"target class {target} is out of range: this model has classes 0 to {logits.shape[1] - 1}")
    return t.expand(len(logits)) if t.numel() == 1 else t


def _class_index(name, classes, n_outputs: int) -> int:
    """The index of class ``name`` (case aside) among ``classes``, the model's contract's class names."""
    if not isinstance(name, str):
        raise ValueError(f"target: give class indices or class names, not a mix; got {name!r} among names")
    if classes is None or len(classes) != n_outputs:
        raise ValueError(
            f"target {name!r}: this model's {n_outputs} outputs have no class names (its input contract names "
            f"{len(classes or ())} classes); pass the class index, 0 to {n_outputs - 1}"
        )
    folded = [c.casefold() for c in classes]
    if name.casefold() not in folded:
        raise ValueError(f"target {name!r} is not a class of this model; its classes are {', '.join(classes)}")
    return folded.index(name.casefold())


@contextlib.contextmanager
def _hooks(modules_and_hooks):
    handles = [m.register_forward_hook(h) for m, h in modules_and_hooks]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _chunks(n: int, batch_size: int, desc: str):
    from tqdm.auto import tqdm

    starts = range(0, n, batch_size)
    return tqdm(starts, desc=desc, leave=False, disable=len(starts) < 4)


# ---------------------------------------------------------------------------------------------------------------
# Capturing activations
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor, layers, *, clone: bool = True, device=None) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` and return {layer: its output}, recorded by forward hooks.

    ``clone=False`` shows the in-place pitfall: a hook that keeps a conv's output without copying it keeps a
    tensor that the following ``ReLU(inplace=True)`` then overwrites, so it ends up holding the post-ReLU values.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    store: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, inputs, output):
            store[name] = output.detach().clone() if clone else output.detach()  # detach() shares memory

        return hook

    with runtime.evaluating(model), _hooks([(resolve(model, name)[1], keep(name)) for name in layers]):
        model(x.to(device))
    return {name: store[name][0] if single else store[name] for name in layers}


class _Traceable(nn.Module):
    """A VGG without its input checks (their Python ``if`` cannot be traced by torch.fx); the same modules."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.features, self.avgpool, self.classifier = model.features, model.avgpool, model.classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@torch.no_grad()
def extract(model: nn.Module, x: torch.Tensor, layers, *, device=None) -> dict[str, torch.Tensor]:
    """Like ``capture``, with torchvision's ``create_feature_extractor``: torch.fx traces the model into a graph
    and returns the requested nodes as extra outputs, no hooks.

    The traced graph calls the same in-place ReLUs, so the same pitfall applies whenever a node after a conv's
    ReLU is requested too (the graph is cut after the last requested node): this function switches ``inplace``
    off while it runs (and back on after), so that a conv's output is returned as computed.
    """
    from torchvision.models.feature_extraction import create_feature_extractor

    layers = [layers] if isinstance(layers, str) else list(layers)
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    nodes = {resolve(model, name)[0]: name for name in layers}
    if hasattr(model, "check_input"):  # the traced graph skips forward's checks: the same clear errors first
        model.check_input(x.to(device))
    traceable = _Traceable(model) if hasattr(model, "check_input") else model
    inplace = [m for m in model.modules() if getattr(m, "inplace", False)]
    with runtime.evaluating(model):
        extractor = create_feature_extractor(traceable.eval(), return_nodes=nodes)  # eval: BN running stats
        try:
            for m in inplace:
                m.inplace = False
            out = extractor(x.to(device))
        finally:
            for m in inplace:
                m.inplace = True
    return {name: out[name][0] if single else out[name] for name in layers}


@torch.no_grad()
def layer_widths(model: nn.Module, x: torch.Tensor, layers=None) -> dict[str, int]:
    """The number of channels of each layer (default: every ReLU of ``features``) on input ``x``: the range a
    channel control may take."""
    layers = relu_layers(model) if layers is None else list(layers)
    x, _ = _as_batch(x, model)
    return {name: a.shape[1] for name, a in capture(model, x[:1], layers).items()}


@torch.no_grad()
def channel_stats(
    model: nn.Module, x: torch.Tensor, layers=None, *, batch_size: int = 256, device=None
) -> pd.DataFrame:
    """Per channel of each layer, over all images and positions: ``mean`` activation and ``zero_fraction``
    (share of exact zeros: after a ReLU, how often the unit is off; ``dead`` when it is always off).

    ``layers`` defaults to every ReLU in ``features`` (``relu_layers``), so the rows run from shallow to deep.
    """
    layers = relu_layers(model) if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    x, _ = _as_batch(x, model)
    sums: dict[str, torch.Tensor] = {}
    zeros: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = dict.fromkeys(layers, 0)
    for i in _chunks(len(x), batch_size, "channel stats"):
        acts = capture(model, x[i : i + batch_size], layers, device=device)
        for name, a in acts.items():
            a = a.flatten(2) if a.dim() > 2 else a.unsqueeze(2)  # N x C x positions
            sums[name] = sums.get(name, 0) + a.double().sum((0, 2)).cpu()
            zeros[name] = zeros.get(name, 0) + (a == 0).sum((0, 2)).double().cpu()
            counts[name] += a.shape[0] * a.shape[2]
    rows = []
    for depth, name in enumerate(layers):
        mean, zf = (sums[name] / counts[name]).numpy(), (zeros[name] / counts[name]).numpy()
        rows.append(
            pd.DataFrame(
                {
                    "layer": name,
                    "depth": depth,
                    "channel": np.arange(len(mean)),
                    "mean": mean,
                    "zero_fraction": zf,
                    "dead": zf == 1.0,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------------------------------------------------
# What excites a channel: top-k images and their receptive-field patches
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TopK:
    """The ``k`` images that excite ``channel`` of ``layer`` most, best first.

    ``values`` the max activation in each, ``indices`` the images' indices in the input batch, ``positions`` the
    (row, col) of the arg-max unit in the feature map, ``boxes`` its receptive field in input pixels
    (top, left, bottom, right), clipped to the image: the patch is ``x[n, :, top:bottom, left:right]``.
    """

    layer: str
    channel: int
    values: torch.Tensor
    indices: torch.Tensor
    positions: torch.Tensor
    boxes: list[tuple[int, int, int, int]]


def receptive_box(model: nn.Module, layer: str, row: int, col: int, input_size, *, table=None):
    """The input pixels (top, left, bottom, right) that unit (row, col) of ``layer`` sees, clipped to the image.

    From ``analysis.layer_table``: centre start + i * jump, side rf, so top = start + row * jump - rf / 2
    (``receptive.unit_field`` along each axis, as notebook 01 checks by back-propagation). ``input_size`` is
    (C, H, W) of one image.
    """
    full, _ = resolve(model, layer)
    table = analysis.layer_table(model, tuple(input_size)) if table is None else table
    row_of_table = table.loc[table["layer"] == full].iloc[0]
    rf, jump, start = row_of_table[["rf", "jump", "start"]]
    if math.isnan(rf):
        raise ValueError(f"{layer} mixes all positions (after a Linear layer): its units see the whole image")
    out_h, out_w = row_of_table["output_shape"][1:]
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(
            f"{layer} is a {out_h} x {out_w} map at this input size: row must be 0 to {out_h - 1} "
            f"and col 0 to {out_w - 1}; got ({row}, {col})"
        )
    h, w = input_size[1:]
    top, bottom = receptive.unit_field(rf, jump, start, row, size=h)
    left, right = receptive.unit_field(rf, jump, start, col, size=w)
    return top, left, bottom, right


@torch.no_grad()
def top_k(
    model: nn.Module, x: torch.Tensor, layer: str, channel: int, k: int = 9, *, batch_size: int = 256, device=None
) -> TopK:
    """The ``k`` images of ``x`` whose strongest unit in ``channel`` of ``layer`` is strongest (see ``TopK``)."""
    x, _ = _as_batch(x, model)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or not len(x):
        raise ValueError(f"top_k needs k >= 1 and at least one image; got k={k!r} and {len(x)} images")
    best, where = [], []
    for i in _chunks(len(x), batch_size, f"top-{k} {layer}:{channel}"):
        a = capture(model, x[i : i + batch_size], layer, device=device)[layer]
        shape = a.shape
        if not 0 <= channel < shape[1]:
            raise ValueError(f"{layer} has {shape[1]} channels (0 to {shape[1] - 1}); got channel {channel}")
        a = a[:, channel].reshape(len(a), -1)  # N x positions (one position after a Linear)
        value, pos = a.max(1)
        best.append(value.cpu())
        where.append(pos.cpu())
    best, where = torch.cat(best), torch.cat(where)
    k = min(k, len(best))
    values, indices = best.topk(k)
    width = shape[-1] if len(shape) == 4 else 1
    positions = torch.stack([where[indices] // width, where[indices] % width], 1)
    if len(shape) == 4:
        table = analysis.layer_table(model, tuple(x.shape[1:]))
        boxes = [receptive_box(model, layer, int(r), int(c), x.shape[1:], table=table) for r, c in positions]
    else:
        boxes = [(0, 0, x.shape[2], x.shape[3])] * k
    return TopK(layer, channel, values, indices, positions, boxes)


# ---------------------------------------------------------------------------------------------------------------
# Where the network looks: occlusion, saliency, Grad-CAM
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target=None,
    *,
    window: int = 8,
    stride: int = 4,
    baseline: float | tuple = 0.0,
    batch_size: int = 128,
    device=None,
) -> torch.Tensor:
    """Occlusion sensitivity, (H, W) per image: S(p) = mean over windows W covering p of P(c|x) - P(c|x_W).

    A ``window`` x ``window`` square (all channels) slides with ``stride``; inside it the input is set to
    ``baseline``, in the model's input units (one value, or one per channel): 0 after normalisation is the mean
    pixel, a grey; ``pixel_input(model, 0)`` is black, Fashion-MNIST's background. Positive: covering this region
    lowers the probability of class c (the prediction when ``target`` is None). Pixels that no window covers get 0.
    """
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    n, _, h, w = x.shape
    for name, v in (("window", window), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive whole number of pixels; got {v!r}")
    if window > min(h, w) or stride > min(h, w):
        raise ValueError(f"window ({window}) and stride ({stride}) must fit in the {h} x {w} image")
    fill = torch.as_tensor(baseline, dtype=x.dtype, device=device).reshape(-1, 1, 1)
    if len(fill) not in (1, x.shape[1]):
        raise ValueError(f"baseline: give one value or one per input channel ({x.shape[1]}); got {len(fill)}")
    tops = range(0, h - window + 1, stride)
    lefts = range(0, w - window + 1, stride)
    windows = [(t, l) for t in tops for l in lefts]
    maps = torch.zeros(n, h, w)
    with runtime.evaluating(model):
        for b in range(n):
            img = x[b : b + 1].to(device)
            probs = model(img).softmax(1)
            c = (
                probs.argmax(1)[0]
                if target is None
                else _targets(target, torch.empty(n, probs.shape[1], device=device), spec_of(model).classes)[b]
            )
            p0 = probs[0, c]
            total, count = torch.zeros(h, w, device=device), torch.zeros(h, w, device=device)
            for i in range(0, len(windows), batch_size):
                chunk = windows[i : i + batch_size]
                occluded = img.repeat(len(chunk), 1, 1, 1)
                for j, (t, l) in enumerate(chunk):
                    occluded[j, :, t : t + window, l : l + window] = fill
                drops = p0 - model(occluded).softmax(1)[:, c]
                for j, (t, l) in enumerate(chunk):
                    total[t : t + window, l : l + window] += drops[j]
                    count[t : t + window, l : l + window] += 1
            maps[b] = (total / count.clamp(min=1)).cpu()
    return maps[0] if single else maps


def saliency(model: nn.Module, x: torch.Tensor, target=None, *, device=None) -> torch.Tensor:
    """Saliency map, (H, W) per image: max over input channels of |d y_c / d x|, y_c the logit of class c."""
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    with _gradients():
        x = x.detach().to(device).clone().requires_grad_(True)
        with runtime.evaluating(model):
            logits = model(x)
            c = _targets(target, logits, spec_of(model).classes)
            (grad,) = torch.autograd.grad(logits.gather(1, c[:, None]).sum(), x)
    s = grad.abs().amax(1).cpu()
    return s[0] if single else s


def _gradients():
    """Autograd on, even inside ``torch.no_grad()`` or ``torch.inference_mode()`` (a notebook's habit)."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode(False))
    stack.enter_context(torch.enable_grad())
    return stack


def default_cam_layer(model: nn.Module) -> str:
    """Grad-CAM's usual layer: the last ReLU of ``features`` (the rectified last conv), else the last Conv2d."""
    relus = relu_layers(model)
    if relus:
        return relus[-1]
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("the model has no Conv2d layer; pass layer=... to grad_cam")
    return convs[-1]


def grad_cam(
    model: nn.Module, x: torch.Tensor, target=None, layer: str | None = None, *, upsample: bool = True, device=None
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): alpha_k = mean_ij d y_c / d A_k[i, j], L = ReLU(sum_k alpha_k A_k).

    A is the output of ``layer`` (default ``default_cam_layer``), y_c the logit of class c (the prediction when
    ``target`` is None). Returns (h, w) maps at the layer's resolution per image, or with ``upsample`` the input's
    (H, W), bilinearly interpolated.
    """
    device = runtime.place(model, device)
    x, single = _as_batch(x, model)
    layer = default_cam_layer(model) if layer is None else layer
    _, module = resolve(model, layer)
    kept = {}

    def hook(module, inputs, output):
        kept["A"] = output
        return output.clone()  # later in-place layers (ReLU) change the copy, never the A we differentiate

    with _gradients():
        x = x.detach().to(device).clone().requires_grad_(True)  # so A is in the graph even if weights are frozen
        with runtime.evaluating(model), _hooks([(module, hook)]):
            logits = model(x)
        a = kept["A"]
        if a.dim() != 4:
            raise ValueError(
                f"Grad-CAM needs a layer with spatial maps (N x C x H x W); {layer} gives shape "
                f"{tuple(a.shape)}. Pick a conv, ReLU or pool of features (default: the last ReLU)."
            )
        c = _targets(target, logits, spec_of(model).classes)
        (grads,) = torch.autograd.grad(logits.gather(1, c[:, None]).sum(), a)
    alpha = grads.mean((2, 3), keepdim=True)
    cam = F.relu((alpha * a).sum(1)).detach()
    if upsample:
        cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    cam = cam.cpu()
    return cam[0] if single else cam


# ---------------------------------------------------------------------------------------------------------------
# Filters and the penultimate features
# ---------------------------------------------------------------------------------------------------------------


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

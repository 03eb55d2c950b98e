"""Where the network looks, for a target class (an index or a class name of the model's contract; the
prediction by default): occlusion (Zeiler & Fergus 2014), saliency (Simonyan, Vedaldi & Zisserman 2013) and
Grad-CAM (Selvaraju et al. 2017), the last two computing their gradients even inside ``torch.no_grad()``."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .. import runtime
from ..data.inputs import spec_of
from .layers import _as_batch, _hooks, relu_layers, resolve


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

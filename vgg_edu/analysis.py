"""Receptive fields and per-layer tables: what each layer outputs, holds, computes and sees.

Receptive field (Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019).
Going forward through layers l = 1..L with kernel k_l (dilated: d_l (k_l - 1) + 1), stride s_l, padding p_l:

    jump_l  = jump_{l-1} * s_l                       (distance in input pixels between neighbouring units)
    rf_l    = rf_{l-1} + (k_l - 1) * jump_{l-1}      (side of the input square one unit sees)
    start_l = start_{l-1} + ((k_l - 1) / 2 - p_l) * jump_{l-1}   (input coordinate of unit 0's centre)

with rf_0 = jump_0 = 1, start_0 = 0.5 (pixel centres at 0.5, 1.5, ...). Closed form:
rf_L = 1 + sum_l (k_l - 1) * prod_{i<l} s_i.
"""
from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

# Layers that change the spatial grid, and how: (kernel, stride, padding, dilation).
_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def receptive_field(layers) -> list[tuple[int, int]]:
    """The recurrence above for a list of (kernel, stride) pairs: [(rf, jump) after each layer].

    >>> receptive_field([(3, 1), (3, 1)])   # two 3x3 convs see 5x5
    [(3, 1), (5, 1)]
    """
    rf, jump, out = 1, 1, []
    for k, s in layers:
        rf, jump = rf + (k - 1) * jump, jump * s
        out.append((rf, jump))
    return out


def _pair(v) -> int:
    """Square kernels, strides and paddings only: the table reports one number per layer."""
    if isinstance(v, tuple):
        if len(set(v)) != 1:
            raise ValueError(f"layer_table handles square kernels, strides and padding; got {v}")
        return v[0]
    return v


def _geometry(module: nn.Module, in_hw, out_hw):
    """(kernel, stride, padding) of a layer on the spatial grid, or None if it has no grid (Linear)."""
    if isinstance(module, _SPATIAL):
        dil = _pair(getattr(module, "dilation", 1))
        k = _pair(module.kernel_size)
        return dil * (k - 1) + 1, _pair(module.stride), _pair(module.padding)
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and in_hw and out_hw:
        (h, w), (oh, ow) = in_hw, out_hw
        if h % oh == 0 and w % ow == 0 and h // oh == w // ow:
            return h // oh, h // oh, 0          # exact tiling: an ordinary pool
        if oh % h == 0 and ow % w == 0:
            return "copy"                        # upsampling by repetition: each unit copies one input unit
        return None
    if isinstance(module, nn.Linear):
        return None
    return 1, 1, 0                               # elementwise (ReLU, BatchNorm, Dropout, LRN): grid unchanged


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return f"Conv2d {m.in_channels}->{m.out_channels} {_pair(m.kernel_size)}x{_pair(m.kernel_size)}"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{type(m).__name__} {_pair(m.kernel_size)}x{_pair(m.kernel_size)}/{_pair(m.stride)}"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}->{m.out_features}"
    return type(m).__name__


def _macs(m: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates per image for the weights (biases, BN, ReLU and pools count 0, as torchvision's)."""
    if isinstance(m, nn.Conv2d):
        return out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return out[0].numel() * m.in_features
    return 0


@torch.no_grad()
def layer_table(model: nn.Module, input_size=(3, 224, 224), *, device=None) -> pd.DataFrame:
    """One row per layer as the model runs on one image of ``input_size`` (C, H, W).

    Columns: ``layer`` (module name), ``type``, ``output_shape`` (C, H, W), ``params``, ``macs``,
    ``activations`` (output elements per image), ``rf`` and ``jump`` (receptive-field side and effective stride in
    input pixels, by the recurrence in this module's docstring; NaN after a layer that mixes all positions, such as
    Linear), ``start`` (input coordinate of the first unit's receptive-field centre), ``inplace``.
    Works for any stack of conv / pool / norm / activation / linear layers. See ``totals`` for the sums.
    """
    if len(input_size) != 3:
        raise ValueError(f"input_size is (channels, height, width) of one image, e.g. (3, 224, 224); got {input_size}")
    if device is None:
        device = next(model.parameters(), torch.empty(0)).device
    rows, seen = [], set()
    names = {m: n for n, m in model.named_modules()}
    state = {"rf": 1.0, "jump": 1.0, "start": 0.5, "hw": tuple(input_size[1:])}

    def hook(module, inputs, output):
        out = output[0] if isinstance(output, (tuple, list)) else output
        in_hw = state["hw"]
        out_hw = tuple(out.shape[2:]) if out.dim() == 4 else None
        geo = _geometry(module, in_hw, out_hw)
        if geo is None or out_hw is None:
            state.update(rf=math.nan, jump=math.nan, start=math.nan)
        elif geo != "copy":
            k, s, p = geo
            state.update(rf=state["rf"] + (k - 1) * state["jump"],
                         start=state["start"] + ((k - 1) / 2 - p) * state["jump"],
                         jump=state["jump"] * s)
        state["hw"] = out_hw
        rows.append({
            "layer": names.get(module, type(module).__name__),
            "type": _describe(module),
            "output_shape": tuple(out.shape[1:]),
            "params": 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False)),
            "macs": _macs(module, out),
            "activations": out[0].numel(),
            "rf": state["rf"], "jump": state["jump"], "start": state["start"],
            "inplace": bool(getattr(module, "inplace", False)),
        })
        seen.add(module)

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, *input_size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    table = pd.DataFrame(rows)
    for col in ("rf", "jump", "start"):
        table[col] = table[col].astype(float)
    return table


def totals(table: pd.DataFrame) -> pd.Series:
    """Sums of a ``layer_table``: params, macs, and activations (in-place layers share their input's memory,
    so they are not counted again; add the input image yourself if you want it)."""
    return pd.Series({
        "params": int(table["params"].sum()),
        "macs": int(table["macs"].sum()),
        "activations": int(table.loc[~table["inplace"], "activations"].sum()),
    })


def stage_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``layer_table`` at each pooling layer: the network stage by stage (pool1, pool2, ...)."""
    pools = table[table["type"].str.contains("Pool2d ")].copy()
    pools.insert(0, "stage", [f"pool{i + 1}" for i in range(len(pools))])
    return pools.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# Notebook 01: why 3x3, and the effective receptive field
# ---------------------------------------------------------------------------------------------------------------

def stack_layers(layers: int = 2, kernel: int = 3, stride: int = 1, pool: bool = False) -> list[tuple[int, int]]:
    """A plain conv stack as (kernel, stride) pairs: ``layers`` convs of ``kernel`` x ``kernel`` with ``stride``,
    each followed by a 2x2 max-pool (stride 2) when ``pool``. Feed it to ``receptive_field``."""
    if layers < 1 or kernel < 1 or stride < 1:
        raise ValueError(f"layers, kernel and stride must be positive; got {layers}, {kernel}, {stride}")
    return [pair for _ in range(layers) for pair in ([(kernel, stride), (2, 2)] if pool else [(kernel, stride)])]


def stack_vs_single(layers: int = 2, kernel: int = 3, channels: int = 64) -> dict:
    """A stack of ``layers`` k x k convs (stride 1, C channels in and out) against the one conv that sees as much.

    The stack sees r = layers (k - 1) + 1 pixels and holds layers * k^2 * C^2 weights; one r x r conv holds
    r^2 * C^2 (biases left out, as in the paper's argument, Sec. 2.3): two 3x3 give 18 C^2 vs 25 C^2,
    three give 27 C^2 vs 49 C^2. The stack also has ``layers`` ReLUs where the single conv has one.
    """
    rf = receptive_field(stack_layers(layers, kernel))[-1][0]
    stack, single = layers * kernel**2 * channels**2, rf**2 * channels**2
    return {"layers": layers, "kernel": kernel, "channels": channels, "rf": rf, "stack_params": stack,
            "single_params": single, "saving": 1 - stack / single, "stack_relus": layers, "single_relus": 1}


def effective_receptive_field(features: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Luo et al. 2016, "Understanding the Effective Receptive Field in Deep CNNs": set the gradient of the centre
    unit of ``features``' output to 1 (every channel) and all others to 0, back-propagate to the input, and average
    |d out_centre / d x| over the images in ``inputs`` (N, C, H, W) and their channels.

    Returns an (H, W) map scaled to a maximum of 1. Its support is the theoretical receptive field; its mass
    is concentrated in a roughly Gaussian centre.
    """
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be a batch N x C x H x W; got shape {tuple(inputs.shape)}")
    was_training = features.training
    features.eval()
    device = next(features.parameters()).device
    x = inputs.detach().to(device).requires_grad_(True)
    try:
        out = features(x)
        if out.dim() != 4:
            raise ValueError("pass the convolutional part of the network (e.g. model.features): its output must be "
                             f"a feature map N x C x H x W, got shape {tuple(out.shape)}")
        h, w = out.shape[-2] // 2, out.shape[-1] // 2
        out[:, :, h, w].sum().backward()
    finally:
        features.train(was_training)
    erf = x.grad.abs().mean(dim=(0, 1)).cpu()
    return erf / erf.max().clamp_min(1e-30)


def erf_centre(erf: torch.Tensor) -> tuple[float, float]:
    """(row, col) of the centre of the map's non-zero support: the centre of the unit's theoretical receptive
    field (a half-integer when the support has an even side)."""
    rows, cols = erf.sum(1).nonzero(), erf.sum(0).nonzero()
    return (rows.min() + rows.max()).item() / 2, (cols.min() + cols.max()).item() / 2


def erf_extent(erf: torch.Tensor, mass: float = 0.95) -> int:
    """The side, in pixels, of the smallest square centred on the unit's theoretical receptive field (the centre of
    the map's non-zero support) that holds ``mass`` of the gradient's total: one number for the size of the
    effective receptive field, to set against the theoretical side."""
    if not 0 < mass <= 1:
        raise ValueError(f"mass is a fraction of the total, in (0, 1]; got {mass}")
    erf = erf.double()
    if not erf.sum(1).any():          # an all-zero map has no support
        return 0
    cy, cx = erf_centre(erf)
    total, side = erf.sum(), 1 + int(2 * (cy % 1))     # an even-sided support has a centre between two pixels
    while side < 2 * max(erf.shape):
        top, left = math.ceil(cy - (side - 1) / 2), math.ceil(cx - (side - 1) / 2)
        window = erf[max(top, 0):max(top + side, 0), max(left, 0):max(left + side, 0)]
        if window.sum() >= mass * total - 1e-12:
            return side
        side += 2
    return side


# ---------------------------------------------------------------------------------------------------------------
# Notebook 02: blocks, BatchNorm placement, d2l's VGG
# ---------------------------------------------------------------------------------------------------------------

def bn_after_relu(features: nn.Sequential) -> nn.Sequential:
    """The same layers with each Conv -> BatchNorm -> ReLU turned into Conv -> ReLU -> BatchNorm (modules shared,
    not copied). ``make_layers(batch_norm=True)`` puts BN before the ReLU, as torchvision's ``_bn`` models do."""
    layers = list(features)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.BatchNorm2d) and isinstance(layers[i + 1], nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return nn.Sequential(*layers)


@torch.no_grad()
def conv_input_stats(features: nn.Sequential, x: torch.Tensor) -> pd.DataFrame:
    """What every conv after the first receives: mean, std and fraction of exact zeros of its input, on ``x``.

    With BN before ReLU the next conv sees rectified values (about half zeros, mean > 0); with BN after ReLU it sees
    standardised values (mean 0, std 1 per channel at training time) and no exact zeros.
    """
    rows, conv_index = [], 0
    for m in features:
        if isinstance(m, nn.Conv2d):
            if conv_index > 0:
                rows.append({"conv": conv_index + 1, "mean": x.mean().item(), "std": x.std().item(),
                             "zeros": (x == 0).float().mean().item()})
            conv_index += 1
        x = m(x)
    return pd.DataFrame(rows)


# d2l's VGG (Dive into Deep Learning, "Networks Using Blocks (VGG)", edition 1.0). The book's chapter code is not in
# the d2l package (only Classifier and init_cnn are), so its lines are reproduced here and run against the real d2l
# when it imports. The first five lines are the book's famous block.
D2L_VGG_SOURCE = '''
def vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers += [nn.LazyConv2d(out_channels, kernel_size=3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))

class VGG(d2l.Classifier):
    def __init__(self, arch, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        conv_blks = [vgg_block(num_convs, out_channels) for num_convs, out_channels in arch]
        self.net = nn.Sequential(
            *conv_blks, nn.Flatten(),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
            nn.LazyLinear(num_classes))
        self.net.apply(d2l.init_cnn)
'''


class _D2LStandIn:
    """What the code above needs from d2l when d2l is not installed: a Module base class and init_cnn."""

    class Classifier(nn.Module):
        def save_hyperparameters(self):
            pass

        def forward(self, x):
            return self.net(x)

        def apply_init(self, inputs, init=None):
            self.forward(*inputs)
            if init is not None:
                self.net.apply(init)

    @staticmethod
    def init_cnn(module):
        if type(module) in (nn.Linear, nn.Conv2d):   # as d2l: lazy layers are skipped until materialised
            nn.init.xavier_uniform_(module.weight)


def d2l_vgg(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)), *, num_classes: int = 10,
            input_size=(1, 224, 224), use_d2l: bool | None = None) -> tuple[nn.Module, str]:
    """Build d2l's VGG from ``D2L_VGG_SOURCE``, then as the book does, materialise its lazy layers on one
    ``input_size`` image and initialise them (``model.apply_init([x], d2l.init_cnn)``: xavier_uniform).

    Returns (model, source): source says whether the real ``d2l`` package was used (``use_d2l=None``: when it
    imports) or the stand-in that mimics its two helpers.
    """
    d2l, source = _D2LStandIn, "stand-in for d2l.Classifier and d2l.init_cnn"
    if use_d2l is not False:
        try:
            from d2l import torch as d2l
            source = f"d2l {getattr(__import__('d2l'), '__version__', '')}".strip()
        except ImportError:
            if use_d2l:
                raise
    namespace = {"nn": nn, "d2l": d2l}
    exec(D2L_VGG_SOURCE, namespace)
    model = namespace["VGG"](list(arch), num_classes=num_classes)
    with torch.no_grad():
        model.apply_init([torch.zeros(1, *input_size)], d2l.init_cnn)
    return model, source


def compare_with_d2l(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)), *, num_classes: int = 10,
                     in_channels: int = 1, size: int = 224, use_d2l: bool | None = None) -> pd.DataFrame:
    """d2l's VGG and ``vgg_edu``'s for the same ``arch`` (d2l's ``conv_arch``: (convs, channels) per stage):
    parameters and output shape, side by side. At 224 px the two are the same network (ours adds an
    AdaptiveAvgPool2d((7, 7)), which is the identity on a 7x7 map) and have the same number of parameters."""
    from .models import VGG

    ours = VGG([c for n, ch in arch for c in [ch] * n + ["M"]], num_classes=num_classes, in_channels=in_channels)
    theirs, source = d2l_vgg(arch, num_classes=num_classes, input_size=(in_channels, size, size), use_d2l=use_d2l)
    x = torch.zeros(1, in_channels, size, size)
    with torch.no_grad():
        shapes = [tuple(theirs.net(x).shape), tuple(ours.eval()(x).shape)]
    return pd.DataFrame({
        "model": [f"d2l VGG ({source})", "vgg_edu VGG"],
        "params": [sum(p.numel() for p in m.parameters()) for m in (theirs, ours)],
        "output_shape": shapes,
    })


# ---------------------------------------------------------------------------------------------------------------
# Notebook 03: the six configurations, where the parameters and the compute are, speed and memory
# ---------------------------------------------------------------------------------------------------------------

PAPER_TABLE2_M = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
"""Simonyan & Zisserman 2014, Table 2: number of parameters (in millions) of each configuration."""


def config_table(input_size=(3, 224, 224), num_classes: int = 1000) -> pd.DataFrame:
    """The paper's six configurations side by side: weight layers, parameters (ours and Table 2's), GMACs at
    ``input_size``. Built on the meta device: no memory, instant."""
    from .models import CONFIGS, VGG

    rows = []
    for name in CONFIGS:
        with torch.device("meta"):
            table = layer_table(VGG(name, num_classes=num_classes), input_size)
        t = totals(table)
        rows.append({"config": name, "weight_layers": int(table["type"].str.startswith(("Conv2d", "Linear")).sum()),
                     "params": t["params"], "params_M": round(t["params"] / 1e6, 1),
                     "paper_M": PAPER_TABLE2_M[name], "GMACs": round(t["macs"] / 1e9, 2)})
    return pd.DataFrame(rows)


def where_params_and_compute(table: pd.DataFrame) -> pd.DataFrame:
    """A ``layer_table`` grouped into the conv layers, the first FC layer and the other FC layers: their
    parameters and MACs, and each one's share of the total."""
    kind = table["type"].map(lambda t: "conv layers" if t.startswith("Conv2d") else
                             ("Linear" if t.startswith("Linear") else None))
    linear_rows = table.index[kind == "Linear"]
    kind[linear_rows[:1]] = "first FC layer"
    kind[linear_rows[1:]] = "other FC layers"
    out = table.assign(group=kind).dropna(subset=["group"]).groupby("group", sort=False)[["params", "macs"]].sum()
    out["params_share"] = out["params"] / table["params"].sum()
    out["macs_share"] = out["macs"] / table["macs"].sum()
    return out


def cs231n_memory(table: pd.DataFrame, input_size=(3, 224, 224), bytes_per_value: int = 4) -> dict:
    """Activation memory per image counted CS231n's way: the input plus every conv, pool and FC output (ReLUs are
    in place; torchvision's avgpool and dropout outputs are left out, as in their table). CS231n's text says
    "24M * 4 bytes ~= 93MB / image"; its own table sums to about 15.2M values (cs231n.github.io issue #88)."""
    counted = table["type"].str.match(r"(Conv2d|MaxPool2d|Linear) ")
    values = int(table.loc[counted, "activations"].sum()) + math.prod(input_size)
    return {"values": values, "MB": values * bytes_per_value / 1e6, "MiB": values * bytes_per_value / 2**20,
            "claimed_values": 24_000_000, "claimed_MB": 93}


def inference_memory_estimate(table: pd.DataFrame, batch_size: int, input_size=(3, 224, 224),
                              bytes_per_value: int = 4) -> int:
    """Bytes of activations alive at once in an inference forward (no autograd): each layer needs its input and
    its output together, earlier outputs are freed, in-place layers (ReLU) add nothing. The peak is the largest
    input + output pair, times the batch size. Weights are not included."""
    sizes = [math.prod(input_size)] + table["activations"].tolist()
    pairs = [a + (0 if inplace else b) for a, b, inplace in zip(sizes, sizes[1:], table["inplace"])]
    return max(pairs) * batch_size * bytes_per_value


def measure_forward(model: nn.Module, input_size=(3, 224, 224), batch_sizes=(1, 8, 32), *, device=None,
                    repeats: int = 3) -> pd.DataFrame:
    """Time an inference forward pass (``torch.no_grad``, eval mode) for each batch size, and its peak memory.

    Time: the median of ``repeats`` runs after one warm-up, synchronised on CUDA. Memory: on CUDA, measured as
    ``torch.cuda.max_memory_allocated`` during the forward minus what was allocated before it (weights and input);
    elsewhere PyTorch has no allocator counter, so the column holds ``inference_memory_estimate`` from the layer
    table, and ``memory_source`` says which one you are reading.
    """
    import statistics
    import time

    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    table = layer_table(model, input_size, device=device)
    cuda = device.type == "cuda"
    rows = []
    for batch in tqdm(batch_sizes, desc="batch sizes", leave=False):
        x = torch.randn(batch, *input_size, device=device)
        times = []
        with torch.no_grad():
            for i in range(repeats + 1):
                if cuda:
                    torch.cuda.synchronize(device)
                    torch.cuda.reset_peak_memory_stats(device)
                    before = torch.cuda.memory_allocated(device)
                start = time.perf_counter()
                model(x)
                if cuda:
                    torch.cuda.synchronize(device)
                if i > 0:
                    times.append(time.perf_counter() - start)
        if cuda:
            memory, source = torch.cuda.max_memory_allocated(device) - before, "measured (CUDA allocator)"
        else:
            memory, source = inference_memory_estimate(table, batch, input_size), "estimate (layer table)"
        ms = statistics.median(times) * 1e3
        rows.append({"batch_size": batch, "ms_per_batch": ms, "images_per_s": batch / ms * 1e3,
                     "peak_memory_MB": memory / 1e6, "memory_source": source})
    return pd.DataFrame(rows)


def torchvision_equivalence(name: str = "vgg16", *, batch_norm: bool = False, size: int = 224,
                            seed: int = 0) -> dict:
    """Load a torchvision VGG's ``state_dict`` (random weights, seeded) into ``vgg_edu``'s and compare outputs on
    one random image: the key sets must be identical and the largest output difference ~0."""
    from torchvision import models as tvm

    from .models import NAMES, VGG

    torch.manual_seed(seed)
    theirs = getattr(tvm, name + ("_bn" if batch_norm else ""))(weights=None).eval()
    ours = VGG(NAMES[name], batch_norm=batch_norm).eval()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    return {"model": name + ("_bn" if batch_norm else ""), "keys": len(theirs.state_dict()),
            "missing": list(missing), "unexpected": list(unexpected), "max_abs_diff": diff}


def sample_image():
    """A photograph that ships with matplotlib (Grace Hopper, 600 x 512 px) as a PIL image: no network needed."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return Image.open(f).convert("RGB")


@torch.no_grad()
def predict_imagenet(model: nn.Module, image, weights, topk: int = 5) -> pd.DataFrame:
    """Classify a PIL ``image`` with an ImageNet model, using ``weights``' own preprocessing (resize 256, centre
    crop 224, normalise) and category names (torchvision's weights enum entry, ``models.torchvision_weights``)."""
    device = next(model.parameters()).device
    x = weights.transforms()(image).unsqueeze(0).to(device)
    probs = model.eval()(x).softmax(dim=1)[0]
    p, idx = probs.topk(topk)
    categories = weights.meta["categories"]
    return pd.DataFrame({"class": [categories[i] for i in idx.tolist()], "probability": p.cpu().tolist()})

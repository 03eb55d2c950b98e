"""VGG networks (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014).

One config table, one ``make_layers``, one ``VGG`` class, built the way torchvision's ``models/vgg.py`` builds them,
so that torchvision's ImageNet weights load into ours unchanged (same ``state_dict`` keys, shapes and init).

Paper, Table 1 (every conv is 3x3, stride 1, padding 1 unless marked; "M" is a 2x2 max-pool, stride 2)::

    A  (11 weight layers)  64  M 128  M 256 256      M 512 512      M 512 512      M
    A-LRN                  A with a local response normalisation after the first conv
    B  (13)                64 64 M 128 128 M 256 256     M 512 512     M 512 512     M
    C  (16)                B plus a 1x1 conv at the end of stages 3, 4 and 5
    D  (16, "VGG-16")      64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    E  (19, "VGG-19")      64 64 M 128 128 M 256x4       M 512x4       M 512x4       M

All end in FC-4096, FC-4096, FC-1000 (Table 2: 133, 133, 133, 134, 138, 144 million parameters). At test time the
paper turns those into a 7x7 and two 1x1 convolutions (dense evaluation, Sec. 3.2): ``fully_convolutional``.
"""

from __future__ import annotations

import torch
from torch import nn

# An int is a 3x3 conv with that many output channels; (channels, 1) is C's 1x1 conv;
# "M" is a 2x2 max-pool; "LRN" is the local response normalisation of config A-LRN.
CONFIGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

# The names people use for them (torchvision builds A, B, D and E only).
NAMES = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def get_config(config: str | list) -> list:
    """Return a config list, accepting a paper letter ("D"), a model name ("vgg16") or a list of your own."""
    if isinstance(config, (list, tuple)):
        return list(config)
    key = NAMES.get(str(config).lower(), str(config).upper())
    if str(config).lower().removesuffix("_bn") in NAMES and str(config).lower().endswith("_bn"):
        raise ValueError(
            f"{config!r} is {str(config)[:-3]!r} with BatchNorm: pass config={str(config)[:-3]!r} and batch_norm=True "
            f"(command line: --config {str(config)[:-3]} --batch-norm true)"
        )
    if key not in CONFIGS:
        raise ValueError(
            f"unknown VGG config {config!r}. Use one of the paper's configurations {list(CONFIGS)}, "
            f"a model name {list(NAMES)}, or pass your own list such as [64, 'M', 128, 'M']."
        )
    return CONFIGS[key]


def make_layers(config, *, in_channels: int = 3, batch_norm: bool = False, width_divisor: int = 1) -> nn.Sequential:
    """Turn a config list into the ``features`` stack: conv (+ BatchNorm) + ReLU for a number, max-pool for "M".

    BatchNorm sits between the conv and its ReLU, as in torchvision's ``_bn`` models (the conv keeps its bias).
    ``width_divisor`` divides every channel count: d2l's reduced VGG-11 uses 4 (16, 32, 64, 128, 128 channels).
    """
    if not isinstance(width_divisor, int) or width_divisor < 1:
        raise ValueError(f"width_divisor must be a positive integer; got {width_divisor!r}")
    layers: list[nn.Module] = []
    for v in get_config(config):
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":
            # Krizhevsky et al. 2012: n=5, alpha=1e-4, beta=0.75, k=2. PyTorch divides alpha by n, so 5 * 1e-4.
            layers.append(nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0))
        else:
            channels, kernel = v if isinstance(v, tuple) else (v, 3)
            if channels % width_divisor:
                raise ValueError(
                    f"width_divisor={width_divisor} does not divide {channels} channels; use a "
                    "divisor of every width (1, 2, 4, 8, 16, 32 or 64 for the paper's)"
                )
            channels //= width_divisor
            layers.append(nn.Conv2d(in_channels, channels, kernel_size=kernel, padding=kernel // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(channels))
            layers.append(nn.ReLU(inplace=True))
            in_channels = channels
    return nn.Sequential(*layers)


def vgg_block(num_convs: int, in_channels: int, out_channels: int, *, batch_norm: bool = False) -> nn.Sequential:
    """d2l's VGG block: ``num_convs`` 3x3 convs (padding 1, so H x W is kept), each + ReLU, then a 2x2 max-pool.

    The pool halves H and W; the block changes the channels from ``in_channels`` to ``out_channels``.
    """
    return make_layers([out_channels] * num_convs + ["M"], in_channels=in_channels, batch_norm=batch_norm)


def bn_after_relu(features: nn.Sequential) -> nn.Sequential:
    """The same layers with each Conv -> BatchNorm -> ReLU turned into Conv -> ReLU -> BatchNorm (modules shared,
    not copied). ``make_layers(batch_norm=True)`` puts BN before the ReLU, as torchvision's ``_bn`` models do."""
    layers = list(features)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.BatchNorm2d) and isinstance(layers[i + 1], nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return nn.Sequential(*layers)


def stages(config) -> list[tuple[int, int]]:
    """d2l's ``conv_arch`` view of a config: (number of convs, output channels) for each stage between pools."""
    result, count, channels = [], 0, 0
    for v in get_config(config):
        if v == "M":
            result.append((count, channels))
            count = 0
        elif v != "LRN":
            count += 1
            channels = v[0] if isinstance(v, tuple) else v
    return result


INIT_SCHEMES = {
    "kaiming_fan_out": "conv kaiming_normal_(fan_out, relu), linear normal(0, 0.01): torchvision's VGG (He 2015)",
    "kaiming_fan_in": "conv and linear kaiming_normal_(fan_in, relu) (He et al. 2015)",
    "xavier": "conv and linear xavier_uniform_ (Glorot & Bengio 2010), as d2l's init_cnn",
    "d2l": "the book's own: PyTorch's default layers, then d2l's init_cnn (xavier_uniform_ on the weights only)",
    "std=0.01": "conv and linear normal(0, 0.01): 'N(0, 0.01)' read as a standard deviation",
    "std=0.1": "conv and linear normal(0, 0.1): the paper's 'zero mean and 10^-2 variance'",
}
"""Every initialisation the course knows, one name each: what ``init_weights`` takes, the CLI's ``--init``
offers and a recipe's ``init`` names. Notebook 06 compares four of them (``initialization.COMPARED``)."""

FIXED_STD = {"std=0.01": 0.01, "std=0.1": 0.1}


def init_weights(model: nn.Module, scheme: str = "kaiming_fan_out") -> nn.Module:
    """Initialise conv and linear layers in place by ``scheme`` (one of ``INIT_SCHEMES``) and return the model.

    - "kaiming_fan_out": conv kaiming_normal_(fan_out, relu); linear normal(0, 0.01); biases 0; BatchNorm 1 and 0
      (torchvision's VGG).
    - "kaiming_fan_in": conv and linear kaiming_normal_(fan_in, relu); biases 0 (He et al. 2015).
    - "xavier": conv and linear xavier_uniform_ (Glorot & Bengio 2010), as d2l's ``init_cnn``; biases 0.
    - "d2l": the book's own: every conv and linear layer as PyTorch makes it (``reset_parameters``: biases uniform
      in +-1/sqrt(fan_in)), then d2l's ``init_cnn`` (xavier_uniform_ on the weights only); BatchNorm 1 and 0. The
      same draws, in the same order, as the book's code building fresh layers and applying ``init_cnn``.
    - "std=0.01", "std=0.1": conv and linear weights normal(0, std); biases 0, BatchNorm 1 and 0. Drawn after a
      "kaiming_fan_out" pass, so that a seed gives the same weights as it always has.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; use one of {', '.join(map(repr, INIT_SCHEMES))}")
    if scheme in FIXED_STD:
        init_weights(model, "kaiming_fan_out")  # BatchNorm and biases (and the draws a seed has always made)
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, FIXED_STD[scheme])
        return model
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for m in layers if scheme == "d2l" else ():
        m.reset_parameters()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme in ("xavier", "d2l"):
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "kaiming_fan_in" or isinstance(m, nn.Conv2d):
                mode = "fan_out" if scheme == "kaiming_fan_out" else "fan_in"
                nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None and scheme != "d2l":
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def layer_names(model: nn.Module) -> dict[str, str]:
    """Every name a layer can be called, mapped to its module name.

    A ``features`` Sequential gets the paper's names, stage by stage: conv{s}_{i}, bn{s}_{i}, relu{s}_{i}, pool{s}
    (and lrn); a ``classifier`` gets Caffe's fc6, relu6, drop6, fc7, relu7, drop7, fc8 (one Linear: fc). Every leaf
    module is also reachable by its own name ("features.0").
    """
    names: dict[str, str] = {}
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        stage, i = 1, 0
        for idx, m in enumerate(features):
            if isinstance(m, nn.Conv2d):
                i += 1
                names[f"conv{stage}_{i}"] = f"features.{idx}"
            elif isinstance(m, nn.BatchNorm2d):
                names[f"bn{stage}_{i}"] = f"features.{idx}"
            elif isinstance(m, nn.ReLU):
                names[f"relu{stage}_{i}"] = f"features.{idx}"
            elif isinstance(m, nn.LocalResponseNorm):
                names["lrn"] = f"features.{idx}"
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                names[f"pool{stage}"] = f"features.{idx}"
                stage, i = stage + 1, 0
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential):
        linears = sum(isinstance(m, nn.Linear) for m in classifier)
        k = 0
        for idx, m in enumerate(classifier):
            k += isinstance(m, nn.Linear)
            if isinstance(m, nn.Linear):
                names["fc" if linears == 1 else f"fc{5 + k}"] = f"classifier.{idx}"
            elif k and linears > 1 and isinstance(m, (nn.ReLU, nn.Dropout)):
                names[f"{'relu' if isinstance(m, nn.ReLU) else 'drop'}{5 + k}"] = f"classifier.{idx}"
    for name, m in model.named_modules():
        if name and next(m.children(), None) is None:
            names.setdefault(name, name)
    return names


class VGG(nn.Module):
    """A VGG network: ``features`` (convs and pools), ``avgpool``, ``classifier`` (three fully connected layers).

    With the defaults it is the paper's network and torchvision's, key for key. The keywords make the course's
    variants: ``width_divisor=4, in_channels=1, num_classes=10`` is d2l's Fashion-MNIST VGG-11; ``hidden`` narrows
    the FC layers; ``head="gap"`` replaces the FC stack by global average pooling and one linear layer.
    """

    def __init__(
        self,
        config="D",
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        width_divisor: int = 1,
        batch_norm: bool = False,
        hidden: int = 4096,
        dropout: float = 0.5,
        head: str = "fc",
    ):
        super().__init__()
        if head not in ("fc", "gap"):
            raise ValueError(f"unknown head {head!r}; use 'fc' (the paper's three FC layers) or 'gap'")
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer; got {in_channels!r}")
        cfg = get_config(config)
        if not any(v not in ("M", "LRN") for v in cfg):
            raise ValueError(f"config {config!r} has no conv layer; a VGG needs at least one, e.g. [64, 'M']")
        if not isinstance(hidden, int) or hidden < 1 or not 0 <= dropout < 1:
            raise ValueError(
                f"hidden must be a positive whole number and dropout in [0, 1); got {hidden!r}, {dropout!r}"
            )
        # The constructor's arguments, so a checkpoint can rebuild the same network: VGG(**model.hparams).
        self.hparams = dict(
            config=config,
            num_classes=num_classes,
            in_channels=in_channels,
            width_divisor=width_divisor,
            batch_norm=batch_norm,
            hidden=hidden,
            dropout=dropout,
            head=head,
        )
        self.config = config
        self.in_channels = in_channels
        self.min_size = 2 ** cfg.count("M")
        self.features = make_layers(cfg, in_channels=in_channels, batch_norm=batch_norm, width_divisor=width_divisor)
        channels = [m.out_channels for m in self.features if isinstance(m, nn.Conv2d)][-1]
        if head == "fc":
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(channels * 7 * 7, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(channels, num_classes))
        init_weights(self, "kaiming_fan_out")

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError that says what to do when ``x`` is not an N x C x H x W batch this network can take."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            kind = x.dtype if torch.is_tensor(x) else type(x).__name__
            raise ValueError(
                f"VGG expects float inputs; got {kind}. Turn uint8 pixels into inputs first "
                "(vgg_edu.data.inputs.to_input(images), or x.float() / 255 and normalize)."
            )
        weight = next(self.parameters(), None)  # None: an int8 copy (compression.quantize), which checks its own
        if weight is not None and x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"this VGG's weights are {weight.dtype} but the input is {x.dtype}: convert the "
                f"input with x.to({weight.dtype}) (or the model with model.to({x.dtype}))."
            )
        if x.dim() != 4:
            hint = " Add a batch dimension with x.unsqueeze(0)." if x.dim() == 3 else ""
            raise ValueError(f"VGG expects a batch of shape N x C x H x W; got shape {tuple(x.shape)}.{hint}")
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(
                f"this VGG was built for {self.in_channels}-channel images but got {c} channels. "
                f"Build it with in_channels={c}, or convert the images (grayscale to RGB: x.repeat(1, 3, 1, 1))."
            )
        if h < self.min_size or w < self.min_size:
            raise ValueError(
                f"input {h}x{w} px is too small: this VGG halves the image {self.min_size.bit_length() - 1} times, "
                f"so it needs at least {self.min_size}x{self.min_size} px. Resize the images first (e.g. "
                f"torch.nn.functional.interpolate(x, size={self.min_size}); command line: --resize {self.min_size})."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg11(*, batch_norm: bool = False, **kwargs) -> VGG:
    """VGG-11, config A."""
    return VGG("A", batch_norm=batch_norm, **kwargs)


def vgg13(*, batch_norm: bool = False, **kwargs) -> VGG:
    """VGG-13, config B."""
    return VGG("B", batch_norm=batch_norm, **kwargs)


def vgg16(*, batch_norm: bool = False, **kwargs) -> VGG:
    """VGG-16, config D."""
    return VGG("D", batch_norm=batch_norm, **kwargs)


def vgg19(*, batch_norm: bool = False, **kwargs) -> VGG:
    """VGG-19, config E."""
    return VGG("E", batch_norm=batch_norm, **kwargs)


def fully_convolutional(model: VGG) -> nn.Sequential:
    """The paper's dense evaluation (Sec. 3.2): the same network with its FC layers turned into convolutions, so it
    runs on an image of any size and returns a map of class scores instead of one vector.

    fc6 (25,088 -> 4096 on the 512 x 7 x 7 map) becomes a 7x7 conv with 4096 filters, fc7 and fc8 become 1x1 convs:
    each Linear weight ``out x (C * 7 * 7)`` is reshaped to ``out x C x 7 x 7`` (flatten's order is C, H, W), biases
    kept. On a 224 px image the 7 x 7 map gives a 1 x 1 score map equal to ``model(x)``; a larger image gives an
    H' x W' map (H' = floor(H / 32) - 6), which the paper averages to one score per class. The weights are shared with
    ``model`` (views, not copies); dropout is dropped (evaluation only). Returns ``features`` then the three convs.
    """
    if not isinstance(model, VGG) or model.hparams["head"] != "fc":
        raise ValueError("fully_convolutional takes a VGG with the paper's FC head (head='fc'), e.g. models.vgg16()")
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    channels = linears[0].in_features // 49
    layers: list[nn.Module] = []
    for i, (fc, kernel) in enumerate(zip(linears, (7, 1, 1))):
        in_channels = channels if i == 0 else fc.in_features
        conv = nn.Conv2d(in_channels, fc.out_features, kernel_size=kernel, device=fc.weight.device)
        conv.weight = nn.Parameter(fc.weight.view(fc.out_features, in_channels, kernel, kernel))
        conv.bias = fc.bias
        layers += [conv, nn.ReLU(inplace=True)] if i < 2 else [conv]
    return nn.Sequential(*model.features, *layers)

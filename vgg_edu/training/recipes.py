"""Recipes: a network and a ``FitConfig`` that together reproduce a measured run (docs/benchmarks.md).

- "d2l": the book's run (Dive into Deep Learning, edition 0.17, "Networks Using Blocks (VGG)"): test accuracy
  0.922 after 10 epochs on a V100. As the book: VGG-11/4 at 224 px, batch 128, plain SGD lr 0.05, its
  initialisation (``init="d2l"``: d2l's ``init_cnn``, xavier weights, PyTorch's default biases) and its precision
  (fp32: ``amp=False``, also on CUDA). Not as the book: it trains on 55,000 images, the 5,000 others held out for
  validation (the book trains on all 60,000 and has no validation split);
- "classroom_v1": the first classroom recipe, kept as the baseline the current one is compared with;
- "classroom": for a 2-core CPU, chosen on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from .. import runtime
from ..data.image_splits import ImageSplits
from ..data.inputs import InputSpec, with_spec
from ..models import VGG, init_weights
from .config import FIELDS, FitConfig


@dataclass(frozen=True)
class Recipe:
    """``model``: the network's keywords (``VGG``'s, with ``init`` and ``input_size``); ``fit``: the run."""

    model: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    fit: FitConfig = FitConfig()

    def __post_init__(self):
        object.__setattr__(self, "model", MappingProxyType(dict(self.model)))

    def but(self, *, model: dict | None = None, **fit_changes) -> Recipe:
        """A copy with some network keywords (``model``) and ``FitConfig`` fields changed."""
        return Recipe(dict(self.model) | dict(model or {}), self.fit.replace(**fit_changes))

    def split(self, changes: dict | None = None) -> tuple[dict, FitConfig]:
        """This recipe with ``changes`` (network keywords and ``FitConfig`` fields, mixed, as an ablation or the
        command line gives them: ``{"batch_norm": False, "epochs": 1}``) as what ``build_model`` and ``fit`` take:
        the network's keywords and the run's ``FitConfig``. A name that is not a ``FitConfig`` field is a network
        keyword (``VGG`` refuses one it does not know)."""
        changes = dict(changes or {})
        fit_changes = {k: v for k, v in changes.items() if k in FIELDS}
        network = dict(self.model) | {k: v for k, v in changes.items() if k not in FIELDS}
        return network, self.fit.replace(**fit_changes)


_CLASSROOM_V1 = Recipe(
    model=dict(width_divisor=8, batch_norm=True, dropout=0.2, head="gap", init="kaiming_fan_out", input_size=32),
    fit=FitConfig(epochs=10, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="onecycle", flip=True),
)

RECIPES: dict[str, Recipe] = {
    "d2l": Recipe(
        model=dict(width_divisor=4, batch_norm=False, hidden=4096, dropout=0.5, head="fc", init="d2l", input_size=224),
        fit=FitConfig(epochs=10, batch_size=128, lr=0.05, amp=False),
    ),
    "classroom_v1": _CLASSROOM_V1,
    # VGG-11/4 with BatchNorm and a global-average-pool head at 32 px (9.6 M MACs per image, d2l's 512 M). What it
    # changes in classroom_v1: twice as wide, no dropout, label smoothing 0.1, flips at test time too, 12 epochs.
    "classroom": _CLASSROOM_V1.but(
        model=dict(width_divisor=4, dropout=0.0), epochs=12, flip_tta=True, label_smoothing=0.1
    ),
}


def recipe(name: str) -> Recipe:
    """``RECIPES[name]`` (frozen: change it with ``.but``), with a clear error for unknown names."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; the recipes are {list(RECIPES)}")
    return RECIPES[name]


def fit_config(name: str = "classroom", **changes) -> FitConfig:
    """The recipe's ``FitConfig`` with ``changes`` (e.g. ``epochs=1``) applied."""
    return recipe(name).fit.replace(**changes)


def build_model(
    name: str = "classroom", *, seed: int = 0, config="A", data: ImageSplits | None = None, **changes
) -> VGG:
    """The recipe's VGG (config A, i.e. VGG-11, by default) for Fashion-MNIST: 1 input channel, 10 classes, with
    its input contract (the recipe's ``input_size``; the class names and normalisation of ``data`` if given).

    ``changes`` replace the recipe's network keywords (``width_divisor``, ``batch_norm``, ``hidden``, ``dropout``,
    ``head``, ``init``, ``input_size``). Seeded, so the same seed gives the same initial weights.
    """
    kw = dict(recipe(name).model) | changes
    init, size = kw.pop("init", "kaiming_fan_out"), kw.pop("input_size", None)
    spec = data.input_spec(size) if data is not None else InputSpec(size=size)
    runtime.seed_everything(seed)
    model = init_weights(VGG(config, in_channels=len(spec.mean), num_classes=len(spec.classes), **kw), init)
    return with_spec(model, spec)

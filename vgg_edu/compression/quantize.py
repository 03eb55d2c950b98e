"""int8 quantization of a VGG for the CPU: static post-training quantization (calibrated on training images) and
dynamic quantization of the FC head; the file size (the latency: ``measure.speed_table``).

Affine quantization stores a float tensor x as 8-bit integers q with a scale s and a zero point z::

    q = clamp(round(x / s) + z, 0, 255)        x ~ s * (q - z)

Weights get one (s, z) per output channel (symmetric, z = 0); activations one per tensor, chosen from the ranges
that *calibration* observes (a histogram of each layer's outputs on a few hundred training images). Conv, its
BatchNorm and its ReLU are first fused into one conv (the BN folded into its weights and bias). "Dynamic"
quantization stores int8 weights only and quantizes each activation on the fly: no calibration, for Linear layers.

Which API: torch 2.14 still ships eager-mode ``torch.ao.quantization`` (``fuse_modules``, ``prepare``,
``convert``, the "x86" backend, fbgemm/oneDNN int8 kernels) but marks it deprecated in favour of torchao's PT2E
flow (``torch.export``, ``prepare_pt2e``/``convert_pt2e`` with ``X86InductorQuantizer``). PT2E only runs int8
kernels after ``torch.compile`` lowers its graph (Inductor, which needs a C++ compiler and compile time); without
compiling it runs a float reference of the quantized graph. The lessons therefore use the eager x86 path, which
gives int8 kernels at once on any x86 CPU and on Colab; its deprecation warnings are silenced here. Quantized
models run on the CPU only.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import warnings

import torch
from torch import nn

from ..data.inputs import InputSpec, batches, spec_of, with_spec
from ..models import VGG


@contextlib.contextmanager
def quiet():
    """torch.ao.quantization warns on every call that it is deprecated (see the module's docstring)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        warnings.filterwarnings("ignore", message=".*Please use quant_min and quant_max.*")
        warnings.filterwarnings("ignore", message=".*must run observer before calling calculate_qparams.*")
        yield


def backend() -> str:
    """The quantized engine for this CPU: "x86" (fbgemm + oneDNN) where available, else "qnnpack" (ARM)."""
    engines = torch.backends.quantized.supported_engines
    return "x86" if "x86" in engines else "qnnpack"


class QuantizableVGG(nn.Module):
    """A VGG's layers between a ``QuantStub`` (float -> int8) and a ``DeQuantStub`` (int8 -> float), the form
    eager-mode quantization needs. Takes and returns float32 tensors, so ``evaluate`` and ``predict`` work, and
    checks its inputs as the float VGG does (``VGG.check_input``: dtype, shape, channels, size)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.features = copy.deepcopy(model.features)
        self.avgpool = copy.deepcopy(model.avgpool)
        self.classifier = copy.deepcopy(model.classifier)
        self.dequant = torch.ao.quantization.DeQuantStub()
        self.in_channels, self.min_size = getattr(model, "in_channels", None), getattr(model, "min_size", 1)
        with_spec(self, spec_of(model))

    def check_input(self, x: torch.Tensor) -> None:
        """The float VGG's checks, and float32 only: the ``QuantStub`` turns float32 into int8."""
        if torch.is_tensor(x) and x.is_floating_point() and x.dtype != torch.float32:
            raise ValueError(
                f"this int8 VGG takes torch.float32 inputs but the input is {x.dtype}: convert the input with "
                "x.to(torch.float32)."
            )
        if self.in_channels is not None:
            VGG.check_input(self, x)  # its messages: uses only in_channels and min_size here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.features(self.quant(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.dequant(self.classifier(x))


def fusion_groups(features: nn.Sequential, prefix: str = "features") -> list[list[str]]:
    """The names of each conv with the BatchNorm and ReLU right after it: ``[["features.0", "features.1",
    "features.2"], ...]``, what ``torch.ao.quantization.fuse_modules`` merges into one layer."""
    layers, groups = list(features), []
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            group, j = [f"{prefix}.{i}"], i + 1
            for kind in (nn.BatchNorm2d, nn.ReLU):
                if j < len(layers) and isinstance(layers[j], kind):
                    group.append(f"{prefix}.{j}")
                    j += 1
            groups.append(group)
    return groups


def _calibration_batches(images: torch.Tensor, spec: InputSpec, batch_size: int, max_batches: int):
    """Float inputs for calibration: uint8 images through the model's input contract, or float inputs as given."""
    if images.dtype == torch.uint8:
        dummy = torch.zeros(len(images), dtype=torch.long)
        for i, (x, _) in enumerate(batches(images, dummy, batch_size, spec=spec)):
            if i >= max_batches:
                break
            yield x
    else:
        for i in range(0, min(len(images), batch_size * max_batches), batch_size):
            yield images[i : i + batch_size].float()


@torch.no_grad()
def quantize_static(
    model: nn.Module, calibration: torch.Tensor, *, batch_size: int = 128, max_batches: int = 8
) -> QuantizableVGG:
    """An int8 copy of ``model`` (CPU): convs fused with their BN and ReLU, weights per-channel int8, activation
    ranges calibrated on up to ``max_batches`` batches of ``calibration`` (uint8 training images, made inputs by
    the model's ``input_spec``; or float inputs). ``model`` is not changed."""
    if not all(hasattr(model, k) for k in ("features", "avgpool", "classifier")):
        raise TypeError(f"quantize_static takes a VGG (features, avgpool, classifier); got {type(model).__name__}")
    if not isinstance(calibration, torch.Tensor):
        raise TypeError(
            f"calibration should be a tensor of training images (data.train_images[:1000]); got "
            f"{type(calibration).__name__}"
        )
    if len(calibration) == 0:
        raise ValueError("calibration needs some training images (a few hundred: data.train_images[:1000])")
    if calibration.dtype != torch.uint8 and calibration.dim() != 4:
        raise ValueError(
            f"calibration should be uint8 images (N, H, W) as stored, or float model inputs (N, C, H, W); got "
            f"{calibration.dtype} of shape {tuple(calibration.shape)}"
        )
    _check_calibration(model, calibration, batch_size, max_batches)
    engine = backend()
    torch.backends.quantized.engine = engine
    q = QuantizableVGG(model).cpu().eval()
    with quiet():
        q = torch.ao.quantization.fuse_modules(q, fusion_groups(q.features))
        q.qconfig = torch.ao.quantization.get_default_qconfig(engine)
        torch.ao.quantization.prepare(q, inplace=True)
        for x in _calibration_batches(calibration, spec_of(model), batch_size, max_batches):
            try:
                q(x)
            except ValueError as err:  # the model's input checks: channels, size
                raise ValueError(f"calibration images do not fit this model: {err}") from None
        torch.ao.quantization.convert(q, inplace=True)
    return q


def _check_calibration(model: nn.Module, calibration: torch.Tensor, batch_size: int, max_batches: int) -> None:
    """Clear errors for what would give an uncalibrated or broken int8 model, or a raw error from torch."""
    for name, value in (("batch_size", batch_size), ("max_batches", max_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{name} must be a positive whole number; got {value!r} (without calibration batches the int8 "
                "model's activation ranges are never measured, and it quietly loses accuracy)"
            )
    _check_not_meta(model)
    used = calibration[: batch_size * max_batches]
    if used.is_floating_point() and not torch.isfinite(used).all():
        raise ValueError("calibration inputs hold NaN or infinite values: the measured ranges would be meaningless")


def _check_not_meta(model: nn.Module) -> None:
    if any(t.is_meta for t in itertools.chain(model.parameters(), model.buffers())):
        raise ValueError(
            "the model's weights are on the meta device (shapes without values): nothing to quantize. Give it "
            "weights first: model.to_empty(device='cpu'), then model.load_state_dict(...)"
        )


def quantize_dynamic_head(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (CPU) whose Linear layers hold int8 weights, activations quantized on the fly (dynamic
    quantization, no calibration): what shrinks an FC head; the convs stay float."""
    _check_not_meta(model)
    with quiet():
        q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)
    return with_spec(q, spec_of(model))


def file_size(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: what the model weighs on disk."""
    buffer = io.BytesIO()
    with quiet():
        torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes

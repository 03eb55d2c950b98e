"""int8 quantization: fusion groups, static and dynamic int8 against float, refusals, file size."""

import pytest
import torch
from torch import nn

from vgg_edu.compression import quantize
from vgg_edu.compression.quantize import file_size, quantize_dynamic_head, quantize_static
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data, with_statistics


def test_fusion_groups_pair_each_conv_with_its_bn_and_relu():
    model = small_model()
    groups = quantize.fusion_groups(model.features)
    assert groups[:2] == [["features.0", "features.1", "features.2"], ["features.4", "features.5", "features.6"]]
    assert len(groups) == 8
    plain = small_model(batch_norm=False)
    assert quantize.fusion_groups(plain.features)[0] == ["features.0", "features.1"]


def test_static_int8_agrees_with_float(one_thread):
    ds = tiny_data(n_train=256, n_test=64)
    model = small_model(width_divisor=8)
    fit(model, ds, epochs=2, batch_size=32, quiet=True)
    model.eval()
    int8 = quantize_static(model, ds.train_images)
    x = model.input_spec(ds.test_images)
    with torch.no_grad():
        ref, got = model(x), int8(x)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert (got - ref).abs().max() < 0.1 * ref.abs().max()
    assert (got.argmax(1) == ref.argmax(1)).float().mean() >= 0.9
    assert sum(isinstance(m, torch.ao.nn.quantized.Conv2d) for m in int8.modules()) == 8
    assert file_size(int8) < 0.4 * file_size(model)
    assert evaluate(int8, ds, "test") == pytest.approx(evaluate(model, ds, "test"), abs=0.1)


def test_dynamic_int8_head_agrees_with_float():
    model = small_model(head="fc", hidden=64).eval()
    q = quantize_dynamic_head(model)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        ref, got = model(x), q(x)
    assert torch.allclose(got, ref, atol=0.05 * ref.abs().max().item())
    assert sum("quantized.dynamic" in type(m).__module__ for m in q.modules()) == 3
    assert isinstance(model.classifier[0], nn.Linear)  # the original is untouched


def test_quantize_static_refuses_what_it_cannot_quantize():
    with pytest.raises(TypeError, match="takes a VGG"):
        quantize_static(nn.Linear(3, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="calibration"):
        quantize_static(small_model(), torch.zeros(0, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="calibration should be a tensor"):
        quantize_static(small_model(), [torch.zeros(28, 28, dtype=torch.uint8)])
    with pytest.raises(ValueError, match=r"float model inputs \(N, C, H, W\)"):
        quantize_static(small_model(), torch.zeros(4, 28, 28))


@requires_cuda
@pytest.mark.cuda
def test_a_model_on_cuda_is_quantized_for_the_cpu_and_stays_on_cuda():
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    model = with_statistics(small_model(width_divisor=8)).cuda()
    int8 = quantize_static(model, ds.train_images)  # quantized models run on the CPU
    assert int8(torch.randn(4, 1, 32, 32)).shape == (4, 10) and next(model.parameters()).is_cuda


# Quantization refuses what would silently go wrong (issue 25) --------------------------------------------------


@pytest.mark.parametrize(
    ("calibration", "kw", "message"),
    [
        ("pixels", dict(max_batches=0), "max_batches must be a positive whole number; got 0 .* quietly loses"),
        ("pixels", dict(batch_size=0), "batch_size must be a positive whole number"),
        ("nan", {}, "calibration inputs hold NaN or infinite values"),
        ("colour", {}, "calibration images do not fit this model: this VGG was built for 1-channel images but got 3"),
        ("small", {}, r"calibration images do not fit this model: input 28x28 px is too small"),
    ],
)
def test_quantize_static_refuses_calibration_that_would_go_wrong(calibration, kw, message):
    model = small_model().eval()
    data = {
        "pixels": torch.zeros(8, 28, 28, dtype=torch.uint8),
        "nan": torch.full((8, 1, 32, 32), float("nan")),
        "colour": torch.zeros(8, 3, 28, 28, dtype=torch.uint8),  # RGB photos for a grey model
        "small": torch.zeros(8, 1, 28, 28),  # float inputs are used as given: not resized
    }[calibration]
    with pytest.raises(ValueError, match=message):
        quantize_static(model, data, **kw)


def test_a_model_on_the_meta_device_is_refused_clearly():
    with torch.device("meta"):
        model = small_model()
    for quantize_it in (lambda m: quantize_static(m, torch.zeros(8, 28, 28, dtype=torch.uint8)), quantize_dynamic_head):
        with pytest.raises(ValueError, match="on the meta device .* model.to_empty"):
            quantize_it(model)


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_the_int8_model_checks_its_inputs_as_the_float_model_does(kind, one_thread):
    model = small_model().eval()
    int8 = quantize_static(model, torch.zeros(8, 28, 28, dtype=torch.uint8)) if kind == "static" else None
    int8 = int8 if int8 is not None else quantize_dynamic_head(small_model(head="fc").eval())
    for bad, message in (
        (torch.zeros(2, 1, 28, 28), r"input 28x28 px is too small: .* --resize 32"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.float64), r"the input is torch.float64: convert the input with x.to"),
        (torch.zeros(2, 3, 32, 32), "built for 1-channel images but got 3 channels"),
        (torch.zeros(1, 32, 32), "Add a batch dimension with x.unsqueeze"),
        (torch.zeros(2, 1, 32, 32, dtype=torch.uint8), "Turn uint8 pixels into inputs first"),
    ):
        with pytest.raises(ValueError, match=message):
            model(bad)
        with pytest.raises(ValueError, match=message):
            int8(bad)
    assert int8(torch.zeros(2, 1, 32, 32)).shape == (2, 10)

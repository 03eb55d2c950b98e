"""Training memory: the count from the layer table against autograd's own saved tensors and torchinfo's
parameter count; the checkpointed VGG's gradients against the plain one's; the peak measured."""

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torchinfo import summary

from vgg_edu import analysis, cpu, memory
from vgg_edu.models import VGG

from conftest import on_meta, requires_cuda

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("batch_norm", [False, True])
def test_counted_activations_match_what_autograd_saves(batch_norm):
    torch.manual_seed(0)
    model = VGG("A", width_divisor=8, batch_norm=batch_norm, hidden=64, num_classes=10).train()
    size = (3, 64, 64)
    table = analysis.layer_table(model, size)
    x, y = torch.randn(3, *size), torch.randint(0, 10, (3,))
    measured = memory.saved_tensor_bytes(model, x, y)
    counted = 3 * memory.saved_bytes_per_image(table, size)
    assert counted == pytest.approx(measured, rel=0.01)


def test_the_autocast_count_matches_what_autograd_saves_under_bf16_autocast():
    """Under autocast autograd keeps, per image, the 16-bit count of activations (the log-softmax stays float32, a
    few kB), and once per step the 16-bit copies of the weights (``weights_16bit``): VGG-16's 42.8 MB per image and
    0.28 GB at 224 px, as notebook 07 counts them."""
    torch.manual_seed(0)
    model = VGG("D", width_divisor=16).train()
    size = (3, 64, 64)
    table = analysis.layer_table(model, size)
    saved = {}
    for b in (1, 2):
        x, y = torch.randn(b, *size), torch.randint(0, 1000, (b,))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            saved[b] = memory.saved_tensor_bytes(model, x, y)
    half = [memory.training_memory(model, size, b, table=table, activation_bytes=2) for b in (1, 2)]
    per_image, fixed = saved[2] - saved[1], 2 * saved[1] - saved[2]
    assert per_image == pytest.approx((half[1] - half[0])["activations"], rel=0.05)
    assert fixed == pytest.approx(half[0]["weights_16bit"], rel=0.01)
    assert "weights_16bit" not in memory.training_memory(model, size, 1, table=table)  # float32: no copies


def test_vgg16_budget_parts_against_torchinfo_and_reference():
    model = on_meta(VGG, "D")
    table = analysis.layer_table(model, (3, 224, 224))
    parts = memory.training_memory(model, (3, 224, 224), 2, table=table)
    params = summary(VGG("D", width_divisor=64), verbose=0).total_params  # torchinfo on a real (small) model
    assert params == sum(p.numel() for p in VGG("D", width_divisor=64).parameters())
    assert parts["weights"] == parts["gradients"] == parts["optimizer_state"] == 4 * 138_357_544  # REFERENCE.md
    assert parts["total"] == parts[["weights", "gradients", "optimizer_state", "activations"]].sum()
    adam = memory.training_memory(model, (3, 224, 224), 2, optimizer="adam", table=table)
    assert adam["optimizer_state"] == 2 * parts["optimizer_state"]
    half = memory.training_memory(model, (3, 224, 224), 2, table=table, activation_bytes=2)
    assert half["activations"] < parts["activations"]


def test_batch_size_for_inverts_the_linear_budget():
    model = on_meta(VGG, "D")
    table = analysis.layer_table(model, (3, 224, 224))
    m1, m2, m7 = (memory.training_memory(model, (3, 224, 224), b, table=table) for b in (1, 2, 7))
    assert memory.batch_size_for(m7["total"], m1, m2) == pytest.approx(7)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="adamw"):
        memory.training_memory(on_meta(VGG, "A"), optimizer="lamb")


def test_stage_bounds_end_at_each_pool():
    features = VGG("D", width_divisor=8).features
    bounds = memory.stage_bounds(features)
    assert len(bounds) == 5 and bounds[0] == (0, 5) and bounds[-1][1] == len(features)
    assert all(type(features[b - 1]).__name__ == "MaxPool2d" for _, b in bounds)


@pytest.mark.parametrize("segments", [None, [(0, 4)]])
def test_checkpointed_vgg_gives_the_same_gradients_and_keeps_less(segments):
    torch.manual_seed(0)
    model = VGG("D", width_divisor=8, batch_norm=True, hidden=32, num_classes=10, dropout=0.0).train()
    x, y = torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,))
    F.cross_entropy(model(x), y).backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    torch.manual_seed(0)  # BatchNorm running statistics are updated twice by a recomputed segment: fine for grads
    wrapped = memory.Checkpointed(model, segments)
    F.cross_entropy(wrapped(x), y).backward()
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, plain[n], rtol=1e-4, atol=1e-6), n
    assert memory.saved_tensor_bytes(wrapped, x, y) < memory.saved_tensor_bytes(model, x, y)
    assert list(wrapped.state_dict()) == ["model." + k for k in model.state_dict()]


def test_checkpointed_vgg_without_grad_is_the_plain_forward():
    model = VGG("A", width_divisor=8, num_classes=10, head="gap").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(memory.Checkpointed(model)(x), model(x))


def test_bad_segments_are_refused():
    with pytest.raises(ValueError, match="segments"):
        memory.Checkpointed(VGG("A", width_divisor=8), [(4, 2)])


def test_a_model_without_vgg_parts_is_refused():
    with pytest.raises(TypeError, match="features, avgpool and classifier"):
        memory.Checkpointed(torch.nn.Linear(2, 2))


def test_peak_memory_sees_a_large_allocation():
    peak, how = memory.peak_memory(lambda: torch.ones(25_000_000).sum())  # 100 MB
    if peak < 0:
        pytest.skip(how)
    assert 90e6 < peak < 400e6, how


def test_measured_training_peak_covers_the_counted_budget():
    """Resident memory sees large tensors (mmapped, returned to the system when freed); small ones may reuse freed
    heap. A model whose memory is mostly large tensors (fc6: 51 MB) is measured within a few percent."""
    build = lambda: VGG("A", width_divisor=2, hidden=2048, num_classes=10)  # noqa: E731
    peak, how = memory.measured_training_peak(build, 4, (3, 64, 64), num_classes=10)
    if peak < 0:
        pytest.skip(how)
    counted = memory.training_memory(build(), (3, 64, 64), 4)["total"]
    assert 0.9 * counted < peak < 1.5 * counted, (peak, counted)


@requires_cuda
@pytest.mark.cuda
def test_peak_memory_on_cuda_counts_the_allocator():
    peak, how = memory.peak_memory(lambda: torch.ones(25_000_000, device="cuda").sum(), "cuda")
    assert how == "CUDA max_memory_allocated" and 100e6 <= peak < 110e6


@requires_cuda
@pytest.mark.cuda
def test_measured_training_peak_on_cuda_covers_the_count():
    build = lambda: VGG("A", width_divisor=2, hidden=2048, num_classes=10)  # noqa: E731
    peak, _ = memory.measured_training_peak(build, 4, (3, 64, 64), device="cuda", num_classes=10)
    counted = memory.training_memory(build(), (3, 64, 64), 4)["total"]
    assert 0.9 * counted < peak < 2 * counted


def test_peaks_against_count_gives_each_ratio_or_says_why_there_is_none():
    how = "peak resident memory (Linux VmHWM)"
    peaks = pd.DataFrame(dict(batch_size=[1, 4], peak_bytes=[3e9, 4e9], counted=[2e9, 5e9], how=[how, how]))
    assert (
        memory.peaks_against_count(peaks) == f"measured peak / counted bytes: 1.50 at batch 1, 0.80 at batch 4 ({how})"
    )
    why = "not measurable here (needs CUDA or Linux's /proc)"
    none = pd.DataFrame(dict(batch_size=[1], peak_bytes=[-1], counted=[2e9], how=[why]))
    assert memory.peaks_against_count(none) == f"the peak is not measured here: {why}"


def test_compare_step_times_times_each_model_in_turns():
    calls = []

    class Counted(torch.nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name, self.linear = name, torch.nn.Linear(4, 3)

        def forward(self, x):
            calls.append(self.name)
            return self.linear(x)

    x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
    times = memory.compare_step_times({"a": Counted("a"), "b": Counted("b")}, x, y, repeats=3)
    assert list(times) == ["a", "b"] and all(t > 0 for t in times.values())
    assert calls == ["a", "b"] * 4  # a warm-up round, then three rounds, alternating


def test_peak_memory_counts_fresh_pages_after_fit_kept_its_memory():
    """fit keeps freed memory resident (cpu.keep_freed_memory); a peak measured afterwards still sees 100 MB."""
    cpu.keep_freed_memory()
    torch.ones(100_000_000).sum()  # 400 MB allocated and freed: kept in the heap, still resident
    peak, how = memory.peak_memory(lambda: torch.ones(25_000_000).sum())
    if peak < 0:
        pytest.skip(how)
    assert 90e6 < peak < 400e6, how

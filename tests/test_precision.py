"""Mixed precision: the hardware report and the step-time table (no timing is asserted); bf16 autocast trains
to the same loss curve as float32 through fit."""

import pytest
import torch

from vgg_edu import precision
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_hardware_report_names_known_flags_only():
    hw = precision.bf16_hardware()
    assert set(hw["cpu_flags"]) <= set(precision.BF16_FLAGS)
    assert isinstance(hw["onednn_bf16"], bool) and hw["cuda"] == torch.cuda.is_available()


@pytest.mark.parametrize(
    "flags, known, words",
    [(["avx512_bf16"], True, "has bf16 instructions (avx512_bf16)"), ([], True, "no bf16 instructions"),
     ([], False, "unknown")],
)  # fmt: skip
def test_bf16_case_names_the_case(flags, known, words):
    hw = dict(cpu_flags=flags, cpu_flags_known=known, onednn_bf16=False, cuda=False, cuda_bf16=False)
    assert words in precision.bf16_case(hw)


def test_step_times_table_is_relative_to_float32():
    model = small_model()
    x, y = torch.randn(4, 1, 32, 32), torch.randint(0, 10, (4,))
    t = precision.autocast_step_times(model, x, y, repeats=1)
    assert list(t["precision"]) == ["float32", "autocast bfloat16"]
    assert t["relative_to_float32"].iloc[0] == 1.0
    assert t["relative_to_float32"].iloc[1] == pytest.approx(t["ms_per_step"].iloc[1] / t["ms_per_step"].iloc[0])
    assert all(p.grad is None for p in model.parameters())


def test_step_times_take_turns():
    calls, model = [], small_model()
    model.register_forward_pre_hook(lambda m, args: calls.append(torch.is_autocast_enabled("cpu")))
    x, y = torch.randn(2, 1, 32, 32), torch.randint(0, 10, (2,))
    precision.autocast_step_times(model, x, y, repeats=2)
    assert calls == [False, True] * 3  # a warm-up round, then two timed rounds, float32 and bf16 alternating


def test_bf16_autocast_follows_the_float32_loss_curve():
    ds = tiny_data(n_train=64)
    kw = dict(epochs=4, batch_size=16, lr=0.05, momentum=0.9, device="cpu", quiet=True)
    fp32 = [s["loss"] for s in fit(small_model(), ds, amp=False, **kw).steps]
    bf16 = [s["loss"] for s in fit(small_model(), ds, amp=True, **kw).steps]
    assert bf16 != fp32  # it did run in bfloat16
    assert bf16[0] == pytest.approx(fp32[0], rel=0.02)  # the same network and batch, 8 bits of mantissa
    late = lambda losses: sum(losses[-4:]) / 4  # noqa: E731
    assert late(bf16) == pytest.approx(late(fp32), rel=0.15)  # runs drift apart step by step, the curve stays
    assert late(bf16) < 0.7 * bf16[0]


@requires_cuda
@pytest.mark.cuda
def test_cuda_autocast_step_times():
    model = small_model().cuda()
    x, y = torch.randn(8, 1, 32, 32, device="cuda"), torch.randint(0, 10, (8,), device="cuda")
    t = precision.autocast_step_times(model, x, y, dtypes=(None, torch.float16, torch.bfloat16), repeats=2)
    assert len(t) == 3

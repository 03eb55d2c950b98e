"""3x3 stacks against one large kernel: receptive field, weights and MACs against the paper's 27C^2 / 49C^2 and
the layer table; the timing table's arithmetic (no timing is asserted)."""

import pytest
import torch

from vgg_edu import kernels, receptive

from conftest import requires_cuda

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("n", [2, 3])
def test_stack_and_large_kernel_see_the_same_field_with_the_papers_weights(n):
    c, k = 16, 2 * n + 1
    stack, large = kernels.three_by_three_stack(n, c), kernels.large_kernel(k, c)
    assert receptive.receptive_field([(3, 1)] * n)[-1][0] == receptive.receptive_field([(k, 1)])[-1][0] == k
    weights = lambda m: sum(p.numel() for name, p in m.named_parameters() if name.endswith("weight"))  # noqa: E731
    assert weights(stack) == 9 * n * c * c and weights(large) == k * k * c * c  # 27 C^2 against 49 C^2 for n = 3
    x = torch.randn(1, c, 12, 12)
    assert stack(x).shape == large(x).shape == x.shape


def test_every_network_is_timed_in_the_same_rounds(monkeypatch):
    seen = []
    monkeypatch.setattr(kernels.timing, "median_ms_in_turns", lambda works, **kw: seen.append(list(works)) or
                        {name: 1.0 for name in works})  # fmt: skip
    t = kernels.time_per_mac(channels=4, size=8, batch_size=1, stacks=(2, 3), repeats=3)
    assert seen == [["2 x 3x3", "1 x 5x5", "3 x 3x3", "1 x 7x7"]]  # one call: the four take turns
    # equal times per batch: a 3x3 MAC is then as much faster as the stack has fewer MACs
    assert t["speed_per_mac"].tolist() == pytest.approx([18 / 25, 1.0, 27 / 49, 1.0])
    assert t["speed_per_batch"].tolist() == [1.0] * 4  # and per batch, neither is faster


def test_time_per_mac_table_is_consistent():
    t = kernels.time_per_mac(channels=8, size=12, batch_size=2, stacks=(2,), repeats=2)
    assert list(t["network"]) == ["2 x 3x3", "1 x 5x5"]
    assert list(t["macs"]) == [2 * 9 * 8 * 8 * 144, 25 * 8 * 8 * 144]
    assert t["ns_per_mac"].tolist() == pytest.approx((t["ms_per_batch"] * 1e6 / (t["macs"] * 2)).tolist())
    assert t["speed_per_mac"].iloc[0] == pytest.approx(t["ns_per_mac"].iloc[1] / t["ns_per_mac"].iloc[0])
    assert t["speed_per_mac"].iloc[1] == 1.0
    assert t["speed_per_batch"].iloc[0] == pytest.approx(t["ms_per_batch"].iloc[1] / t["ms_per_batch"].iloc[0])
    backward = kernels.time_per_mac(channels=8, size=12, batch_size=2, stacks=(3,), backward=True, repeats=2)
    assert list(backward["receptive_field"]) == [7, 7]


@requires_cuda
@pytest.mark.cuda
def test_time_per_mac_runs_on_cuda():
    t = kernels.time_per_mac(channels=8, size=12, batch_size=2, stacks=(2,), device="cuda", repeats=2)
    assert (t["ms_per_batch"] > 0).all()


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(stacks=(0,)), "stacks"),
        (dict(stacks=(1.5,)), "stacks"),
        (dict(batch_size=0), "batch_size"),
        (dict(repeats=0), "repeats"),
    ],
)
def test_bad_arguments_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        kernels.time_per_mac(8, 8, **({"batch_size": 1} | kw))

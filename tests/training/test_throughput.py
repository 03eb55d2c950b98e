"""What keeps a GPU busy, tested on the CPU: no step waits for the device, prefetching and compiling change nothing
in the weights, a compiled run resumes exactly. (The CUDA side: ``benchmarks/gpu_check.sh``.)"""

import pytest
import torch

from vgg_edu import timing
from vgg_edu.training import loop, throughput
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")

RUN = dict(epochs=2, batch_size=8, lr=0.05, momentum=0.9, flip=True, eval_every=0, quiet=True)
WAITS = ("item", "cpu", "tolist", "numpy", "__float__", "__int__", "__bool__")
"""Every way to read a tensor's value on the host: on CUDA each one waits for all the queued work."""


def _same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture
def traps(monkeypatch):
    """While ``traps["on"]``, reading any tensor's value on the host raises."""
    state = {"on": False}

    def refusing(name, original):
        def method(self, *args, **kwargs):
            if state["on"]:
                raise AssertionError(f"Tensor.{name} called between two log points: the step waits for the GPU")
            return original(self, *args, **kwargs)

        return method

    for name in WAITS:
        monkeypatch.setattr(torch.Tensor, name, refusing(name, getattr(torch.Tensor, name)))
    return state


def test_steps_between_log_points_never_read_a_tensor(traps, monkeypatch):
    epoch, log = loop._train_epoch, loop._log_step
    logged = []

    def trapped_epoch(run, callbacks):  # batches made, steps taken: all trapped ...
        traps["on"] = True
        try:
            epoch(run, callbacks)
        finally:
            traps["on"] = False

    def free_log(run, loss):  # ... except the logged steps, which read the loss once
        traps["on"] = False
        try:
            logged.append(run.step)
            return log(run, loss)
        finally:
            traps["on"] = True

    monkeypatch.setattr(loop, "_train_epoch", trapped_epoch)
    monkeypatch.setattr(loop, "_log_step", free_log)
    history = fit(small_model(), tiny_data(), log_every=5, prefetch=True, **RUN)
    assert logged == [1, 5, 10, 15, 20, 24]  # 12 steps an epoch: the first, every fifth, the last
    assert history.final["step"] == 24 and history.final["train_loss"] > 0 and history.final["examples_per_s"] > 0
    traps["on"] = True
    with pytest.raises(AssertionError, match="Tensor.item"):  # the trap itself works
        torch.ones(()).item()
    traps["on"] = False


def test_ahead_asks_for_the_next_batch_before_handing_out_this_one():
    asked = []

    def items():
        for i in range(3):
            asked.append(i)
            yield (torch.full((2,), i),)

    seen = []
    for (x,) in throughput.ahead(items(), torch.device("cpu")):
        seen.append((int(x[0]), list(asked)))
    assert seen == [(0, [0, 1]), (1, [0, 1, 2]), (2, [0, 1, 2])]
    assert [int(x[0]) for (x,) in throughput.ahead(items(), torch.device("cpu"), enabled=False)] == [0, 1, 2]
    assert list(throughput.ahead(iter(()), torch.device("cpu"))) == []


def test_prefetching_trains_the_same_network_bit_for_bit():
    ds = tiny_data()
    kw = RUN | dict(translate=2, max_zoom=1.2)  # every augmentation, and dropout: random draws on both sides
    plain, ahead = small_model(dropout=0.5), small_model(dropout=0.5)
    h_plain = fit(plain, ds, prefetch=False, **kw)
    h_ahead = fit(ahead, ds, prefetch=True, **kw)
    assert _same_weights(plain, ahead)
    assert [r["loss"] for r in h_plain.steps] == [r["loss"] for r in h_ahead.steps]


@pytest.fixture
def traced(monkeypatch):
    """torch.compile through TorchDynamo and AOTAutograd (the joint forward-backward graph) without inductor's C++
    code generation, which takes minutes on a busy 2-core CPU (measured: 177 s for this small network)."""
    monkeypatch.setattr(throughput, "BACKEND", "aot_eager")


def test_a_compiled_step_trains_the_same_network(traced):
    ds = tiny_data()
    plain, compiled = small_model(dropout=0.5), small_model(dropout=0.5)
    h_plain = fit(plain, ds, **RUN)
    h_compiled = fit(compiled, ds, compile=True, **RUN)
    assert _same_weights(plain, compiled)  # dropout masks included: drawn from PyTorch's generator on both sides
    assert h_compiled.final["train_loss"] == h_plain.final["train_loss"]
    assert h_compiled.config["compile"] is True and h_plain.config["compile"] is False


def test_a_compiled_run_stopped_and_resumed_is_the_run_never_stopped(traced, tmp_path):
    ds = tiny_data()
    whole, resumed = small_model(dropout=0.5), small_model(dropout=0.5)
    fit(whole, ds, compile=True, **RUN)
    path = tmp_path / "run.pt"
    fit(resumed, ds, compile=True, max_steps=7, checkpoint=path, **RUN)  # stops mid-epoch
    assert not _same_weights(whole, resumed)
    again = small_model(seed=1, dropout=0.5)  # other weights: all of it must come from the checkpoint
    fit(again, ds, compile=True, checkpoint=path, resume=True, **RUN)
    assert _same_weights(whole, again)
    half_plain = small_model(dropout=0.5)  # compile is how the run is carried out, not what the run is:
    fit(half_plain, ds, max_steps=7, checkpoint=tmp_path / "b.pt", **RUN)  # begun plain, continued compiled
    fit(half_plain, ds, compile=True, checkpoint=tmp_path / "b.pt", resume=True, **RUN)
    assert _same_weights(whole, half_plain)  # bit for bit here; to rounding with inductor's fused kernels


@requires_cuda
@pytest.mark.cuda
def test_on_cuda_no_step_synchronises_between_log_points(monkeypatch):
    """PyTorch's own detector: every implicit wait for the GPU (``.item()``, a blocking copy) raises."""
    epoch, log, sync = loop._train_epoch, loop._log_step, timing.synchronize
    logged = []

    def mode(level, f):
        def wrapped(*args):
            torch.cuda.set_sync_debug_mode(level)
            try:
                return f(*args)
            finally:
                torch.cuda.set_sync_debug_mode("error" if level == "default" else "default")

        return wrapped

    monkeypatch.setattr(loop, "_train_epoch", mode("error", epoch))
    monkeypatch.setattr(loop, "_log_step", mode("default", lambda run, loss: logged.append(run.step) or log(run, loss)))
    monkeypatch.setattr(timing, "synchronize", mode("default", sync))
    try:
        fit(small_model(), tiny_data(), log_every=5, device="cuda", translate=2, **RUN)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert logged == [1, 5, 10, 15, 20, 24]


@requires_cuda
@pytest.mark.cuda
def test_on_cuda_prefetched_and_compiled_steps_train_the_same_network():
    ds = tiny_data()
    kw = RUN | dict(device="cuda", amp=False)
    runs = {}
    for name, options in {
        "plain": dict(prefetch=False),
        "ahead": dict(prefetch=True),
        "graphs": dict(compile=True),
    }.items():
        runs[name] = small_model(dropout=0.5)
        fit(runs[name], ds, **kw, **options)
    for name in ("ahead", "graphs"):  # cuDNN's kernels need not be deterministic: the same to rounding
        for a, b in zip(runs["plain"].parameters(), runs[name].parameters(), strict=True):
            assert torch.allclose(a, b, atol=1e-4), name

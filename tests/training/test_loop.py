"""fit's loop: the loss goes down, runs repeat, stops, divergence, options refused before training, memory layouts and
mixed precision train the same network."""

import math
import os
import signal

import pytest
import torch

from vgg_edu.training import checkpoint
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.loop import Terminated, TrainingDiverged, fit
from vgg_edu.training.recipes import build_model

from conftest import requires_cuda, small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_fit_lowers_the_loss_on_a_small_batch():
    ds = tiny_data(n_train=32)
    history = fit(small_model(), ds, epochs=25, batch_size=32, lr=0.05, momentum=0.9, eval_every=0, quiet=True)
    assert len(history) == 25 and history.final["step"] == 25
    assert history.epochs[0]["train_loss"] == pytest.approx(math.log(10), rel=0.05)  # chance: -log(1/10)
    assert history.final["train_loss"] < 0.3 * history.epochs[0]["train_loss"]
    assert history.final["train_acc"] > 0.8


def test_max_steps_stops_early_and_evaluates():
    ds = tiny_data()
    ds = tiny_data(n_val=20)
    history = fit(small_model(), ds, epochs=5, batch_size=32, lr=0.01, max_steps=4, quiet=True)
    assert history.final["step"] == 4 and history.final["val_acc"] is not None
    assert [round(r["epoch"], 3) for r in history.epochs] == [1.0, 1.333]


def test_runs_repeat_with_the_same_seed():
    ds = tiny_data()
    kw = dict(epochs=1, batch_size=32, lr=0.05, momentum=0.9, flip=True, eval_every=0, quiet=True)
    a, b = small_model(), small_model()
    fit(a, ds, seed=1, **kw)
    fit(b, ds, seed=1, **kw)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_nan_loss_stops_with_advice():
    ds = tiny_data()
    model = small_model()
    with torch.no_grad():
        model.classifier[-1].weight[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        fit(model, ds, epochs=1, batch_size=32, lr=0.01, quiet=True)


def test_huge_learning_rate_diverges_with_advice():
    ds = tiny_data()
    model = build_model("d2l", width_divisor=16, hidden=32, input_size=32)
    with pytest.raises(TrainingDiverged, match="step"):
        fit(model, ds, epochs=5, batch_size=32, lr=1e6, log_every=1, quiet=True)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=-5), "batch_size"),
        (dict(max_steps=0), "max_steps"),
        (dict(lr=float("nan")), "lr"),
        (dict(lr=-1.0), "lr"),
        (dict(epochs=2.5), "epochs"),
        (dict(momentum=1.5), "momentum"),
        (dict(eval_every=-1), "eval_every"),
        (dict(translate=-1), "translate"),
        (dict(translate=0.5), "translate"),
        (dict(max_zoom=0.9), "max_zoom"),
    ],
)
def test_impossible_options_are_refused_before_training(bad, message):
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        fit(model, tiny_data(), quiet=True, **bad)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_loss_fn_replaces_cross_entropy():
    calls = []

    def loss_fn(logits, labels, inputs):
        calls.append(inputs.shape)
        return torch.nn.functional.cross_entropy(logits, labels)

    a, b = small_model(), small_model()
    fit(a, tiny_data(), epochs=1, batch_size=32, loss_fn=loss_fn, quiet=True)
    fit(b, tiny_data(), epochs=1, batch_size=32, quiet=True)
    assert calls == [(32, 1, 32, 32)] * 3
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_channels_last_and_contiguous_layouts_train_the_same_network():
    ds = tiny_data()
    kw = dict(epochs=1, batch_size=32, lr=0.05, momentum=0.9, flip=True, translate=2, eval_every=0, quiet=True)
    nhwc, nchw = small_model(), small_model()
    fit(nhwc, ds, channels_last=True, **kw)
    fit(nchw, ds, channels_last=False, **kw)
    assert nhwc.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(nhwc.parameters(), nchw.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


def test_mixed_precision_path_runs_on_the_cpu_in_bf16():
    ds = tiny_data()
    seen = []

    class Spy(Callback):
        def on_step(self, run, loss):
            seen.append((run.scaler.is_enabled(), run.amp))

    model = small_model()
    history = fit(model, ds, epochs=1, batch_size=32, amp=True, callbacks=[Spy()], quiet=True)
    assert math.isfinite(history.final["train_loss"]) and history.config["amp"] is True
    assert seen == [(False, True)] * 3  # bf16 needs no loss scaling: the GradScaler is for CUDA's float16
    assert fit(small_model(), ds, epochs=1, batch_size=32, quiet=True).config["amp"] is False  # CPU default


@requires_cuda
@pytest.mark.cuda
def test_the_cuda_path_trains_with_amp_and_channels_last():
    ds = tiny_data(n_val=20)
    model = small_model()
    history = fit(model, ds, epochs=1, batch_size=32, translate=2, flip_tta=True, quiet=True, device="cuda")
    assert history.config["amp"] is True and history.final["val_acc"] is not None
    assert next(model.parameters()).is_cuda


TIMING = ("wall_s", "epoch_s", "examples_per_s")


def _rows(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history.epochs]


class _SignalAt(Callback):
    def __init__(self, step, signum=signal.SIGINT):
        self.step, self.signum = step, signum

    def on_step(self, run, loss):
        if run.step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def uninterrupted():
    """The reference run: 2 epochs of 3 steps, validated each epoch, on one thread (compared bit for bit)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, quiet=True)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("stop_at", [1, 3, 4, 6])  # mid-epoch, an epoch's last step, the run's last step
def test_a_resumed_history_equals_the_uninterrupted_one_wherever_it_stopped(
    tmp_path, uninterrupted, stop_at, one_thread
):
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, checkpoint=path, quiet=True,
            callbacks=[_SignalAt(stop_at)])  # fmt: skip
    resumed = fit(small_model(), tiny_data(n_val=16), epochs=2, batch_size=32, checkpoint=path, resume=True,
                  quiet=True)  # fmt: skip
    assert _rows(resumed) == _rows(uninterrupted)
    assert [s["loss"] for s in resumed.steps] == [s["loss"] for s in uninterrupted.steps]


def test_sigterm_saves_like_ctrl_c_and_says_so(tmp_path):
    path = tmp_path / "run.pt"
    with pytest.raises(Terminated):
        fit(small_model(), tiny_data(), epochs=2, batch_size=32, checkpoint=path, quiet=True,
            callbacks=[_SignalAt(2, signal.SIGTERM)])  # fmt: skip
    assert checkpoint.load(path)["training"]["position"]["step"] == 2
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # fit gave the handler back


def test_a_replaced_head_is_what_the_checkpoint_records(tmp_path):
    data = tiny_data()
    data.train_labels %= 5
    data.test_labels %= 5
    data.classes = tuple("abcde")
    model = small_model()
    model.classifier[-1] = torch.nn.Linear(model.classifier[-1].in_features, 5)
    fit(model, data, epochs=1, batch_size=32, checkpoint=tmp_path / "five.pt", quiet=True)
    loaded = checkpoint.load_model(tmp_path / "five.pt")  # rebuilt from what was recorded: the 5-class head
    assert loaded.hparams["num_classes"] == 5 and tuple(loaded.input_spec.classes) == tuple("abcde")
    x = torch.zeros(2, 1, 32, 32)
    assert torch.allclose(loaded(x), model.eval()(x), atol=1e-6)


def test_a_model_with_too_few_outputs_is_refused_before_training():
    model = small_model()
    model.classifier[-1] = torch.nn.Linear(model.classifier[-1].in_features, 5)
    before = model.features[0].weight.clone()
    with pytest.raises(ValueError, match="scores 5 classes"):
        fit(model, tiny_data(), epochs=1, quiet=True)
    assert torch.equal(before, model.features[0].weight)


def test_resume_refuses_a_max_steps_the_run_has_passed(tmp_path):
    path = tmp_path / "run.pt"
    fit(small_model(), tiny_data(), epochs=2, batch_size=32, max_steps=4, checkpoint=path, quiet=True)
    with pytest.raises(ValueError, match="already at step 4"):
        fit(small_model(), tiny_data(), epochs=2, batch_size=32, max_steps=2, checkpoint=path, resume=True,
            quiet=True)  # fmt: skip

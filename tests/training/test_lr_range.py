"""The learning-rate range test: its geometric rates, its smoothing against pandas' ewm, the rates the optimizer
really used (through fit), the stop at divergence, and the model left untouched."""

import numpy as np
import pandas as pd
import pytest
import torch

from vgg_edu.training import lr_range
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rates_are_geometric_from_min_to_max():
    rates = lr_range.geometric_rates(1e-4, 1.0, 5)
    assert rates == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert np.allclose(rates, np.geomspace(1e-4, 1.0, 5))


@pytest.mark.parametrize("bad", [(0, 1, 10), (1, 0.1, 10), (1e-3, 1, 1)])
def test_bad_ranges_are_refused(bad):
    with pytest.raises(ValueError, match="lr_min < lr_max"):
        lr_range.geometric_rates(*bad)


def test_smoothing_is_pandas_bias_corrected_ewm():
    losses = np.random.default_rng(0).random(50) * 3
    expected = pd.Series(losses).ewm(alpha=1 - 0.9, adjust=True).mean().to_numpy()
    assert np.allclose(lr_range.smooth(losses, 0.9), expected)


class _RecordLR(Callback):
    """What the optimizer's learning rate was when each step ran: read before the step, in on_step of the last."""

    def __init__(self):
        self.seen = []

    def on_step(self, run, loss):
        self.seen.append(run.optimizer.param_groups[0]["lr"])


def test_each_step_runs_at_its_rate_and_the_model_is_untouched():
    ds = tiny_data(n_train=96)
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_range.lr_range_test(model, ds, lr_min=1e-4, lr_max=1e-2, steps=12, batch_size=16, stop_factor=1e9)
    f = result.frame
    assert list(f["step"]) == list(range(1, 13))
    assert np.allclose(f["lr"], np.geomspace(1e-4, 1e-2, 12))
    assert np.allclose(f["smoothed"], lr_range.smooth(f["loss"], 0.9))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_the_optimizer_really_uses_the_swept_rates():
    """The sweep's callback sets the rate for the next step after fit's scheduler step; a callback registered
    after it sees the rate the next step will use."""
    rates = lr_range.geometric_rates(1e-3, 1e-1, 6)
    sweep, record = lr_range._Sweep(rates, 0.9, 1e9), _RecordLR()
    quiet = dict(eval_every=0, log_every=1, quiet=True)
    ds = tiny_data(n_train=96)
    fit(small_model(), ds, epochs=1, max_steps=6, batch_size=16, lr=float(rates[0]), callbacks=[sweep, record], **quiet)
    assert record.seen[:-1] == pytest.approx(list(rates[1:]))


def test_the_test_stops_when_the_loss_diverges():
    result = lr_range.lr_range_test(small_model(), tiny_data(n_train=96), lr_min=1e-3, lr_max=1e4, steps=40,
                                    batch_size=16, momentum=0.9)  # fmt: skip
    f = result.frame
    assert 3 <= len(f) < 40
    assert f["smoothed"].iloc[-1] > 4 * f["smoothed"].min() or not np.isfinite(f["loss"].iloc[-1])
    assert f["lr"].iloc[0] <= result.steepest_lr <= result.min_loss_lr
    assert result.suggestion == pytest.approx(result.min_loss_lr / 10)

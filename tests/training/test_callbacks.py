"""Callbacks: every hook called, in order, by fit."""

import pytest

from vgg_edu.training.callbacks import Callback
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_callbacks_see_every_step_and_epoch():
    seen = []

    class Spy(Callback):
        def on_step(self, run, loss):
            seen.append(("step", run.step, loss is not None))

        def on_epoch(self, run, row):
            seen.append(("epoch", row["step"]))

        def on_stop(self, run, reason):
            seen.append(("stop", reason))

    fit(small_model(), tiny_data(n_train=64), epochs=2, batch_size=32, log_every=2, callbacks=[Spy()], quiet=True)
    assert seen == [
        ("step", 1, True),
        ("step", 2, True),
        ("epoch", 2),
        ("step", 3, False),
        ("step", 4, True),
        ("epoch", 4),
        ("stop", "done"),
    ]

"""History: a row per epoch with the validation accuracy and loss of the model at that point, as a frame and as JSON."""

import json
import math

import pytest

from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_history_rows_hold_validation_accuracy_and_loss():
    ds = tiny_data(n_val=30)
    model = small_model()
    history = fit(model, ds, epochs=2, batch_size=32, lr=0.01, quiet=True)
    row = history.final
    for key in ("train_loss", "train_acc", "val_acc", "val_loss", "examples_per_s", "lr", "wall_s"):
        assert row[key] is not None and math.isfinite(row[key]), key
    assert "test_acc" not in row  # the test split is for the end, once
    assert row["step"] == 2 * 3 and history.epochs[0]["wall_s"] < row["wall_s"]
    ev = evaluate(model, ds, "val", details=True)
    assert row["val_acc"] == pytest.approx(ev.accuracy) and row["val_loss"] == pytest.approx(ev.loss, rel=1e-5)
    assert history.to_frame().shape[0] == 2
    assert json.loads(json.dumps(history.as_dict()))["epochs"][1]["step"] == 6

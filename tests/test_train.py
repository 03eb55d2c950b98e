"""Training: fit's loop against hand computations, recipes, evaluation against scikit-learn's metrics."""

import dataclasses
import json
import math

import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion

from vgg_edu import runtime
from vgg_edu.data.fashion_mnist import FashionMNIST
from vgg_edu.data.inputs import to_input
from vgg_edu.models import VGG
from vgg_edu.training.callbacks import Callback
from vgg_edu.training.config import DEFAULT_CHECKPOINT, FitConfig
from vgg_edu.training.evaluation import eval_batch_size, evaluate, misclassified, predict
from vgg_edu.training.lessons import ablation, accuracy_gap, lesson_checkpoint, pipeline_costs, summarize, train_steps
from vgg_edu.training.loop import TrainingDiverged, fit
from vgg_edu.training.optim import schedule_curve
from vgg_edu.training.recipes import RECIPES, build_model, fit_config, recipe

from conftest import requires_cuda, small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_fit_lowers_the_loss_on_a_small_batch():
    ds = tiny_data(n_train=32)
    history = fit(small_model(), ds, epochs=25, batch_size=32, lr=0.05, momentum=0.9, eval_every=0, quiet=True)
    assert len(history) == 25 and history.final["step"] == 25
    assert history.epochs[0]["train_loss"] == pytest.approx(math.log(10), rel=0.05)  # chance: -log(1/10)
    assert history.final["train_loss"] < 0.3 * history.epochs[0]["train_loss"]
    assert history.final["train_acc"] > 0.8


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


def test_train_steps_lowers_the_loss_on_separable_data():
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    labels = torch.arange(64) % 2
    images[labels == 1, :14] = 255  # class 1: top half bright
    ds = FashionMNIST(images, labels, images[:0], labels[:0])
    model = VGG([4, "M"], in_channels=1, num_classes=2, head="gap", dropout=0.0)
    losses = train_steps(model, ds, steps=30, batch_size=16, lr=0.05)  # no input_spec: 28 px as stored
    assert len(losses) == 30 and sum(losses[-5:]) / 5 < 0.5 * losses[0]
    assert not model.training


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


def test_evaluate_matches_an_independent_count():
    ds = tiny_data()
    model = small_model().eval()
    ev = evaluate(model, ds, "test", details=True, batch_size=7)
    with torch.no_grad():
        logits = model(to_input(ds.test_images, 32))  # the model's input contract: 32 px
    assert torch.equal(ev.predictions, logits.argmax(1))
    assert ev.accuracy == pytest.approx(float((logits.argmax(1) == ds.test_labels).float().mean()))
    assert ev.loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, ds.test_labels)), rel=1e-5)
    c = ev.confusion()
    assert c.tolist() == sk_confusion(ds.test_labels, ev.predictions, labels=range(10)).tolist()
    assert int(c.trace()) == int((ev.predictions == ds.test_labels).sum())
    assert evaluate(model, ds, "test") == pytest.approx(ev.accuracy)
    with pytest.raises(ValueError, match="hold out a validation split"):
        evaluate(model, ds)


def test_misclassified_are_wrong_and_most_confident_first():
    ds = tiny_data()
    ev = evaluate(small_model(), ds, "test", details=True)
    idx = misclassified(ev, k=5)
    assert len(idx) == min(5, int((ev.predictions != ev.labels).sum()))
    assert bool((ev.predictions[idx] != ev.labels[idx]).all())
    conf = ev.probabilities[idx, ev.predictions[idx]]
    assert torch.equal(conf, conf.sort(descending=True).values)


def test_d2l_recipe_is_the_books():
    r = RECIPES["d2l"]
    assert r.model["input_size"] == 224 and r.fit.batch_size == 128
    assert r.fit.lr == 0.05 and r.fit.epochs == 10 and r.fit.momentum == 0.0
    assert r.model["init"] == "d2l" and r.fit.amp is False  # the book's init_cnn and its fp32, on every device
    with torch.device("meta"):
        model = build_model("d2l")
    convs = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]  # VGG-11 with 64..512 divided by 4
    assert model.classifier[0].in_features == 128 * 7 * 7 and model.classifier[0].out_features == 4096
    assert model.input_spec.size == 224


def test_recipe_options_are_checked():
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe("gpu-magic")
    with pytest.raises(TypeError, match="no field"):
        fit_config("classroom", epoch=3)
    assert fit_config("classroom", epochs=1).epochs == 1
    assert RECIPES["classroom"].fit.epochs == 12  # the preset was not changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECIPES["classroom"].fit.epochs = 1
    with pytest.raises(TypeError):
        RECIPES["classroom"].model["epochs"] = 1


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
    ],
)
def test_impossible_options_are_refused_before_training(bad, message):
    model = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        fit(model, tiny_data(), quiet=True, **bad)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


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


def test_plateau_schedule_follows_validation_accuracy():
    ds = tiny_data(n_val=20)
    frozen = small_model(batch_norm=False)  # lr 1e-6, no BatchNorm: validation accuracy stays put
    h = fit(frozen, ds, epochs=4, batch_size=32, lr=1e-6, schedule="plateau", quiet=True)
    assert len({r["val_acc"] for r in h.epochs}) == 1
    assert [r["lr"] for r in h.epochs] == pytest.approx([1e-6, 1e-6, 1e-6, 1e-7])  # patience 1, then / 10


def test_schedule_curves_follow_their_formulas():
    total, peak = 40, 0.1
    one = schedule_curve("onecycle", total, peak)
    warm = round(0.25 * total)
    assert one[0] == pytest.approx(peak / 25) and one[warm] == pytest.approx(peak) and max(one) == one[warm]
    t = 30
    assert one[t] == pytest.approx(peak * (1 + math.cos(math.pi * (t - warm) / (total - warm))) / 2)
    assert schedule_curve("constant", 5, 0.3) == pytest.approx([0.3] * 5)
    cosine = schedule_curve("cosine", total, peak)
    assert cosine[20] == pytest.approx(peak / 2) and len(cosine) == total
    with pytest.raises(ValueError, match="validation accuracy"):
        schedule_curve("plateau", 10)


def test_an_ablation_keeps_a_diverged_run_and_marks_it():
    ds = tiny_data(n_val=20)
    kw = dict(epochs=1, batch_size=32, width_divisor=16, log_every=1)
    runs = ablation(ds, {"recipe": {}, "huge lr": {"lr": 1e6, "batch_norm": False}}, **kw)
    table = summarize(runs)
    assert list(table.index) == ["recipe", "huge lr"]
    assert table.loc["huge lr", "diverged"] and math.isnan(table.loc["huge lr", "val_acc"])
    assert not table.loc["recipe", "diverged"] and table.loc["recipe", "val_acc"] == runs["recipe"].final["val_acc"]
    assert table.loc["recipe", "steps"] == 3


def test_accuracy_gap_measures_the_same_images_four_ways():
    ds = tiny_data(n_val=20)
    model = small_model()
    history = fit(model, ds, epochs=1, batch_size=32, flip=True, translate=2, quiet=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gap = accuracy_gap(model, ds, history, FitConfig(flip=True, translate=2), n=64)["accuracy"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BatchNorm's statistics kept
    assert gap.iloc[0] == history.final["train_acc"] and gap.iloc[-1] == evaluate(model, ds, "val")
    as_val = FashionMNIST(ds.train_images, ds.train_labels, ds.test_images, ds.test_labels).hold_out(0)
    as_val.val_images, as_val.val_labels = ds.train_images[:64], ds.train_labels[:64]
    assert gap.iloc[3] == evaluate(model, as_val, "val")  # eval mode, as stored: evaluate's own count
    assert ((gap >= 0) & (gap <= 1)).all() and len(gap) == 5


def test_evaluation_batches_shrink_with_the_input_and_follow_the_model_layout():
    assert eval_batch_size(32) == 1000 and eval_batch_size(224) == 256
    assert eval_batch_size(None) == 1000 and eval_batch_size(10_000) == 8
    ds = tiny_data()
    model = small_model().eval()
    plain = predict(model, ds.test_images)
    model.to(memory_format=torch.channels_last)
    assert torch.allclose(predict(model, ds.test_images, batch_size=7), plain, atol=1e-5)


def test_pipeline_costs_time_three_parts_per_image():
    costs = pipeline_costs(tiny_data(), size=32, batch_size=4)
    assert costs.shape == (3, 1) and (costs.iloc[:, 0] > 0).all()
    assert "training step" in costs.index and costs.columns[0] == "ms per image at 32 px"


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


def test_lesson_checkpoint_keeps_fast_runs_apart_from_the_real_model(monkeypatch):
    monkeypatch.setenv("VGG_EDU_FAST", "1")
    assert lesson_checkpoint().name == "vgg11_fashion_mnist_fast.pt"
    monkeypatch.setenv("VGG_EDU_FAST", "0")
    assert lesson_checkpoint() == runtime.artifacts_dir() / DEFAULT_CHECKPOINT

import json
import math

import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion

from vgg_edu import data, train
from vgg_edu.models import VGG


def tiny_data(n_train=96, n_test=40, seed=0) -> data.FashionMNIST:
    """Random 28x28 images whose class is written into their brightness, so a small net can learn them."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        labels = torch.randint(0, 10, (n,), generator=g)
        noise = torch.randint(0, 60, (n, 28, 28), generator=g)
        images = (noise + labels.view(-1, 1, 1) * 19).clamp(0, 255).to(torch.uint8)
        return images, labels

    return data.FashionMNIST(*split(n_train), *split(n_test), source="synthetic")


def small_model(seed=0, **kw):
    return train.build_model("classroom", seed=seed, **{"width_divisor": 16, "hidden": 32, "head": "gap"} | kw)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread (and much faster when other processes share the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


QUIET = dict(progress=False, verbose=False, live_plot=False, resize=32, device="cpu")


def test_fit_lowers_the_loss_on_a_small_batch():
    ds = tiny_data(n_train=32)
    history = train.fit(small_model(), ds, epochs=25, batch_size=32, lr=0.05, momentum=0.9, eval_every=0, **QUIET)
    assert len(history) == 25 and history.final["step"] == 25
    assert history.epochs[0]["train_loss"] == pytest.approx(math.log(10), rel=0.05)   # chance: -log(1/10)
    assert history.final["train_loss"] < 0.3 * history.epochs[0]["train_loss"]
    assert history.final["train_acc"] > 0.8


def test_history_rows_hold_what_the_issue_asks():
    ds = tiny_data()
    model = small_model()
    history = train.fit(model, ds, epochs=2, batch_size=32, lr=0.01, **QUIET)
    row = history.final
    for key in ("train_loss", "train_acc", "test_acc", "examples_per_s", "lr", "wall_s"):
        assert row[key] is not None and math.isfinite(row[key]), key
    assert row["step"] == 2 * 3 and history.epochs[0]["wall_s"] < row["wall_s"]
    assert row["test_acc"] == pytest.approx(train.evaluate(model, ds, resize=32))
    assert history.to_frame().shape[0] == 2
    assert json.loads(json.dumps(history.as_dict()))["epochs"][1]["step"] == 6


def test_max_steps_stops_early_and_evaluates():
    ds = tiny_data()
    history = train.fit(small_model(), ds, epochs=5, batch_size=32, lr=0.01, max_steps=4, **QUIET)
    assert history.final["step"] == 4 and history.final["test_acc"] is not None
    assert [round(r["epoch"], 3) for r in history.epochs] == [1.0, 1.333]


def test_runs_repeat_with_the_same_seed():
    ds = tiny_data()
    kw = dict(epochs=1, batch_size=32, lr=0.05, momentum=0.9, flip=True, eval_every=0, **QUIET)
    a, b = small_model(), small_model()
    train.fit(a, ds, seed=1, **kw)
    train.fit(b, ds, seed=1, **kw)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_checkpoint_round_trip(tmp_path):
    ds = tiny_data()
    model = small_model()
    path = tmp_path / "ck" / "model.pt"
    train.fit(model, ds, epochs=1, batch_size=32, lr=0.01, checkpoint=path, meta={"note": "hi"}, **QUIET)
    loaded = train.load_model(path)
    assert loaded.hparams == model.hparams and not loaded.training
    assert loaded.meta["resize"] == 32 and loaded.meta["note"] == "hi" and len(loaded.meta["classes"]) == 10
    x = data.to_input(ds.test_images[:8], resize=32)
    model.eval()
    assert torch.allclose(loaded(x), model(x), atol=1e-6)
    assert train.evaluate(loaded, ds, resize=32) == pytest.approx(loaded.meta["test_acc"])
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]          # no temporary file left behind


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train one first"):
        train.load_model(tmp_path / "none.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vgg_edu checkpoint"):
        train.load_model(tmp_path / "other.pt")


@pytest.mark.parametrize("schedule", ["constant", "onecycle"])
def test_resume_continues_the_same_run(tmp_path, schedule):
    """Stopped mid-epoch (step 4 of 3 x 3) and resumed, a run ends with exactly the weights of one never stopped."""
    ds = tiny_data()
    kw = dict(epochs=3, batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4, flip=True, schedule=schedule,
              **QUIET)
    straight = small_model()
    full = train.fit(straight, ds, **kw)

    path = tmp_path / "run.pt"
    first = train.fit(small_model(), ds, max_steps=4, checkpoint=path, **kw)
    assert first.final["step"] == 4
    resumed_model = small_model(seed=99)                    # different start weights: the checkpoint must win
    resumed = train.fit(resumed_model, ds, checkpoint=path, resume=True, **kw)
    assert resumed.final["step"] == 9
    for a, b in zip(straight.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    assert resumed.final["train_loss"] == pytest.approx(full.final["train_loss"], rel=1e-5)
    assert resumed.final["lr"] == pytest.approx(full.final["lr"])


def test_train_steps_lowers_the_loss_on_separable_data():
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    labels = torch.arange(64) % 2
    images[labels == 1, :14] = 255       # class 1: top half bright
    ds = data.FashionMNIST(images, labels, images[:0], labels[:0])
    model = VGG([4, "M"], in_channels=1, num_classes=2, head="gap", dropout=0.0)
    losses = train.train_steps(model, ds, steps=30, batch_size=16, lr=0.05)
    assert len(losses) == 30 and sum(losses[-5:]) / 5 < 0.5 * losses[0]
    assert not model.training


def test_nan_loss_stops_with_advice():
    ds = tiny_data()
    model = small_model()
    with torch.no_grad():
        model.classifier[-1].weight[0, 0] = float("nan")
    with pytest.raises(train.TrainingDiverged, match="lower the learning rate"):
        train.fit(model, ds, epochs=1, batch_size=32, lr=0.01, **QUIET)


def test_huge_learning_rate_diverges_with_advice():
    ds = tiny_data()
    model = train.build_model("d2l", width_divisor=16, hidden=32)
    with pytest.raises(train.TrainingDiverged, match="step"):
        train.fit(model, ds, epochs=5, batch_size=32, lr=1e6, log_every=1, **QUIET)


def test_evaluate_matches_an_independent_count():
    ds = tiny_data()
    model = small_model().eval()
    ev = train.evaluate(model, ds, resize=32, details=True, batch_size=7)
    with torch.no_grad():
        logits = model(data.to_input(ds.test_images, resize=32))
    assert torch.equal(ev.predictions, logits.argmax(1))
    assert ev.accuracy == pytest.approx(float((logits.argmax(1) == ds.test_labels).float().mean()))
    assert ev.loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, ds.test_labels)), rel=1e-5)
    c = ev.confusion()
    assert c.tolist() == sk_confusion(ds.test_labels, ev.predictions, labels=range(10)).tolist()
    assert int(c.trace()) == int((ev.predictions == ds.test_labels).sum())
    assert train.evaluate(model, ds, resize=32) == pytest.approx(ev.accuracy)


def test_misclassified_are_wrong_and_most_confident_first():
    ds = tiny_data()
    ev = train.evaluate(small_model(), ds, resize=32, details=True)
    idx = train.misclassified(ev, k=5)
    assert len(idx) == min(5, int((ev.predictions != ev.labels).sum()))
    assert bool((ev.predictions[idx] != ev.labels[idx]).all())
    conf = ev.probabilities[idx, ev.predictions[idx]]
    assert torch.equal(conf, conf.sort(descending=True).values)


def test_d2l_recipe_is_the_books():
    r = train.RECIPES["d2l"]
    assert r["fit"]["resize"] == 224 and r["fit"]["batch_size"] == 128
    assert r["fit"]["lr"] == 0.05 and r["fit"]["epochs"] == 10 and r["fit"]["momentum"] == 0.0
    assert r["model"]["init"] == "xavier"
    with torch.device("meta"):
        model = train.build_model("d2l")
    convs = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64, 64, 128, 128, 128, 128]            # VGG-11 with 64..512 divided by 4
    assert model.classifier[0].in_features == 128 * 7 * 7 and model.classifier[0].out_features == 4096


def test_recipe_options_are_checked():
    with pytest.raises(ValueError, match="unknown recipe"):
        train.recipe("gpu-magic")
    with pytest.raises(TypeError, match="no option"):
        train.fit_kwargs("classroom", epoch=3)
    assert train.fit_kwargs("classroom", epochs=1)["epochs"] == 1
    assert train.RECIPES["classroom"]["fit"]["epochs"] != 1                  # the preset was not changed


def test_figures_draw():
    ds = tiny_data()
    model = small_model()
    h = train.fit(model, ds, epochs=2, batch_size=32, lr=0.01, **QUIET)
    ev = train.evaluate(model, ds, resize=32, details=True)
    assert len(train.plot_history(h).axes) == 2
    assert len(train.plot_confusion(ev.confusion()).axes) == 2                 # the matrix and its colour bar
    wrong = int((ev.predictions != ev.labels).sum())
    fig = train.plot_misclassified(ds.test_images, ev, k=8)
    assert sum(1 for ax in fig.axes if ax.images) == min(8, wrong)
    fig = train.plot_time_vs_accuracy({"a": h})
    assert fig.axes[0].lines[0].get_ydata().tolist() == [r["test_acc"] for r in h.epochs]


@pytest.mark.parametrize("exercise_id,wrong", [("04.1", 128_806_154), ("04.2", 7), ("04.4", 468),
                                               ("04.3", lambda c: c.diag().float() / c.sum(0).float())])
def test_notebook_04_exercises_accept_their_solution_and_reject_a_wrong_answer(exercise_id, wrong):
    from vgg_edu import exercises, models

    namespace = {"math": math, "torch": torch, "models": models}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    assert exercises.check(exercise_id, namespace["answer"]) is True
    assert exercises.check(exercise_id, wrong) is False

"""Notebook 04's helpers: short runs, ablations that keep a diverged run, the accuracy gap measured four ways, the
pipeline's costs, where the lesson's checkpoint goes."""

import math

import pandas as pd
import pytest
import torch

from vgg_edu.data.image_splits import ImageSplits
from vgg_edu.models import VGG
from vgg_edu.training.config import FitConfig
from vgg_edu.training.evaluation import evaluate, predict
from vgg_edu.training.lessons import (
    ablation,
    accuracy_gap,
    lesson_checkpoint,
    lesson_model,
    pipeline_costs,
    seeded_ablation,
    step_against_resize,
    step_ms,
    summarize,
    summarize_seeds,
    time_against_macs,
    train_steps,
)
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_steps_lowers_the_loss_on_separable_data():
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    labels = torch.arange(64) % 2
    images[labels == 1, :14] = 255  # class 1: top half bright
    ds = ImageSplits(images, labels, images[:0], labels[:0])
    model = VGG([4, "M"], in_channels=1, num_classes=2, head="gap", dropout=0.0)
    losses = train_steps(model, ds, steps=30, batch_size=16, lr=0.05)  # no input_spec: 28 px as stored
    assert len(losses) == 30 and sum(losses[-5:]) / 5 < 0.5 * losses[0]
    assert not model.training


def test_train_steps_keeps_a_run_that_diverges_and_ends_its_losses_with_nan(capsys):
    ds = tiny_data(n_val=20)
    model = VGG([4, "M"], in_channels=1, num_classes=10, head="gap", dropout=0.0)
    losses = train_steps(model, ds, steps=40, batch_size=16, lr=1e8)  # blows up within a few steps
    assert 1 < len(losses) < 40 and math.isnan(losses[-1]) and all(math.isfinite(v) for v in losses[:-1])
    assert f"became NaN at step {len(losses)} of 40 (learning rate 1e+08)" in capsys.readouterr().out
    assert not model.training


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
    val_hits = (predict(model, ds.val_images).argmax(1) == ds.val_labels).sum()  # an independent count
    assert gap.iloc[0] == history.final["train_acc"] and gap.iloc[-1] == int(val_hits) / len(ds.val_labels)
    as_val = ImageSplits(ds.train_images, ds.train_labels, ds.test_images, ds.test_labels).hold_out(0)
    as_val.val_images, as_val.val_labels = ds.train_images[:64], ds.train_labels[:64]
    assert gap.iloc[3] == evaluate(model, as_val, "val")  # eval mode, as stored: evaluate's own count
    assert ((gap >= 0) & (gap <= 1)).all() and len(gap) == 5


def test_pipeline_costs_time_three_parts_per_image():
    costs = pipeline_costs(tiny_data(), size=32, batch_size=4)
    assert costs.shape == (3, 1) and (costs.iloc[:, 0] > 0).all()
    assert "training step" in costs.index and costs.columns[0] == "ms per image at 32 px"


def test_step_ms_times_each_variant():
    variants = {
        "32 px": {"width_divisor": 16},
        "64 px, config B": {"width_divisor": 16, "input_size": 64, "config": "B"},
        "32 px, longer": {"width_divisor": 16, "epochs": 3},  # a run's field: the step is the 32 px one
    }
    timed = step_ms(tiny_data(), variants, batch_size=4, repeats=1)
    assert list(timed.index) == list(variants) and (timed.ms_per_image > 0).all()
    # VGG-11/16 at 32 px: the conv formula's sum (H W C_in C_out 9, pools after convs 1, 2, 4, 6) and the GAP head
    sides, widths = [32, 16, 8, 8, 4, 4, 2, 2], [4, 8, 16, 16, 32, 32, 32, 32]
    conv = sum(s * s * c * i * 9 for s, c, i in zip(sides, widths, [1] + widths[:-1]))
    assert timed.MACs_M["32 px"] == pytest.approx((conv + 32 * 10) / 1e6, abs=1e-9) == timed.MACs_M["32 px, longer"]
    # config B at 64 px adds a conv in stages 1 and 2: 64^2 4 4 9 and 32^2 8 8 9 more than A at 64 px
    a64 = step_ms(tiny_data(), {"A": {"width_divisor": 16, "input_size": 64}}, batch_size=4, repeats=1).MACs_M["A"]
    extra = timed.MACs_M["64 px, config B"] - a64
    assert extra == pytest.approx((64 * 64 * 4 * 4 * 9 + 32 * 32 * 8 * 8 * 9) / 1e6, abs=1e-9)


def test_step_against_resize_says_the_ratios_and_which_lesson_they_support():
    parts = ["PIL resize (d2l, per image)", "F.interpolate (batched)", "training step"]
    cpu = step_against_resize(pd.Series([0.2, 0.01, 7.0], index=parts))  # 7 / 0.2 = 35, 7 / 0.01 = 700
    assert "35x as long as PIL's resize and 700x as long as F.interpolate" in cpu
    assert "over ten times either resize" in cpu and "waiting" not in cpu
    gpu = step_against_resize(pd.Series([0.2, 0.004, 0.3], index=parts))  # 1.5 and 75
    assert "1.5x as long as PIL's resize and 75x as long as F.interpolate" in gpu
    assert "PIL's resize is within a tenth of the step" in gpu and "over ten times" not in gpu
    both = step_against_resize(pd.Series([0.2, 0.1, 0.5], index=parts))  # 2.5 and 5
    assert "PIL's resize and F.interpolate are within a tenth" in both


def test_time_against_macs_says_whether_time_follows_the_macs():
    rising = pd.DataFrame({"MACs_M": [31.0, 10.0, 66.0], "ms_per_image": [0.3, 0.1, 0.7]}, index=["56", "32", "84"])
    said = time_against_macs(rising)
    assert said.startswith("a step took more time the more MACs it did")
    assert said.index("32 10.0 M MACs, 0.100 ms") < said.index("56 31.0 M") < said.index("84 66.0 M")
    flat = rising.assign(ms_per_image=[0.1, 0.1, 0.12])  # two networks of different MACs in the same time
    assert time_against_macs(flat).startswith("a step's time did not follow its MACs")


def test_seeded_ablation_pairs_the_variants_seed_by_seed():
    ds = tiny_data(n_val=32)
    changes = {"base": {}, "wider": {"width_divisor": 8}, "no BN": {"batch_norm": False}}
    runs = seeded_ablation(ds, changes, seeds=(0, 1), width_divisor=16, epochs=1, batch_size=32)
    assert list(runs) == list(changes) and all(len(hs) == 2 for hs in runs.values())
    assert [h.config["seed"] for h in runs["wider"]] == [0, 1]
    again = ablation(ds, {"no BN": {"batch_norm": False}}, seed=1, width_divisor=16, epochs=1, batch_size=32)
    assert runs["no BN"][1].final["val_acc"] == again["no BN"].final["val_acc"]  # seed 1 is ablation's seed 1
    table = summarize_seeds(runs)
    acc = {k: [h.final["val_acc"] for h in hs] for k, hs in runs.items()}
    for k in changes:
        assert table.loc[k, "val_acc"] == pytest.approx(sum(acc[k]) / 2)
        assert table.loc[k, "points_vs_first"] == [round(100 * (a - b), 1) for a, b in zip(acc[k], acc["base"])]
    assert table.loc["base", "points_vs_first"] == [0.0, 0.0] and table.loc["base", "steps"] == 3  # 96 images, batch 32
    assert table.loc["wider", "sd"] == pytest.approx(abs(acc["wider"][0] - acc["wider"][1]) / math.sqrt(2))


def test_lesson_checkpoint_keeps_fast_runs_apart_from_the_real_model(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_EDU_ARTIFACTS", str(tmp_path))
    monkeypatch.setenv("VGG_EDU_FAST", "1")
    fast = lesson_checkpoint()
    monkeypatch.setenv("VGG_EDU_FAST", "0")
    full = lesson_checkpoint()
    # the file notebooks 05 and 08 load (the README's artifacts/vgg11_fashion_mnist.pt), and another one in fast mode
    assert full == tmp_path / "vgg11_fashion_mnist.pt" and fast.parent == tmp_path and fast != full


def test_notebook_05_refuses_a_model_of_other_data(tmp_path, capsys, monkeypatch):
    data = tiny_data(n_val=16)
    other = small_model()
    other.classifier[-1] = torch.nn.Linear(other.classifier[-1].in_features, 2)
    two = tiny_data()
    two.train_labels %= 2
    two.classes = ("cat", "dog")
    path = tmp_path / "vgg11_fashion_mnist.pt"
    fit(other, two, epochs=1, batch_size=32, checkpoint=path, quiet=True)
    monkeypatch.delenv("VGG_EDU_FAST", raising=False)
    model = lesson_model(data, path=path)
    out = capsys.readouterr().out
    assert "holds a model of other data (2 classes: cat, dog" in out and "run notebook 04" in out
    assert model.classifier[-1].out_features == 10

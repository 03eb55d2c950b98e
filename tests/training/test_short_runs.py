"""Short runs: SGD for a few hundred steps, ablations that keep a diverged run, seeds paired."""

import math

import pytest
import torch

from vgg_edu.claims import summarize_seeds
from vgg_edu.data.image_splits import ImageSplits
from vgg_edu.models import VGG
from vgg_edu.training.short_runs import ablation, seeded_ablation, summarize, train_steps

from conftest import tiny_data

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

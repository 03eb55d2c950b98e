"""The one function that composes a training batch: its order, flips, shifts, zooms and layout against the parts
drawn by hand from the seed, and ``fit`` and ``evaluation.accuracy_gap`` both taking their batches from it, with the
whole ``FitConfig`` (so an augmentation added to the config cannot reach one of them and miss the other)."""

import pytest
import torch

from vgg_edu.data import augment
from vgg_edu.data.inputs import InputSpec, to_input
from vgg_edu.training import batches, evaluation, loop
from vgg_edu.training.batches import training_batches
from vgg_edu.training.config import FitConfig

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")

AUGMENTED = FitConfig(batch_size=16, flip=True, translate=2, max_zoom=1.5, channels_last=True, seed=3)


def _by_hand(images, config, spec, seed):
    """The epoch's batches drawn from the seed without ``training_batches``: order and flips from one generator,
    zoom then shift from augmentation's own stream, for all images at once."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=g)
    mirror = torch.rand(len(images), generator=g) < 0.5
    a = torch.Generator().manual_seed(augment.STREAM + seed)
    shifts, zooms = augment.draw_shifts(len(images), config.translate, a), augment.draw_zooms(len(images), 1.5, a)
    x = to_input(images[order], spec.size, mean=spec.mean, std=spec.std, flip=mirror)
    x = augment.translate(augment.zoom(x, zooms), shifts, augment.background(spec.mean, spec.std))
    return x, order


def test_a_batch_is_the_run_order_flipped_zoomed_and_shifted_in_the_run_layout():
    ds, spec = tiny_data(), InputSpec(size=32)
    expected, order = _by_hand(ds.train_images, AUGMENTED, spec, seed=5)
    made = list(training_batches(ds.train_images, ds.train_labels, AUGMENTED, spec=spec, device="cpu", seed=5))
    assert len(made) == 6 and all(x.is_contiguous(memory_format=torch.channels_last) for x, _ in made)
    torch.testing.assert_close(torch.cat([x for x, _ in made]), expected, rtol=0, atol=1e-6)
    assert torch.equal(torch.cat([y for _, y in made]), ds.train_labels[order])
    resumed = training_batches(ds.train_images, ds.train_labels, AUGMENTED, spec=spec, device="cpu", seed=5, start=4)
    assert all(torch.equal(x, m) for (x, _), (m, _) in zip(resumed, made[4:], strict=True))  # a resumed epoch's


@pytest.mark.parametrize("change", [dict(flip=False), dict(translate=0), dict(max_zoom=1.0)])
def test_every_augmentation_field_changes_the_batch(change):
    ds, spec = tiny_data(), InputSpec(size=32)

    def first(config):
        return next(training_batches(ds.train_images, ds.train_labels, config, spec=spec, device="cpu", seed=0))[0]

    assert not torch.equal(first(AUGMENTED), first(AUGMENTED.replace(**change)))
    plain = first(AUGMENTED.replace(channels_last=False))
    assert plain.is_contiguous() and torch.equal(plain, first(AUGMENTED))  # the layout, not the values


@pytest.fixture
def spy(monkeypatch):
    """``training_batches`` wrapped where ``fit`` and the lessons call it: each call's config and batches."""
    calls = []

    def recording(images, labels, config, **kw):
        made = list(batches.training_batches(images, labels, config, **kw))
        calls.append(dict(images=images, config=config, kw=kw, made=made))
        yield from made

    monkeypatch.setattr(loop, "training_batches", recording)
    monkeypatch.setattr(evaluation, "training_batches", recording)
    return calls


def test_fit_trains_on_the_batches_training_batches_makes(spy):
    ds, model, seen = tiny_data(), small_model(), []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    loop.fit(model, ds, AUGMENTED.replace(epochs=1, max_steps=2, eval_every=0), quiet=True)
    assert [c["config"] for c in spy] == [AUGMENTED.replace(epochs=1, max_steps=2, eval_every=0)]
    assert spy[0]["kw"]["seed"] == AUGMENTED.seed and spy[0]["kw"]["start"] == 0
    assert len(seen) == 2 and all(torch.equal(x, m) for x, (m, _) in zip(seen, spy[0]["made"], strict=False))


def test_accuracy_gap_measures_the_batch_training_batches_makes(spy):
    ds, model = tiny_data(n_val=20), small_model()
    history = loop.fit(model, ds, epochs=1, batch_size=32, quiet=True)
    gap = evaluation.accuracy_gap(model, ds, history, AUGMENTED, n=40)["accuracy"]
    fitted, call = spy  # fit's epoch, then the lesson's one batch
    assert fitted["config"].batch_size == 32 and call["config"] is AUGMENTED
    assert torch.equal(call["images"], ds.train_images[:40])
    assert call["kw"]["seed"] == AUGMENTED.seed and not call["kw"]["shuffle"]
    (x, _), labels = call["made"][0], ds.train_labels[:40]
    with torch.no_grad():
        hits = (model.eval()(x).argmax(1) == labels).sum()
    assert gap.iloc[2] == int(hits) / 40  # "eval mode, augmented": that batch, counted here

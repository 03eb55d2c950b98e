"""Augmentation: translations and zooms against independent constructions, draws from a seeded generator that a
batch can take its slice of, flip averaging, and fit's keywords (a resumed augmented run is the run never stopped)."""

import pytest
import torch
import torch.nn.functional as F

from vgg_edu.data import augment
from vgg_edu.data.inputs import to_input
from vgg_edu.training.checkpoint import RunMismatch
from vgg_edu.training.evaluation import evaluate, predict
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def shifted_by_loops(x, shifts, fill):
    """out[i, :, r, c] = x[i, :, r - dy, c - dx] where that pixel exists, else fill: pixel by pixel."""
    out = torch.full_like(x, fill)
    n, _, h, w = x.shape
    for i in range(n):
        dy, dx = shifts[i].tolist()
        for r in range(h):
            for c in range(w):
                if 0 <= r - dy < h and 0 <= c - dx < w:
                    out[i, :, r, c] = x[i, :, r - dy, c - dx]
    return out


def test_translate_matches_a_pixel_by_pixel_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, 7, 9, generator=g)
    shifts = augment.draw_shifts(6, 3, g)
    expected = shifted_by_loops(x, shifts, -0.81)
    assert torch.equal(augment.translate(x, shifts, -0.81), expected)
    assert torch.equal(augment.translate(x, torch.zeros(6, 2, dtype=torch.long), -0.81), x)
    one = augment.translate(x[:1], torch.tensor([[1, -2]]), 5.0)
    assert torch.equal(one[0, :, 1:, :-2], x[0, :, :-1, 2:]) and bool((one[0, :, 0] == 5).all())


def test_the_fill_is_the_background_of_each_channel():
    assert augment.background().flatten().tolist() == pytest.approx([-0.2860 / 0.3530])
    black = to_input(torch.zeros(1, 28, 28, dtype=torch.uint8))
    assert torch.allclose(black, augment.background().expand_as(black))  # a black pixel, normalised
    x = torch.zeros(1, 3, 4, 4)
    fill = augment.background((0.5, 0.2, 0.1), (0.5, 0.5, 0.5))
    out = augment.translate(x, torch.tensor([[0, 2]]), fill)
    assert out[0, :, :, :2].flatten(1).tolist() == [[-1.0] * 8, [pytest.approx(-0.4)] * 8, [pytest.approx(-0.2)] * 8]
    assert bool((out[0, :, :, 2:] == 0).all())


def test_shifts_are_uniform_whole_pixels_in_range():
    shifts = augment.draw_shifts(20_000, 2, torch.Generator().manual_seed(1))
    assert shifts.dtype == torch.long and shifts.min() == -2 and shifts.max() == 2
    counts = torch.bincount((shifts + 2).flatten(), minlength=5) / shifts.numel()
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.01)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="translate"):
            augment.draw_shifts(4, bad)


def test_zoom_is_a_crop_resized_back():
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    identity = augment.zoom(x, torch.tensor([[1.0, 0.3, -0.7]] * 3))
    assert torch.allclose(identity, x, atol=1e-5)
    # the paper's way: rescale the image to twice its side, then crop the original size out of it
    doubled = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    corners = {
        (-1, -1): (slice(0, 8), slice(0, 8)),
        (1, 1): (slice(8, 16), slice(8, 16)),
        (-1, 1): (slice(0, 8), slice(8, 16)),
    }
    for (u, v), (rows, cols) in corners.items():
        zoomed = augment.zoom(x, torch.tensor([[2.0, u, v]] * 3))
        assert torch.allclose(zoomed, doubled[:, :, rows, cols], atol=1e-5), (u, v)  # u moves the rows, v the columns
    draws = augment.draw_zooms(1000, 1.5, torch.Generator().manual_seed(0))
    assert 1 <= draws[:, 0].min() and draws[:, 0].max() <= 1.5 and draws[:, 1:].abs().max() <= 1
    with pytest.raises(ValueError, match="max_zoom"):
        augment.draw_zooms(3, 0.5)


def test_a_batch_of_the_epoch_gets_its_own_draws():
    x = torch.randn(10, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    aug = augment.for_epoch(10, seed=5, translate_px=2, max_zoom=1.3, fill=-0.8)
    whole = aug(x, 0)
    assert torch.allclose(torch.cat([aug(x[:4], 0), aug(x[4:], 4)]), whole)
    again = augment.for_epoch(10, seed=5, translate_px=2, max_zoom=1.3, fill=-0.8)(x, 0)
    other = augment.for_epoch(10, seed=6, translate_px=2, max_zoom=1.3, fill=-0.8)(x, 0)
    assert torch.equal(whole, again) and not torch.equal(whole, other)
    assert augment.for_epoch(10, seed=5)(x, 0) is x  # nothing to do


def test_flip_averaging_averages_the_softmax_posteriors_as_the_paper_does():
    """Sec. 3.2: "the soft-max class posteriors of the original and flipped images are averaged". Computed here
    independently (exp / sum of each view's logits), against ``flip_averaged`` and through ``predict`` and
    ``evaluate``, which read its output as logits."""
    model = small_model().eval()
    ds = tiny_data()
    with torch.no_grad():
        x = to_input(ds.test_images, 32)
        a, b = model(x).double(), model(x.flip(-1)).double()
        posteriors = (a.exp() / a.exp().sum(1, keepdim=True) + b.exp() / b.exp().sum(1, keepdim=True)) / 2
        averaged = augment.flip_averaged(model, x)
    assert averaged.dtype == torch.float32 and averaged.shape == a.shape
    assert torch.allclose(averaged.double().exp(), posteriors, atol=1e-6)  # its log-probabilities
    assert torch.allclose(averaged.softmax(1).double(), posteriors, atol=1e-6)  # read as logits, the same
    logits = predict(model, ds.test_images, flip_tta=True)
    assert torch.allclose(logits.softmax(1).double(), posteriors, atol=1e-5)
    accuracy = int((posteriors.argmax(1) == ds.test_labels).sum()) / len(ds.test_labels)
    assert evaluate(model, ds, "test", flip_tta=True) == pytest.approx(accuracy)
    loss = evaluate(model, ds, "test", flip_tta=True, details=True).loss
    expected_loss = -posteriors[torch.arange(len(ds.test_labels)), ds.test_labels].log().mean()
    assert loss == pytest.approx(float(expected_loss), abs=1e-5)


def test_flip_averaging_is_not_the_mean_of_the_logits():
    """Two views that disagree: the mean of the posteriors picks class 0, the mean of the logits class 1."""
    seen, mirrored = torch.tensor([[5.0, 0.0, 0.0]]), torch.tensor([[-20.0, 0.1, 0.0]])

    def two_views(x):  # the image [1, -1] is "seen", its mirror image [-1, 1] "mirrored"
        return seen if x[0, 0] > 0 else mirrored

    x = torch.tensor([[1.0, -1.0]])
    expected = (seen.softmax(1) + mirrored.softmax(1)) / 2  # about [0.49, 0.27, 0.24]
    posteriors = augment.flip_averaged(two_views, x).exp()
    assert torch.allclose(posteriors, expected, atol=1e-6)
    assert posteriors.argmax(1).item() == 0 and ((seen + mirrored) / 2).argmax(1).item() == 1


def test_fit_translates_and_zooms_repeatably():
    ds = tiny_data()
    kw = dict(epochs=1, batch_size=32, lr=0.05, momentum=0.9, eval_every=0, seed=2, quiet=True)
    plain, moved, zoomed, again = (small_model() for _ in range(4))
    fit(plain, ds, **kw)
    fit(moved, ds, translate=2, **kw)
    fit(zoomed, ds, max_zoom=1.5, **kw)
    fit(again, ds, translate=2, **kw)
    first = [m.features[0].weight for m in (plain, moved, zoomed, again)]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[0], first[2])
    assert torch.equal(first[1], first[3])


def test_an_augmented_run_stopped_and_resumed_is_the_run_never_stopped(tmp_path):
    ds = tiny_data(n_val=16)
    run = dict(epochs=3, batch_size=32, lr=0.05, momentum=0.9, flip=True, translate=2, max_zoom=1.2, flip_tta=True)
    straight = small_model()
    full = fit(straight, ds, schedule="onecycle", seed=3, **run, quiet=True)
    path = tmp_path / "run.pt"
    fit(small_model(), ds, schedule="onecycle", seed=3, max_steps=4, checkpoint=path, **run, quiet=True)
    model = small_model(seed=9)
    resumed = fit(model, ds, schedule="onecycle", seed=3, checkpoint=path, resume=True, **run, quiet=True)
    for a, b in zip(straight.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    whole_epochs = [(r["val_acc"], r["train_loss"]) for r in resumed.epochs if r["epoch"] == int(r["epoch"])]
    assert whole_epochs == [(r["val_acc"], r["train_loss"]) for r in full.epochs]  # the stop at step 4 adds a row
    with pytest.raises(RunMismatch, match="translate: saved 2, now 1"):
        fit(
            small_model(),
            ds,
            schedule="onecycle",
            seed=3,
            checkpoint=path,
            resume=True,
            **run | dict(translate=1),
            quiet=True,
        )


def test_a_shift_as_large_as_the_image_is_refused():
    x = torch.rand(2, 1, 8, 8)
    assert augment.translate(x, torch.tensor([[7, 0], [0, -7]])).shape == x.shape  # one column still in view
    with pytest.raises(ValueError, match=r"translate=8 px can shift a 8 x 8 px image entirely out of view"):
        augment.translate(x, torch.tensor([[8, 0], [0, 0]]))
    shift = augment.for_epoch(2, seed=0, translate_px=40)  # the setting is checked, whatever this batch draws
    with pytest.raises(ValueError, match="translate=40 px"):
        shift(torch.rand(2, 1, 32, 32), 0)


def test_fit_refuses_a_translation_larger_than_its_inputs_before_a_step():
    model = small_model()  # 32 px inputs
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="translate=33 px can shift a 32 x 32 px image"):
        fit(model, tiny_data(), epochs=1, translate=33, quiet=True)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))

"""Evaluation against an independent count and scikit-learn's confusion matrix; misclassified images; batch sizes that
follow the input."""

import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion

from vgg_edu.data.image_splits import ImageSplits
from vgg_edu.data.inputs import to_input
from vgg_edu.training.config import FitConfig
from vgg_edu.training.evaluation import accuracy_gap, eval_batch_size, evaluate, misclassified, predict
from vgg_edu.training.loop import fit

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_evaluation_batches_shrink_with_the_input_and_follow_the_model_layout():
    assert eval_batch_size(32) == 1000 and eval_batch_size(224) == 256
    assert eval_batch_size(None) == 1000 and eval_batch_size(10_000) == 8
    ds = tiny_data()
    model = small_model().eval()
    plain = predict(model, ds.test_images)
    model.to(memory_format=torch.channels_last)
    assert torch.allclose(predict(model, ds.test_images, batch_size=7), plain, atol=1e-5)


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

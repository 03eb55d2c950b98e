"""Multi-scale testing: one scale is plain prediction; several average the softmax of each (by hand)."""

import pytest
import torch

from vgg_edu import multiscale
from vgg_edu.training.evaluation import predict

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_one_scale_is_plain_prediction_and_several_average_the_softmax():
    ds = tiny_data(n_val=20)
    model = small_model().eval()  # 32 px
    images = ds.val_images
    one = multiscale.multi_scale_probabilities(model, images, (32,))
    assert torch.allclose(one, predict(model, images).softmax(1), atol=1e-6)
    by_hand = []
    for size in (36, 48):
        model.input_spec = model.input_spec.__class__(size=size, classes=model.input_spec.classes)
        by_hand.append(predict(model, images).softmax(1))
    model.input_spec = model.input_spec.__class__(size=32, classes=model.input_spec.classes)
    both = multiscale.multi_scale_probabilities(model, images, (36, 48))
    assert torch.allclose(both, (by_hand[0] + by_hand[1]) / 2, atol=1e-6)
    assert model.input_spec.size == 32  # restored


def test_scale_table_gives_exact_accuracies():
    ds = tiny_data(n_val=20)
    model = small_model().eval()
    table = multiscale.scale_table(model, ds, {"Q = 32": (32,), "Q = 36, 48": (36, 48)})
    predictions = predict(model, ds.val_images).argmax(1)
    assert table.loc["Q = 32", "accuracy"] == pytest.approx(float((predictions == ds.val_labels).float().mean()))
    assert list(table.index) == ["Q = 32", "Q = 36, 48"]

"""The model notebooks 05 and 08 load: where notebook 04 saves it, and what is refused."""

import pytest
import torch

from vgg_edu.training.loop import fit
from vgg_edu.training.shared_model import lesson_checkpoint, lesson_model

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


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

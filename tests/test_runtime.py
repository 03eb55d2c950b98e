"""The device rule, fast mode, Colab and seeds."""

import sys

import pytest
import torch

from vgg_edu import runtime

from conftest import requires_cuda


def test_best_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.best_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.best_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.best_device().type == "cpu"
    assert runtime.get_device("cpu") == torch.device("cpu")


def test_the_device_rule_none_is_where_the_parameters_are(monkeypatch):
    model = torch.nn.Linear(2, 2)
    with torch.device("meta"):
        on_meta = torch.nn.Linear(2, 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # even where CUDA is there, nothing moves
    assert runtime.place(model).type == "cpu" and runtime.place(on_meta).type == "meta"
    assert runtime.place(torch.nn.ReLU()).type == "cpu"  # no parameters: the CPU


def test_a_given_device_moves_the_model():
    model = torch.nn.Linear(2, 2)
    assert runtime.place(model, "meta").type == "meta"
    assert model.weight.device.type == "meta"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", 3.5])
def test_unknown_devices_are_refused(bad):
    with pytest.raises(ValueError, match="unknown device"):
        runtime.get_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_asking_for_missing_cuda_says_so():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.place(torch.nn.Linear(2, 2), "cuda")


@requires_cuda
def test_vgg_runs_on_cuda():
    from vgg_edu.models import VGG

    m = VGG("A", width_divisor=8, num_classes=10).cuda()
    assert m(torch.zeros(2, 3, 32, 32, device="cuda")).device.type == "cuda"


def test_fast_mode_reads_environment(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.fast_mode()
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert not runtime.fast_mode()


def test_fast_or_full(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.fast_or_full(2, 200) == 2
    monkeypatch.setenv(runtime.FAST_ENV, "")
    assert runtime.fast_or_full(2, 200) == 200


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="only meaningful without Apple's MPS")
def test_asking_for_missing_mps_says_so():
    with pytest.raises(ValueError, match="MPS is not available"):
        runtime.get_device("mps")


def test_on_colab_reads_whether_colab_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert runtime.on_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert runtime.on_colab() is True

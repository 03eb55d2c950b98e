import pytest
import torch

from vgg_edu import exercises, runtime
from tests.conftest import requires_cuda


def test_get_device_prefers_what_is_there():
    d = runtime.get_device()
    assert d.type == ("cuda" if torch.cuda.is_available() else d.type)
    assert runtime.get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_asking_for_missing_cuda_says_so():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")


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


def test_save_figure_does_nothing_in_fast_mode(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert runtime.save_figure(object(), "never") is None


def test_exercise_check_never_raises(capsys):
    @exercises.exercise("test.1", "What is 2 + 2?", hint="Count.", solution="4")
    def _(answer):
        if answer == 5:
            raise RuntimeError("boom")
        return answer == 4 or f"{answer} is not 4"

    assert exercises.check("test.1", 4) is True
    assert "Correct" in capsys.readouterr().out
    assert exercises.check("test.1", 3) is False
    assert "3 is not 4" in capsys.readouterr().out
    assert exercises.check("test.1", 5) is False
    assert "boom" in capsys.readouterr().out
    assert exercises.check("test.1") is False
    assert "Not answered" in capsys.readouterr().out
    del exercises.EXERCISES["test.1"]


def test_every_registered_exercise_fails_unanswered_and_has_a_solution():
    for ex in exercises.EXERCISES.values():
        assert exercises.check(ex.id) is False
        assert ex.solution.strip() and ex.hint.strip()

"""``vgg_edu.teaching.recheck``: saved answers checked again in the grader's process, each code answer's code run
in a server of its own (``serve``; here without bubblewrap, which ``test_bwrap`` adds).

Every answer the exercise tests try (right, wrong, the snippets as given) gets from the grader the verdict and the
message the kernel's check gives it; answers that patch the check, its globals or torch while they are loaded or
called, which would pass if checked in their own process, earn nothing."""

import sys

import cloudpickle
import pytest
import torch

# tests/exercises/, as pytest imports it
from exercises import test_lesson02, test_lesson05, test_lesson08, test_lesson09
from torch import nn

from vgg_edu import exercises, models
from vgg_edu.exercises import lesson02, lesson08
from vgg_edu.teaching import answers, observe, recheck

from made_up import PATCH, PatchWhenLoaded, apart, in_kernel_then_apart

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # its answers travel by value, as a notebook's do

JUDGED_HERE = sorted(observe.KINDS)
_store_without_copy, _groups_swapped = test_lesson05._store_without_copy, test_lesson09._groups_swapped  # the
# answers below name these, not the modules (a module registered by value would travel whole)
TESTS = {"02": test_lesson02, "05": test_lesson05, "08": test_lesson08, "09": test_lesson09}


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "models": models, "__name__": "notebook"}
    exec(code, namespace)
    return namespace["answer"]


def _cases():
    for exercise_id in JUDGED_HERE:
        tests = TESTS[exercise_id[:2]]
        given = [_run(exercises.EXERCISES[exercise_id].solution)]
        given += tests.WRONG.get(exercise_id, []) + tests.RIGHT.get(exercise_id, [])
        for bugs in (lesson02.BUGS, lesson08.BUGS):
            given += [_run(bugs[exercise_id])] if exercise_id in bugs else []
        for n, answer in enumerate(given):
            yield pytest.param(exercise_id, answer, id=f"{exercise_id}-{n}-{getattr(answer, '__name__', '')}")


@pytest.mark.parametrize(("exercise_id", "answer"), list(_cases()))
def test_the_grader_says_what_the_kernel_says(exercise_id, answer, tmp_path, monkeypatch):
    kernel, grader = in_kernel_then_apart(exercise_id, answer, tmp_path, monkeypatch)
    assert grader == kernel


def _block_patching_on_first_call(num_convs, in_channels, out_channels):
    exec(PATCH, {})
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.MaxPool2d(2))  # one conv, no ReLU


def _features_patching_on_first_call(conv_arch, in_channels):
    exec(PATCH, {})
    return nn.Sequential(nn.Conv2d(in_channels, conv_arch[-1][1], 3, padding=1))


class _TinyVGGPatching(test_lesson02._TinyVGGZeros):
    def __init__(self):
        super().__init__()
        exec(PATCH, {})


def _no_copy_patching(store):
    exec(PATCH, {})
    return _store_without_copy(store)


def _swapped_groups_patching(model):
    import math

    exec(PATCH, {})
    math.isclose = lambda *a, **k: True
    return _groups_swapped(model)


def _loaded_and_wrong():
    block = test_lesson02._vgg_block_without_relus(2, 3, 64)
    block.payload = PatchWhenLoaded()  # unpickled with the block, in the server
    return block


HOSTILE = {
    "02.1": _block_patching_on_first_call,
    "02.2": _features_patching_on_first_call,
    "02.3": _loaded_and_wrong(),
    "02.5": _TinyVGGPatching,
    "05.1": _no_copy_patching,
    "09.2": _swapped_groups_patching,
}


@pytest.mark.parametrize("exercise_id", sorted(HOSTILE))
def test_answers_that_patch_the_check_when_loaded_or_called_earn_nothing(exercise_id, tmp_path, monkeypatch):
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    answers.record(exercise_id, HOSTILE[exercise_id], True, takes_code=True)  # as check saves it (not run here)
    monkeypatch.delenv(exercises.ANSWERS_ENV)
    assert recheck.judged_apart(answers.saved(tmp_path)[-1])
    passes, said = apart(answers.saved(tmp_path)[-1], tmp_path)
    assert passes is False and said.startswith(f"[{exercise_id}] Not yet."), said
    assert not torch.allclose(torch.ones(1), torch.zeros(1))  # nothing of it ran here

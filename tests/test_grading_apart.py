"""Code answers judged apart (``vgg_edu.teaching.observe``): the check runs in the grader's process on a stand-in
rebuilt from data, the student's code in a server of its own (``serve``; here without bubblewrap, which
``test_grading_attacks`` adds).

Every answer the exercise tests try (right, wrong, the snippets as given) gets from the grader the verdict and the
message the kernel's check gives it; answers that patch the check, its globals or torch while they are loaded or
called, which would pass if checked in their own process, earn nothing.
"""

import contextlib
import dataclasses
import io
import signal
import sys
import types

import cloudpickle
import pytest
import torch
from exercises import test_lesson02, test_lesson05, test_lesson08  # tests/exercises/, as pytest imports it
from torch import nn

from vgg_edu import exercises, models
from vgg_edu.exercises import lesson02, lesson08
from vgg_edu.teaching import answers, observe, recheck, sandbox

for _module in (test_lesson02, test_lesson05, test_lesson08, sys.modules[__name__]):
    cloudpickle.register_pickle_by_value(_module)  # their answers travel by value, as a notebook's do

JUDGED_HERE = sorted(observe.KINDS)
_store_without_copy, _groups_swapped = test_lesson05._store_without_copy, test_lesson08._groups_swapped  # the
# answers below name these, not the modules (a module registered by value would travel whole)
TESTS = {"02": test_lesson02, "05": test_lesson05, "08": test_lesson08}


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


def _in_kernel_then_apart(exercise_id, answer, folder, monkeypatch) -> tuple[tuple, tuple]:
    """(the kernel's verdict and first line, the grader's), the answer saved by ``check`` as in a graded kernel."""
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(folder))
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        passes = exercises.check(exercise_id, answer)
    monkeypatch.delenv(exercises.ANSWERS_ENV)
    return (passes, said.getvalue().strip().splitlines()[0]), _apart(answers.saved(folder)[-1], folder)


def _apart(note: dict, folder) -> tuple:
    apart = {"command": [sys.executable, "-m", "vgg_edu.teaching.serve"], "folder": str(folder)}
    apart["limits"] = dataclasses.asdict(sandbox.Limits(sandboxed=False))
    previous = signal.signal(signal.SIGALRM, recheck._on_alarm)
    try:
        return tuple(recheck.verdict_of(note, apart))
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_every_code_answer_is_judged_apart_one_way_or_the_other():
    for exercise_id, exercise in exercises.EXERCISES.items():
        if exercise.takes_code:
            assert exercise.called_apart != (exercise_id in observe.KINDS), exercise_id
        else:
            assert not exercise.called_apart and exercise_id not in observe.KINDS, exercise_id


@pytest.mark.parametrize(("exercise_id", "answer"), list(_cases()))
def test_the_grader_says_what_the_kernel_says(exercise_id, answer, tmp_path, monkeypatch):
    kernel, grader = _in_kernel_then_apart(exercise_id, answer, tmp_path, monkeypatch)
    assert grader == kernel


PATCH = """
import sys, torch
def _always(*args, **kwargs):
    return True
torch.allclose = _always
package = sys.modules["vgg_edu.exercises"]
package.check = _always
for e in package.EXERCISES.values():
    e.check = _always
    e.check.__globals__.update(_behaves_like_vgg_block=_always, _behaves_like_vgg_stages=_always)
"""


class _PatchWhenLoaded:
    """Replaces the check, torch.allclose and the checks' helpers in whatever process unpickles it."""

    def __reduce__(self):
        return (exec, (PATCH,))


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
    block.payload = _PatchWhenLoaded()  # unpickled with the block, in the server
    return block


HOSTILE = {
    "02.1": _block_patching_on_first_call,
    "02.2": _features_patching_on_first_call,
    "02.3": _loaded_and_wrong(),
    "02.5": _TinyVGGPatching,
    "05.1": _no_copy_patching,
    "08.4": _swapped_groups_patching,
}


@pytest.mark.parametrize("exercise_id", sorted(HOSTILE))
def test_answers_that_patch_the_check_when_loaded_or_called_earn_nothing(exercise_id, tmp_path, monkeypatch):
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    answers.record(exercise_id, HOSTILE[exercise_id], True, takes_code=True)  # as check saves it (not run here)
    monkeypatch.delenv(exercises.ANSWERS_ENV)
    assert recheck.judged_apart(answers.saved(tmp_path)[-1])
    passes, said = _apart(answers.saved(tmp_path)[-1], tmp_path)
    assert passes is False and said.startswith(f"[{exercise_id}] Not yet."), said
    assert not torch.allclose(torch.ones(1), torch.zeros(1))  # nothing of it ran here


def test_a_forward_that_is_not_its_layers_is_refused(tmp_path, monkeypatch):
    """Layers without ReLUs and a forward that adds them: Correct in the kernel, whose check calls that forward;
    the grader judges the layers, which it rebuilt from torch's own classes, and refuses the mismatch."""
    relus = test_lesson02._vgg_block_without_relus(2, 3, 64)

    def forward(self, x):
        for layer in self:
            x = layer(x)
            x = torch.relu(x) if isinstance(layer, nn.Conv2d) else x
        return x

    relus.forward = types.MethodType(forward, relus)
    kernel, grader = _in_kernel_then_apart("02.3", relus, tmp_path, monkeypatch)
    assert kernel == (True, "[02.3] Correct!")
    assert grader == (False, f"[02.3] Not yet. {observe.DIFFERS}")


class _Block(nn.Module):  # a block written as a class of the student's own, inside the model below
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv, self.pool = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


class _TinyVGGOfBlocks(nn.Module):  # 02.5 fixed, its features a _Block
    def __init__(self):
        super().__init__()
        self.features, self.classifier = _Block(3, 8), nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class _TinyVGGOfBlocksFlattened(_TinyVGGOfBlocks):  # 02.5's bug kept: the batch flattened too
    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x)))


class _ConvReLU(nn.Module):  # one conv and its ReLU, as a class of the student's own
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


@pytest.mark.parametrize(
    ("exercise_id", "answer", "passes"),
    [
        ("02.5", _TinyVGGOfBlocks, True),
        ("02.5", _TinyVGGOfBlocksFlattened, False),
        ("02.3", nn.Sequential(_ConvReLU(3, 64), _ConvReLU(64, 64), nn.MaxPool2d(2)), True),  # inside nn.Sequential
        ("02.3", nn.Sequential(_ConvReLU(3, 64), _ConvReLU(64, 64)), False),  # no pool
    ],
)
def test_a_model_with_classes_of_the_students_own_inside_is_judged_as_in_the_kernel(
    exercise_id, answer, passes, tmp_path, monkeypatch
):
    kernel, grader = _in_kernel_then_apart(exercise_id, answer, tmp_path, monkeypatch)
    assert kernel[0] is passes
    assert grader == kernel


def test_a_forged_layer_size_is_refused_before_any_memory_is_taken():
    huge = {"class": "Linear", "args": {"in_features": 100_000, "out_features": 100_000, "bias": True}}
    with pytest.raises(observe.Refused, match="at most 50,000,000 values; yours has 10,000,100,000"):
        observe._rebuild({**huge, "children": []})  # 40 GB in float32, more than the machine has


def test_only_torch_layers_with_plain_arguments_and_matching_weights_are_rebuilt():
    conv = {"class": "Conv2d", "args": {k: 1 for k in observe.LAYERS["Conv2d"]}, "children": []}
    conv["args"].update(bias=True, padding_mode="zeros")
    assert isinstance(observe._rebuild(conv), nn.Conv2d)
    for forged in (
        {**conv, "class": "Module"},  # not one of torch.nn's layers
        {**conv, "class": "Conv2d", "args": {**conv["args"], "extra": 1}},  # an argument the table does not name
        {**conv, "args": {**conv["args"], "padding": _PatchWhenLoaded}},  # not plain data
        {**conv, "children": [("0", conv)]},  # a conv with a child
    ):
        with pytest.raises(observe.Refused):
            observe._rebuild(forged)
    module = observe._rebuild(conv)
    with pytest.raises(observe.Refused):
        observe._load(module, {"weight": torch.zeros(2, 1, 1, 1), "bias": torch.zeros(1)})  # another shape
    with pytest.raises(observe.Refused):
        observe._load(module, {"weight": torch.zeros(1, 1, 1, 1)})  # a tensor missing

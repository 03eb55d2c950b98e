"""``vgg_edu.teaching.observe``: what crosses for a code answer and the stand-in the check is given: every code
answer is judged apart one way or the other, a module is rebuilt from torch's own layers with plain arguments and
matching weights only, and a forward that is not its layers, or a forged layer size, is refused."""

import sys
import types

import cloudpickle
import pytest
import torch
from exercises import test_lesson02  # tests/exercises/, as pytest imports it
from torch import nn

from vgg_edu import exercises
from vgg_edu.teaching import observe

from made_up import PatchWhenLoaded, in_kernel_then_apart

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # its answers travel by value, as a notebook's do


def test_every_code_answer_is_judged_apart_one_way_or_the_other():
    for exercise_id, exercise in exercises.EXERCISES.items():
        if exercise.takes_code:
            assert exercise.called_apart != (exercise_id in observe.KINDS), exercise_id
        else:
            assert not exercise.called_apart and exercise_id not in observe.KINDS, exercise_id


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
    kernel, grader = in_kernel_then_apart("02.3", relus, tmp_path, monkeypatch)
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
    kernel, grader = in_kernel_then_apart(exercise_id, answer, tmp_path, monkeypatch)
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
        {**conv, "args": {**conv["args"], "padding": PatchWhenLoaded}},  # not plain data
        {**conv, "children": [("0", conv)]},  # a conv with a child
    ):
        with pytest.raises(observe.Refused):
            observe._rebuild(forged)
    module = observe._rebuild(conv)
    with pytest.raises(observe.Refused):
        observe._load(module, {"weight": torch.zeros(2, 1, 1, 1), "bias": torch.zeros(1)})  # another shape
    with pytest.raises(observe.Refused):
        observe._load(module, {"weight": torch.zeros(1, 1, 1, 1)})  # a tensor missing

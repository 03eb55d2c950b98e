"""Every exercise: the reference solution passes, known-wrong answers fail without revealing the answer, numpy,
tensor and pandas forms of a numeric answer pass, text and fractional counts fail, and the notebooks ask each
exercise once, as a markdown question followed by the code cell that checks it."""

import difflib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from vgg_edu import analysis, exercises, models, receptive
from vgg_edu.exercises import lesson02
from vgg_edu.exercises.lesson04 import _warm_up_steps

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Lessons 01-05 here; 06 and 07 test theirs in tests/test_exercises_06.py and tests/test_exercises_07.py.
COVERED = [i for i in exercises.list_exercises() if i[:2] <= "05"]


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "math": math, "analysis": analysis, "models": models, "receptive": receptive}
    exec(code, namespace)
    return namespace["answer"]


def _solution(exercise_id: str):
    return _run(exercises.EXERCISES[exercise_id].solution)


def _check(exercise_id, answer, capsys) -> tuple[bool, str]:
    verdict = exercises.check(exercise_id, answer)
    return verdict, capsys.readouterr().out


# Known-wrong answers, at least two per exercise: the mistakes a student makes, and fakes that only look right.
def _vgg_block_without_relus(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        in_channels = out_channels
    return nn.Sequential(*layers, nn.MaxPool2d(2))


def _vgg_block_without_pool(num_convs, in_channels, out_channels):
    return nn.Sequential(*list(_vgg_block_without_relus(num_convs, in_channels, out_channels))[:-1], nn.ReLU())


def _package_block_wrapped(num_convs, in_channels, out_channels):
    return models.vgg_block(num_convs, in_channels, out_channels)


class _Zeros(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


class _DoubledSoftmax(_Zeros):
    def forward(self, x):
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1) * 2


class _LogSoftmax(_Zeros):
    def forward(self, x):
        return torch.log_softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


class _TinyVGGZeros(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


def _first_block_no_padding():
    return nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2))


def _store_without_copy(store):
    def pre_hook(module, inputs):
        store["in"] = inputs[0]

    return pre_hook


def _forward_hook_maker(store):
    def hook(module, inputs, output):
        store["in"] = output.detach().clone()

    return hook


def _with_diagonal(confusion):
    return divmod(int(confusion.argmax()), confusion.shape[1])


def _in_place(confusion):  # right pair, but it zeroes the caller's matrix
    confusion.fill_diagonal_(0)
    return divmod(int(confusion.argmax()), confusion.shape[1])


def _transposed(confusion):
    mistakes = confusion.clone()
    mistakes.fill_diagonal_(0)
    return divmod(int(mistakes.argmax()), confusion.shape[1])[::-1]


def _grad_cam_without_relu(acts, grads):
    return (grads.mean((1, 2))[:, None, None] * acts).sum(0)


def _grad_cam_summed_gradients(acts, grads):
    return torch.relu((grads.sum((1, 2))[:, None, None] * acts).sum(0))


WRONG = {
    "01.1": [14, 9, "18"],  # jump forgotten after the pool; the four convs only; text
    "01.2": [27 * 96**2, 49 * 96**2, 22 * 96**2 + 0.4],
    "01.3": [[(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)], [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)], [(5, 1)]],
    "01.4": [44, 26, 30.4],  # VGG-16's pool3; VGG-11's conv3_2; not a whole number
    "02.1": [models.vgg_block, _package_block_wrapped, _vgg_block_without_relus, _vgg_block_without_pool],
    "02.2": [models.vgg_block, _package_block_wrapped, _vgg_block_without_relus, _vgg_block_without_pool],
    "02.3": [_vgg_block_without_relus(2, 3, 64), _first_block_no_padding(), models.vgg_block(2, 3, 32)],
    "02.4": [_vgg_block_without_relus(3, 512, 512), models.vgg_block(2, 512, 512)],
    "02.5": [_TinyVGGZeros, 42],
    "02.6": [[(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], [(2, 64)] * 5, [(3, 64), (1, 128)] + [(2, 256)] * 3],
    "02.7": [_Zeros, _DoubledSoftmax, _LogSoftmax],
    "03.1": [(25088 * 4096 + 4096) / 138_357_544, 71.53, 0.86],  # VGG-16's share; a percentage; all FC layers
    "03.2": [15_227_688, 143_667_240, 20_536_384],  # VGG-16's; with the FC head; without the head's biases
    "03.3": [2 * 169_869_312, 924_844_032, 96 * 96 * 128 * 256 * 9],  # FLOPs; at 224 px; pools forgotten
    # fractional; text; rounded; 3 input channels; the classroom network (global-average-pool head, BN) and without BN
    "04.1": [43093322.4, "43093322", 43_090_000, 43_093_610, 579_498, 578_122],
    "04.2": [7, 49.5, 7.0, 512.2 / 52.1],  # the side; not a whole factor; the printed total MACs' ratio (FC included)
    "04.3": [_with_diagonal, _transposed, lambda c: int(c.argmax()), _in_place],
    "04.4": [468, 468.75, "469"],
    # classroom_v1 (10 epochs of 430 steps): 60,000 images; T; epochs; one off; the partial batch dropped (1074);
    # 1290: the recipe trained in the notebook (12 epochs), read off its history table; 1720: the 16-epoch recipe
    "04.5": [_warm_up_steps(60_000), 4 * _warm_up_steps(), 10, _warm_up_steps() + 1, 1074, 1290, 1720],
    "05.1": [_store_without_copy, _forward_hook_maker, lambda store: None, _store_without_copy({})],  # hook, no maker
    "05.2": [(-3, 5, 27, 35), (0, 5, 26, 31), (5, 0, 32, 27), (0, 5, 27)],
    "05.3": [_grad_cam_without_relu, _grad_cam_summed_gradients, lambda acts, grads: acts.mean(0)],
    "05.4": [64, 7, 49.4],
}


def _secrets(exercise_id: str) -> list[str]:
    """Ways the right answer could be spelt in a message: a number's digits, with and without thousands separators
    (and to 3 decimals for a fraction); for code, the lines of the solution that differ from the snippet."""
    answer = exercises.normalise(_solution(exercise_id))
    if isinstance(answer, float) and not answer.is_integer():
        return [f"{answer:.3f}", f"{answer:.2f}", f"{100 * answer:.1f}"]
    if isinstance(answer, (int, float)):
        return [str(int(answer)), f"{int(answer):,}"]
    if isinstance(answer, (list, tuple)):
        return [str(tuple(answer)), str(list(answer))]
    solution = exercises.EXERCISES[exercise_id].solution.splitlines()
    snippet = lesson02.BUGS.get(exercise_id, "").splitlines()
    added = [line[2:].split("#")[0].strip() for line in difflib.ndiff(snippet, solution) if line.startswith("+ ")]
    return [line for line in added if len(line) > 12 and not line.startswith(("def ", "answer ="))]


def test_every_exercise_has_known_wrong_answers():
    assert sorted(WRONG) == COVERED
    assert all(len(wrong) >= 2 for wrong in WRONG.values())


@pytest.mark.parametrize("exercise_id", COVERED)
def test_solution_is_accepted(exercise_id, capsys):
    verdict, out = _check(exercise_id, _solution(exercise_id), capsys)
    assert verdict is True, out
    assert "Correct" in out


@pytest.mark.parametrize("exercise_id", COVERED)
def test_known_wrong_answers_fail_without_revealing_the_answer(exercise_id, capsys):
    secrets = _secrets(exercise_id)
    for wrong in WRONG[exercise_id]:
        verdict, out = _check(exercise_id, wrong, capsys)
        assert verdict is False, f"{wrong!r} was accepted"
        assert "Not yet" in out
        leaked = [s for s in secrets if s in out]
        assert not leaked, f"the message for {wrong!r} gives the answer away: {out}"


@pytest.mark.parametrize("exercise_id", COVERED)
def test_the_question_and_hint_do_not_give_the_answer(exercise_id, capsys):
    verdict, out = _check(exercise_id, None, capsys)
    assert verdict is False and "Not answered yet" in out
    assert not [s for s in _secrets(exercise_id) if s in out], out


NUMERIC = [i for i in COVERED if isinstance(exercises.normalise(_solution(i)), (int, float))]


def test_the_numeric_exercises_are_the_expected_ones():
    assert NUMERIC == ["01.1", "01.2", "01.4", "03.1", "03.2", "03.3", "04.1", "04.2", "04.4", "04.5", "05.4"]


@pytest.mark.parametrize("exercise_id", NUMERIC)
def test_numpy_tensor_and_pandas_forms_of_the_answer_pass(exercise_id, capsys):
    value = exercises.normalise(_solution(exercise_id))
    forms = [
        np.float64(value),
        np.array(value),
        torch.tensor(value, dtype=torch.float64),
        pd.Series([value]),
        pd.DataFrame({"value": [value]})["value"].iloc[0],
    ]
    if float(value).is_integer():
        forms += [int(value), float(value), np.int64(value), torch.tensor(int(value))]
    if abs(value) < 2**24:  # float32 holds every whole number up to 2^24 exactly
        forms.append(np.float32(value))
    for form in forms:
        verdict, out = _check(exercise_id, form, capsys)
        assert verdict is True, f"{form!r} ({type(form).__name__}) was rejected: {out}"


@pytest.mark.parametrize("exercise_id", NUMERIC)
def test_text_and_fractional_counts_fail_with_a_message_that_says_why(exercise_id, capsys):
    value = exercises.normalise(_solution(exercise_id))
    verdict, out = _check(exercise_id, str(value), capsys)
    assert verdict is False and "a number is expected" in out
    assert not [s for s in _secrets(exercise_id) if s in out]
    if exercise_id not in ("03.1", "04.2"):  # a count: 0.4 more is not "about right"
        verdict, out = _check(exercise_id, value + 0.4, capsys)
        assert verdict is False and "whole number" in out
        assert not [s for s in _secrets(exercise_id) if s in out]


def test_sequence_answers_pass_as_lists_arrays_and_tensors(capsys):
    box = _solution("05.2")
    for form in (list(box), np.array(box), torch.tensor(box), tuple(np.int64(v) for v in box)):
        assert _check("05.2", form, capsys)[0] is True, form
    stack = _solution("01.3")
    for form in (np.array(stack), torch.tensor(stack), [list(p) for p in stack]):
        assert _check("01.3", form, capsys)[0] is True, form
    assert _check("02.6", torch.tensor(_solution("02.6")), capsys)[0] is True


def test_the_pool3_box_is_the_same_whatever_the_width_and_bn():
    """05.2's question says BN and the width change no receptive field: layer_table gives the same box for the
    classroom network's shape (VGG-11/4 with BN) as for VGG-11/8 and VGG-11/16 without BN."""
    boxes = set()
    for divisor, batch_norm in ((4, True), (8, False), (16, False)):
        model = models.VGG("A", in_channels=1, num_classes=10, width_divisor=divisor, batch_norm=batch_norm, head="gap")
        table = analysis.layer_table(model, (1, 32, 32)).set_index("name")
        rf, jump, start = table.loc["pool3", ["rf", "jump", "start"]]
        top, left = int(start + 1 * jump - rf / 2), int(start + 2 * jump - rf / 2)
        boxes.add((max(top, 0), max(left, 0), min(top + int(rf), 32), min(left + int(rf), 32)))
    assert boxes == {tuple(_solution("05.2"))}


def test_the_warm_up_answer_is_where_the_schedule_first_peaks():
    """04.5's answer against the schedule itself (train.schedule_curve): classroom_v1's run first reaches its peak
    learning rate after 1,075 steps (10 epochs of ceil(55,000 / 128) = 430 steps, a quarter of them)."""
    from vgg_edu import train

    fit = train.recipe("classroom_v1")["fit"]
    lrs = train.schedule_curve("onecycle", fit["epochs"] * math.ceil(55_000 / fit["batch_size"]), fit["lr"])
    assert lrs.index(max(lrs)) == _solution("04.5") == 1075


def test_function_answers_may_return_numpy_and_tensor_values(capsys):
    most_confused = _solution("04.3")
    assert _check("04.3", lambda c: torch.tensor(most_confused(c)), capsys)[0] is True
    assert _check("04.3", lambda c: tuple(np.int64(v) for v in most_confused(c)), capsys)[0] is True
    cam = _solution("05.3")
    assert _check("05.3", lambda acts, grads: cam(acts, grads).numpy(), capsys)[0] is True


@pytest.mark.parametrize("exercise_id", sorted(lesson02.BUGS))
def test_each_broken_snippet_runs_as_written_and_is_rejected(exercise_id, capsys):
    answer = _run(lesson02.BUGS[exercise_id])  # the notebook runs top to bottom with the bugs in place
    verdict, out = _check(exercise_id, answer, capsys)
    assert verdict is False and "Not yet" in out


@pytest.mark.parametrize("exercise_id", ["02.1", "02.2"])
def test_the_package_block_is_not_accepted_as_the_students(exercise_id, capsys):
    from vgg_edu import d2l_reference

    for fake in (
        models.vgg_block,
        _package_block_wrapped,
        d2l_reference.vgg_block,
        lambda n, i, o: models.vgg_block(n, i, o),
    ):
        verdict, out = _check(exercise_id, fake, capsys)
        assert verdict is False and "package" in out


def test_the_vgg_block_stub_runs_and_is_rejected(capsys):
    verdict, out = _check("02.1", _run(lesson02.STUB), capsys)  # the notebook runs with the stub unanswered
    assert verdict is False and "0 convs" in out


def test_a_block_without_relus_fails_by_its_outputs_alone(capsys):
    block = _vgg_block_without_relus(2, 3, 64)
    verdict, out = _check("02.3", block, capsys)
    assert verdict is False and "negative" in out  # the convs, kernels and pool are right: only the values tell


@pytest.mark.parametrize("verdict", [np.True_, torch.tensor(True)])
def test_a_numpy_or_torch_true_verdict_counts_as_correct(verdict, capsys):
    @exercises.exercise("test.2", "Any answer.", hint="None.", solution="answer = 1")
    def _(answer):
        return verdict

    try:
        assert exercises.check("test.2", 1) is True
        assert "Correct" in capsys.readouterr().out
    finally:
        del exercises.EXERCISES["test.2"]


def test_exercise_check_never_raises(capsys):
    @exercises.exercise("test.1", "What is 2 + 2?", hint="Count.", solution="4")
    def _(answer):
        if answer == 5:
            raise RuntimeError("boom")
        return exercises.as_count(answer) == 4 or f"{answer} is not 4"

    try:
        assert exercises.check("test.1", 4) is True
        assert "Correct" in capsys.readouterr().out
        assert exercises.check("test.1", 3) is False
        assert "3 is not 4" in capsys.readouterr().out
        assert exercises.check("test.1", 5) is False
        assert "boom" in capsys.readouterr().out
        assert exercises.check("test.1", "4") is False
        assert "a number is expected" in capsys.readouterr().out
        assert exercises.check("test.1") is False
        assert "Not answered" in capsys.readouterr().out
    finally:
        del exercises.EXERCISES["test.1"]


@pytest.mark.parametrize(
    "value, expected",
    [
        (np.float64(30.0), 30.0),
        (np.int64(7), 7),
        (torch.tensor(3), 3),
        (torch.tensor(2.5, requires_grad=True), 2.5),
        (np.array(4), 4),
        (pd.Series([9]), 9),
        (pd.DataFrame({"a": [1.5]}), 1.5),
        (np.bool_(True), True),
        (torch.tensor([1, 2]), [1, 2]),
        (torch.Size([3, 4]), (3, 4)),
        ([np.int64(1), (torch.tensor(2),)], [1, (2,)]),
        (np.str_("x"), "x"),
        ("43093322", "43093322"),
    ],
)
def test_normalise_gives_plain_python(value, expected):
    got = exercises.normalise(value)
    assert got == expected and type(got) is type(expected)


def test_one_number_in_an_array_or_tensor_is_that_number():
    assert exercises.as_number(torch.tensor([49.0])) == 49.0
    assert exercises.as_count(np.array([[469]])) == 469
    with pytest.raises(exercises.AnswerError, match="give the number itself"):
        exercises.as_number([49])
    with pytest.raises(exercises.AnswerError, match="2 values"):
        exercises.as_number(torch.tensor([49.0, 1.0]))


def test_a_check_takes_a_tensor_holding_one_number_as_that_number(capsys):
    """sum(..., keepdim=True) or a one-row table gives tensor([n]) or array([[n]]): the check sees the number n."""
    params = 43_093_322  # d2l's VGG-11/4 (REFERENCE.md), exercise 04.1
    for form in (torch.tensor([params]), torch.tensor([[float(params)]], dtype=torch.float64), np.array([[params]])):
        assert exercises.check("04.1", form) is True, repr(form)
    assert exercises.check("04.1", torch.tensor([params + 1])) is False


@pytest.mark.parametrize(
    "bad, message",
    [("43093322", "not text"), (43093322.4, "whole number"), (True, "one number"), ([1, 2], "one number"),
     (float("nan"), "finite")],
)  # fmt: skip
def test_as_count_refuses_what_is_not_a_count(bad, message):
    with pytest.raises(exercises.AnswerError, match=message):
        exercises.as_count(bad)


# The notebooks: each exercise once, in its own notebook, as a markdown question followed by its code cell.
def _cells(path):
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(path.read_text())["cells"]]


def _exercise_cells():
    for path in NOTEBOOKS:
        cells = _cells(path)
        for k, (kind, source) in enumerate(cells):
            for exercise_id in re.findall(r"check\(\s*[\"'](\d\d\.\d+)[\"']", source if kind == "code" else ""):
                yield path, cells, k, exercise_id


def test_every_registered_exercise_is_asked_once_in_its_own_notebook():
    asked = {}
    for path, _, _, exercise_id in _exercise_cells():
        asked.setdefault(exercise_id, []).append(path.name[:2])
    assert sorted(asked) == exercises.list_exercises()
    assert all(places == [exercise_id[:2]] for exercise_id, places in asked.items())


def test_each_exercise_is_a_markdown_question_then_the_cell_that_checks_it():
    for path, cells, k, exercise_id in _exercise_cells():
        kind, question = cells[k - 1]
        assert kind == "markdown", f"{path.name}: exercise {exercise_id} has no markdown question above its cell"
        assert question == f"**Exercise {exercise_id}.** {exercises.EXERCISES[exercise_id].question}"
        code = cells[k][1]
        assert code.rstrip().endswith(f'ex.check("{exercise_id}", answer);'), code
        if exercise_id in lesson02.BUGS:  # the broken code is in the cell to fix, not in the markdown
            assert lesson02.BUGS[exercise_id] in code and "```" not in question
        if exercise_id == "02.1":  # the student writes vgg_block before the page shows the package's
            assert lesson02.STUB in code
            before = "\n".join(source for _, source in cells[: k - 1])
            assert "make_layers" not in before and "vgg_block(" not in before


def test_each_question_is_written_once():
    for path in NOTEBOOKS:
        headers = re.findall(r"^\*\*Exercise (\d\d\.\d+)\.\*\*", "\n".join(s for _, s in _cells(path)), re.M)
        assert sorted(headers) == sorted(set(headers)) == exercises.list_exercises(path.name[:2]), path.name


def test_no_count_is_printed_above_its_exercise():
    """The page's sources above an exercise do not spell out its answer (counts of 1,000 or more, with or without
    thousands separators). Outputs are stripped, so this reads the code and markdown a student sees first."""
    for path, cells, k, exercise_id in _exercise_cells():
        answer = exercises.normalise(_solution(exercise_id))
        if isinstance(answer, int) and answer >= 1000:
            above = "\n".join(source for _, source in cells[:k])
            assert str(answer) not in above and f"{answer:,}" not in above, (path.name, exercise_id)

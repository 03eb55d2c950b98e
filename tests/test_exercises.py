"""Every exercise, over the registry ``exercises.EXERCISES``: the reference solution passes; every known-wrong answer
fails without revealing the answer; other right forms pass; numpy, tensor and pandas forms of a numeric answer pass,
text and fractional counts fail; the question and hint do not give the answer; each broken snippet runs as written
and is refused; and the notebooks ask each exercise once, as a markdown question followed by the code cell that
checks it, with no answer in the sources above it.

Each lesson's known-wrong answers (``WRONG``), other right forms (``RIGHT``) and its own tests sit beside its
lesson in ``tests/exercises/test_lessonNN.py``. The registry's mechanics (``check``, ``normalize``, ``as_count``)
are tested at the end of this file."""

import difflib
import importlib
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
from vgg_edu.exercises import lesson02, lesson08

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSONS = [importlib.import_module(f"exercises.test_lesson{n:02d}") for n in range(1, 10)]


def _merged(name: str) -> dict:
    """One dict from every lesson's ``name`` (``WRONG``, ``RIGHT``, ``SECRETS``, ``NOT_ABOVE``)."""
    merged = {}
    for lesson in LESSONS:
        merged.update(getattr(lesson, name, {}))
    return merged


WRONG, RIGHT, SECRETS, NOT_ABOVE = (_merged(name) for name in ("WRONG", "RIGHT", "SECRETS", "NOT_ABOVE"))
NOT_COUNTS = ["03.1"] + [i for lesson in LESSONS for i in getattr(lesson, "NOT_COUNTS", [])]
BUGS = {**lesson02.BUGS, **lesson08.BUGS}  # snippets a student fixes in the cell that checks them
IDS = exercises.list_exercises()


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "math": math, "analysis": analysis, "models": models, "receptive": receptive}
    exec(code, namespace)
    return namespace["answer"]


def _solution(exercise_id: str):
    return _run(exercises.EXERCISES[exercise_id].solution)


def _check(exercise_id, answer, capsys) -> tuple[bool, str]:
    verdict = exercises.check(exercise_id, answer)
    return verdict, capsys.readouterr().out


def _secrets(exercise_id: str) -> list[str]:
    """Ways the right answer could be spelt in a message: a number's digits, with and without thousands separators
    (and to 2 and 3 decimals, or as a percentage, for a fraction); a sequence as written; for code, the lines of the
    solution that are not in the snippet to fix; and what the lesson adds in its ``SECRETS``."""
    answer = exercises.normalize(_solution(exercise_id))
    extra = SECRETS.get(exercise_id, [])
    if isinstance(answer, float) and not answer.is_integer():
        return [f"{answer:.3f}", f"{answer:.2f}", f"{100 * answer:.1f}", *extra]
    if isinstance(answer, (int, float)):
        return [str(int(answer)), f"{int(answer):,}", *extra]
    if isinstance(answer, (list, tuple)):
        return [str(tuple(answer)), str(list(answer)), *extra]
    solution = exercises.EXERCISES[exercise_id].solution.splitlines()
    snippet = BUGS.get(exercise_id, "").splitlines()
    added = [line[2:].split("#")[0].strip() for line in difflib.ndiff(snippet, solution) if line.startswith("+ ")]
    code = [line for line in added if len(line) > 12 and not line.startswith(("def ", "answer =", "import "))]
    return code + extra


def test_every_exercise_has_known_wrong_answers_beside_its_lesson():
    assert sorted(WRONG) == IDS
    assert all(len(wrong) >= 2 for wrong in WRONG.values())
    for n, lesson in enumerate(LESSONS, start=1):
        assert sorted(lesson.WRONG) == exercises.list_exercises(f"{n:02d}"), lesson.__name__


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_is_accepted(exercise_id, capsys):
    verdict, out = _check(exercise_id, _solution(exercise_id), capsys)
    assert verdict is True and "Correct" in out, out


@pytest.mark.parametrize("exercise_id", IDS)
def test_known_wrong_answers_fail_without_revealing_the_answer(exercise_id, capsys):
    secrets = _secrets(exercise_id)
    for wrong in WRONG[exercise_id]:
        verdict, out = _check(exercise_id, wrong, capsys)
        assert verdict is False, f"{wrong!r} was accepted"
        assert "Not yet" in out
        leaked = [s for s in secrets if s in out]
        assert not leaked, f"the message for {wrong!r} gives the answer away: {out}"


@pytest.mark.parametrize("exercise_id", sorted(RIGHT))
def test_other_right_forms_are_accepted(exercise_id, capsys):
    for right in RIGHT[exercise_id]:
        verdict, out = _check(exercise_id, right, capsys)
        assert verdict is True, f"{right!r} was refused: {out}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_question_and_hint_do_not_give_the_answer(exercise_id, capsys):
    verdict, out = _check(exercise_id, None, capsys)
    assert verdict is False and "Not answered yet" in out
    assert not [s for s in _secrets(exercise_id) if s in out], out


NUMERIC = [i for i in IDS if isinstance(exercises.normalize(_solution(i)), (int, float))]


def test_the_numeric_exercises_are_the_expected_ones():
    assert NUMERIC == ["01.1", "01.2", "01.4", "02.8", "03.1", "03.2", "03.3", "04.1", "04.2", "04.4", "04.5", "05.4",
                       "06.1", "06.2", "07.1", "07.2", "08.2", "09.1"]  # fmt: skip


@pytest.mark.parametrize("exercise_id", NUMERIC)
def test_numpy_tensor_and_pandas_forms_of_the_answer_pass(exercise_id, capsys):
    value = exercises.normalize(_solution(exercise_id))
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
    value = exercises.normalize(_solution(exercise_id))
    verdict, out = _check(exercise_id, str(value), capsys)
    assert verdict is False and "a number is expected" in out
    assert not [s for s in _secrets(exercise_id) if s in out]
    if exercise_id not in NOT_COUNTS:  # a count: 0.4 more is not "about right"
        verdict, out = _check(exercise_id, value + 0.4, capsys)
        assert verdict is False and "whole number" in out
        assert not [s for s in _secrets(exercise_id) if s in out]


@pytest.mark.parametrize("exercise_id", sorted(BUGS))
def test_each_broken_snippet_runs_as_written_and_is_rejected(exercise_id, capsys):
    answer = _run(BUGS[exercise_id])  # the notebook runs top to bottom with the bugs in place
    verdict, out = _check(exercise_id, answer, capsys)
    assert verdict is False and "Not yet" in out


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
    assert sorted(asked) == IDS
    assert all(places == [exercise_id[:2]] for exercise_id, places in asked.items())


def test_each_exercise_is_a_markdown_question_then_the_cell_that_checks_it():
    for path, cells, k, exercise_id in _exercise_cells():
        kind, question = cells[k - 1]
        assert kind == "markdown", f"{path.name}: exercise {exercise_id} has no markdown question above its cell"
        assert question == f"**Exercise {exercise_id}.** {exercises.EXERCISES[exercise_id].question}"
        code = cells[k][1]
        assert code.rstrip().endswith(f'ex.check("{exercise_id}", answer);'), code
        if exercise_id in BUGS:  # the broken code is in the cell to fix, not in the markdown
            assert BUGS[exercise_id] in code and "```" not in question


def test_each_question_is_written_once():
    for path in NOTEBOOKS:
        headers = re.findall(r"^\*\*Exercise (\d\d\.\d+)\.\*\*", "\n".join(s for _, s in _cells(path)), re.M)
        assert sorted(headers) == sorted(set(headers)) == exercises.list_exercises(path.name[:2]), path.name


def test_predict_first_questions_sit_inside_the_lessons_before_the_cell_that_answers_them():
    """Issue 33: predict-then-run inside the lessons, not only at the end. Each "**Predict first.**" line is a
    markdown cell in the lesson (before its summary and its exercises) followed by the code cell that computes the
    answer and shows it (a print, or a table as the cell's last expression); at least two notebooks ask one."""
    notebooks = set()
    for path in NOTEBOOKS:
        cells = _cells(path)
        ends = ("## What we saw", "## Exercises")  # the lesson's summary, or its exercises where it has none
        summary = next((k for k, (_, source) in enumerate(cells) if source.startswith(ends)), len(cells))
        for k, (kind, source) in enumerate(cells):
            if kind == "markdown" and "**Predict first.**" in source:
                assert k < summary, path.name
                after, computed = cells[k + 1]
                assert after == "code" and ("print(" in computed or not computed.rstrip().endswith(";")), path.name
                notebooks.add(path.name[:2])
    assert len(notebooks) >= 2, notebooks


def test_no_answer_is_written_in_the_sources_above_its_exercise():
    """The page's sources above an exercise (outputs are stripped: the code and markdown a student sees first) spell
    out neither its answer, if a count of 1,000 or more (with or without thousands separators), nor the lines of
    code its solution adds (but for 02's one-line bug fixes, whose fixed lines, such as ``return self.classifier(x)``,
    are ordinary code elsewhere on the page), nor what its lesson lists in ``NOT_ABOVE``."""
    for path, cells, k, exercise_id in _exercise_cells():
        above = "\n".join(source for _, source in cells[:k])
        answer = exercises.normalize(_solution(exercise_id))
        if isinstance(answer, int) and answer >= 1000:
            assert str(answer) not in above and f"{answer:,}" not in above, (path.name, exercise_id)
        if not isinstance(answer, (int, float, list, tuple)) and exercise_id not in lesson02.BUGS:
            assert not [s for s in _secrets(exercise_id) if s in above], (path.name, exercise_id)
        assert not [s for s in NOT_ABOVE.get(exercise_id, []) if s in above], (path.name, exercise_id)


# The registry's mechanics.
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
    got = exercises.normalize(value)
    assert got == expected and type(got) is type(expected)


def test_one_number_in_an_array_or_tensor_is_that_number():
    assert exercises.as_number(torch.tensor([49.0])) == 49.0
    assert exercises.as_count(np.array([[469]])) == 469
    with pytest.raises(exercises.AnswerError, match="give the number itself"):
        exercises.as_number([49])
    with pytest.raises(exercises.AnswerError, match="2 values"):
        exercises.as_number(torch.tensor([49.0, 1.0]))


@pytest.mark.parametrize(
    "bad, message",
    [("43093322", "not text"), (43093322.4, "whole number"), (True, "one number"), ([1, 2], "one number"),
     (float("nan"), "finite")],
)  # fmt: skip
def test_as_count_refuses_what_is_not_a_count(bad, message):
    with pytest.raises(exercises.AnswerError, match=message):
        exercises.as_count(bad)

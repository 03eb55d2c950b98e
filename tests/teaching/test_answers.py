"""``vgg_edu.teaching.answers``: what ``exercises.check`` saves for the grader, only when grading, as data and
nothing else."""

import json
import math

import numpy as np
import pytest

from vgg_edu import exercises
from vgg_edu.teaching import answers

from made_up import LESSON


def test_check_saves_answers_only_when_grading(tmp_path, monkeypatch, capsys):
    exercises.check(LESSON[0], 5)
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    for _ in range(answers.MAX_PER_EXERCISE + 3):
        exercises.check(LESSON[0], 5)
    exercises.check(LESSON[0], None)  # not answered: nothing to save
    assert len(answers.saved(tmp_path)) == answers.MAX_PER_EXERCISE


def test_answers_are_saved_as_data_and_nothing_else_is(tmp_path, monkeypatch):
    """Numbers, text and lists are JSON; an object with a payload, or an int that is not an int, is "not data"."""

    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    class MyInt(int):
        pass

    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    answers.record("01.1", float("inf"), False)
    answers.record("01.2", Payload(), True)
    answers.record("01.3", [(3, 1), (2, 2)], True)
    answers.record("01.4", MyInt(3), False)
    notes = answers.saved(tmp_path)
    assert [n["exercise"] for n in notes] == LESSON
    assert answers.from_data(notes[0]["data"]) == float("inf")
    assert answers.from_data(notes[2]["data"]) == [(3, 1), (2, 2)]
    assert all("data" not in notes[i] and "not data" in notes[i]["why_not_saved"] for i in (1, 3))
    assert not list(tmp_path.glob("*.code"))  # only an exercise that takes code saves code


def test_data_goes_through_json_and_comes_back_as_it_was():
    """Lists, tuples, infinities and nan survive ``json``; only the exact built-in types are data (numpy's and
    torch's numbers are made plain by ``exercises.normalize`` before they get here)."""
    given = [1, 2.5, "a", None, True, (3, (4, [5])), [], float("inf"), -float("inf")]
    back = answers.from_data(json.loads(json.dumps(answers.to_data(given), allow_nan=False)))
    assert back == given and type(back[5]) is tuple and type(back[5][1][1]) is list
    assert math.isnan(answers.from_data(json.loads(json.dumps(answers.to_data(float("nan")), allow_nan=False))))
    for not_data in (np.float64(1.0), {"a": 1}, {1, 2}, b"x", type("MyStr", (str,), {})("x")):
        with pytest.raises(answers.NotData):
            answers.to_data(not_data)
    with pytest.raises(answers.NotData):
        answers.to_data([[[]]], depth=answers.MAX_DEPTH - 1)  # nested past MAX_DEPTH
    with pytest.raises(answers.NotData):
        answers.from_data({"code": "print(1)"})

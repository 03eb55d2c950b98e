"""Every exercise: the reference solution passes, known-wrong answers fail, the checker never raises."""

import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from vgg_edu import analysis, exercises, models, receptive
from vgg_edu.exercises import lesson02


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


def test_every_registered_exercise_is_asked_in_its_notebook():
    notebooks = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    asked = {}
    for path in notebooks:
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        for exercise_id in re.findall(r"check\(\s*[\"'](\d\d\.\d+)[\"']", code):
            asked.setdefault(exercise_id, []).append(path.name[:2])
    assert sorted(asked) == sorted(exercises.EXERCISES)
    assert all(places == [exercise_id[:2]] for exercise_id, places in asked.items())  # once, in its own notebook


MINE = [i for i in exercises.list_exercises() if i[:2] in ("01", "02", "03")]


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "analysis": analysis, "models": models, "receptive": receptive}
    exec(code, namespace)
    return namespace["answer"]


@pytest.mark.parametrize("exercise_id", MINE)
def test_solution_is_accepted(exercise_id, capsys):
    assert exercises.check(exercise_id, _run(exercises.EXERCISES[exercise_id].solution))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", sorted(lesson02.BUGS))
def test_broken_snippet_is_rejected(exercise_id, capsys):
    try:
        answer = _run(lesson02.BUGS[exercise_id])
    except Exception:  # the snippet itself fails (a typo): then the student has nothing to pass yet
        answer = None
    assert not exercises.check(exercise_id, answer)
    assert "Not" in capsys.readouterr().out


@pytest.mark.parametrize(
    "exercise_id, wrong",
    [
        ("01.1", 9),
        ("01.2", 25 * 256**2),
        ("01.3", [(3, 1), (2, 2)]),
        ("01.4", 26),
        ("03.1", 74.3),
        ("03.2", 138_357_544),
        ("03.3", 2 * 1_849_688_064),
        ("02.5", [(2, 64)] * 5 + [(1, 512)]),
    ],
)
def test_wrong_answer_is_rejected(exercise_id, wrong, capsys):
    assert not exercises.check(exercise_id, wrong)
    assert "Not yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "exercise_id,wrong",
    [("04.1", 128_806_154), ("04.2", 7), ("04.4", 468), ("04.3", lambda c: c.diag().float() / c.sum(0).float())],
)
def test_notebook_04_exercises_accept_their_solution_and_reject_a_wrong_answer(exercise_id, wrong):
    from vgg_edu import exercises, models

    namespace = {"math": math, "torch": torch, "models": models}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    assert exercises.check(exercise_id, namespace["answer"]) is True
    assert exercises.check(exercise_id, wrong) is False


def _solution(exercise_id, name):
    ns = {"torch": torch}
    exec(exercises.EXERCISES[exercise_id].solution, ns)
    return ns[name]


def test_exercise_05_1_hook():
    assert exercises.check("05.1", _solution("05.1", "make_hook")) is True

    def no_copy(store):
        def hook(module, inputs, output):
            store["out"] = output

        return hook

    assert exercises.check("05.1", no_copy) is False


def test_exercise_05_2_receptive_box():
    answer = _solution("05.2", "answer")
    assert answer == (0, 5, 27, 32)  # rf 30, jump 8, start 4 at pool3 (by hand)
    assert exercises.check("05.2", answer) is True
    assert exercises.check("05.2", (-3, 5, 27, 35)) is False  # not clipped


def test_exercise_05_3_grad_cam_by_hand():
    assert exercises.check("05.3", _solution("05.3", "cam")) is True
    assert exercises.check("05.3", lambda a, g: (g.mean((1, 2))[:, None, None] * a).sum(0)) is False  # no ReLU


def test_exercise_05_4_occlusion_count():
    assert exercises.check("05.4", _solution("05.4", "answer")) is True
    assert exercises.check("05.4", 64) is False

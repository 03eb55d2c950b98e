"""Notebook 06's exercises: the reference solutions pass, known-wrong answers fail without giving the answer away,
numpy, tensor and pandas forms of a numeric answer pass, and the notebook does not print an answer above its
exercise."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from vgg_edu import exercises

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_training_in_practice.ipynb"
IDS = ["06.1", "06.2", "06.3", "06.4"]


def _solution(exercise_id):
    namespace = {"math": math, "torch": torch}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    return namespace["answer"]


def _check(exercise_id, answer, capsys):
    verdict = exercises.check(exercise_id, answer)
    return verdict, capsys.readouterr().out


def _mean_of_shards(grads, sizes):
    return sum(grads) / len(grads)


def _sum_of_shards(grads, sizes):
    return sum(grads)


def _first_shard(grads, sizes):
    return grads[0]


P = 138_357_544
STAGE_INPUTS = 150_528 + 802_816 + 401_408 + 200_704 + 100_352  # 3x224², 64x112², 128x56², 256x28², 512x14²
WRONG = {
    "06.1": [math.sqrt(2 / 576), 2 / 1152, math.sqrt(1 / 1152), 0.01],  # fan_in; the variance; no ReLU gain; paper
    "06.2": [P * 12, P * 4, P * 16 * 8, P * 16 + 0.4],  # SGD momentum; weights only; bits; not a whole number
    "06.3": [_mean_of_shards, _sum_of_shards, _first_shard, "combine"],
    "06.4": [STAGE_INPUTS - 150_528, 802_816 + 401_408 + 200_704 + 100_352 + 25_088, 15_000_000],
}


def _secrets(exercise_id):
    answer = exercises.normalise(_solution(exercise_id))
    if isinstance(answer, float) and not answer.is_integer():
        return [f"{answer:.3f}", f"{answer:.4f}", f"{answer:.2g}"]
    if isinstance(answer, (int, float)):
        return [str(int(answer)), f"{int(answer):,}"]
    return ["sum(g * n", "/ sum(sizes)"]


def test_the_lesson_registers_its_exercises():
    assert exercises.list_exercises("06") == IDS


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_is_accepted(exercise_id, capsys):
    verdict, out = _check(exercise_id, _solution(exercise_id), capsys)
    assert verdict is True and "Correct" in out, out


def test_the_solutions_are_the_hand_computed_values():
    assert _solution("06.1") == pytest.approx(0.041667, rel=1e-4)  # sqrt(2 / (9 * 128))
    assert _solution("06.2") == 2_213_720_704
    assert _solution("06.4") == 1_655_808


@pytest.mark.parametrize("exercise_id", IDS)
def test_known_wrong_answers_fail_without_revealing_the_answer(exercise_id, capsys):
    for wrong in WRONG[exercise_id]:
        verdict, out = _check(exercise_id, wrong, capsys)
        assert verdict is False and "Not yet" in out, (wrong, out)
        assert not [s for s in _secrets(exercise_id) if s in out], out


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_question_and_hint_do_not_give_the_answer(exercise_id, capsys):
    verdict, out = _check(exercise_id, None, capsys)
    assert verdict is False and "Not answered yet" in out
    assert not [s for s in _secrets(exercise_id) if s in out], out


@pytest.mark.parametrize("exercise_id", ["06.1", "06.2", "06.4"])
def test_numpy_tensor_and_pandas_forms_pass(exercise_id, capsys):
    value = exercises.normalise(_solution(exercise_id))
    forms = [np.float64(value), np.array(value), torch.tensor(value, dtype=torch.float64), pd.Series([value]),
             pd.DataFrame({"v": [value]})["v"].iloc[0]]  # fmt: skip
    if float(value).is_integer():
        forms += [int(value), np.int64(value), torch.tensor(int(value))]
    else:
        forms += [np.float32(value), torch.tensor(value)]  # float32 is within the 1% tolerance
    for form in forms:
        verdict, out = _check(exercise_id, form, capsys)
        assert verdict is True, (form, out)


def test_a_byte_count_computed_in_float32_passes(capsys):
    # 2,213,720,704 needs 25 bits of mantissa: float32 holds it as 2,213,720,832; the neighbours of that still fail
    for form in (torch.tensor(P * 16.0), np.float32(P * 16), torch.tensor(P, dtype=torch.float32) * 16):
        assert _check("06.2", form, capsys)[0] is True, form
    for wrong in (P * 16 + 1000, P * 16 - 1000, np.float32(P * 12)):
        assert _check("06.2", wrong, capsys)[0] is False, wrong


def test_combine_may_return_numpy_or_work_in_float32(capsys):
    def as_numpy(grads, sizes):
        return (sum(g * n for g, n in zip(grads, sizes)) / sum(sizes)).numpy()

    assert _check("06.3", as_numpy, capsys)[0] is True


def test_text_answers_fail_with_a_reason(capsys):
    verdict, out = _check("06.2", "2213720704", capsys)
    assert verdict is False and "a number is expected" in out


def test_the_notebook_asks_each_exercise_after_everything_it_shows():
    cells = [(c["cell_type"], "".join(c["source"])) for c in json.loads(NOTEBOOK.read_text())["cells"]]
    for exercise_id in IDS:
        k = next(i for i, (kind, s) in enumerate(cells) if kind == "code" and f'ex.check("{exercise_id}"' in s)
        assert cells[k - 1] == ("markdown", f"**Exercise {exercise_id}.** {exercises.EXERCISES[exercise_id].question}")
        above = "\n".join(s for _, s in cells[:k])
        answer = exercises.normalise(_solution(exercise_id))
        if isinstance(answer, int):
            assert str(answer) not in above and f"{answer:,}" not in above
        if exercise_id == "06.3":
            assert "sum(sizes)" not in above
        if exercise_id == "06.1":
            assert "2 / (128" not in above and "0.0417" not in above

"""Notebook 07's exercises: each reference solution passes, known-wrong answers fail without giving the answer
away, numpy and tensor forms of the numeric answer pass, the broken GAP head runs as written in its cell and is
rejected, and the notebook does not print an answer above its exercise."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vgg_edu import exercises
from vgg_edu.exercises import lesson07

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_small_and_reused.ipynb"
IDS = ["07.1", "07.2", "07.3", "07.4"]


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "math": math}
    exec(code, namespace)
    return namespace["answer"]


def _check(exercise_id, answer, capsys):
    verdict = exercises.check(exercise_id, answer)
    return verdict, capsys.readouterr().out


def _kd_without_t_squared(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * soft


def _kd_reversed_kl(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(t / temp, dim=1), F.softmax(s / temp, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_no_temperature(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(s, dim=1), F.softmax(t, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _groups_swapped(model):
    return [{"params": model.features.parameters(), "lr": 1e-4}, {"params": model.classifier.parameters(), "lr": 1e-5}]


def _groups_head_missing(model):
    return [{"params": model.features.parameters(), "lr": 1e-5}]


WRONG = {
    "07.1": [
        _run(lesson07.BUGS["07.1"]),  # the source's head: 25,088 numbers reach a 512-input layer
        nn.Sequential(nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(25088, 10)),  # runs at 7 x 7 only
        nn.Sequential(nn.AdaptiveMaxPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10)),  # max, not average
        nn.Sequential(nn.AvgPool2d(7), nn.Flatten(), nn.Linear(512, 10)),  # not global: fails on a 14 x 14 map
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 1000)),  # ImageNet's classes
    ],
    # unpruned (or a 16 x 16 map); inputs not pruned; a 32 x 32 map; VGG-11/8's answer (the first classroom network)
    # or a 4 x 4 map; fractional
    "07.2": [1_179_648, 589_824, 4_718_592, 73_728, 294_912.4],
    "07.3": [_kd_without_t_squared, _kd_reversed_kl, _kd_no_temperature, lambda s, t, y, temp, alpha: 0.0],
    "07.4": [_groups_swapped, _groups_head_missing, lambda model: [{"params": model.parameters(), "lr": 1e-5}]],
}


def _secrets(exercise_id):
    answer = exercises.normalise(_run(exercises.EXERCISES[exercise_id].solution))
    if isinstance(answer, int):
        return [str(answer), f"{answer:,}"]
    lines = exercises.EXERCISES[exercise_id].solution.splitlines()
    return [
        line.split("#")[0].strip()
        for line in lines
        if len(line.strip()) > 12
        and not line.strip().startswith(("def ", "answer =", "import "))
        and line not in lesson07.BUGS.get(exercise_id, "")
    ]


def test_lesson07_registers_its_four_exercises():
    assert exercises.list_exercises("07") == IDS


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_is_accepted(exercise_id, capsys):
    verdict, out = _check(exercise_id, _run(exercises.EXERCISES[exercise_id].solution), capsys)
    assert verdict is True and "Correct" in out, out


@pytest.mark.parametrize("exercise_id", IDS)
def test_known_wrong_answers_fail_without_revealing_the_answer(exercise_id, capsys):
    assert len(WRONG[exercise_id]) >= 2
    for wrong in WRONG[exercise_id]:
        verdict, out = _check(exercise_id, wrong, capsys)
        assert verdict is False and "Not yet" in out, f"{wrong!r} was accepted"
        leaked = [s for s in _secrets(exercise_id) if s in out]
        assert not leaked, out


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_question_and_hint_do_not_give_the_answer(exercise_id, capsys):
    verdict, out = _check(exercise_id, None, capsys)
    assert verdict is False and "Not answered yet" in out
    assert not [s for s in _secrets(exercise_id) if s in out], out


def test_the_count_passes_in_every_numeric_form(capsys):
    value = _run(exercises.EXERCISES["07.2"].solution)
    assert value == 8 * 8 * 32 * 16 * 9
    for form in (value, float(value), np.int64(value), np.float64(value), np.float32(value), np.array(value),
                 torch.tensor(value), torch.tensor(value, dtype=torch.float64), pd.Series([value])):  # fmt: skip
        assert _check("07.2", form, capsys)[0] is True, repr(form)
    assert _check("07.2", str(value), capsys)[0] is False


def test_the_count_is_what_the_package_measures():
    """07.2's answer is the pruned network's conv3_1 row in analysis.layer_table."""
    from vgg_edu import analysis, compress, models, train

    pruned = compress.prune_channels(train.build_model("classroom"), 0.5)
    table = analysis.layer_table(pruned, (1, 32, 32)).set_index("layer")
    assert table.loc[models.layer_names(pruned)["conv3_1"], "macs"] == _run(exercises.EXERCISES["07.2"].solution)


def test_the_question_lists_the_classroom_networks_widths_and_input_size():
    """07.2 names the classroom recipe's network: its conv widths and input size are the recipe's."""
    from vgg_edu import compress, train

    model = train.build_model("classroom")
    widths = ", ".join(str(m.out_channels) for m in compress.convs(model))
    size = model.input_spec.size
    assert f"(channels {widths}, on {size} x {size} inputs)" in exercises.EXERCISES["07.2"].question


def test_function_answers_may_return_numpy_and_tensor_values(capsys):
    kd = _run(exercises.EXERCISES["07.3"].solution)
    assert _check("07.3", lambda *a: kd(*a).numpy(), capsys)[0] is True
    assert _check("07.3", lambda *a: float(kd(*a)), capsys)[0] is True


def test_the_broken_head_runs_as_written_and_fails_on_a_feature_map(capsys):
    head = _run(lesson07.BUGS["07.1"])  # building it works: the notebook runs top to bottom
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        head(torch.zeros(1, 512, 7, 7))
    verdict, out = _check("07.1", head, capsys)
    assert verdict is False and "fails" in out


def _cells():
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(NOTEBOOK.read_text())["cells"]]


def test_each_exercise_is_a_markdown_question_then_its_cell():
    cells = _cells()
    for exercise_id in IDS:
        k = next(i for i, (kind, src) in enumerate(cells) if kind == "code" and f'ex.check("{exercise_id}"' in src)
        assert cells[k - 1] == ("markdown", f"**Exercise {exercise_id}.** {exercises.EXERCISES[exercise_id].question}")
        assert cells[k][1].rstrip().endswith(f'ex.check("{exercise_id}", answer);')
    assert lesson07.BUGS["07.1"] in next(src for _, src in cells if 'ex.check("07.1"' in src)


def test_no_answer_is_printed_above_its_exercise():
    """07.2's count is nowhere in the sources above it, and no cell above builds the exercise's 50% pruned
    network's layer table; the solutions of the function exercises are not written out above them either."""
    cells = _cells()
    value = _run(exercises.EXERCISES["07.2"].solution)
    k = next(i for i, (_, src) in enumerate(cells) if 'ex.check("07.2"' in src)
    above = "\n".join(src for _, src in cells[:k])
    assert str(value) not in above and f"{value:,}" not in above
    assert "layer_table(pruned_models[0.5]" not in above and "prune_channels(model, 0.5)" not in above
    for exercise_id in ("07.1", "07.3", "07.4"):
        k = next(i for i, (_, src) in enumerate(cells) if f'ex.check("{exercise_id}"' in src)
        above = "\n".join(src for _, src in cells[:k])
        assert not [s for s in _secrets(exercise_id) if s in above], exercise_id

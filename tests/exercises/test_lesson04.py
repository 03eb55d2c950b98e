"""Notebook 04's exercises (training on Fashion-MNIST): known-wrong answers, function answers in numpy and torch
forms, and the warm-up answer against the schedule itself."""

import math

import numpy as np
import torch

from vgg_edu import exercises
from vgg_edu.exercises.lesson04 import _warm_up_steps


def _with_diagonal(confusion):
    return divmod(int(confusion.argmax()), confusion.shape[1])


def _in_place(confusion):  # right pair, but it zeroes the caller's matrix
    confusion.fill_diagonal_(0)
    return divmod(int(confusion.argmax()), confusion.shape[1])


def _transposed(confusion):
    mistakes = confusion.clone()
    mistakes.fill_diagonal_(0)
    return divmod(int(mistakes.argmax()), confusion.shape[1])[::-1]


SECRETS = {"04.1": ["numel("]}  # the hint counts by formula: sum(p.numel() ...) would be the answer itself

WRONG = {
    # fractional; text; rounded; 3 input channels; the classroom network (global-average-pool head, BN) and without BN;
    # the weights without the biases; with BatchNorm
    "04.1": [43093322.4, "43093322", 43_090_000, 43_093_610, 579_498, 578_122, 43_084_432, 43_094_698],
    # the side; not a whole factor; the printed total MACs' ratio (FC included); 224 against the stored 28 px; the
    # printed ratio of d2l's MACs to the classroom network's (cell "The book's recipe"), as printed and exact
    "04.2": [7, 49.5, 7.0, 512.2 / 52.1, 64, 53, 512.155648 / 9.58592],
    "04.3": [_with_diagonal, _transposed, lambda c: int(c.argmax()), _in_place],
    "04.4": [468, 468.75, "469"],
    # classroom_v1 (10 epochs of 430 steps): 60,000 images; T; epochs; one off; the partial batch dropped (1074);
    # 1290: the recipe trained in the notebook (12 epochs), read off its history table; 1720: the 16-epoch recipe
    "04.5": [_warm_up_steps(60_000), 4 * _warm_up_steps(), 10, _warm_up_steps() + 1, 1074, 1290, 1720],
}

RIGHT = {
    "04.1": [43_093_322.0],
    "04.2": [469.64736 / 9.58464, 7 * 7],  # the conv MACs at 224 and 32 px (analysis.cost_table), divided
}

NOT_COUNTS = ["04.2"]  # a ratio: 0.4 more is wrong, but not for being fractional


def _solution(exercise_id):
    namespace = {"math": math, "torch": torch}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    return namespace["answer"]


def test_the_warm_up_answer_is_where_the_schedule_first_peaks():
    """04.5's answer against the schedule itself (optim.schedule_curve): classroom_v1's run first reaches its peak
    learning rate after 1,075 steps (10 epochs of ceil(55,000 / 128) = 430 steps, a quarter of them)."""
    from vgg_edu.training.optim import schedule_curve
    from vgg_edu.training.recipes import fit_config

    fit = fit_config("classroom_v1")
    lrs = schedule_curve("onecycle", fit.epochs * math.ceil(55_000 / fit.batch_size), fit.lr)
    assert lrs.index(max(lrs)) == _solution("04.5") == 1075


def test_function_answers_may_return_numpy_and_tensor_values(capsys):
    most_confused = _solution("04.3")
    assert exercises.check("04.3", lambda c: torch.tensor(most_confused(c))) is True
    assert exercises.check("04.3", lambda c: tuple(np.int64(v) for v in most_confused(c))) is True


def test_a_check_takes_a_tensor_holding_one_number_as_that_number(capsys):
    """sum(..., keepdim=True) or a one-row table gives tensor([n]) or array([[n]]): the check sees the number n."""
    params = 43_093_322  # d2l's VGG-11/4 (REFERENCE.md), exercise 04.1
    for form in (torch.tensor([params]), torch.tensor([[float(params)]], dtype=torch.float64), np.array([[params]])):
        assert exercises.check("04.1", form) is True, repr(form)
    assert exercises.check("04.1", torch.tensor([params + 1])) is False


def test_the_parameter_count_is_that_of_the_d2l_recipes_network(capsys):
    """04.1's answer against the network the d2l recipe trains (recipes.build_model), counted by PyTorch."""
    from vgg_edu.training.recipes import build_model

    with torch.device("meta"):
        d2l = build_model("d2l")
    assert exercises.check("04.1", sum(p.numel() for p in d2l.parameters())) is True


def test_the_conv_factor_is_the_ratio_of_the_conv_macs_counted_by_analysis(capsys):
    """04.2's answer against analysis.cost_table's conv MACs of VGG-11/4 at 224 and 32 px; the ratios the page
    prints with the FC head counted are refused with a reason that names the head."""
    from vgg_edu import analysis

    costs = analysis.cost_table(divisors=(4,), sizes=(224, 32)).set_index("size")
    assert exercises.check("04.2", costs.conv_MACs_M[224] / costs.conv_MACs_M[32]) is True
    for printed in (costs.MACs_M[224] / costs.MACs_M[32], 53):
        assert exercises.check("04.2", printed) is False
        assert "FC head" in capsys.readouterr().out

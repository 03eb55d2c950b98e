"""Notebook 08's exercises (making VGG small): known-wrong answers, the broken GAP head as written in its cell, the
count against what the package measures and the question against the classroom network."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vgg_edu import exercises
from vgg_edu.exercises import lesson08


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "math": math}
    exec(code, namespace)
    return namespace["answer"]


def _kd_without_t_squared(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * soft


def _kd_reversed_kl(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(t / temp, dim=1), F.softmax(s / temp, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_no_temperature(s, t, y, temp, alpha):
    soft = F.kl_div(F.log_softmax(s, dim=1), F.softmax(t, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_mean_reduction(s, t, y, temp, alpha):  # the commonest bug: KL averaged over the classes too
    with warnings.catch_warnings():  # PyTorch warns that "mean" is not the KL's batch mean: that is the bug
        warnings.simplefilter("ignore", UserWarning)
        soft = F.kl_div(F.log_softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="mean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_soft_cross_entropy(s, t, y, temp, alpha):  # -sum p_t log p_s: the KL plus the teacher's entropy
    soft = -(F.softmax(t / temp, dim=1) * F.log_softmax(s / temp, dim=1)).sum(1).mean()
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_probabilities_as_input(s, t, y, temp, alpha):  # F.kl_div given softmax, not log_softmax, as its input
    soft = F.kl_div(F.softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
    return (1 - alpha) * F.cross_entropy(s, y) + alpha * temp**2 * soft


def _kd_weights_swapped(s, t, y, temp, alpha):  # alpha on the hard term, 1 - alpha on the soft one
    soft = F.kl_div(F.log_softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
    return alpha * F.cross_entropy(s, y) + (1 - alpha) * temp**2 * soft


class _MeanOverTheMap(nn.Module):
    """A global average written by hand: the mean over height and width, then the Linear layer."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


WRONG = {
    "08.1": [
        _run(lesson08.BUGS["08.1"]),  # the source's head: 25,088 numbers reach a 512-input layer
        nn.Sequential(nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(25088, 10)),  # runs at 7 x 7 only
        nn.Sequential(nn.AdaptiveMaxPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10)),  # max, not average
        nn.Sequential(nn.MaxPool2d(7), nn.Flatten(), nn.Linear(512, 10)),  # max over the 7 x 7 map, not average
        nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(512, 10)),  # a local pool: 512 x 3 x 3 values remain
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Linear(512, 10)),  # not flattened: a Linear over the last dim (1)
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 1000)),  # ImageNet's classes
    ],
    # unpruned (or a 16 x 16 map); inputs not pruned; a 32 x 32 map; VGG-11/8's answer (the first classroom network)
    # or a 4 x 4 map; fractional
    "08.2": [1_179_648, 589_824, 4_718_592, 73_728, 294_912.4],
    "08.3": [
        _kd_without_t_squared,
        _kd_reversed_kl,
        _kd_no_temperature,
        _kd_mean_reduction,
        _kd_soft_cross_entropy,
        _kd_probabilities_as_input,
        _kd_weights_swapped,
        lambda s, t, y, temp, alpha: 0.0,
    ],
}

# the question names (N, 512, 7, 7) maps: on them a 7 x 7 average pool, an adaptive one and a mean over the map are
# all the global average
RIGHT = {
    "08.1": [
        nn.Sequential(nn.AvgPool2d(7), nn.Flatten(), nn.Linear(512, 10)),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), nn.Linear(512, 10)),
        _MeanOverTheMap(),
    ],
}

# nowhere in the sources above 08.2: the 50% pruned network's layer table, which would print the answer
NOT_ABOVE = {"08.2": ["layer_table(pruned_models[0.5]", "prune_channels(model, 0.5)"]}


def test_the_count_is_the_hand_computed_value():
    assert _run(exercises.EXERCISES["08.2"].solution) == 8 * 8 * 32 * 16 * 9


def test_the_count_is_what_the_package_measures():
    """08.2's answer is the pruned network's conv3_1 row in analysis.layer_table."""
    from vgg_edu import analysis, models
    from vgg_edu.compression.prune import prune_channels
    from vgg_edu.training.recipes import build_model

    pruned = prune_channels(build_model("classroom"), 0.5)
    table = analysis.layer_table(pruned, (1, 32, 32)).set_index("layer")
    assert table.loc[models.layer_names(pruned)["conv3_1"], "macs"] == _run(exercises.EXERCISES["08.2"].solution)


def test_the_question_lists_the_classroom_networks_widths_and_input_size():
    """08.2 names the classroom recipe's network: its conv widths and input size are the recipe's."""
    from vgg_edu.compression.prune import convs
    from vgg_edu.data.inputs import spec_of
    from vgg_edu.training.recipes import build_model

    model = build_model("classroom")
    widths = ", ".join(str(m.out_channels) for m in convs(model))
    size = spec_of(model).size
    assert f"(channels {widths}, on {size} x {size} inputs)" in exercises.EXERCISES["08.2"].question


def test_function_answers_may_return_numpy_and_tensor_values(capsys):
    kd = _run(exercises.EXERCISES["08.3"].solution)
    assert exercises.check("08.3", lambda *a: kd(*a).numpy()) is True
    assert exercises.check("08.3", lambda *a: float(kd(*a))) is True


def test_the_broken_head_runs_as_written_and_fails_on_a_feature_map(capsys):
    head = _run(lesson08.BUGS["08.1"])  # building it works: the notebook runs top to bottom
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        head(torch.zeros(1, 512, 7, 7))
    assert exercises.check("08.1", head) is False
    assert "fails" in capsys.readouterr().out


def test_the_bug_mended_by_widening_the_linear_layer_is_told_why(capsys):
    """Review, 2026-12-07: the commonest fix of a shape error, Linear(25088, 10) after the (7, 7) pool, runs on the
    question's batch; it was refused with 'Your answer raised RuntimeError', an error the checker's own reference
    computation raised. The verdict now says what the head computes."""
    head = nn.Sequential(nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(25088, 10))
    assert head(torch.zeros(2, 512, 7, 7)).shape == (2, 10)  # it runs: the student sees no error
    assert exercises.check("08.1", head) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert "raised" not in verdict and "25,088" in verdict and "one number per channel" in verdict


def test_kl_div_averaged_over_the_classes_is_named(capsys):
    """F.kl_div(..., reduction="mean") divides the KL by the number of classes as well as the batch: the feedback
    names the reduction, and the hint says what each one averages over."""
    assert exercises.check("08.3", _kd_mean_reduction) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert "reduction='mean'" in verdict and "'batchmean'" in verdict
    assert "'mean'" in exercises.EXERCISES["08.3"].hint and "'batchmean'" in exercises.EXERCISES["08.3"].hint


def test_the_head_is_checked_on_the_7x7_maps_the_question_names(capsys):
    assert "(N, 512, 7, 7)" in exercises.EXERCISES["08.1"].question and "14" not in exercises.EXERCISES["08.1"].question
    assert exercises.check("08.1", nn.Sequential(nn.AvgPool2d(7), nn.Flatten(), nn.Linear(512, 10))) is True


def test_the_soft_cross_entropy_is_told_apart_from_the_kl(capsys):
    """Review, 2026-12-07: -sum p_t log p_s trains the same (the teacher's entropy has no gradient for the student)
    but is not the formula's KL; it was refused with the generic message."""
    s, t = torch.randn(4, 10, requires_grad=True), torch.randn(4, 10)
    y = torch.randint(0, 10, (4,))
    kd = _run(exercises.EXERCISES["08.3"].solution)
    (grad_kl,) = torch.autograd.grad(kd(s, t, y, 2.0, 0.5), s)
    (grad_ce,) = torch.autograd.grad(_kd_soft_cross_entropy(s, t, y, 2.0, 0.5), s)
    assert torch.allclose(grad_kl, grad_ce, atol=1e-6)  # the same gradients: why it is a plausible answer
    assert exercises.check("08.3", _kd_soft_cross_entropy) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert "cross-entropy with the soft targets" in verdict and "p_t log p_t" in verdict


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        (_kd_reversed_kl, "KL(student || teacher)"),
        (_kd_probabilities_as_input, "log-probabilities; yours are probabilities"),
        (_kd_weights_swapped, "weights are swapped"),
    ],
)
def test_three_more_common_slips_of_the_kd_loss_are_named(capsys, wrong, named):
    """Review r89, 2026-12-07: the KL the other way round (F.kl_div's arguments swapped), F.kl_div given the
    student's probabilities instead of their logs, and alpha on the wrong term were all refused with the generic
    'your loss differs from the formula'; each is now named, without the formula's code."""
    assert exercises.check("08.3", wrong) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert named in verdict and "batchmean" not in verdict

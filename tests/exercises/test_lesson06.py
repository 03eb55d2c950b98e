"""Notebook 06's exercises (optimisation): known-wrong answers, the solutions against hand-computed values and
against PyTorch itself (torch.optim.Adam's first step, the course's own multi-scale posteriors), and answers in
float32, numpy and tensor forms."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vgg_edu import exercises, multiscale
from vgg_edu.data.inputs import spec_of
from vgg_edu.exercises.lesson06 import _adam_first_step, _jitter_test_scales
from vgg_edu.training.evaluation import predict

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "06_optimisation.ipynb"


def _softmax_of_mean(logits):
    return torch.stack(logits).mean(0).softmax(1)


def _mean_of_logits(logits):
    return torch.stack(logits).mean(0)


def _sum_of_posteriors(logits):
    return sum(scores.softmax(1) for scores in logits)


def _one_scale(logits):
    return logits[0].softmax(1)


def _over_the_classes(logits):  # the softmax taken over the images, not the classes
    return torch.stack([scores.softmax(0) for scores in logits]).mean(0)


ADAM_STEP = 1.0 - _adam_first_step(1.0, 0.0)  # how far the weight moves: about the learning rate
WRONG = {
    "06.1": [
        math.sqrt(2 / 27),  # fan_in
        math.sqrt(1 / 27),  # fan_in, and no ReLU gain
        2 / 576,  # the variance
        math.sqrt(1 / 576),  # no ReLU gain
        0.01,  # the paper's std
        math.sqrt(2 / (27 + 576)),  # Xavier's
        math.sqrt(2 / 64),  # the channels without the 3x3 kernel
        0.058,  # the answer rounded the wrong way (Xavier's is 0.0576)
    ],
    "06.2": [
        1 - 1e-3 * 5e-4,  # SGD's or AdamW's step, lr x weight_decay x w
        1.0,  # no step: the loss's gradient is 0
        _adam_first_step(1.0, 0.0, bias_correction=False),  # Adam without its bias correction
        1 - 5e-4,  # the decay without the learning rate
        1 + ADAM_STEP,  # upwards
        1 - 10 * ADAM_STEP,  # ten times too far
        ADAM_STEP,  # how far the weight moves, not the weight
    ],
    "06.3": [_softmax_of_mean, _mean_of_logits, _sum_of_posteriors, _one_scale, _over_the_classes, "posteriors"],
    "06.4": [
        [256, 384, 512],  # the paper's scales for [256; 512], copied
        [448, 480, 512],  # {S - 32, S, S + 32} around the middle: the fixed-S protocol
        [288, 320, 352],  # the same around S_min
        [320, 640],  # the ends only
        480,  # one scale
        [224, 480, 640],  # the crop taken for a scale
        [320, 400, 640],  # not the middle
        [320, 480, 720],  # beyond the training range
        "320, 480, 640",  # text
    ],
}

RIGHT = {
    "06.1": [np.float32(math.sqrt(2 / 576)), torch.tensor(math.sqrt(2 / 576)), 0.059, math.sqrt(2 / 9) / 8],
    "06.2": [0.999, np.float32(0.999), torch.tensor([0.999])],  # rounded to three decimals; the weight as a tensor
    "06.3": [
        lambda logits: sum(torch.softmax(s, dim=-1) for s in logits) / len(logits),
        lambda logits: np.mean([s.softmax(1).numpy() for s in logits], axis=0),
        lambda logits: torch.stack(logits).double().softmax(2).mean(0),
    ],
    "06.4": [
        (320, 480, 640),
        [640, 480, 320],
        np.array([320, 480, 640]),
        torch.tensor([320.0, 480.0, 640.0]),
        {320, 480, 640},
        range(320, 641, 160),
    ],
}
NOT_COUNTS = ["06.1", "06.2"]  # a standard deviation; a weight
SECRETS = {"06.1": ["0.0589", "0.059"], "06.2": ["0.999"]}  # besides the answer's own digits
# nowhere above the exercise
NOT_ABOVE = {"06.1": ["2 / (64", "0.0589"], "06.2": ["0.999"], "06.3": ["softmax("], "06.4": ["480"]}


def _solution(exercise_id):
    namespace = {"math": math, "torch": torch}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    return namespace["answer"]


def test_the_solutions_are_the_hand_computed_values():
    assert _solution("06.1") == pytest.approx(0.058926, rel=1e-4)  # sqrt(2 / (9 * 64))
    assert 1 - _solution("06.2") == pytest.approx(1e-3, rel=1e-4)  # the full learning rate, however small the decay


@pytest.mark.parametrize("weight_decay", [5e-4, 5e-2])
def test_the_adam_answer_is_torchs_own_first_step(weight_decay, capsys):
    """06.2 against torch.optim.Adam itself: a weight the loss ignores, one step. The decay's size hardly matters:
    Adam divides the gradient it sees by that gradient's own size."""
    w = nn.Parameter(torch.ones(1, dtype=torch.float64))
    optimizer = torch.optim.Adam([w], lr=1e-3, weight_decay=weight_decay)
    w.grad = torch.zeros_like(w)
    optimizer.step()
    assert 1 - w.item() == pytest.approx(1e-3, rel=1e-4)
    if weight_decay == 5e-4:  # the question's settings
        assert w.item() == pytest.approx(_solution("06.2"), abs=1e-12)
        assert exercises.check("06.2", w) is True  # the weight itself, computed by running Adam, passes
        assert exercises.check("06.2", w.float()) is True


def test_the_posteriors_answer_is_what_the_course_computes():
    """06.3's solution, given a network's logits at three scales, is multiscale.multi_scale_probabilities' result."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 10, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten())  # any size in, 10 scores out
    with torch.no_grad():
        net[0].weight.mul_(10)  # scores far apart, and different at each scale
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    sizes = (32, 48, 64)
    course = multiscale.multi_scale_probabilities(net, images, sizes)
    logits = [predict(net, images, spec=dataclasses.replace(spec_of(net), size=s)) for s in sizes]
    assert torch.allclose(_solution("06.3")(logits), course, atol=1e-6)
    assert not torch.allclose(_softmax_of_mean(logits), course, atol=1e-4)  # the wrong answer is really different


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "said"),
    [
        ("06.1", math.sqrt(2 / (27 + 576)), "Xavier"),
        ("06.1", math.sqrt(2 / 64), "kernel positions"),
        ("06.1", math.sqrt(1 / 27), "fan_in"),
        ("06.1", 1.03 * math.sqrt(2 / 576), "estimates"),  # a drawn layer's weight.std()
        ("06.2", ADAM_STEP, "how far the weight moves"),
    ],
)
def test_plausible_wrong_answers_get_the_message_that_names_their_mistake(exercise_id, wrong, said, capsys):
    assert exercises.check(exercise_id, wrong) is False
    assert said in capsys.readouterr().out


def test_posteriors_may_work_on_the_callers_tensors_in_place(capsys):
    def in_place(logits):
        for s in logits:
            s.exp_()
            s /= s.sum(1, keepdim=True)
        return sum(logits) / len(logits)

    assert exercises.check("06.3", in_place) is True


def test_the_scale_jitter_rule_gives_the_papers_own_scales_and_is_in_the_reference():
    """06.4's rule, Q = {S_min, (S_min + S_max) / 2, S_max} (Sec. 4.2, as docs/REFERENCE.md records it), gives the
    scales the paper tested its models trained on [256; 512] at, which section 3 of the notebook names."""
    reference = (Path(__file__).resolve().parents[2] / "docs" / "REFERENCE.md").read_text()
    assert "S in [Smin; Smax]" in reference and "Q = {Smin, 0.5(Smin+Smax), Smax}" in " ".join(reference.split())
    assert _jitter_test_scales(256, 512) == (256, 384, 512)
    notebook = json.loads(NOTEBOOK.read_text())["cells"]
    markdown = "".join("".join(c["source"]) for c in notebook if c["cell_type"] == "markdown")
    section_3 = markdown.split("## 3.")[1].split("## What we saw")[0]
    assert "{256, 384, 512}" in section_3 and "{S - 32, S, S + 32}" in section_3


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ([256, 384, 512], "[256; 512]"),
        ([448, 480, 512], "one fixed S"),
        ([320, 640], "three scales"),
        (480, "give the list"),
        ([224, 480, 640], "224 is the crop"),
        ([320, 480, 720], "inside the range"),
    ],
)
def test_each_wrong_scale_set_is_told_what_it_got_wrong(wrong, said, capsys):
    assert exercises.check("06.4", wrong) is False
    assert said in capsys.readouterr().out.split("Hint:")[0]

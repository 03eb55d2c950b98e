"""Notebook 03's exercises (VGG-16): known-wrong answers, and the score map of 03.4 against the package's dense
model run on a 400 x 520 image."""

import numpy as np
import pytest
import torch

from vgg_edu import exercises, models

SECRETS = {"03.1": ["numel("], "03.2": ["numel("], "03.4": ["6 x 10"]}  # a hint counts by formula, not by the package
NOT_ABOVE = {"03.4": ["6 x 10", "(6, 10)"]}  # nowhere above the exercise

WRONG = {
    "03.1": [(25088 * 4096 + 4096) / 138_357_544, 71.53, 0.86],  # VGG-16's share; a percentage; all FC layers
    "03.2": [15_227_688, 143_667_240, 20_536_384],  # VGG-16's; with the FC head; without the head's biases
    "03.3": [
        2 * 169_869_312,  # FLOPs
        924_844_032,  # at 224 px
        96 * 96 * 128 * 256 * 9,  # pools forgotten
        12 * 12 * 128 * 256 * 9,  # three pools: pool3 comes after conv3_1
        22 * 22 * 128 * 256 * 9,  # no padding
        128 * 256 * 9,  # one position
        24 * 24 * 256 * 9,  # C_in left out
        169_869_312 + 24 * 24 * 256,  # the bias additions counted
    ],
    "03.4": [
        (12, 16),  # pool5's map: fc6's 7x7 window forgotten
        (1, 1),  # the map of a 224 px image
        (7, 11),  # the pools rounded up (13 and 17 - 6), or one too many
        (5, 9),  # one too few
        (10, 6),  # rows and columns swapped
        6,  # one number
        60,  # the positions, not the sides
        (6, 10, 6),  # three numbers
        (6.5, 10.25),  # not whole: the sides divided by 32 without rounding down
        "(6, 10)",  # text
    ],
}

RIGHT = {
    "03.4": [(6, 10), [6.0, 10.0], np.array([6, 10]), torch.tensor([6, 10]), torch.Size([6, 10])],
}

MESSAGES_03_3 = {  # a wrong answer -> what the message must name
    2 * 169_869_312: "FLOPs",
    12 * 12 * 128 * 256 * 9: "before conv3_1",
    22 * 22 * 128 * 256 * 9: "padding 1",
    128 * 256 * 9: "every position",
    24 * 24 * 256 * 9: "leaves out C_in",
    24 * 24 * 128 * 256: "leaves out the 3 x 3 window",
    169_869_312 + 24 * 24 * 256: "bias",
    3 * 169_869_312: "too large",
}


def test_each_wrong_count_of_conv3_1_is_told_what_it_got_wrong(capsys):
    for wrong, named in MESSAGES_03_3.items():
        assert exercises.check("03.3", wrong) is False
        assert named in capsys.readouterr().out.split("Hint:")[0], wrong


def _dense_vgg16_map(height: int, width: int) -> tuple:
    """The (rows, columns) of the class-score map that the package's dense VGG-16 returns for a height x width image."""
    with torch.device("meta"):  # shapes only
        dense = models.fully_convolutional(models.vgg16())
        return tuple(dense(torch.empty(1, 3, height, width)).shape[2:])


def test_the_score_map_answer_is_the_dense_models_real_output(capsys):
    namespace = {}
    exec(exercises.EXERCISES["03.4"].solution, namespace)  # the solution by hand
    assert _dense_vgg16_map(400, 520) == namespace["answer"] == (6, 10)
    with torch.device("meta"):
        dense = models.fully_convolutional(models.vgg16())
        out = dense(torch.empty(1, 3, 400, 520))
    assert exercises.check("03.4", out.shape[2:]) is True  # the shape read off the run passes as it is


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ("pool5", "that is pool5's map"),  # computed below from the network's features
        ("224 px", "224 px image"),  # computed below from the dense model at 224 px
        ((7, 11), "rounds down"),
        ((5, 9), "one too few"),
        ((10, 6), "swapped"),
        (6, "two numbers"),
    ],
)
def test_each_wrong_score_map_is_told_what_it_got_wrong(wrong, said, capsys):
    if wrong == "pool5":
        with torch.device("meta"):
            wrong = tuple(models.vgg16().features(torch.empty(1, 3, 400, 520)).shape[2:])
    elif wrong == "224 px":
        wrong = _dense_vgg16_map(224, 224)
    assert exercises.check("03.4", wrong) is False
    assert said in capsys.readouterr().out.split("Hint:")[0]


def test_vgg16s_gap_count_from_section_9_is_named_as_vgg16s(capsys):
    """Section 9 prints VGG-16's count with the GAP head: the likeliest wrong answer to 03.2, told apart."""
    with torch.device("meta"):
        vgg16_gap = sum(p.numel() for p in models.VGG("D", head="gap").parameters())
    assert exercises.check("03.2", vgg16_gap) is False
    assert "VGG-16" in capsys.readouterr().out.split("Hint:")[0]

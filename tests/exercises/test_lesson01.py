"""Notebook 01's exercises (receptive fields): known-wrong answers and the stack answer's other forms."""

import numpy as np
import torch

from vgg_edu import exercises

WRONG = {
    "01.1": [14, 9, "18"],  # jump forgotten after the pool; the four convs only; text
    "01.2": [27 * 96**2, 49 * 96**2, 22 * 96**2 + 0.4],
    "01.3": [
        [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)],  # four convs
        [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)],  # no pool at the end
        [(5, 1)],  # not a 3x3 conv
        [(3, 1)] * 10 + [(2, 2)],  # 22 pixels without the jump: ten convs, one pool
    ],
    "01.4": [44, 26, 30.4],  # VGG-16's pool3; VGG-11's conv3_2; not a whole number
}

SOLUTION_01_3 = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2)]
RIGHT = {"01.3": [np.array(SOLUTION_01_3), torch.tensor(SOLUTION_01_3), [list(p) for p in SOLUTION_01_3]]}


def test_the_stack_without_the_jump_is_refused_for_its_conv_count(capsys):
    assert exercises.check("01.3", [(3, 1)] * 10 + [(2, 2)]) is False
    assert "exactly three convs" in capsys.readouterr().out

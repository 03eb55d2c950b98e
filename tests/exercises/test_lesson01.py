"""Notebook 01's exercises (receptive fields): known-wrong answers and the stack answer's other forms."""

import numpy as np
import torch

from vgg_edu import exercises

# the package calls that are the answer: a hint points the way instead
SECRETS = {"01.1": ["receptive_field("], "01.4": ["receptive_field(", "stage_table("]}


class _EqualsAnything:
    """An answer that claims to equal whatever it is compared with."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


WRONG = {
    "01.1": [14, 9, "18"],  # jump forgotten after the pool; the four convs only; text
    "01.2": [27 * 96**2, 49 * 96**2, 22 * 96**2 + 0.4],
    "01.3": [
        [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)],  # four convs
        [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)],  # no pool at the end
        [(5, 1)],  # not a 3x3 conv
        [(3, 1)] * 10 + [(2, 2)],  # 22 pixels without the jump: ten convs, one pool
        [(3, 1), (3, 1), (3, 1), (2, 2)],  # the convs first, one pool: 8
        [(2, 2), (3, 1), (3, 1), (3, 1), (2, 2)],  # every conv after one pool: 16
        [(3, 1), (2, 2), (2, 2), (3, 1), (3, 1), (2, 2)],  # two convs after two pools: 26
        [(3.0, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2)],  # a float where a whole number belongs
        [(_EqualsAnything(), _EqualsAnything())] * 3,  # pairs that equal any pair
    ],
    "01.4": [44, 26, 30.4],  # VGG-16's pool3; VGG-11's conv3_2; not a whole number
}

SOLUTION_01_3 = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2)]
# the convs first, then four pools (3, 5, 7 | 8, 10, 14, 22) meets the question too: the pools' doubling jump
RIGHT = {
    "01.3": [
        np.array(SOLUTION_01_3),
        torch.tensor(SOLUTION_01_3),
        [list(p) for p in SOLUTION_01_3],
        [(3, 1)] * 3 + [(2, 2)] * 4,
    ]
}


def test_the_stack_without_the_jump_is_refused_for_its_conv_count(capsys):
    assert exercises.check("01.3", [(3, 1)] * 10 + [(2, 2)]) is False
    assert "exactly three convs" in capsys.readouterr().out


def test_a_stack_of_the_wrong_field_is_told_what_each_of_its_layers_adds(capsys):
    """The message reads the student's own stack back, layer by layer, and says whether it is short or over."""
    assert exercises.check("01.3", [(3, 1), (3, 1), (3, 1), (2, 2)]) is False
    out = capsys.readouterr().out
    assert "sees 8 pixels" in out and "add 2, 2, 2, 1 " in out and "Too little" in out
    assert exercises.check("01.3", [(3, 1), (2, 2), (2, 2), (3, 1), (3, 1), (2, 2)]) is False
    out = capsys.readouterr().out
    assert "sees 26 pixels" in out and "add 2, 1, 2, 8, 8, 4 " in out and "Too much" in out

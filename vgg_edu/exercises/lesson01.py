"""Exercises of notebook 01: receptive fields."""

from __future__ import annotations

from . import exercise


@exercise(
    "01.1",
    "How many input pixels wide is the receptive field of three stacked 3x3 convolutions (stride 1)?",
    hint="Each 3x3 conv adds k - 1 = 2 pixels to the field: start from 1.",
    solution="answer = 7   # 1 + 3 * (3 - 1); or receptive.receptive_field([(3, 1)] * 3)[-1][0]",
)
def _check_01_1(answer):
    return answer == 7 or f"{answer} is not it: count 1 pixel, then add (kernel - 1) per conv."


@exercise(
    "01.2",
    "How many weights (no biases) do two stacked 3x3 convs with C = 256 channels in and out hold? "
    "Compare with the one 5x5 conv that sees as much.",
    hint="One k x k conv from C to C channels holds k * k * C * C weights.",
    solution="answer = 2 * 3 * 3 * 256 * 256   # 1,179,648; a 5x5 conv holds 25 * 256**2 = 1,638,400",
)
def _check_01_2(answer):
    if answer == 25 * 256**2:
        return "that is the single 5x5 conv; count the two 3x3 convs."
    return answer == 2 * 9 * 256**2


@exercise(
    "01.3",
    "Write a stack, as a list of (kernel, stride) pairs, of 3x3 convs (stride 1) and 2x2 max-pools "
    "(stride 2) whose receptive field is exactly 16 pixels, ending with a pool.",
    hint="receptive.receptive_field(your_list)[-1][0] gives the field. VGG's first two stages end at 16.",
    solution="answer = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)]   # VGG-16's pool2: 16 px",
)
def _check_01_3(answer):
    from ..receptive import receptive_field

    answer = [tuple(p) for p in answer]
    if not answer or any(p not in ((3, 1), (2, 2)) for p in answer):
        return "use only (3, 1) convs and (2, 2) pools."
    if answer[-1] != (2, 2):
        return "end the stack with a (2, 2) pool."
    rf = receptive_field(answer)[-1][0]
    return rf == 16 or f"your stack sees {rf} pixels, not 16."


@exercise(
    "01.4",
    "What is the receptive field of VGG-11 (config A) at its third max-pool (pool3)?",
    hint="analysis.stage_table(analysis.layer_table(models.vgg11())) lists every pool; or use the recurrence "
    "on A's layers: conv, pool, conv, pool, conv, conv, pool.",
    solution="answer = 30   # fields 3, 4 | 8, 10 | 18, 26, 30: "
    "receptive.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])[-1][0]",
)
def _check_01_4(answer):
    from ..receptive import receptive_field

    expected = receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])[-1][0]
    return answer == expected or f"{answer} is not it."

"""Exercises of notebook 01: receptive fields.

The page prints the fields of 1 to 5 stacked 3x3 convs, the weights of those stacks at 256 channels and VGG-16's
field at every pool; the exercises ask for other stacks, widths and networks, so the answers must be computed.
"""

from __future__ import annotations

from . import as_count, exercise


def _field(layers) -> int:
    """The recurrence r_l = r_{l-1} + (k_l - 1) j_{l-1}, j_l = j_{l-1} s_l, written again here so that the checks do
    not depend on ``receptive.receptive_field``, which the students call."""
    rf, jump = 1, 1
    for kernel, stride in layers:
        rf, jump = rf + (kernel - 1) * jump, jump * stride
    return rf


@exercise(
    "01.1",
    "How many input pixels wide is the receptive field of a unit after four 3x3 convs (stride 1), then a 2x2 "
    "max-pool (stride 2), then two more 3x3 convs?",
    hint="Walk the layers from the input with the recurrence of section 1, starting from r = 1 and j = 1: each layer "
    "adds (kernel - 1) x j to the field r, and a stride-2 pool then doubles the jump j for every layer after it. "
    "Write r down after each of the seven layers.",
    solution="answer = receptive.receptive_field([(3, 1)] * 4 + [(2, 2)] + [(3, 1)] * 2)[-1][0]   # 9, 10, 14, 18",
)
def _check_01_1(answer):
    n = as_count(answer)
    layers = [(3, 1)] * 4 + [(2, 2)] + [(3, 1)] * 2
    if n == 1 + sum(k - 1 for k, _ in layers):
        return "after the pool every conv widens the field by (kernel - 1) x jump, and the jump is now 2."
    return n == _field(layers) or "apply the recurrence layer by layer."


@exercise(
    "01.2",
    "Three stacked 3x3 convs with C = 96 channels in and out see as much as one 7x7 conv. How many fewer weights "
    "(no biases) does the stack hold than the single conv?",
    hint="One k x k conv from C to C channels holds k * k * C * C weights; count the stack and the single conv, "
    "then subtract.",
    solution="answer = 7 * 7 * 96 * 96 - 3 * 3 * 3 * 96 * 96   # the 7x7 conv holds 49 C^2, the stack 27 C^2",
)
def _check_01_2(answer):
    n, c = as_count(answer), 96
    if n < 0:
        return "the question asks how many fewer: give the difference as a positive number."
    if n in (27 * c * c, 49 * c * c):
        return "that is one side of the comparison; the question asks for the difference."
    if n == 22 * c:
        return "each conv maps C channels to C channels: its weights grow with C x C."
    return n == 7 * 7 * c * c - 3 * (3 * 3 * c * c) or "count k * k * C * C for each conv."


@exercise(
    "01.3",
    "Write a stack, as a list of (kernel, stride) pairs, of exactly three 3x3 convs (stride 1) and as many 2x2 "
    "max-pools (stride 2) as you need, ending with a pool, whose receptive field is exactly 22 pixels.",
    hint="Start from 1 pixel and add, layer by layer: a 3x3 conv adds 2 x the jump where it sits, a 2x2 pool adds "
    "1 x the jump and then doubles it. So a conv adds more the more pools come before it: choose where the pools go "
    "so that the additions reach 22.",
    solution="answer = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (2, 2)]   # 3, 4 | 8, 10 | 18, 22",
)
def _check_01_3(answer):
    if not isinstance(answer, (list, tuple)) or not all(isinstance(p, (list, tuple)) for p in answer):
        return "answer should be a list of (kernel, stride) pairs, such as [(3, 1), (2, 2)]."
    if not all(type(v) is int for p in answer for v in p):  # 3, not 3.0 nor an object that equals anything
        return "each pair holds two whole numbers, such as (3, 1)."
    layers = [tuple(p) for p in answer]
    if not layers or any(p not in ((3, 1), (2, 2)) for p in layers):
        return "use only (3, 1) convs and (2, 2) pools."
    if layers[-1] != (2, 2):
        return "end the stack with a (2, 2) pool."
    if layers.count((3, 1)) != 3:
        return f"use exactly three convs, not {layers.count((3, 1))}: where the pools sit must do the rest."
    rf = _field(layers)
    if rf == 22:
        return True
    added, jump = [], 1
    for kernel, stride in layers:
        added, jump = added + [(kernel - 1) * jump], jump * stride
    if rf < 22:
        way = "Too little: which of your convs would add more after one more pool?"
    else:
        way = "Too much: which of your layers adds more than you need, and would it add less earlier, or not at all?"
    return (
        f"your stack sees {rf} pixels, not 22: from 1 pixel, its layers add {', '.join(map(str, added))} (a 3x3 "
        f"conv adds 2 x the jump where it sits, a pool 1 x the jump, and each pool doubles the jump of the layers "
        f"after it). {way}"
    )


@exercise(
    "01.4",
    "What is the receptive field of VGG-11 (config A) at its third max-pool (pool3), in input pixels?",
    hint="Read config A in the paper's Table 1 up to its third max-pool: how many 3x3 convs does each of its first "
    "three stages have (fewer than VGG-16's)? Write those layers as (kernel, stride) pairs, a conv (3, 1) and a pool "
    "(2, 2), and apply the recurrence of section 1 layer by layer, as in exercise 01.1.",
    solution='with torch.device("meta"):   # shapes only\n'
    "    vgg11 = models.vgg11()\n"
    'answer = analysis.stage_table(analysis.layer_table(vgg11)).set_index("stage").loc["pool3", "rf"]   # 3, 4 | 8 '
    "| 10 | 18, 26, 30",
)
def _check_01_4(answer):
    n = as_count(answer)
    layers = [(2, 2) if v == "M" else (3, 1) for v in [64, "M", 128, "M", 256, 256, "M"]]  # paper, Table 1, A
    if n == _field([(3, 1), (3, 1), (2, 2)] * 2 + [(3, 1)] * 3 + [(2, 2)]):
        return "that is VGG-16's pool3: VGG-11 has fewer convs in its first stages."
    return n == _field(layers) or "apply the recurrence to config A up to its third pool."

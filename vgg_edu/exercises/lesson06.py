"""Exercises of notebook 06: training VGG in practice, the optimisation (initialisation, optimisers, multi-scale
testing). The checks compute their expected values by hand; 06.4's scales follow the paper's rule for a model
trained with scale jitter (Sec. 4.2, in docs/REFERENCE.md), which gives its own {256, 384, 512} for [256; 512]."""

from __future__ import annotations

import math

from . import as_number, as_numbers, exercise


@exercise(
    "06.1",
    "torchvision draws each conv's weights with He et al.'s (2015) init, "
    "kaiming_normal_(mode='fan_out', nonlinearity='relu'). What standard deviation does its formula give "
    "conv1_1 of the full-width VGG-16 (3x3 kernels, 3 input and 64 output channels)?",
    hint="Section 1's formula gives Kaiming's variance; check which channels mode='fan_out' counts, and whether "
    "the question asks for a variance.",
    solution="answer = math.sqrt(2 / (64 * 3 * 3))",
)
def _check_06_1(answer):
    # conv1_1, whose fans differ most (27 in, 576 out): in a stage that doubles the channels, the fan_in mistake
    # and the missing ReLU gain would cancel (1 / fan_in = 2 / fan_out) and give the right number
    value, fan_in, fan_out = as_number(answer), 3 * 9, 64 * 9
    if math.isclose(value, math.sqrt(2 / fan_out), rel_tol=0.01):
        return True
    if any(math.isclose(value, math.sqrt(gain / fan_in), rel_tol=0.01) for gain in (1, 2)):
        return "that uses the input channels (fan_in); mode='fan_out' counts the output channels."
    if math.isclose(value, 2 / fan_out, rel_tol=0.01):
        return "that is a variance: the standard deviation is its square root."
    if math.isclose(value, math.sqrt(1 / fan_out), rel_tol=0.01):
        return "the ReLU gain is missing: a ReLU halves the second moment, so Kaiming doubles the variance."
    if math.isclose(value, math.sqrt(2 / (fan_in + fan_out)), rel_tol=0.005):  # 2.3% below the answer
        return "that is Xavier's (Glorot's) std, whose variance averages the two fans; Kaiming's counts one fan only."
    if any(math.isclose(value, math.sqrt(2 / channels), rel_tol=0.01) for channels in (3, 64)):
        return "the fan counts every weight a unit sees or feeds: the channels times the 3x3 kernel positions."
    if math.isclose(value, math.sqrt(2 / fan_out), rel_tol=0.05):
        return "close, but not the formula's value: the std of weights drawn at random only estimates it."
    return "compute the fan, the variance 2 / fan, then its square root."


ADAM = dict(lr=1e-3, weight_decay=5e-4, betas=(0.9, 0.999), eps=1e-8)  # section 2's Adam run, PyTorch's defaults


def _adam_first_step(w: float, loss_grad: float, *, bias_correction: bool = True) -> float:
    """``w`` after torch.optim.Adam's first step, written out: the decay joins the gradient, then m and v start
    from zero (``bias_correction=False``: the step without Adam's division by 1 - beta^t)."""
    lr, wd, (beta1, beta2), eps = ADAM["lr"], ADAM["weight_decay"], ADAM["betas"], ADAM["eps"]
    g = loss_grad + wd * w
    m, v = (1 - beta1) * g, (1 - beta2) * g * g
    if bias_correction:
        m, v = m / (1 - beta1), v / (1 - beta2)
    return w - lr * m / (math.sqrt(v) + eps)


@exercise(
    "06.2",
    "A weight w = 1.0 has no effect on the loss (its loss gradient is 0). What is w after the first step of "
    "torch.optim.Adam([w], lr=1e-3, weight_decay=5e-4), the settings of section 2's Adam run (PyTorch's default "
    "betas and eps)?",
    hint="Section 2 says where Adam's weight_decay enters. Then follow Adam's first step from zero moments, bias "
    "correction included (torch.optim.Adam's documentation writes the algorithm out).",
    solution="""g = 5e-4 * 1.0                      # the gradient Adam sees: the loss's 0 plus weight_decay x w
m_hat, v_hat = g, g**2              # first step: (1 - beta) g and (1 - beta) g^2, each divided by (1 - beta)
answer = 1.0 - 1e-3 * m_hat / (math.sqrt(v_hat) + 1e-8)""",
)
def _check_06_2(answer):
    value = as_number(answer)
    moved, expected = 1.0 - value, 1.0 - _adam_first_step(1.0, 0.0)
    if math.isclose(moved, expected, rel_tol=0.01):
        return True
    if moved == 0:
        return "weight_decay is part of the gradient Adam sees: that gradient is not 0, so the weight moves."
    if math.isclose(value, expected, rel_tol=0.01):
        return "that is how far the weight moves; the question asks for the weight itself after the step."
    if moved < 0:
        return "the weight moved up: a step goes against the gradient, and weight decay pulls a weight towards 0."
    if math.isclose(moved, ADAM["lr"] * ADAM["weight_decay"], rel_tol=0.01):
        return (
            "that is lr x weight_decay x w, the step of SGD (or of AdamW, which applies the decay to the weight "
            "itself); Adam rescales the gradient it sees, the decay included."
        )
    if math.isclose(moved, 1.0 - _adam_first_step(1.0, 0.0, bias_correction=False), rel_tol=0.01):
        return "the bias correction is missing: Adam divides m and v by 1 - beta^t, at step 1 by 1 - beta."
    if math.isclose(moved, ADAM["weight_decay"], rel_tol=0.01):
        return "the learning rate is missing from the step."
    return "work out the gradient Adam sees, then its first step's m and v, corrected, and the step they give."


@exercise(
    "06.3",
    "Multi-scale testing, as the paper does it (section 3): write posteriors(logits) that takes a list of the "
    "network's logits for the same images at each test scale Q, each a tensor (N, classes), and returns the class "
    "posteriors of the scale set, a tensor (N, classes). Pass the function.",
    takes_code=True,
    called_apart=True,
    hint="What the paper averages over the scales is in section 3's claims; each row of the result is a "
    "probability distribution over the classes.",
    solution="""def posteriors(logits):
    return torch.stack([scores.softmax(dim=1) for scores in logits]).mean(dim=0)
answer = posteriors""",
)
def _check_06_3(posteriors):
    import torch

    if not callable(posteriors):
        return "answer should be your posteriors function itself (no brackets)."
    g = torch.Generator().manual_seed(6)
    logits = [3 * torch.randn(5, 10, generator=g) for _ in range(3)]  # three scales that disagree
    got = torch.as_tensor(posteriors([scores.clone() for scores in logits]), dtype=torch.float64)
    stacked = torch.stack(logits).double()
    expected = stacked.softmax(dim=2).mean(dim=0)
    if got.shape != expected.shape:
        return f"the result should be (N, classes), {tuple(expected.shape)}; got {tuple(got.shape)}."
    if torch.allclose(got, expected, atol=1e-6):
        return True
    if torch.allclose(got, stacked.mean(dim=0).softmax(dim=1), atol=1e-6):
        return "that turns the averaged scores into probabilities; the paper averages something else (section 3)."
    if torch.allclose(got, stacked.softmax(dim=2).sum(dim=0), atol=1e-5):
        return "each row should sum to 1: a sum over the scales is not an average."
    if not torch.allclose(got.sum(dim=1), torch.ones(len(got), dtype=got.dtype), atol=1e-5):
        return "each row of posteriors is a probability distribution: non-negative, summing to 1."
    return "the values differ from the scale set's posteriors: check what is averaged, and over which dimension."


def _jitter_test_scales(s_min: int, s_max: int) -> tuple:
    """The test scales of a model trained with scale jitter, S in [s_min; s_max] (paper, Sec. 4.2)."""
    return (s_min, (s_min + s_max) // 2, s_max)


@exercise(
    "06.4",
    "By the paper's protocol for multi-scale testing (Sec. 4.2; section 3), at which test scales Q would it evaluate "
    "a VGG trained with scale jitter, the smaller side S random in [320; 640] before the 224 crop? Give the list of "
    "scales, smallest first.",
    hint="Section 3 names the three scales at which the paper tests a model trained with S in [256; 512]: where does "
    "each sit in that range? Place the same points in [320; 640]. (A model trained at one fixed S is tested "
    "otherwise, near S only.)",
    solution="""s_min, s_max = 320, 640
answer = [s_min, (s_min + s_max) // 2, s_max]   # the range's two ends and its middle""",
)
def _check_06_4(answer):
    if isinstance(answer, (set, frozenset, range)):  # the scales in any order
        answer = sorted(answer)
    if not isinstance(answer, (list, tuple)):
        as_number(answer)  # text is refused as text
        return "the paper tests at several scales and averages the posteriors: give the list of them."
    scales = sorted(as_numbers(answer))
    s_min, s_max = 320, 640
    if tuple(scales) == _jitter_test_scales(s_min, s_max):
        return True
    if tuple(scales) == _jitter_test_scales(256, 512):
        return "those are the scales for S in [256; 512]; this model was trained over another range."
    if 224 in scales:
        return "224 is the crop, not a scale: Q, like S, is the smaller side of the whole rescaled image."
    if len(scales) == 3 and scales[2] - scales[1] == scales[1] - scales[0] == 32:
        return (
            "{S - 32, S, S + 32} is the protocol for a model trained at one fixed S; a model trained with scale "
            "jitter can be tested over a wider range."
        )
    if len(scales) != 3:
        return "the paper tests a jittered model at three scales."
    if scales[0] < s_min or scales[-1] > s_max:
        return "the paper tests a jittered model inside the range of scales it was trained on."
    return "where do the paper's three test scales sit in its own range [256; 512]?"

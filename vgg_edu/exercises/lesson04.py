"""Exercises of notebook 04: training on Fashion-MNIST."""

from __future__ import annotations

from . import exercise


@exercise(
    "04.1",
    "How many parameters (weights and biases) does d2l's VGG-11 with channels divided by 4 "
    "(1 input channel, 10 classes, FC layers of 4096) hold?",
    hint="Build models.VGG('A', in_channels=1, num_classes=10, width_divisor=4) and sum p.numel() over its "
    "parameters. Which layer holds most of them?",
    solution="answer = sum(p.numel() for p in models.VGG('A', in_channels=1, num_classes=10, "
    "width_divisor=4).parameters())   # 43,093,322: 25.7M in the first FC layer, 16.8M in the second",
)
def _check_04_1(answer):
    import torch

    from ..models import VGG

    with torch.device("meta"):
        expected = sum(p.numel() for p in VGG("A", in_channels=1, num_classes=10, width_divisor=4).parameters())
    return int(answer) == expected or f"{int(answer):,} is not it (FC layers hold most: 6272 x 4096 + ...)."


@exercise(
    "04.2",
    "By what factor does upsampling Fashion-MNIST to 224 x 224 instead of 32 x 32 multiply the "
    "multiply-accumulates of VGG-11/4's convolutional layers?",
    hint="A conv's MACs are H_out * W_out * C_in * C_out * 9: every stage's H and W scale with the input side.",
    solution="answer = (224 / 32) ** 2   # 49: each conv's output has 7 x 7 = 49 times more positions",
)
def _check_04_2(answer):
    return abs(float(answer) - 49) < 0.5 or f"{answer} is not it: MACs grow with the area, (224 / 32)^2."


@exercise(
    "04.3",
    "Write per_class_accuracy(confusion): given a confusion matrix C (C[i, j] = images of true class i "
    "predicted as j), return a tensor with each class's accuracy (its recall). Pass the function.",
    hint="The diagonal counts the right answers; each row sums to that class's number of images.",
    solution="def per_class_accuracy(confusion):\n"
    "    return confusion.diag().float() / confusion.sum(dim=1).float()\n"
    "answer = per_class_accuracy",
)
def _check_04_3(answer):
    import torch

    g = torch.Generator().manual_seed(4)
    confusion = torch.randint(0, 50, (10, 10), generator=g) + 100 * torch.eye(10, dtype=torch.long)
    expected = confusion.diag().double() / confusion.sum(1).double()
    got = torch.as_tensor(answer(confusion.clone())).double().flatten()
    if got.shape != expected.shape:
        return f"expected 10 numbers, one per class; got shape {tuple(got.shape)}."
    if torch.allclose(got, confusion.diag().double() / confusion.sum(0).double()):
        return "that divides by the column sums (precision); divide by the row sums (the true classes)."
    return bool(torch.allclose(got, expected)) or "the numbers are not diagonal / row sum."


@exercise(
    "04.4",
    "The classroom recipe uses batch 128 on 60,000 training images. How many optimizer steps does "
    "one epoch take (the last batch may be smaller)?",
    hint="Divide and round up: a partial batch is still a step.",
    solution="answer = math.ceil(60_000 / 128)   # 469 (468 full batches and one of 96)",
)
def _check_04_4(answer):
    if answer == 60_000 // 128:
        return "that drops the last, smaller batch; round up."
    return answer == -(-60_000 // 128)

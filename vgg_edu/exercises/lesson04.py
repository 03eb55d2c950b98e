"""Exercises of notebook 04: training on Fashion-MNIST.

The page prints the parameters of VGG-11/4 only to two decimals in millions, the total MACs at 224 and 32 px (FC head
included, and d2l's against the classroom network's: 53x), the per-class recall of the confusion matrix, and the
classroom run's steps and learning rate at the end of every epoch (its warm-up ends at an epoch's end: 12 epochs, W =
T/4); the exercises ask for the exact count, the convs' factor, a different reading of the confusion matrix, and the
warm-up of classroom_v1, whose run is not shown.
"""

from __future__ import annotations

import torch

from . import AnswerError, as_count, as_number, as_numbers, exercise

_VGG11_4_WIDTHS = [16, 32, 64, 64, 128, 128, 128, 128]


def _vgg11_4_conv_params() -> int:
    """VGG-11/4's eight 3x3 convs counted by hand: 1 -> 16 -> 32 -> 64, 64 -> 128, 128, 128, 128 (weights + biases)."""
    total, c_in = 0, 1
    for c_out in _VGG11_4_WIDTHS:
        total, c_in = total + 9 * c_in * c_out + c_out, c_out
    return total


def _vgg11_4_params() -> int:
    """d2l's VGG-11/4: the convs, then fc6 (128 * 7 * 7 -> 4096), fc7 (4096 -> 4096) and fc8 (4096 -> 10)."""
    return _vgg11_4_conv_params() + (128 * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)


def _vgg11_4_biases() -> int:
    """One bias per output channel of every conv and per output of fc6, fc7 and fc8."""
    return sum(_VGG11_4_WIDTHS) + 4096 + 4096 + 10


def _vgg11_4_gap_params(batch_norm: bool) -> int:
    """VGG-11/4 with a global-average-pool head (one linear layer, 128 -> 10), with BatchNorm's scale and shift per
    channel or without: the classroom network, a plausible wrong answer to 04.1."""
    return _vgg11_4_conv_params() + 128 * 10 + 10 + (2 * sum(_VGG11_4_WIDTHS) if batch_norm else 0)


@exercise(
    "04.1",
    "How many parameters (weights and biases) does d2l's VGG-11/4 hold: VGG-11 with every channel count divided by "
    "4, 1 input channel, 10 classes and FC layers of 4096? Give the exact count.",
    hint="Count layer by layer: a 3x3 conv from C_in to C_out channels holds 9 C_in C_out + C_out parameters, a Linear "
    "layer from n_in to n_out values n_in n_out + n_out. The convs are config A's, from 1 input channel, with VGG-11's "
    "channels divided by 4; fc6 reads the last conv's channels x 7 x 7 values.",
    solution="with torch.device('meta'):   # shapes only\n"
    "    vgg11_4 = models.VGG('A', in_channels=1, num_classes=10, width_divisor=4)\n"
    "answer = sum(p.numel() for p in vgg11_4.parameters())   # fc6 and fc7 hold most of it",
)
def _check_04_1(answer):
    n, expected = as_count(answer), _vgg11_4_params()
    if n == expected:
        return True
    if n == expected - (9 * 1 * 16 + 16) + (9 * 3 * 16 + 16):
        return "that network takes 3 input channels; Fashion-MNIST's images have one."
    if n == expected - _vgg11_4_biases():
        return "that counts the weights only; the question counts the biases too."
    if n == expected + 2 * sum(_VGG11_4_WIDTHS):
        return "that network has BatchNorm (a scale and a shift per channel); d2l's VGG-11 has none."
    if abs(n - expected) < 50_000:
        return "close, but not exact: count every layer exactly rather than from a rounded table."
    if n in (_vgg11_4_gap_params(True), _vgg11_4_gap_params(False)):
        return "that network has a global-average-pool head (the classroom network); d2l's has fc6-fc8, 4096 wide."
    return "count every conv and every FC layer, weights and biases, and add them up."


@exercise(
    "04.2",
    "By what factor does upsampling Fashion-MNIST to 224 x 224 instead of 32 x 32 multiply the multiply-accumulates "
    "of VGG-11/4's convolutional layers (the FC head left out)?",
    hint="A conv's MACs are H_out * W_out * C_in * C_out * 9, and every stage's H and W scale with the input side.",
    solution="answer = (224 / 32) ** 2   # each conv's output has (224 / 32) x (224 / 32) times more positions",
)
def _check_04_2(answer):
    x = as_number(answer)
    if abs(x - 224 / 32) < 1e-6:
        return "that is the factor of the side; MACs grow with the area."
    if abs(x - (224 / 28) ** 2) < 1e-6:
        return "that compares 224 px with the stored 28 px; the question compares it with 32 px."
    if 9 < x < 11 or 53 <= x < 54:  # the printed totals' ratios: FC head at both sizes; d2l against the classroom net
        return "that ratio counts the FC head too; the question asks about the convolutions alone."
    return abs(x - (224 / 32) ** 2) < 1e-6 or "compare the number of output positions of one conv at both sizes."


def _most_confused_by_hand(confusion: torch.Tensor) -> tuple[int, int]:
    best, pair = -1, (0, 0)
    for i in range(confusion.shape[0]):
        for j in range(confusion.shape[1]):
            if i != j and int(confusion[i, j]) > best:
                best, pair = int(confusion[i, j]), (i, j)
    return pair


def _confusions() -> list[torch.Tensor]:
    """Test matrices with one largest off-diagonal count each; in the second it lies below the diagonal, and its
    transposed position holds the second largest, so (predicted, true) is told from (true, predicted)."""
    g = torch.Generator().manual_seed(4)
    first = torch.randint(0, 30, (10, 10), generator=g) + 400 * torch.eye(10, dtype=torch.long)
    first[2, 7] = 90
    second = torch.randint(0, 30, (10, 10), generator=g) + 300 * torch.eye(10, dtype=torch.long)
    second[6, 4], second[4, 6] = 120, 110
    return [first, second]


@exercise(
    "04.3",
    "Write most_confused(confusion): given a confusion matrix C (C[i, j] = images of true class i predicted as j), "
    "return the pair (true class, predicted class) of the commonest mistake. Pass the function.",
    takes_code=True,
    called_apart=True,
    hint="The mistakes are the counts off the diagonal; leave the diagonal out without changing the matrix passed in "
    "(work on a copy). argmax over a whole matrix gives one flat index: turn it back into (row, column).",
    solution="def most_confused(confusion):\n"
    "    mistakes = confusion.clone()\n"
    "    mistakes.fill_diagonal_(0)\n"
    "    return divmod(int(mistakes.argmax()), mistakes.shape[1])\n"
    "answer = most_confused",
)
def _check_04_3(answer):
    if not callable(answer):
        return "answer should be your most_confused function itself (answer = most_confused, no brackets)."
    for confusion in _confusions():
        given = confusion.clone()
        try:
            got = tuple(as_count(v) for v in as_numbers(answer(given)))
        except AnswerError:
            return "return two whole numbers: (true class, predicted class)."
        expected = _most_confused_by_hand(confusion)  # after the answer returns: no frame it reads holds it
        if not torch.equal(given, confusion):
            return "your function changed the matrix passed in; work on a copy (.clone())."
        if len(got) != 2:
            return f"return two numbers, (true class, predicted class); got {len(got)}."
        if got[0] == got[1]:
            return "that pair lies on the diagonal: those are the right answers, not mistakes."
        if got == expected[::-1]:
            return "rows are the true classes and columns the predictions: check the order."
        if got != expected:
            return "that is not the largest count off the diagonal."
    return True


@exercise(
    "04.4",
    "d2l's run trains on all 60,000 training images (it holds none out for validation) in batches of 128. How many "
    "optimizer steps does one of its epochs take (the last batch may be smaller)?",
    hint="How many full batches of 128 do 60,000 images make, and what becomes of the images left over?",
    solution="answer = math.ceil(60_000 / 128)",
)
def _check_04_4(answer):
    n = as_count(answer)
    if n == 60_000 // 128:
        return "that drops the last, smaller batch; round up."
    if n in (55_000 // 128, -(-55_000 // 128)):
        return "that counts the 55,000 images the classroom run trains on; d2l holds none out."
    return n == -(-60_000 // 128) or "divide the images by the batch size."


def _warm_up_steps(n_train: int = 55_000, recipe_name: str = "classroom_v1") -> int:
    """W = T / 4 (rounded) of a recipe's one-cycle schedule, T = epochs * ceil(n_train / batch)."""
    from ..training.recipes import fit_config

    fit = fit_config(recipe_name)
    return round(0.25 * fit.epochs * -(-n_train // fit.batch_size))


@exercise(
    "04.5",
    "The course's first classroom recipe, recipes.recipe('classroom_v1'), trained on the same 55,000 images (the "
    "validation split held out) with the same one-cycle schedule, in batches of its batch_size, for its epochs. How "
    "many optimizer steps did its warm-up take, i.e. how many steps came before the learning rate first reached "
    "its peak?",
    hint="Count the run's steps T from recipes.recipe('classroom_v1').fit (a partial batch is a step), then read "
    "the schedule's formula: which fraction of T is the warm-up?",
    solution="from vgg_edu.training import recipes\n"
    "config = recipes.recipe('classroom_v1').fit\n"
    "total = config.epochs * math.ceil(55_000 / config.batch_size)   # T, the run's steps\n"
    "answer = round(total / 4)   # W = T / 4",
)
def _check_04_5(answer):
    n, expected = as_count(answer), _warm_up_steps()
    if n == expected:
        return True
    if n == _warm_up_steps(recipe_name="classroom"):  # also 30% of classroom_v1's run, OneCycleLR's default share
        return (
            f"{n} is the warm-up of the recipe trained above, and also 30% of classroom_v1's run (PyTorch's "
            "OneCycleLR default): take classroom_v1's own steps and this course's warm-up share."
        )
    if n == _warm_up_steps(60_000):
        return "that counts all 60,000 training images; the validation images are not trained on."
    if n == 4 * expected or abs(n - 4 * expected) < 20:
        return "that is the whole run; the warm-up is only part of it."
    if n < 100:
        return "that looks like a number of epochs; the question asks for optimizer steps."
    return "count the run's steps first, then take the warm-up's share of them."

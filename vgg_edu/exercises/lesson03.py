"""Exercises of notebook 03: the full VGG-16.

The page prints VGG-16's layer table at 224 px (parameters and MACs of every layer), the share of its parameters in
fc6 and the parameter count of its GAP head; the exercises ask the same questions of VGG-19 and of a 96 px input,
and the size of the class-score map of dense evaluation at 384 px, worked out by hand before the package runs it.
"""

from __future__ import annotations

from . import as_count, as_number, as_numbers, exercise, normalize

# Paper, Table 1, config E (VGG-19): 3x3 convs with these output channels; "M" is a 2x2 max-pool.
_VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _conv_params(config, in_channels: int = 3) -> int:
    """Weights and biases of a config's 3x3 convs: 9 C_in C_out + C_out each."""
    total = 0
    for v in config:
        if v != "M":
            total, in_channels = total + 9 * in_channels * v + v, v
    return total


_FC6 = 512 * 7 * 7 * 4096 + 4096
_VGG16_GAP_PARAMS = 15_227_688  # printed in section 9: VGG-16's convs and one Linear(512, 1000)
_VGG19_PARAMS = _conv_params(_VGG19) + _FC6 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000  # 143,667,240: Table 2's 144 M


@exercise(
    "03.1",
    "What fraction of VGG-19's (config E) parameters sit in its first fully connected layer, fc6? Give a number "
    "between 0 and 1.",
    hint="fc6 reads the flattened 512 x 7 x 7 map and has 4096 outputs, each with a bias: count it with section 1's "
    "formula for an FC layer. The whole network is config E's sixteen 3x3 convs (9 C_in C_out + C_out each, the "
    "channels of Table 1) and its three FC layers; check your total against section 2's table, then divide.",
    solution="with torch.device('meta'):\n    vgg19 = models.vgg19()\n"
    "fc6 = vgg19.classifier[0]   # 512 * 7 * 7 -> 4096\n"
    "answer = (fc6.weight.numel() + fc6.bias.numel()) / sum(p.numel() for p in vgg19.parameters())",
)
def _check_03_1(answer):
    x, expected = as_number(answer), _FC6 / _VGG19_PARAMS
    if abs(x - 100 * expected) < 0.5:
        return "give a fraction between 0 and 1, not a percentage."
    if abs(x - _FC6 / 138_357_544) < 1e-3:
        return "that is VGG-16's share; VGG-19 has more conv parameters."
    if abs(x - expected) < 1e-3:
        return True
    if abs(x - expected) < 1e-2:
        return "nearly: give at least three decimal places."
    return "divide fc6's weights and biases by the whole network's parameters."


@exercise(
    "03.2",
    "How many parameters (weights and biases) has VGG-19 (config E) with the global-average-pooling head "
    "(head='gap', 1000 classes)?",
    hint="The convs keep all their parameters: config E's sixteen 3x3 convs, 9 C_in C_out + C_out each (the channels "
    "of Table 1, from 3 input channels). The GAP head replaces the three FC layers by one Linear layer from the 512 "
    "channels to the classes, with biases. Add the two; section 9 compares the two heads of VGG-16.",
    solution="with torch.device('meta'):\n    gap19 = models.VGG('E', head='gap')\n"
    "answer = sum(p.numel() for p in gap19.parameters())",
)
def _check_03_2(answer):
    n = as_count(answer)
    expected = _conv_params(_VGG19) + 512 * 1000 + 1000
    if n == expected - 1000:
        return "add the head's biases."
    if n == _VGG19_PARAMS:
        return "that is VGG-19 with its three FC layers; the GAP head replaces them."
    if n == _VGG16_GAP_PARAMS:
        return "that is VGG-16's count with the GAP head (section 9); VGG-19 has three more 3x3 convs."
    return n == expected or "count the convs' parameters, then one Linear(512, 1000)."


@exercise(
    "03.3",
    "How many multiply-accumulates does VGG-16's conv3_1 (the first conv of stage 3: 128 -> 256 channels, 3x3) do "
    "for one 96 x 96 image?",
    hint="Every output value (H x W x C_out) needs C_in x 3 x 3 multiply-accumulates; stage 3 comes after two "
    "pools, each of which halves H and W.",
    solution="answer = (96 // 4) * (96 // 4) * 256 * 128 * 3 * 3   # H x W x C_out x C_in x 9",
)
def _check_03_3(answer):
    n, per_position, positions = as_count(answer), 256 * 128 * 9, (96 // 4) ** 2
    expected = positions * per_position
    if n == expected:
        return True
    if n == 2 * expected:
        return "that counts FLOPs (a multiply and an add); count multiply-accumulates."
    if n in (96**2 * per_position, (96 // 2) ** 2 * per_position):
        return "stage 3's feature map is smaller than the image: how many pools come before it?"
    if n == (96 // 8) ** 2 * per_position:
        return "too few positions: count the pools that come before conv3_1, not after it."
    if n == (224 // 4) ** 2 * per_position:
        return "that is at 224 px; the question asks for a 96 x 96 image."
    if n == (96 // 4 - 2) ** 2 * per_position:
        return "with padding 1, a 3x3 conv keeps H and W: its output is as large as its input."
    if n in (per_position, per_position + 256):
        return "that is the work (or the weights) of one output position; the conv does it at every position."
    if n == expected + positions * 256:
        return "count the multiply-accumulates only; the bias additions are left out, as in section 1."
    missing = {expected // 128: "C_in", expected // 9: "the 3 x 3 window", expected // 256: "C_out"}
    if n in missing:
        return f"each output value sums over C_in x 3 x 3 products; your count leaves out {missing[n]}."
    return (
        f"{'too large' if n > expected else 'too small'}: count conv3_1's output values at 96 px (H x W x C_out), "
        "then the multiply-accumulates that each of them needs."
    )


HEIGHT_03_4, WIDTH_03_4 = 400, 520  # an image no cell of 03 shows, of sides no multiple of 32


@exercise(
    "03.4",
    "VGG-16 evaluated densely (section 8: fc6 as a 7x7 conv, fc7 and fc8 as 1x1 convs) on a 400 x 520 image "
    "(400 rows, 520 columns): how many rows and columns has its class-score map? Work it out by hand from the "
    "layers, then run models.fully_convolutional on such an image to check. Give (rows, columns).",
    hint="Follow each side through the network: the padded 3x3 convs keep it, each of the five pools halves it "
    "(rounding down). Then fc6, now a 7x7 conv without padding, slides over pool5's map: at how many places does a "
    "7 x 7 window fit along one side? The 1x1 convs keep the size.",
    solution="""pool5 = (400 // 2**5, 520 // 2**5)      # the convs keep the sides, the five pools halve them
answer = tuple(side - 7 + 1 for side in pool5)  # fc6: a 7x7 conv without padding; fc7 and fc8 (1x1) keep it""",
)
def _check_03_4(answer):
    if not isinstance(normalize(answer), (list, tuple)):
        return "give two numbers, (rows, columns): the image is not square."
    sides = as_numbers(answer)
    if len(sides) != 2:
        return "give two numbers, (rows, columns)."
    got = tuple(as_count(s) for s in sides)
    pool5 = (HEIGHT_03_4 // 32, WIDTH_03_4 // 32)
    right = tuple(p - 6 for p in pool5)
    if got == right:
        return True
    if got == right[::-1]:
        return "rows and columns swapped: the image has 400 rows and 520 columns."
    if got == pool5:
        return "that is pool5's map; fc6, now a 7x7 conv without padding, makes it smaller."
    if got == (1, 1):
        return "that is the map of a 224 px image, whose pool5 map is just one 7 x 7 window; a larger image gives more."
    if got == tuple(-(-side // 32) - 6 for side in (HEIGHT_03_4, WIDTH_03_4)):
        return "a pool of stride 2 without padding drops a last odd row or column: each pool rounds down, not up."
    if got == tuple(r + 1 for r in right):
        return "one too many: count the places where a 7 x 7 window fits inside pool5's map, edges included."
    if got == tuple(r - 1 for r in right):
        return "one too few: a 7 x 7 window that fits exactly is one place, not none (at 224 px the map is 1 x 1)."
    if min(got) < 1:
        return "a map of class scores has at least one row for any image of 224 px or more."
    return "follow each side through the five pools, then through fc6's 7x7 conv without padding."

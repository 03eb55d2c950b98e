"""Notebook 03's exercises (VGG-16): known-wrong answers."""

from vgg_edu import exercises

SECRETS = {"03.1": ["numel("], "03.2": ["numel("]}  # a hint counts by formula, not by the package

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

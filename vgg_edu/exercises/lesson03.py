"""Exercises of notebook 03: the full VGG-16."""

from __future__ import annotations

from . import exercise


@exercise(
    "03.1",
    "What fraction of VGG-16's parameters sit in its first fully connected layer (25088 -> 4096)? "
    "Give a number between 0 and 1.",
    hint="The layer holds 25088 * 4096 weights + 4096 biases; the whole network 138,357,544 parameters.",
    solution="answer = (25088 * 4096 + 4096) / 138_357_544   # 0.743: three quarters of the network",
)
def _check_03_1(answer):
    expected = (25088 * 4096 + 4096) / 138_357_544
    if abs(answer - expected * 100) < 0.5:
        return "give a fraction between 0 and 1, not a percentage."
    return abs(answer - expected) < 0.005 or f"{answer:.3f} is not it."


@exercise(
    "03.2",
    "How many parameters has VGG-16 with the global-average-pooling head (head='gap', 1000 classes)?",
    hint="The convs keep their 14,714,688 parameters; the head is one Linear(512, 1000) with biases. "
    "Or count: sum(p.numel() for p in VGG('D', head='gap').parameters()).",
    solution="answer = 14_714_688 + 512 * 1000 + 1000   # 15,227,688: 9 times fewer than 138 M",
)
def _check_03_2(answer):
    return answer == 14_714_688 + 512 * 1000 + 1000 or f"{answer:,} is not it."


@exercise(
    "03.3",
    "How many multiply-accumulates does VGG-16's second conv (conv1_2: 64 -> 64 channels, 3x3, at "
    "224 x 224) do for one image?",
    hint="Every output value (H x W x C_out) needs C_in x 3 x 3 multiply-accumulates.",
    solution="answer = 224 * 224 * 64 * 64 * 3 * 3   # 1,849,688,064: 1.85 GMACs, 12% of the network's 15.5 G",
)
def _check_03_3(answer):
    expected = 224 * 224 * 64 * 64 * 9
    if answer == 2 * expected:
        return "that counts FLOPs (a multiply and an add); count multiply-accumulates."
    return answer == expected or f"{answer:,} is not it."

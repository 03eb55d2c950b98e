"""Notebook 03's exercises (VGG-16): known-wrong answers."""

WRONG = {
    "03.1": [(25088 * 4096 + 4096) / 138_357_544, 71.53, 0.86],  # VGG-16's share; a percentage; all FC layers
    "03.2": [15_227_688, 143_667_240, 20_536_384],  # VGG-16's; with the FC head; without the head's biases
    "03.3": [2 * 169_869_312, 924_844_032, 96 * 96 * 128 * 256 * 9],  # FLOPs; at 224 px; pools forgotten
}

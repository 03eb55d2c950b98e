"""Exercises of notebook 05: feature maps."""

from __future__ import annotations

from . import exercise


@exercise(
    "05.1",
    "Write make_hook(store): it returns a forward hook (module, inputs, output) that saves the layer's output in "
    "store['out'] so that a following ReLU(inplace=True) cannot change what was saved.",
    hint="The output tensor is overwritten in place by the next layer; save a copy of it: output.detach().clone().",
    solution="""def make_hook(store):
    def hook(module, inputs, output):
        store["out"] = output.detach().clone()
    return hook""",
)
def _check_05_1(make_hook):
    import torch
    from torch import nn

    torch.manual_seed(0)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    net, x, store = nn.Sequential(conv, nn.ReLU(inplace=True)), torch.randn(2, 1, 8, 8), {}
    with torch.no_grad():
        expected = conv(x)
        handle = conv.register_forward_hook(make_hook(store))
        try:
            net(x)
        finally:
            handle.remove()
    if "out" not in store:
        return "the hook did not store anything in store['out']"
    if torch.allclose(store["out"], expected.relu()) and not torch.allclose(store["out"], expected):
        return "store['out'] holds the post-ReLU values: the in-place ReLU overwrote the tensor you kept."
    return torch.allclose(store["out"], expected) or "store['out'] is not the conv's output"


@exercise(
    "05.2",
    "VGG-11 on 32 x 32 inputs: which input pixels does unit (row 1, col 2) of pool3 see? Answer "
    "(top, left, bottom, right) clipped to the image (bottom and right exclusive), from the rf, jump and start "
    "columns of analysis.layer_table (pool3 is 'features.10').",
    hint="The unit's receptive field is centred at start + i * jump and has side rf; top = start + row * jump - rf/2.",
    solution="""from vgg_edu import analysis, models
t = analysis.layer_table(models.VGG("A", in_channels=1, num_classes=10, width_divisor=8), (1, 32, 32))
rf, jump, start = t.set_index("layer").loc["features.10", ["rf", "jump", "start"]]   # pool3: 30, 8, 4.0
top, left = int(start + 1 * jump - rf / 2), int(start + 2 * jump - rf / 2)             # -3, 5
answer = (max(top, 0), max(left, 0), min(top + int(rf), 32), min(left + int(rf), 32))  # (0, 5, 27, 32)""",
)
def _check_05_2(answer):
    import torch

    from .. import models, probe

    with torch.device("meta"):
        model = models.VGG("A", in_channels=1, num_classes=10, width_divisor=8)
    expected = probe.receptive_box(model, "pool3", 1, 2, (1, 32, 32))
    if tuple(int(v) for v in answer) == expected:
        return True
    return f"expected 4 numbers with sides {expected[2] - expected[0]} x {expected[3] - expected[1]} after clipping"


@exercise(
    "05.3",
    "Grad-CAM by hand: write cam(A, G) that takes one image's activations A and the gradients G of the class "
    "score with respect to them, both (K, h, w), and returns the (h, w) Grad-CAM map.",
    hint="alpha_k is the mean of G over the h x w positions; the map is ReLU(sum_k alpha_k A_k).",
    solution="""def cam(A, G):
    alpha = G.mean(dim=(1, 2))                              # one weight per channel
    return torch.relu((alpha[:, None, None] * A).sum(0))""",
)
def _check_05_3(cam):
    import torch

    g = torch.Generator().manual_seed(5)
    A, G = torch.randn(6, 4, 5, generator=g), torch.randn(6, 4, 5, generator=g)
    expected = torch.relu((G.mean((1, 2))[:, None, None] * A).sum(0))
    got = torch.as_tensor(cam(A, G))
    if got.shape != expected.shape:
        return f"the map should have shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if (got < 0).any():
        return "the map has negative values: Grad-CAM keeps only the positive evidence (ReLU)"
    return torch.allclose(got.float(), expected, atol=1e-5) or "the values differ from ReLU(sum_k alpha_k A_k)"


@exercise(
    "05.4",
    "Occlusion with an 8 x 8 window and stride 4 on a 32 x 32 image: how many occluded copies of each image does "
    "the network have to classify?",
    hint="Along one side the window starts at 0, 4, ... as long as it fits: (32 - 8) / 4 + 1 positions.",
    solution="answer = ((32 - 8) // 4 + 1) ** 2   # 7 x 7 = 49",
)
def _check_05_4(answer):
    if answer == 64:
        return "that counts windows that would stick out of the image; they must fit inside it"
    return answer == 49 or "count the window positions along one side, then square"

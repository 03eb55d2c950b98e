"""Exercises of notebook 02: VGG blocks (find the bug)."""

from __future__ import annotations

from . import exercise

# "Find the bug": each snippet below is broken the way the blog code this course grew from was. The notebook shows
# it; the student fixes it and passes the fixed object to check(). Names used: torch, nn (from torch import nn).

BUGS = {
    "02.1": """
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(vgg_block):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)

answer = vgg_block""",
    "02.2": """
block1 = nn.Sequtenial(
    nn.Conv2d(3, 64, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block1""",
    "02.3": """
# the fifth block of a hand-written VGG-16 (its input: the 512 x 14 x 14 output of block 4)
block5 = nn.Sequential(
    nn.Conv2d(256, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block5""",
    "02.4": """
class TinyVGG(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, num_classes)

    def forward(self, x):            # x: N x 3 x 32 x 32
        x = self.features(x)
        x = torch.classifier(x, 1)
        return self.classifier(x)

answer = TinyVGG""",
    "02.5": """
# VGG-13 (config B) as d2l's conv_arch: (number of convs, output channels) per stage
conv_arch_vgg13 = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]

answer = conv_arch_vgg13""",
    "02.6": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):            # x: N x 1 x 28 x 28
        x = torch.flatten(self.features(x), 1)
        return torch.softmax(self.classifier(x), dim=1)

loss_fn = nn.CrossEntropyLoss()     # trained with loss_fn(Net()(x), y)
answer = Net""",
}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _shape_after(module, *shape):
    import torch

    with torch.no_grad():
        return tuple(module.eval()(torch.zeros(*shape)).shape)


@exercise(
    "02.1",
    "Find the bug in this vgg_block: " + BUGS["02.1"],
    hint="What should the loop count? range() needs a number: the block's argument that says how many convs.",
    solution=BUGS["02.1"].replace("range(vgg_block)", "range(num_convs)"),
)
def _check_02_1(answer):
    from torch import nn

    block = answer(3, 64, 128)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 3:
        return f"vgg_block(3, 64, 128) has {len(convs)} convs, not 3."
    if _count(block) != 64 * 128 * 9 + 128 + 2 * (128 * 128 * 9 + 128):
        return f"vgg_block(3, 64, 128) has {_count(block):,} parameters; check the channels of each conv."
    return _shape_after(block, 1, 64, 16, 16) == (1, 128, 8, 8) or "the block should end with a 2x2 max-pool."


@exercise(
    "02.2",
    "Find the bug: " + BUGS["02.2"],
    hint="Read the error message: which attribute of nn does not exist? Check the spelling.",
    solution=BUGS["02.2"].replace("Sequtenial", "Sequential"),
)
def _check_02_2(answer):
    from torch import nn

    if not isinstance(answer, nn.Sequential):
        return "answer should be the nn.Sequential block itself."
    if _count(answer) != 3 * 64 * 9 + 64 + 64 * 64 * 9 + 64:
        return "keep the two 3x3 convs (3 -> 64 -> 64 channels) as they are."
    return _shape_after(answer, 1, 3, 32, 32) == (1, 64, 16, 16)


@exercise(
    "02.3",
    "Find the bug in the fifth block of this hand-written VGG-16: " + BUGS["02.3"],
    hint="How many channels does block 4 hand to block 5? Run it on torch.zeros(1, 512, 14, 14).",
    solution=BUGS["02.3"].replace("nn.Conv2d(256, 512", "nn.Conv2d(512, 512"),
)
def _check_02_3(answer):
    if _count(answer) != 3 * (512 * 512 * 9 + 512):
        return f"the block has {_count(answer):,} parameters; VGG-16's fifth block has {3 * (512 * 512 * 9 + 512):,}."
    return _shape_after(answer, 1, 512, 14, 14) == (1, 512, 7, 7) or "a 512 x 14 x 14 input should give 512 x 7 x 7."


@exercise(
    "02.4",
    "Find the bug in this forward: " + BUGS["02.4"],
    hint="The feature map (N, 8, 16, 16) must become a matrix (N, 2048) before the linear layer. Which torch "
    "function flattens all dimensions from 1 on?",
    solution=BUGS["02.4"].replace("torch.classifier(x, 1)", "torch.flatten(x, 1)"),
)
def _check_02_4(answer):
    model = answer() if isinstance(answer, type) else answer
    return _shape_after(model, 2, 3, 32, 32) == (2, 10) or "the output should be N x 10."


@exercise(
    "02.5",
    "Find the bug in this VGG-13 architecture: " + BUGS["02.5"],
    hint="Paper, Table 1: config B (13 weight layers) has two 3x3 convs in every stage. The snippet's numbers "
    "are config A's (VGG-11).",
    solution="conv_arch_vgg13 = [(2, 64), (2, 128), (2, 256), (2, 512), (2, 512)]\n\nanswer = conv_arch_vgg13",
)
def _check_02_5(answer):
    import torch

    from ..models import VGG

    with torch.device("meta"):
        if isinstance(answer, torch.nn.Module):
            model = answer
        else:
            model = VGG([c for n, ch in answer for c in [ch] * n + ["M"]])
        params = _count(model)
    if params == 132_863_336:
        return "that is VGG-11's parameter count (133 M in Table 2, config A)."
    return params == 133_047_848 or f"{params:,} parameters; torchvision's vgg13 has 133,047,848."


@exercise(
    "02.6",
    "Find the bug: this network is trained with CrossEntropyLoss. " + BUGS["02.6"],
    hint="nn.CrossEntropyLoss applies log-softmax itself, so it expects raw scores (logits). What does a "
    "softmax before it do to the loss and its gradients?",
    solution=BUGS["02.6"].replace("return torch.softmax(self.classifier(x), dim=1)", "return self.classifier(x)"),
)
def _check_02_6(answer):
    import torch

    model = answer() if isinstance(answer, type) else answer
    if any(isinstance(m, (torch.nn.Softmax, torch.nn.LogSoftmax)) for m in model.modules()):
        return "there is still a softmax layer in the model."
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.eval()(torch.randn(4, 1, 28, 28))
    if tuple(out.shape) != (4, 10):
        return f"the output should be N x 10, got {tuple(out.shape)}."
    if (out >= 0).all() and torch.allclose(out.sum(1), torch.ones(4), atol=1e-4):
        return "the outputs are still probabilities (each row sums to 1): return the logits."
    if (out <= 0).all() and torch.allclose(out.exp().sum(1), torch.ones(4), atol=1e-4):
        return "the outputs are log-probabilities: CrossEntropyLoss takes the logits."
    return True

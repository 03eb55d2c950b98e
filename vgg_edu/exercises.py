"""Exercises that check themselves.

In a notebook::

    from vgg_edu import exercises as ex
    answer = ...            # the student's work
    ex.check("01.1", answer)   # prints "Correct" or "Not yet" with a hint; never raises
    ex.hint("01.1")
    ex.solution("01.1")        # for teachers, or after trying

An exercise is an id, a question, a check (a function of the answer that returns True, or returns/raises with a
message), a hint and a solution. The registry below holds every notebook's exercises, one section per notebook.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Exercise:
    id: str
    question: str
    check: Callable[[Any], "bool | str | None"]
    hint: str
    solution: str


EXERCISES: dict[str, Exercise] = {}


def exercise(id: str, question: str, hint: str, solution: str):
    """Decorator that registers a check function as exercise ``id``."""
    def register(fn):
        EXERCISES[id] = Exercise(id, question, fn, hint, solution)
        return fn
    return register


def _get(id: str) -> Exercise:
    if id not in EXERCISES:
        raise KeyError(f"no exercise {id!r}; the exercises are {sorted(EXERCISES)}")
    return EXERCISES[id]


def check(id: str, answer: Any = ...) -> bool:
    """Check ``answer`` for exercise ``id``; print a verdict and return True or False. Never raises.

    A check returns True for a correct answer; False, None or a string (the reason) for a wrong one; an exception
    inside it counts as wrong and its message is shown, so a broken answer cannot stop the notebook.
    """
    ex = _get(id)
    if answer is ... or answer is None:
        print(f"[{id}] Not answered yet. {ex.question}\n  Hint: {ex.hint}")
        return False
    try:
        verdict = ex.check(answer)
    except Exception as err:  # the student's code may fail in any way; report it, do not crash
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        print(f"[{id}] Not yet: your answer raised {last}\n  Hint: {ex.hint}")
        return False
    if verdict is True:
        print(f"[{id}] Correct!")
        return True
    reason = f" {verdict}" if isinstance(verdict, str) else ""
    print(f"[{id}] Not yet.{reason}\n  Hint: {ex.hint}")
    return False


def hint(id: str) -> None:
    print(_get(id).hint)


def solution(id: str) -> None:
    """Print the solution (teachers: ``for i in exercises.EXERCISES: exercises.solution(i)`` prints them all)."""
    print(_get(id).solution)


def list_exercises(prefix: str = "") -> list[str]:
    return sorted(i for i in EXERCISES if i.startswith(prefix))


# --- Notebook 01: receptive fields -------------------------------------------------------------------------------

@exercise("01.1", "How many input pixels wide is the receptive field of three stacked 3x3 convolutions (stride 1)?",
          hint="Each 3x3 conv adds k - 1 = 2 pixels to the field: start from 1.",
          solution="answer = 7   # 1 + 3 * (3 - 1); or analysis.receptive_field([(3, 1)] * 3)[-1][0]")
def _check_01_1(answer):
    return answer == 7 or f"{answer} is not it: count 1 pixel, then add (kernel - 1) per conv."


@exercise("01.2", "How many weights (no biases) do two stacked 3x3 convs with C = 256 channels in and out hold? "
          "Compare with the one 5x5 conv that sees as much.",
          hint="One k x k conv from C to C channels holds k * k * C * C weights.",
          solution="answer = 2 * 3 * 3 * 256 * 256   # 1,179,648; a 5x5 conv holds 25 * 256**2 = 1,638,400")
def _check_01_2(answer):
    if answer == 25 * 256**2:
        return "that is the single 5x5 conv; count the two 3x3 convs."
    return answer == 2 * 9 * 256**2


@exercise("01.3", "Write a stack, as a list of (kernel, stride) pairs, of 3x3 convs (stride 1) and 2x2 max-pools "
          "(stride 2) whose receptive field is exactly 16 pixels, ending with a pool.",
          hint="analysis.receptive_field(your_list)[-1][0] gives the field. VGG's first two stages end at 16.",
          solution="answer = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)]   # VGG-16's pool2: 16 px")
def _check_01_3(answer):
    from .analysis import receptive_field

    answer = [tuple(p) for p in answer]
    if not answer or any(p not in ((3, 1), (2, 2)) for p in answer):
        return "use only (3, 1) convs and (2, 2) pools."
    if answer[-1] != (2, 2):
        return "end the stack with a (2, 2) pool."
    rf = receptive_field(answer)[-1][0]
    return rf == 16 or f"your stack sees {rf} pixels, not 16."


@exercise("01.4", "What is the receptive field of VGG-11 (config A) at its third max-pool (pool3)?",
          hint="analysis.stage_table(analysis.layer_table(models.vgg11())) lists every pool; or use the recurrence "
               "on A's layers: conv, pool, conv, pool, conv, conv, pool.",
          solution="answer = 30   # fields 3, 4 | 8, 10 | 18, 26, 30: "
                   "analysis.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])[-1][0]")
def _check_01_4(answer):
    from .analysis import receptive_field

    expected = receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])[-1][0]
    return answer == expected or f"{answer} is not it."

# --- Notebook 02: VGG blocks -------------------------------------------------------------------------------------
# "Find the bug": each snippet below is broken the way the blog code this course grew from was. The notebook shows
# it; the student fixes it and passes the fixed object to check(). Names used: torch, nn (from torch import nn).

BUGS = {
    "02.1": '''
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(vgg_block):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)

answer = vgg_block''',
    "02.2": '''
block1 = nn.Sequtenial(
    nn.Conv2d(3, 64, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block1''',
    "02.3": '''
# the fifth block of a hand-written VGG-16 (its input: the 512 x 14 x 14 output of block 4)
block5 = nn.Sequential(
    nn.Conv2d(256, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block5''',
    "02.4": '''
class TinyVGG(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, num_classes)

    def forward(self, x):            # x: N x 3 x 32 x 32
        x = self.features(x)
        x = torch.classifier(x, 1)
        return self.classifier(x)

answer = TinyVGG''',
    "02.5": '''
# VGG-13 (config B) as d2l's conv_arch: (number of convs, output channels) per stage
conv_arch_vgg13 = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]

answer = conv_arch_vgg13''',
    "02.6": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):            # x: N x 1 x 28 x 28
        x = torch.flatten(self.features(x), 1)
        return torch.softmax(self.classifier(x), dim=1)

loss_fn = nn.CrossEntropyLoss()     # trained with loss_fn(Net()(x), y)
answer = Net''',
}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _shape_after(module, *shape):
    import torch

    with torch.no_grad():
        return tuple(module.eval()(torch.zeros(*shape)).shape)


@exercise("02.1", "Find the bug in this vgg_block: " + BUGS["02.1"],
          hint="What should the loop count? range() needs a number: the block's argument that says how many convs.",
          solution=BUGS["02.1"].replace("range(vgg_block)", "range(num_convs)"))
def _check_02_1(answer):
    from torch import nn

    block = answer(3, 64, 128)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 3:
        return f"vgg_block(3, 64, 128) has {len(convs)} convs, not 3."
    if _count(block) != 64 * 128 * 9 + 128 + 2 * (128 * 128 * 9 + 128):
        return f"vgg_block(3, 64, 128) has {_count(block):,} parameters; check the channels of each conv."
    return _shape_after(block, 1, 64, 16, 16) == (1, 128, 8, 8) or "the block should end with a 2x2 max-pool."


@exercise("02.2", "Find the bug: " + BUGS["02.2"],
          hint="Read the error message: which attribute of nn does not exist? Check the spelling.",
          solution=BUGS["02.2"].replace("Sequtenial", "Sequential"))
def _check_02_2(answer):
    from torch import nn

    if not isinstance(answer, nn.Sequential):
        return "answer should be the nn.Sequential block itself."
    if _count(answer) != 3 * 64 * 9 + 64 + 64 * 64 * 9 + 64:
        return "keep the two 3x3 convs (3 -> 64 -> 64 channels) as they are."
    return _shape_after(answer, 1, 3, 32, 32) == (1, 64, 16, 16)


@exercise("02.3", "Find the bug in the fifth block of this hand-written VGG-16: " + BUGS["02.3"],
          hint="How many channels does block 4 hand to block 5? Run it on torch.zeros(1, 512, 14, 14).",
          solution=BUGS["02.3"].replace("nn.Conv2d(256, 512", "nn.Conv2d(512, 512"))
def _check_02_3(answer):
    if _count(answer) != 3 * (512 * 512 * 9 + 512):
        return f"the block has {_count(answer):,} parameters; VGG-16's fifth block has {3 * (512 * 512 * 9 + 512):,}."
    return _shape_after(answer, 1, 512, 14, 14) == (1, 512, 7, 7) or "a 512 x 14 x 14 input should give 512 x 7 x 7."


@exercise("02.4", "Find the bug in this forward: " + BUGS["02.4"],
          hint="The feature map (N, 8, 16, 16) must become a matrix (N, 2048) before the linear layer. Which torch "
               "function flattens all dimensions from 1 on?",
          solution=BUGS["02.4"].replace("torch.classifier(x, 1)", "torch.flatten(x, 1)"))
def _check_02_4(answer):
    model = answer() if isinstance(answer, type) else answer
    return _shape_after(model, 2, 3, 32, 32) == (2, 10) or "the output should be N x 10."


@exercise("02.5", "Find the bug in this VGG-13 architecture: " + BUGS["02.5"],
          hint="Paper, Table 1: config B (13 weight layers) has two 3x3 convs in every stage. The snippet's numbers "
               "are config A's (VGG-11).",
          solution="conv_arch_vgg13 = [(2, 64), (2, 128), (2, 256), (2, 512), (2, 512)]\n\nanswer = conv_arch_vgg13")
def _check_02_5(answer):
    import torch

    from .models import VGG

    with torch.device("meta"):
        if isinstance(answer, torch.nn.Module):
            model = answer
        else:
            model = VGG([c for n, ch in answer for c in [ch] * n + ["M"]])
        params = _count(model)
    if params == 132_863_336:
        return "that is VGG-11's parameter count (133 M in Table 2, config A)."
    return params == 133_047_848 or f"{params:,} parameters; torchvision's vgg13 has 133,047,848."


@exercise("02.6", "Find the bug: this network is trained with CrossEntropyLoss. " + BUGS["02.6"],
          hint="nn.CrossEntropyLoss applies log-softmax itself, so it expects raw scores (logits). What does a "
               "softmax before it do to the loss and its gradients?",
          solution=BUGS["02.6"].replace("return torch.softmax(self.classifier(x), dim=1)", "return self.classifier(x)"))
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

# --- Notebook 03: the full VGG-16 --------------------------------------------------------------------------------

@exercise("03.1", "What fraction of VGG-16's parameters sit in its first fully connected layer (25088 -> 4096)? "
          "Give a number between 0 and 1.",
          hint="The layer holds 25088 * 4096 weights + 4096 biases; the whole network 138,357,544 parameters.",
          solution="answer = (25088 * 4096 + 4096) / 138_357_544   # 0.743: three quarters of the network")
def _check_03_1(answer):
    expected = (25088 * 4096 + 4096) / 138_357_544
    if abs(answer - expected * 100) < 0.5:
        return "give a fraction between 0 and 1, not a percentage."
    return abs(answer - expected) < 0.005 or f"{answer:.3f} is not it."


@exercise("03.2", "How many parameters has VGG-16 with the global-average-pooling head (head='gap', 1000 classes)?",
          hint="The convs keep their 14,714,688 parameters; the head is one Linear(512, 1000) with biases. "
               "Or count: sum(p.numel() for p in VGG('D', head='gap').parameters()).",
          solution="answer = 14_714_688 + 512 * 1000 + 1000   # 15,227,688: 9 times fewer than 138 M")
def _check_03_2(answer):
    return answer == 14_714_688 + 512 * 1000 + 1000 or f"{answer:,} is not it."


@exercise("03.3", "How many multiply-accumulates does VGG-16's second conv (conv1_2: 64 -> 64 channels, 3x3, at "
          "224 x 224) do for one image?",
          hint="Every output value (H x W x C_out) needs C_in x 3 x 3 multiply-accumulates.",
          solution="answer = 224 * 224 * 64 * 64 * 3 * 3   # 1,849,688,064: 1.85 GMACs, 12% of the network's 15.5 G")
def _check_03_3(answer):
    expected = 224 * 224 * 64 * 64 * 9
    if answer == 2 * expected:
        return "that counts FLOPs (a multiply and an add); count multiply-accumulates."
    return answer == expected or f"{answer:,} is not it."

# --- Notebook 04: training on Fashion-MNIST ----------------------------------------------------------------------

@exercise("04.1", "How many parameters (weights and biases) does d2l's VGG-11 with channels divided by 4 "
          "(1 input channel, 10 classes, FC layers of 4096) hold?",
          hint="Build models.VGG('A', in_channels=1, num_classes=10, width_divisor=4) and sum p.numel() over its "
               "parameters. Which layer holds most of them?",
          solution="answer = sum(p.numel() for p in models.VGG('A', in_channels=1, num_classes=10, "
                   "width_divisor=4).parameters())   # 43,093,322: 25.7M in the first FC layer, 16.8M in the second")
def _check_04_1(answer):
    import torch

    from .models import VGG

    with torch.device("meta"):
        expected = sum(p.numel() for p in VGG("A", in_channels=1, num_classes=10, width_divisor=4).parameters())
    return int(answer) == expected or f"{int(answer):,} is not it (FC layers hold most: 6272 x 4096 + ...)."


@exercise("04.2", "By what factor does upsampling Fashion-MNIST to 224 x 224 instead of 32 x 32 multiply the "
          "multiply-accumulates of VGG-11/4's convolutional layers?",
          hint="A conv's MACs are H_out * W_out * C_in * C_out * 9: every stage's H and W scale with the input side.",
          solution="answer = (224 / 32) ** 2   # 49: each conv's output has 7 x 7 = 49 times more positions")
def _check_04_2(answer):
    return abs(float(answer) - 49) < 0.5 or f"{answer} is not it: MACs grow with the area, (224 / 32)^2."


@exercise("04.3", "Write per_class_accuracy(confusion): given a confusion matrix C (C[i, j] = images of true class i "
          "predicted as j), return a tensor with each class's accuracy (its recall). Pass the function.",
          hint="The diagonal counts the right answers; each row sums to that class's number of images.",
          solution="def per_class_accuracy(confusion):\n"
                   "    return confusion.diag().float() / confusion.sum(dim=1).float()\n"
                   "answer = per_class_accuracy")
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


@exercise("04.4", "The classroom recipe uses batch 128 on 60,000 training images. How many optimizer steps does "
          "one epoch take (the last batch may be smaller)?",
          hint="Divide and round up: a partial batch is still a step.",
          solution="answer = math.ceil(60_000 / 128)   # 469 (468 full batches and one of 96)")
def _check_04_4(answer):
    if answer == 60_000 // 128:
        return "that drops the last, smaller batch; round up."
    return answer == -(-60_000 // 128)


# --- Notebook 05: feature maps -----------------------------------------------------------------------------------

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

    from . import inspect, models

    with torch.device("meta"):
        model = models.VGG("A", in_channels=1, num_classes=10, width_divisor=8)
    expected = inspect.receptive_box(model, "pool3", 1, 2, (1, 32, 32))
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

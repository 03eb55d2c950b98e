"""Exercises of notebook 02: VGG blocks (write one, then find the bugs).

Exercise 02.1 asks the student to write ``vgg_block`` (the cell starts from ``STUB``) before the lesson shows the
package's. Each snippet in ``BUGS`` (02.2 to 02.7) is broken the way the blog code this course grew from was. The
notebook puts it, as it is, in the code cell that checks it: the student fixes it in place and runs the cell. Every
snippet runs without an error as written (so the notebook runs top to bottom in CI); the bug shows when the check
builds and runs the answer. Names the snippets use: torch, nn (from torch import nn), models (vgg_edu.models).

The checks test behaviour against an independent construction: the student's own conv weights run through
``torch.nn.functional`` (conv2d with padding 1, relu, max_pool2d) must give the block's output; a model's forward must
give what its own layers give when applied by hand.

Exercise 02.8 is a number worked out by hand: BatchNorm's output in evaluation mode after one training step, which
the check computes from the formulas of section 2 (``_bn_eval_output``) and its test from ``nn.BatchNorm1d`` itself."""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from .. import models
from . import AnswerError, as_number, exercise, normalize

BUGS = {
    "02.2": """\
# the convolutional part of a VGG from d2l's conv_arch: one block per (number of convs, output channels) pair
def vgg_features(conv_arch, in_channels):
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(models.vgg_block(num_convs, in_channels, out_channels))
    return nn.Sequential(*blocks)

answer = vgg_features""",
    "02.3": """\
# the first block of VGG-16: two 3x3 convs with 64 channels, then a 2x2 max-pool
block1 = nn.Sequential(
    nn.Conv2d(3, 64, kernel_size=3, padding=1),
    nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block1""",
    "02.4": """\
# the fifth block of a hand-written VGG-16 (its input: the 512 x 14 x 14 output of block 4)
block5 = nn.Sequential(
    nn.Conv2d(256, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(512, 512, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=2, stride=2))

answer = block5""",
    "02.5": """\
class TinyVGG(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, num_classes)

    def forward(self, x):            # x: N x 3 x 32 x 32
        x = self.features(x)
        x = torch.flatten(x)
        return self.classifier(x)

answer = TinyVGG""",
    "02.6": """\
# VGG-13 (config B) as d2l's conv_arch: (number of convs, output channels) per stage
conv_arch_vgg13 = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]

answer = conv_arch_vgg13""",
    "02.7": """\
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


def _as_module(answer, what: str) -> nn.Module:
    model = answer() if isinstance(answer, type) else answer
    if not isinstance(model, nn.Module):
        raise AnswerError(f"answer should be the {what} (an nn.Module), not a {type(model).__name__}.")
    return model.eval()


def _vgg_block_by_hand(convs, x: torch.Tensor) -> torch.Tensor:
    """d2l's block applied with torch.nn.functional to the given convs' own weights: conv + ReLU each, then a pool."""
    for conv in convs:
        x = F.relu(F.conv2d(x, conv.weight, conv.bias, stride=1, padding=1))
    return F.max_pool2d(x, kernel_size=2, stride=2)


def _materialise(module: nn.Module, in_channels: int, size: int, call: str) -> str | None:
    """Lazy layers (``nn.LazyConv2d``, d2l's blocks) learn their input channels from their first input, and report 0
    until then: run one on a dummy input so that their attributes can be read. None, or the error it raised."""
    if any(isinstance(m, LazyModuleMixin) for m in module.modules()):
        try:
            with torch.no_grad():
                module(torch.zeros(1, in_channels, size, size))
        except RuntimeError as err:
            return f"{call} fails on an input of {in_channels} channels: {str(err).splitlines()[0]}"
    return None


def _behaves_like_vgg_block(block, num_convs: int, in_channels: int, out_channels: int, size: int, call="the block"):
    """True, or what differs between ``block`` and a VGG block of ``num_convs`` 3x3 convs (with biases) + ReLUs and a
    2x2 pool. ``call`` names the block in the messages (for a student's function: the call that built it)."""
    block = _as_module(block, "block")
    failed = _materialise(block, in_channels, size, call)
    if failed:
        return failed
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if any(isinstance(m, nn.BatchNorm2d) for m in block.modules()):
        return f"{call} has a BatchNorm layer; VGG's block has none (section 2 adds it): only convs, ReLUs and a pool."
    if len(convs) != num_convs:
        return f"{call} has {len(convs)} convs, not {num_convs}."
    if any(c.kernel_size != (3, 3) or c.padding not in ((1, 1), "same") or c.stride != (1, 1) for c in convs):
        return "every conv should be 3x3 with stride 1 and padding 1, so that H and W are kept."
    if any(c.bias is None for c in convs):
        return f"in {call} a conv has no bias; a VGG block's convs have one each (nn.Conv2d's default)."
    if convs[0].in_channels != in_channels:
        return f"in {call} the first conv takes {convs[0].in_channels} channels, not the ones the block receives."
    if any(c.out_channels != out_channels for c in convs) or any(c.in_channels != out_channels for c in convs[1:]):
        return f"in {call} the convs' channels do not chain: each conv takes what the one before it gives."
    torch.manual_seed(0)
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        got, expected = block(x.clone()), _vgg_block_by_hand(convs, x)
    if got.shape != expected.shape:
        return (
            f"an input of {size} x {size} comes out {tuple(got.shape[2:])}: the block should end with a 2x2 max-pool."
        )
    if torch.allclose(got, expected, atol=1e-5):
        return True
    with torch.no_grad():  # on a large input the convs' weights outweigh their biases, so a block without ReLUs
        loud = block(1000 * x)  # gives negative outputs whatever weights it drew (on x alone, 3 draws in 2,000 did not)
    if (got < 0).any() or (loud < 0).any():
        return "some outputs are negative, which a VGG block's never are."
    return (
        "the output differs from a VGG block's, computed by hand with your convs' weights: compare your layers "
        "with the block of section 1."
    )


def _is_the_package_block(fn) -> bool:
    """The package's own block builders (models.vgg_block, models.make_layers, d2l_reference.vgg_block), passed as
    they are or called from a function of the student's (found through the names its code looks up)."""
    from .. import d2l_reference, models

    seen = getattr(fn, "seen_apart", None)  # the grader's stand-in: read in the sandbox (vgg_edu.teaching.observe)
    if isinstance(seen, dict):
        return bool(seen.get("uses_package_block"))
    builders = (models.vgg_block, models.make_layers, d2l_reference.vgg_block)
    if fn in builders:
        return True
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    found = [getattr(fn, "__globals__", {}).get(name) for name in names]
    modules = (models, d2l_reference)
    return any(f in builders for f in found) or (
        any(f in modules for f in found) and bool({"vgg_block", "make_layers"} & set(names))
    )


SOLUTION_02_1 = """\
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)

answer = vgg_block"""

STUB = """\
def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    # your code: the layers of one VGG block, in order
    return nn.Sequential(*layers)

answer = vgg_block"""


AS_GIVEN = "this is the snippet as given: find what is wrong in it and change that line in the cell above."


def _as_given(answer, exercise_id: str) -> bool:
    """True when ``answer`` is the buggy snippet of ``BUGS`` run unchanged, so that the check says so instead of
    naming the bug: a module of PyTorch's own classes is compared by its layers (``repr``), a value (a list) by
    equality, anything written in the notebook (a function, a class, an instance of one) by its source, whitespace
    aside. False where neither can be read."""
    plain_module = isinstance(answer, nn.Module) and type(answer).__module__.startswith("torch.")
    if plain_module or not (callable(answer) or isinstance(answer, nn.Module)):
        given = {"nn": nn, "torch": torch, "F": F, "models": models}
        exec(BUGS[exercise_id], given)  # the snippet built afresh: layers compared (not weights), or values
        return repr(answer) == repr(given["answer"]) if plain_module else answer == normalize(given["answer"])
    source = _source_of(answer)
    return bool(source) and " ".join(source.split()) in " ".join(BUGS[exercise_id].split())


def _source_of(answer) -> str | None:
    """The source of a function or class, or of an object's class; for the grader's stand-in of an answer whose code
    ran in a sandbox (``vgg_edu.teaching.observe``), the source its notebook recorded. None where none is known."""
    seen = getattr(answer, "seen_apart", None)
    if isinstance(seen, dict):
        return seen.get("source") or None
    try:
        return inspect.getsource(answer if callable(answer) else type(answer))
    except (TypeError, OSError):
        return None


@exercise(
    "02.1",
    "Write vgg_block(num_convs, in_channels, out_channels): num_convs 3x3 convolutions with padding 1, each followed "
    "by a ReLU (the first takes in_channels, every conv gives out_channels), then a 2x2 max-pool with stride 2, "
    "all in one nn.Sequential.",
    takes_code=True,
    hint="Collect the layers in a Python list and unpack it: nn.Sequential(*layers). nn.Conv2d, nn.ReLU and "
    "nn.MaxPool2d take kernel_size, padding and stride; a conv takes as many channels as the layer before it gives.",
    solution=SOLUTION_02_1,
)
def _check_02_1(answer):
    return _check_written_block(answer, "write the layers yourself")


def _check_written_block(answer, instead: str):
    if not callable(answer) or isinstance(answer, nn.Module):
        return "answer should be your vgg_block function itself (answer = vgg_block, no brackets)."
    if _is_the_package_block(answer):
        return f"that builds the block with the package's code; {instead}."
    for num_convs, in_channels, out_channels in [(3, 4, 6), (1, 3, 5), (2, 6, 6)]:
        block = answer(num_convs, in_channels, out_channels)
        call = f"vgg_block({num_convs}, {in_channels}, {out_channels})"
        verdict = _behaves_like_vgg_block(block, num_convs, in_channels, out_channels, size=8, call=call)
        if verdict is not True:
            return verdict
    return True


@exercise(
    "02.2",
    "vgg_features(conv_arch, in_channels) should chain one VGG block per (number of convs, output channels) pair "
    "of conv_arch, the first taking in_channels. It runs on a one-stage conv_arch, but fails on VGG-11's. Find the "
    "bug and fix it.",
    takes_code=True,
    hint="Build it with conv_arch = ((1, 64), (1, 128)) and in_channels = 1, run it on torch.zeros(1, 1, 32, 32) and "
    "read the error: how many channels does the second block receive, and how many does it expect? d2l's version of "
    "section 4 never has to ask, because lazy layers read their input's channels.",
    solution=BUGS["02.2"].replace("out_channels))\n", "out_channels))\n        in_channels = out_channels\n"),
)
def _check_02_2(answer):
    if _as_given(answer, "02.2"):
        return AS_GIVEN
    if not callable(answer) or isinstance(answer, nn.Module):
        return "answer should be your vgg_features function itself (answer = vgg_features, no brackets)."
    for conv_arch, in_channels, size in [(((1, 4), (2, 6)), 3, 8), (((2, 5), (1, 5), (1, 7)), 2, 16)]:
        verdict = _behaves_like_vgg_stages(answer(conv_arch, in_channels), conv_arch, in_channels, size)
        if verdict is not True:
            return verdict
    return True


def _behaves_like_vgg_stages(features, conv_arch, in_channels: int, size: int):
    """True, or what differs between ``features`` and VGG blocks chained as ``conv_arch`` says, from ``in_channels``:
    its convs, taken in order, run stage by stage through ``_vgg_block_by_hand``, must give its output."""
    features = _as_module(features, "stack of blocks")
    failed = _materialise(features, in_channels, size, "your stack of blocks")
    if failed:
        return failed
    convs = [m for m in features.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != sum(n for n, _ in conv_arch):
        return f"conv_arch {conv_arch} asks for {sum(n for n, _ in conv_arch)} convs; yours has {len(convs)}."
    widths = [c for n, c in conv_arch for _ in range(n)]
    if [c.in_channels for c in convs] != [in_channels] + widths[:-1] or [c.out_channels for c in convs] != widths:
        return "the convs' channels do not chain: each block takes what the one before it gives."
    torch.manual_seed(0)
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        got, expected, first = features(x.clone()), x, 0
        for num_convs, _ in conv_arch:
            expected, first = _vgg_block_by_hand(convs[first : first + num_convs], expected), first + num_convs
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-5):
        return "the output differs from VGG blocks chained by hand with your convs' weights: one block per pair."
    return True


@exercise(
    "02.3",
    "This should be the first block of VGG-16. Its output has the right shape, but the block computes less than "
    "VGG's does. Find the bug and fix it.",
    takes_code=True,
    hint="Compare it layer by layer with the block built in section 1 (models.vgg_block(2, 64, 128)): what follows "
    "every conv there? Without it, what can two stacked convs compute that one 5x5 conv cannot?",
    solution=BUGS["02.3"].replace(
        "nn.Conv2d(3, 64, kernel_size=3, padding=1),\n", "nn.Conv2d(3, 64, kernel_size=3, padding=1), nn.ReLU(),\n"
    ),
)
def _check_02_3(answer):
    if _as_given(answer, "02.3"):
        return AS_GIVEN
    return _behaves_like_vgg_block(answer, 2, 3, 64, size=16)


@exercise(
    "02.4",
    "This is the fifth block of a hand-written VGG-16; its input is the 512 x 14 x 14 output of block 4. Find the "
    "bug and fix it.",
    takes_code=True,
    hint="Run it on torch.zeros(1, 512, 14, 14) and read the error: how many channels does each conv expect?",
    solution=BUGS["02.4"].replace("nn.Conv2d(256, 512", "nn.Conv2d(512, 512"),
)
def _check_02_4(answer):
    if _as_given(answer, "02.4"):
        return AS_GIVEN
    return _behaves_like_vgg_block(answer, 3, 512, 512, size=4)


def _matches_its_own_layers(model, x: torch.Tensor):
    """Compare ``model(x)`` with its ``classifier(flatten(features(x)))``: the forward a VGG-style model should have."""
    if not all(hasattr(model, name) for name in ("features", "classifier")):
        return "keep the model's features and classifier: fix the forward, not the layers."
    with torch.no_grad():
        got = model(x)
        expected = model.classifier(torch.flatten(model.features(x), 1))
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"the output should have shape N x classes, {tuple(expected.shape)} here; got {shape}."
    return bool(torch.allclose(got, expected, atol=1e-5)) or None


@exercise(
    "02.5",
    "TinyVGG's forward fails on a batch of images (try it on torch.randn(2, 3, 32, 32)). Find the bug and fix it.",
    takes_code=True,
    hint="Print x.shape just before self.classifier and compare it with what a Linear layer reads: one vector per "
    "image, N x features. torch.flatten's documentation says which dimensions it joins.",
    solution=BUGS["02.5"].replace("torch.flatten(x)", "torch.flatten(x, 1)"),
)
def _check_02_5(answer):
    if _as_given(answer, "02.5"):
        return AS_GIVEN
    model = _as_module(answer, "TinyVGG class or model")
    torch.manual_seed(0)
    verdict = _matches_its_own_layers(model, torch.randn(2, 3, 32, 32))
    return verdict if verdict is not None else "the output differs from the model's own layers applied one by one."


# Paper, Table 1, column B (VGG-13): two 3x3 convs in every stage. Written out here, independently of models.CONFIGS.
_VGG13_ARCH = [(2, 64), (2, 128), (2, 256), (2, 512), (2, 512)]


@exercise(
    "02.6",
    "This is meant to be VGG-13 (config B) as d2l's conv_arch. Find the bug and fix it.",
    hint="Paper, Table 1, column B: count the conv layers of each stage (between two maxpools) and compare with "
    "the snippet stage by stage. The snippet's channels are right.",
    solution="conv_arch_vgg13 = " + str(_VGG13_ARCH) + "\n\nanswer = conv_arch_vgg13",
)
def _check_02_6(answer):
    if _as_given(answer, "02.6"):
        return AS_GIVEN
    arch = normalize(answer)
    if not isinstance(arch, (list, tuple)) or not all(isinstance(s, (list, tuple)) and len(s) == 2 for s in arch):
        return "answer should be a list of (number of convs, channels) pairs, one per stage."
    arch = [tuple(s) for s in arch]
    if len(arch) != 5:
        return f"VGG has five stages (five max-pools); yours has {len(arch)}."
    if [c for _, c in arch] != [c for _, c in _VGG13_ARCH]:
        return "the channels of the stages have changed; keep them and fix the numbers of convs."
    convs = sum(n for n, _ in arch)
    if convs + 3 != 13:
        return f"that is {convs} convs + 3 FC layers = {convs + 3} weight layers; VGG-13 has 13."
    return arch == _VGG13_ARCH or "13 weight layers, but not config B's: compare each stage with Table 1."


@exercise(
    "02.7",
    "This network is trained with nn.CrossEntropyLoss. Find the bug and fix it.",
    takes_code=True,
    hint="nn.CrossEntropyLoss applies log-softmax itself, so it expects raw scores (logits). What does a "
    "softmax before it do to the loss and its gradients?",
    solution=BUGS["02.7"].replace("return torch.softmax(self.classifier(x), dim=1)", "return self.classifier(x)"),
)
def _check_02_7(answer):
    """Right: raw scores, or any per-row shift of them (log_softmax), which give nn.CrossEntropyLoss the same loss;
    wrong: probabilities, wherever the softmax sits (in forward or moved into the classifier)."""
    if _as_given(answer, "02.7"):
        return AS_GIVEN
    model = _as_module(answer, "Net class or model")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears or not all(hasattr(model, name) for name in ("features", "classifier")):
        return "keep the model's features and classifier (a Linear layer): fix the forward, not the layers."
    scores = {}
    hook = linears[-1].register_forward_hook(lambda module, inputs, output: scores.update(z=output))
    torch.manual_seed(0)
    try:
        with torch.no_grad():
            out = model(torch.randn(4, 1, 28, 28))
    finally:
        hook.remove()
    if not isinstance(out, torch.Tensor) or out.shape != scores["z"].shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return f"the output should have shape N x classes, {tuple(scores['z'].shape)} here; got {shape}."
    if not out.any():
        return "the output is all zeros: return what the classifier computes."
    if (out >= 0).all() and torch.allclose(out.sum(1), out.sum(1)[0].expand(4), atol=1e-4):
        return "every row sums to the same number: the outputs are still (scaled) probabilities."
    shift = out - scores["z"]  # 0 for raw scores; -logsumexp per row for log_softmax: the same cross-entropy
    if torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-4):
        return True
    return "the forward should return the classifier's raw scores (logits), unchanged."


_BATCH, _VALUE = (2.0, 4.0, 6.0, 8.0), 3.0  # 02.8: the training batch of one channel, the value then evaluated


def _bn_eval_output(*, new_weight=0.1, unbiased=True, update_mean=True, update_var=True, sqrt=True) -> float:
    """What nn.BatchNorm1d(1) outputs for ``_VALUE`` in evaluation mode after one training step on ``_BATCH``,
    written out (``new_weight``: the momentum, the weight of the batch's statistics; the others: one step of the
    update or of the standardisation left out or done wrong)."""
    n, mean = len(_BATCH), sum(_BATCH) / len(_BATCH)
    var = sum((v - mean) ** 2 for v in _BATCH) / (n - 1 if unbiased else n)
    running_mean = (1 - new_weight) * 0.0 + new_weight * mean if update_mean else 0.0
    running_var = (1 - new_weight) * 1.0 + new_weight * var if update_var else 1.0
    return (_VALUE - running_mean) / (running_var + 1e-5) ** (0.5 if sqrt else 1.0)


@exercise(
    "02.8",
    "A fresh nn.BatchNorm1d(1) (running mean 0, running variance 1, gamma 1, beta 0, momentum 0.1, eps 1e-5) takes "
    "one step in training mode on a batch of four values, x = [2, 4, 6, 8] (shape (4, 1)), and is then switched to "
    "evaluation mode. What does it output for the value 3 (to within 0.005)? Work it out by hand (section 2); then "
    "run the layer to check your number.",
    hint="Two steps. The training step moves the running mean and the running variance towards the batch's (section "
    "2 says by how much, and which variance of the batch it uses); evaluation mode then standardises the value with "
    "the running statistics, not the batch's.",
    solution="""x = [2.0, 4.0, 6.0, 8.0]
mean = sum(x) / 4                                    # 5
var = sum((v - mean) ** 2 for v in x) / (4 - 1)     # the running estimate takes the unbiased variance: 20 / 3
running_mean = 0.9 * 0.0 + 0.1 * mean                # momentum 0.1: the batch's share of the new estimate
running_var = 0.9 * 1.0 + 0.1 * var
answer = (3 - running_mean) / math.sqrt(running_var + 1e-5)""",
)
def _check_02_8(answer):
    value = as_number(answer)
    if abs(value - _bn_eval_output()) <= 0.005:
        return True
    n, mean = len(_BATCH), sum(_BATCH) / len(_BATCH)
    batch_output = {(_VALUE - mean) / (sum((v - mean) ** 2 for v in _BATCH) / d + 1e-5) ** 0.5 for d in (n, n - 1)}
    mistakes = [
        (batch_output, "that standardises with the batch's statistics, as training mode does; evaluation mode uses "
         "the running estimates."),
        ({_VALUE / (1 + 1e-5) ** 0.5}, "those are the running statistics before the step: the training step moved "
         "them."),
        ({_bn_eval_output(unbiased=False)}, "the running variance is updated with the batch's unbiased variance "
         "(divided by N - 1), not the biased one that training mode standardises with."),
        ({_bn_eval_output(new_weight=0.9), _bn_eval_output(new_weight=0.9, unbiased=False)}, "momentum 0.1 is the "
         "weight of the batch's statistics in the update; the old estimate keeps the rest."),
        ({_bn_eval_output(update_var=False)}, "the running variance moved too, not only the running mean."),
        ({_bn_eval_output(update_mean=False)}, "the running mean moved too, not only the running variance."),
        ({_bn_eval_output(sqrt=False)}, "divide by the standard deviation, the square root of the variance."),
    ]  # fmt: skip
    for values, mistake in mistakes:
        if any(math.isclose(value, v, rel_tol=0.01) for v in values):
            return mistake
    return "work out the running mean and variance after the step, then standardise the value with them."

"""Exercises of notebook 09: reusing VGG.

09.1 is counted by hand before the package counts it; the checks compute what they expect themselves (the new
last layer's weights and biases; the parameters of each optimizer group).
"""

from __future__ import annotations

from . import as_count, exercise

PROBE = {"channels": 128, "classes": 5}  # the classroom VGG-11's last conv and the target's classes in notebook 09


@exercise(
    "09.1",
    "The linear probe of section 1 freezes every layer of the source network (the classroom VGG-11, whose last conv "
    "has 128 channels and whose GAP head ends in one Linear layer) and trains only a new last layer for the "
    "target's 5 classes. Predict by hand: how many parameters does it train? Then check with "
    'transfer.trainable_parameters(transfer.prepare(source_model, few, "linear probe")).',
    hint="After the global average, each image is one number per channel. A Linear layer from n inputs to m outputs "
    "holds a weight for each pair and one more number per output.",
    solution="answer = 128 * 5 + 5   # a weight per (channel, class) pair and a bias per class",
)
def _check_09_1(answer):
    n = as_count(answer)
    channels, classes = PROBE["channels"], PROBE["classes"]
    if n == channels * classes:
        return "count the new layer's biases too: one per class."
    if n in (channels * 10, channels * 10 + 10):
        return "the new layer is for the target's 5 classes, not Fashion-MNIST's 10."
    if n in (channels * 49 * classes, channels * 49 * classes + classes):
        return (
            "that reads 7 x 7 values of each channel, as an FC head's flatten does: after the global average each "
            "channel is one number."
        )
    if n in (512 * classes, 512 * classes + classes):
        return "512 is VGG-16's last conv: the classroom VGG-11's last conv is narrower (the question says how wide)."
    if n > 10_000:
        return "that counts frozen layers: the probe trains only the new last layer."
    return (
        n == channels * classes + classes
        or "count the weights and biases of one Linear layer from the pooled features to the classes."
    )


def grouped_model():
    """The model 09.2's check gives param_groups: the check here and the grader's sandbox (``observe``) build the
    same one, so that the parameters' names in the sandbox are the check's."""
    from ..models import VGG

    return VGG("A", in_channels=1, num_classes=10, width_divisor=16, batch_norm=True, head="gap")


@exercise(
    "09.2",
    "Layer-wise learning rates (Howard & Ruder 2018's discriminative fine-tuning), a common fine-tuning recipe: "
    "write param_groups(model) that "
    "returns the parameter groups for torch.optim.SGD with the parameters of model.features at learning rate 1e-5 "
    "and those of model.classifier at 1e-4, each parameter in exactly one group. Pass param_groups.",
    takes_code=True,
    hint='torch.optim.SGD accepts a list of dicts, [{"params": ..., "lr": ...}, ...]; a module\'s parameters are '
    "module.parameters().",
    solution="""def param_groups(model):
    return [{"params": model.features.parameters(), "lr": 1e-5},
            {"params": model.classifier.parameters(), "lr": 1e-4}]
answer = param_groups""",
)
def _check_09_2(param_groups):
    import math

    import torch

    if not callable(param_groups):
        return "answer should be your param_groups function itself (no brackets)."
    model = grouped_model()
    optimizer = torch.optim.SGD(param_groups(model), lr=1.0, momentum=0.9)
    lr_of = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) in lr_of:
                return "a parameter is in two groups."
            lr_of[id(p)] = group["lr"]
    missing = [p for p in model.parameters() if id(p) not in lr_of]
    if missing:
        return f"{len(missing)} of the model's parameter tensors are in no group."
    for part, lr in ((model.features, 1e-5), (model.classifier, 1e-4)):
        if not all(math.isclose(lr_of[id(p)], lr) for p in part.parameters()):
            return "some parameters have the wrong learning rate: check which part gets which."
    return True


@exercise(
    "09.3",
    "Gatys et al. (2016) describe a painting's style by the Gram matrices of VGG feature maps. Write gram(f) for one "
    "feature map f of shape (C, H, W): the C x C matrix whose entry (i, j) is the mean, over the H W positions, of "
    "channel i times channel j. Before you write it: how many numbers does it hold for conv1_1's 64 x 224 x 224 map? "
    "Pass gram.",
    takes_code=True,
    called_apart=True,
    hint="Entry (i, j) compares channel i with channel j at every position: lay each channel out as one row of H W "
    "values first. Which product of that matrix gives every pair of rows at once?",
    solution="""def gram(f):
    c, h, w = f.shape
    rows = f.reshape(c, h * w)       # one row per channel
    return rows @ rows.T / (h * w)   # 64 x 64 = 4,096 numbers for conv1_1, against its 3,211,264 activations
answer = gram""",
)
def _check_09_3(gram):
    import torch

    if not callable(gram):
        return "answer should be your gram function itself (no brackets)."
    f = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(9))
    got = torch.as_tensor(gram(f.clone())).float()
    rows = f.reshape(3, 20)
    expected = rows @ rows.T / 20
    if got.shape == (20, 20):
        return "that pairs positions with positions: the Gram matrix pairs channels, so it is C x C."
    if got.shape != (3, 3):
        return f"for a map of shape (3, 4, 5) the Gram matrix is 3 x 3, not {tuple(got.shape)}."
    if torch.allclose(got, expected * 20, rtol=1e-4):
        return "that is the sum over positions: the question asks for the mean, so divide by H W."
    if torch.allclose(got, expected / 3, rtol=1e-4):
        return "divide by the number of positions, H W, not by C H W."
    if torch.allclose(got, torch.cov(rows, correction=0), rtol=1e-4, atol=1e-5):
        return "that is the covariance: the Gram matrix does not subtract each channel's mean."
    return torch.allclose(got, expected, rtol=1e-4, atol=1e-6) or (
        "entry (i, j) should be the mean over positions of channel i times channel j."
    )

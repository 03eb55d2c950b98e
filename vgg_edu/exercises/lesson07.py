"""Exercises of notebook 07: training VGG in practice, the systems (memory, gradient checkpointing, data
parallelism). The checks compute their expected values by hand."""

from __future__ import annotations

import struct

from . import as_count, exercise

VGG16_PARAMS = 138_357_544  # torchvision's vgg16 (REFERENCE.md)


def _float32_of(count: int) -> int:
    """The value a float32 holds for ``count``: float32 has 24 bits of mantissa, so a count over 2**24 (07.1's) is
    rounded, and a right answer computed in float32 (torch's default dtype) arrives as that value."""
    return int(struct.unpack("f", struct.pack("f", count))[0])


@exercise(
    "07.1",
    "VGG-16 (138,357,544 parameters) trained in float32 with Adam: how many bytes do its weights, their gradients "
    "and Adam's optimizer state take together, activations aside?",
    hint="Section 1's formula lists what a step holds; compare how many buffers Adam keeps per weight with SGD's "
    "momentum.",
    solution="answer = 138_357_544 * 4 * (1 + 1 + 2)",
)
def _check_07_1(answer):
    value = as_count(answer)
    if value in (VGG16_PARAMS * 16, _float32_of(VGG16_PARAMS * 16)):
        return True
    if value == VGG16_PARAMS * 12:
        return "that is SGD with momentum (one buffer per weight); Adam keeps more."
    if value in (VGG16_PARAMS * 4, VGG16_PARAMS * 8):
        return "count all three: the weights, one gradient per weight, and the optimizer's buffers."
    if value in (VGG16_PARAMS * 16 * 8, VGG16_PARAMS * 4 * 8):
        return "bytes, not bits: a float32 value is 4 bytes."
    return "count float32 values per weight (weight, gradient, optimizer buffers), then 4 bytes each."


STAGE_INPUTS_224 = 3 * 224 * 224 + 64 * 112 * 112 + 128 * 56 * 56 + 256 * 28 * 28 + 512 * 14 * 14


@exercise(
    "07.2",
    "VGG-16 at 224 x 224 with its features checkpointed stage by stage (five segments, each ending with its "
    "max-pool): how many activation values per image does autograd keep for the features' backward pass between "
    "the forward and the backward pass?",
    hint="torch.utils.checkpoint keeps what enters a segment and recomputes everything inside it in the backward "
    "pass: which tensors enter the five segments, and what are their shapes?",
    solution="""answer = sum(c * (224 // 2**s) ** 2 for s, c in enumerate([3, 64, 128, 256, 512]))""",
)
def _check_07_2(answer):
    value = as_count(answer)
    if value == STAGE_INPUTS_224:
        return True
    if value == STAGE_INPUTS_224 - 3 * 224 * 224:
        return "the image is the first segment's input: count it too."
    outputs = 64 * 112 * 112 + 128 * 56 * 56 + 256 * 28 * 28 + 512 * 14 * 14 + 512 * 7 * 7
    if value == outputs:
        return "those are the segments' outputs; a checkpoint keeps each segment's input."
    if value in (2 * STAGE_INPUTS_224, 4 * STAGE_INPUTS_224):
        return "that counts bytes; the question asks for values."
    if value > 10 * STAGE_INPUTS_224:
        return "that is close to everything a plain forward keeps; checkpointing keeps only the segment boundaries."
    return "one term per segment: channels x height x width of what enters it."


def _pieces():
    import torch

    g = torch.Generator().manual_seed(6)
    w = torch.randn(5, 3, generator=g, dtype=torch.float64)
    x, y = torch.randn(23, 3, generator=g, dtype=torch.float64), torch.randn(23, 5, generator=g, dtype=torch.float64)
    sizes = [8, 8, 4, 3]

    def grad(xs, ys):  # gradient of the mean squared error over the rows given
        w_ = w.clone().requires_grad_(True)
        ((xs @ w_.T - ys) ** 2).sum(1).mean().backward()
        return w_.grad

    shards = torch.split(torch.arange(23), sizes)
    return [grad(x[i], y[i]) for i in shards], sizes, grad(x, y)


@exercise(
    "07.3",
    "Data parallelism: each of four GPUs computed the gradient of the mean loss over its own shard of the batch, "
    "and the shards have the sizes in `sizes` (the last ones may be smaller). Write combine(grads, sizes) that "
    "returns the gradient of the mean loss over the whole batch (a tensor shaped like each of grads). Pass the "
    "function.",
    takes_code=True,
    called_apart=True,
    hint="Each shard's gradient is an average over that shard's images only: in a small shard each image weighs "
    "more than it does in the whole batch's average.",
    solution="""def combine(grads, sizes):
    return sum(g * n for g, n in zip(grads, sizes)) / sum(sizes)
answer = combine""",
)
def _check_07_3(combine):
    import torch

    if not callable(combine):
        return "answer should be your combine function itself (no brackets)."
    grads, sizes, _ = _pieces()  # the whole batch's gradient is computed again after combine returns: no frame
    got = torch.as_tensor(combine([g.clone() for g in grads], list(sizes)), dtype=torch.float64)
    full = _pieces()[2]  # combine can read (sys._getframe) holds it while it runs
    if got.shape != full.shape:
        return f"the result should have the shape of one gradient, {tuple(full.shape)}; got {tuple(got.shape)}."
    if torch.allclose(got, full, atol=1e-9):
        return True
    if torch.allclose(got, sum(grads) / len(grads), atol=1e-9):
        return "a plain mean of the shard gradients is right only when all shards have the same size."
    if torch.allclose(got, sum(grads), atol=1e-9):
        return "a sum is too large: the loss is a mean over the batch."
    return "the values differ from the whole batch's gradient: weight each shard by its size."

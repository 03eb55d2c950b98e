"""Exercises of notebook 08: making VGG small.

08.1 is a find-the-bug: a widely read post's global-average-pool head (``BUGS["08.1"]``) is in the cell to
fix. The checks compute what they expect by hand (the pooled mean and one Linear; the conv MAC formula; Hinton et
al.'s loss written out).
"""

from __future__ import annotations

from . import as_count, exercise

BUGS = {
    "08.1": """head = nn.Sequential(          # the post's GAP head for VGG-16, 10 classes
    nn.AdaptiveAvgPool2d((7, 7)),
    nn.Flatten(),
    nn.Linear(512, 10),
)
answer = head""",
}


@exercise(
    "08.1",
    "A widely read post on VGG replaces VGG-16's three FC layers by the head in the cell below, which receives the "
    "features' output, a batch of shape (N, 512, 7, 7). Run it on such a batch: it fails. Fix it so that it is a "
    "real global-average-pool head for 10 classes, and pass the fixed head.",
    takes_code=True,
    hint="Read the shape that reaches the Linear layer: print(nn.Flatten()(nn.AdaptiveAvgPool2d((7, 7))(x)).shape). "
    "What should one channel contribute after a *global* average?",
    solution="""head = nn.Sequential(
    nn.AdaptiveAvgPool2d((1, 1)),   # one number per channel: the mean over the whole map
    nn.Flatten(),
    nn.Linear(512, 10),
)
answer = head""",
)
def _check_08_1(head):
    import torch
    import torch.nn.functional as F
    from torch import nn

    if not isinstance(head, nn.Module):
        return "answer should be the head itself, an nn.Module such as nn.Sequential(...)."
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 1:
        return f"a global-average-pool head has exactly one Linear layer; yours has {len(linears)}."
    fc = linears[0]
    if fc.out_features != 10:
        return f"the head should score 10 classes; its Linear layer has {fc.out_features} outputs."
    # the maps the question names, (N, 512, 7, 7): there AvgPool2d(7), AdaptiveAvgPool2d(1) and x.mean((2, 3)) are
    # all the global average
    x = torch.randn(2, 512, 7, 7, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        try:
            got = head.eval()(x)
        except Exception as err:  # noqa: BLE001 - a broken head fails in many ways; say how, do not crash
            return f"the head fails on a (2, 512, 7, 7) batch: {str(err).splitlines()[0]}"
    if fc.in_features == x[0].numel():  # the shape error mended by widening the Linear layer: it runs, all 49 kept
        return (
            f"your head runs, but its Linear layer reads {fc.in_features:,} numbers, all 7 x 7 positions of each "
            "channel: the pool before it averages nothing away. A global average leaves one number per channel."
        )
    if fc.in_features != x.shape[1]:  # it ran, but not on the channels' means
        return "the outputs are not a Linear layer applied to each channel's mean over the whole map."
    with torch.no_grad():
        expected = F.linear(x.mean((2, 3)), fc.weight, fc.bias)
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"the output should have shape (N, 10); got {shape}."
    if not torch.allclose(got, expected, atol=1e-5):
        return "the outputs are not a Linear layer applied to each channel's mean over the whole map."
    return True


@exercise(
    "08.2",
    "Prune 50% of the filters of every conv of the classroom VGG-11 (channels 16, 32, 64, 64, 128, 128, 128, 128, "
    "on 32 x 32 inputs) with prune.prune_channels. How many multiply-accumulates per image does conv3_1 (3 x 3, "
    "padding 1) do afterwards?",
    hint="A conv does H_out * W_out * C_out * C_in * 3 * 3 MACs. Which map size does stage 3 work on at 32 px, and "
    "which of C_in and C_out did the pruning change?",
    solution="answer = 8 * 8 * 32 * 16 * 3 * 3   # 8 x 8 map (two pools), 32 of 64 filters kept, 16 of conv2_1's 32",
)
def _check_08_2(answer):
    n = as_count(answer)
    expected = 8 * 8 * 32 * 16 * 9
    if n == 8 * 8 * 64 * 32 * 9:  # also the pruned widths on a 16 x 16 map
        return "that is conv3_1 before pruning (or the pruned widths on the wrong map size)."
    if n == 2 * expected:
        return (
            "check both C_in and C_out: pruning removed filters of conv3_1 and of conv2_1, which feeds it; and "
            "count multiply-accumulates, not FLOPs."
        )
    if n == 8 * 8 * 16 * 8 * 9:  # the answer for VGG-11/8 (the first classroom network), also a 4 x 4 map
        return (
            "that is conv3_1 of a network half as wide, or on a map one pool too small: take the channels the "
            "question lists, and the map size after two 2 x 2 max-pools."
        )
    if n == 32 * 32 * 32 * 16 * 9:
        return "check the map size: stage 3 comes after two 2 x 2 max-pools."
    return n == expected or "apply H_out * W_out * C_out * C_in * 9 with the channels that remain."


@exercise(
    "08.3",
    "Write kd_loss(s, t, y, T, alpha), the distillation loss of Hinton et al. (2015): s and t are the student's and "
    "the teacher's logits (N, classes), y the labels, T the temperature and alpha the weight of the soft targets: "
    "(1 - alpha) CE(y, s) + alpha T^2 KL(softmax(t / T) || softmax(s / T)), averaged over the batch. Pass kd_loss.",
    takes_code=True,
    called_apart=True,
    hint="F.cross_entropy(s, y) is the hard part. For the soft part, F.kl_div(input, target) expects the student's "
    "log-probabilities as input and computes KL(target || input) term by term. Its reduction decides what it "
    "averages over: 'batchmean' sums over the classes and averages over the batch, as the formula does; 'mean' (the "
    "default) averages over every term, so it also divides by the number of classes.",
    solution="""import torch.nn.functional as F

def kd_loss(s, t, y, T, alpha):
    hard = F.cross_entropy(s, y)
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean")
    return (1 - alpha) * hard + alpha * T**2 * soft
answer = kd_loss""",
)
def _check_08_3(kd_loss):
    import torch

    if not callable(kd_loss):
        return "answer should be your kd_loss function itself (no brackets)."
    g = torch.Generator().manual_seed(3)
    for T, alpha in ((4.0, 0.9), (2.0, 0.5), (1.0, 0.0)):
        s, t = torch.randn(8, 10, generator=g), 3 * torch.randn(8, 10, generator=g)
        y = torch.randint(0, 10, (8,), generator=g)
        got = torch.as_tensor(kd_loss(s.clone(), t.clone(), y.clone(), T, alpha)).float()
        p_t, log_p_t, log_p_s = (t / T).softmax(1), (t / T).log_softmax(1), (s / T).log_softmax(1)  # after it returns
        kl = (p_t * (log_p_t - log_p_s)).sum(1).mean()
        ce = -s.log_softmax(1)[torch.arange(8), y].mean()
        expected = (1 - alpha) * ce + alpha * T**2 * kl
        if got.numel() != 1:
            return f"the loss should be one number (the batch mean); got shape {tuple(got.shape)}."
        if not torch.allclose(got.reshape(()), expected, rtol=1e-4, atol=1e-5):
            if alpha and torch.allclose(got.reshape(()), (1 - alpha) * ce + alpha * T**2 * kl / s.shape[1], rtol=1e-4):
                return (
                    "the soft term is divided by the number of classes: F.kl_div with reduction='mean' averages over "
                    "every term, classes included; the formula's KL is summed over the classes and averaged over the "
                    "batch, which is reduction='batchmean'."
                )
            soft_ce = -(p_t * log_p_s).sum(1).mean()  # the KL without the teacher's sum p_t log p_t
            if alpha and torch.allclose(got.reshape(()), (1 - alpha) * ce + alpha * T**2 * soft_ce, rtol=1e-4):
                return (
                    "that is the cross-entropy with the soft targets, -sum p_t log p_s: it has the same gradients "
                    "for the student, but the KL also adds the teacher's sum p_t log p_t (minus its entropy), so "
                    "the loss is not the formula's."
                )
            p_s = (s / T).softmax(1)
            reversed_kl = (p_s * (log_p_s - log_p_t)).sum(1).mean()  # F.kl_div(log p_t, p_s): KL(student || teacher)
            if alpha and torch.allclose(got.reshape(()), (1 - alpha) * ce + alpha * T**2 * reversed_kl, rtol=1e-4):
                return (
                    "that is KL(student || teacher), the divergence the other way round: F.kl_div(input, target) "
                    "computes KL(target || input), so the teacher goes in as the target."
                )
            not_logs = (p_t * (log_p_t - p_s)).sum(1).mean()  # F.kl_div(p_s, p_t): probabilities given as the input
            if alpha and torch.allclose(got.reshape(()), (1 - alpha) * ce + alpha * T**2 * not_logs, rtol=1e-4):
                return "F.kl_div's input must be the student's log-probabilities; yours are probabilities."
            if alpha not in (0, 0.5) and torch.allclose(
                got.reshape(()), alpha * ce + (1 - alpha) * T**2 * kl, rtol=1e-4
            ):
                return "the two weights are swapped: alpha is the weight of the soft targets (see the formula)."
            if T != 1 and torch.allclose(got.reshape(()), (1 - alpha) * ce + alpha * kl, rtol=1e-4):
                return "close: the soft term is missing a factor (see the formula)."
            return f"with T={T} and alpha={alpha} your loss differs from the formula."
    return True

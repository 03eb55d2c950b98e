"""Notebook 05's exercises (inside the trained network): known-wrong answers, the box in list, array and tensor
forms, function answers returning numpy, and the pool3 box against the layer table of several widths."""

import numpy as np
import torch

from vgg_edu import analysis, exercises, models


def _store_without_copy(store):
    def pre_hook(module, inputs):
        store["in"] = inputs[0]

    return pre_hook


def _forward_hook_maker(store):
    def hook(module, inputs, output):
        store["in"] = output.detach().clone()

    return hook


def _grad_cam_without_relu(acts, grads):
    return (grads.mean((1, 2))[:, None, None] * acts).sum(0)


def _grad_cam_summed_gradients(acts, grads):
    return torch.relu((grads.sum((1, 2))[:, None, None] * acts).sum(0))


def _grad_cam_mean_over_channels(acts, grads):
    return torch.relu((grads.mean((1, 2))[:, None, None] * acts).mean(0))


def _grad_cam_normalised(acts, grads):
    cam = torch.relu((grads.mean((1, 2))[:, None, None] * acts).sum(0))
    return cam / cam.max()


def _store_a_numpy_copy(store):
    def pre_hook(module, inputs):
        store["in"] = inputs[0].numpy().copy()

    return pre_hook


def _store_a_numpy_view(store):  # shares the tensor's memory: overwritten like the tensor
    def pre_hook(module, inputs):
        store["in"] = inputs[0].numpy()

    return pre_hook


WRONG = {
    "05.1": [
        _store_without_copy,
        _forward_hook_maker,
        lambda store: None,
        _store_without_copy({}),  # hook, no maker
        _store_a_numpy_view,
    ],
    "05.2": [(-3, 5, 27, 35), (0, 5, 26, 31), (5, 0, 32, 27), (0, 5, 27)],
    "05.3": [
        _grad_cam_without_relu,
        _grad_cam_summed_gradients,
        lambda acts, grads: acts.mean(0),
        _grad_cam_mean_over_channels,
        _grad_cam_normalised,
    ],
    "05.4": [64, 7, 49.4],
}


def _solution(exercise_id):
    namespace = {"torch": torch}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    return namespace["answer"]


RIGHT = {"05.1": [_store_a_numpy_copy],
         "05.2": [list(_solution("05.2")), np.array(_solution("05.2")), torch.tensor(_solution("05.2")),
                  tuple(np.int64(v) for v in _solution("05.2"))]}  # fmt: skip


def test_the_pool3_box_is_the_same_whatever_the_width_and_bn():
    """05.2's question says BN and the width change no receptive field: layer_table gives the same box for the
    classroom network's shape (VGG-11/4 with BN) as for VGG-11/8 and VGG-11/16 without BN."""
    boxes = set()
    for divisor, batch_norm in ((4, True), (8, False), (16, False)):
        model = models.VGG("A", in_channels=1, num_classes=10, width_divisor=divisor, batch_norm=batch_norm, head="gap")
        table = analysis.layer_table(model, (1, 32, 32)).set_index("name")
        rf, jump, start = table.loc["pool3", ["rf", "jump", "start"]]
        top, left = int(start + 1 * jump - rf / 2), int(start + 2 * jump - rf / 2)
        boxes.add((max(top, 0), max(left, 0), min(top + int(rf), 32), min(left + int(rf), 32)))
    assert boxes == {tuple(_solution("05.2"))}


def test_function_answers_may_return_numpy_values(capsys):
    cam = _solution("05.3")
    assert exercises.check("05.3", lambda acts, grads: cam(acts, grads).numpy()) is True


def test_a_scaled_grad_cam_map_is_told_it_is_scaled(capsys):
    """Summing the gradients, averaging over the channels or normalising each give the right map times a constant:
    the message says so, and which reductions the map takes."""
    for scaled in (_grad_cam_summed_gradients, _grad_cam_mean_over_channels, _grad_cam_normalised):
        assert exercises.check("05.3", scaled) is False
        assert "times a constant" in capsys.readouterr().out

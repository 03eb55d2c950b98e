"""Notebook 09's exercises (reusing VGG): known-wrong answers, and the linear probe's count against what the package
counts on the classroom network."""

import numpy as np
import pytest
import torch

from vgg_edu import exercises, transfer
from vgg_edu.exercises import lesson09


def _rows(f):
    return f.reshape(f.shape[0], -1)


def _gram_numpy(f):
    rows = np.asarray(_rows(f))
    return rows @ rows.T / rows.shape[1]


def _gram_einsum(f):
    return torch.einsum("chw,dhw->cd", f, f) / (f.shape[1] * f.shape[2])


def _groups_swapped(model):
    return [{"params": model.features.parameters(), "lr": 1e-4}, {"params": model.classifier.parameters(), "lr": 1e-5}]


def _groups_head_missing(model):
    return [{"params": model.features.parameters(), "lr": 1e-5}]


WRONG = {
    # without the biases; for Fashion-MNIST's 10 classes, with and without biases; the whole network's parameters
    # and a 7 x 7 map flattened per channel (with and without biases); VGG-16's 512 channels
    "09.1": [640, 1280, 1290, 578_853, 645.5, 31_360, 31_365, 2_565],
    "09.2": [_groups_swapped, _groups_head_missing, lambda model: [{"params": model.parameters(), "lr": 1e-5}]],
    "09.3": [
        lambda f: _rows(f) @ _rows(f).T,  # the sum over positions, not the mean
        lambda f: _rows(f) @ _rows(f).T / f.numel(),  # divided by C H W
        lambda f: _rows(f).T @ _rows(f) / _rows(f).shape[1],  # positions paired, not channels
        lambda f: torch.cov(_rows(f), correction=0),  # each channel's mean subtracted
        lambda f: _rows(f) @ _rows(f).T / f.shape[0],  # divided by C
        lambda f: _rows(f).sum(1),  # one number per channel
    ],
}

# the mean over positions of channel i times channel j, however it is computed
RIGHT = {
    "09.3": [
        _gram_numpy,
        _gram_einsum,
        lambda f: (f.unsqueeze(0) * f.unsqueeze(1)).mean(dim=(2, 3)),
        lambda f: torch.mm(f.flatten(1), f.flatten(1).t()).div(f[0].numel()),
    ],
}


def test_the_gram_matrix_of_vgg16s_conv1_1_holds_4096_numbers():
    """09.3 asks first how many numbers the Gram matrix of conv1_1's 64 x 224 x 224 map holds: the solution's own
    function on such a map gives 64 x 64, against the map's 3,211,264 values."""
    namespace = {}
    exec(exercises.EXERCISES["09.3"].solution, namespace)
    g = namespace["answer"](torch.randn(64, 224, 224))
    assert g.shape == (64, 64) and g.numel() == 4096 and 64 * 224 * 224 == 3_211_264
    assert "64 x 224 x 224" in exercises.EXERCISES["09.3"].question


def test_the_probes_count_is_what_the_package_counts_on_the_classroom_network():
    """09.1's answer is transfer.trainable_parameters of a linear probe of the classroom VGG-11 for 5 classes, as
    notebook 09 builds it; the question's 128 channels and 5 classes are that network's."""
    from vgg_edu.data.image_splits import ImageSplits
    from vgg_edu.training.recipes import build_model

    source = build_model("classroom")
    assert source.classifier[-1].in_features == lesson09.PROBE["channels"] and "128 channels" in (
        exercises.EXERCISES["09.1"].question
    )
    target = ImageSplits(*[None] * 4, classes=tuple(range(lesson09.PROBE["classes"])), source="five classes")
    probe = transfer.prepare(source, target, "linear probe")
    answer = {}
    exec(exercises.EXERCISES["09.1"].solution, answer)
    assert transfer.trainable_parameters(probe) == answer["answer"] == 645


@pytest.mark.parametrize(
    ("count", "named"), [(128 * 49 * 5 + 5, "7 x 7 values of each channel"), (512 * 5 + 5, "VGG-16's last conv")]
)
def test_a_flattened_map_and_vgg16s_width_are_named(capsys, count, named):
    """Review r89, 2026-12-07: a probe counted on a flattened 7 x 7 map per channel (the FC head's input, which
    notebook 08 also builds) was told "that counts frozen layers", which it does not; VGG-16's 512 channels got the
    generic message. Each is now named, and the verdict never gives the count."""
    assert exercises.check("09.1", count) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert named in verdict and "frozen" not in verdict and "645" not in verdict


def test_the_probes_check_call_runs_on_the_notebooks_own_names():
    """Review r89, 2026-12-07: 09.1 said "check with transfer.trainable_parameters" without saying of what, and the
    notebook never builds a probe by name. The question now gives the call, on names notebook 09 defines before its
    exercises (the source network and the 20-label Fashion-MNIST target of its test cell)."""
    import json
    from pathlib import Path

    call = 'transfer.trainable_parameters(transfer.prepare(source_model, few, "linear probe"))'
    assert call in exercises.EXERCISES["09.1"].question
    path = Path(__file__).resolve().parents[2] / "notebooks" / "09_reusing_vgg.ipynb"
    cells = json.loads(path.read_text())["cells"]
    code = [("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    before = "\n".join(code[: next(i for i, c in enumerate(code) if 'ex.check("09.1"' in c)])
    assert "\nsource_model = " in before and "\nfew = transfer.few_labels(fashion, 20)" in before


def test_ten_classes_are_not_called_the_sources(capsys):
    """Review r89, 2026-12-07: the verdict for 1,290 said "not the source's 10 outputs", but notebook 09's source
    network is trained on Fashion-MNIST's classes 0-4 and has 5 outputs; 10 is Fashion-MNIST's whole class count."""
    from vgg_edu.data.image_splits import ImageSplits
    from vgg_edu.training.recipes import build_model

    source_classes = ImageSplits(*[None] * 4, classes=tuple(range(5)), source="classes 0-4")
    assert build_model("classroom", data=source_classes).classifier[-1].out_features == 5
    assert exercises.check("09.1", 128 * 10 + 10) is False
    verdict = capsys.readouterr().out.split("Hint:")[0]
    assert "source's 10" not in verdict and "Fashion-MNIST's 10" in verdict

"""What a VGG unit is expected to hold (issue 33, item 4), held against independent computations and the sources:
the conv output-size formula (01) against PyTorch's layers, dense evaluation's floor(H / 32) - 6 (03) against the
real score map, the bridge to ResNet (06) and VGG's afterlife (08) against docs/REFERENCE.md, and the "open the
helper" cells (05, 08) against what the helpers they print really do."""

import inspect
import json
import re

import pytest
import torch
import torch.nn.functional as F
from test_lesson_text import NOTEBOOKS, ROOT, _bibliography, _code, _code_cell, _markdown_cell, _prose
from torch import nn

from vgg_edu import exercises, models, pretrained, probe, receptive
from vgg_edu.compression import distill, prune
from vgg_edu.data.inputs import spec_of
from vgg_edu.training import recipes

from conftest import on_meta


def _reference() -> str:
    return " ".join((ROOT / "docs" / "REFERENCE.md").read_text().split())


def _cells(number: str) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(NOTEBOOKS[number].read_text())["cells"]]


def _index(cells, kind: str, marker: str) -> int:
    found = [i for i, (k, source) in enumerate(cells) if k == kind and marker in source]
    assert len(found) == 1, (marker, found)
    return found[0]


# 1. The output-size formula, in 01, where the course first prints an output shape.


def test_01_writes_the_output_size_formula_once_and_checks_it_against_pytorch():
    formula = r"H_{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1"
    assert formula in _prose("01")
    others = [n for n in NOTEBOOKS if n != "01" and formula in _prose(n)]
    assert not others, others  # written once; 03 points back to it
    assert "notebook 01's output-size formula" in _prose("03")
    cell = _code_cell("01", "receptive.output_size(")
    assert "nn.Conv2d(" in cell and "nn.MaxPool2d(" in cell and "claims.claim(" in cell
    rows = re.search(r"for size, kernel, stride, padding in (\[.*?\]):", cell).group(1)
    for size, kernel, stride, padding in eval(rows):  # the notebook's rows, each against PyTorch here as well
        x = torch.zeros(1, 1, size, size)
        expected = receptive.output_size(size, kernel, stride, padding)
        assert nn.Conv2d(1, 1, kernel, stride, padding)(x).shape[-1] == expected
        assert nn.MaxPool2d(kernel, stride, padding)(x).shape[-1] == expected


def test_01_examples_of_the_formula_are_what_it_gives():
    prose = _prose("01")
    assert "$H + 2 - 3 + 1 = H$" in prose and "7 pixels give 3" in prose
    assert all(receptive.output_size(h, 3, 1, 1) == h for h in range(1, 300))
    assert all(receptive.output_size(h, 2, 2) == h // 2 for h in range(2, 300)) and receptive.output_size(7, 2, 2) == 3


# 2. Where dense evaluation's floor(H / 32) - 6 comes from (03, section 8).


def test_five_floored_halvings_are_one_floored_division_by_32():
    for h in range(32, 1100):
        side = h
        for _ in range(5):
            side = receptive.output_size(side, 2, 2)
        assert side == h // 32, h
    prose = _prose("03")
    assert "(250 pixels: 125, 62, 31, 15, 7)" in prose
    sides, side = [], 250
    for _ in range(5):
        side = receptive.output_size(side, 2, 2)
        sides.append(side)
    assert sides == [125, 62, 31, 15, 7]


@pytest.mark.parametrize(("height", "width"), [(224, 224), (250, 300), (256, 341), (384, 384), (480, 320)])
def test_dense_score_map_is_floor_h_over_32_minus_6(height, width):
    dense = on_meta(lambda: models.fully_convolutional(models.vgg16()))
    out = dense(torch.empty(1, 3, height, width, device="meta"))
    assert tuple(out.shape[2:]) == (height // 32 - 6, width // 32 - 6)


def test_03_says_a_side_under_224_gives_no_score_and_it_does_not():
    assert "a side under 224 pixels leaves pool5 smaller than 7 x 7 and gives no score at all" in _prose("03")
    dense = on_meta(lambda: models.fully_convolutional(models.vgg16()))
    with pytest.raises(RuntimeError):
        dense(torch.empty(1, 3, 223, 300, device="meta"))


def test_03_checks_the_formula_against_the_real_score_map():
    cell = _code_cell("03", "receptive.output_size(side[-1], 2, 2)")
    assert "models.fully_convolutional(models.vgg16())" in cell and 'device="meta"' in cell
    assert "maps[tuple(photo.shape[2:])] = scores" in cell  # the photograph's map, run with the weights
    assert "claims.claim(" in cell and "height // 32 - 6, width // 32 - 6" in cell
    cells = _cells("03")  # after the cell that computes `scores` and `photo`
    assert _index(cells, "code", "receptive.output_size(side[-1], 2, 2)") > _index(
        cells, "code", "scores = dense_model"
    )


# 3. The bridge to ResNet (06, after its initialisation experiment).


def test_06_names_the_vanishing_signal_and_degradation_without_claiming_to_measure_degradation():
    bridge = _markdown_cell("06", "**The names for it, and what came next.**")
    assert "*vanishing* or *exploding* signal" in bridge and "*degradation*" in bridge
    assert 'He et al. (2016, "Deep Residual Learning for Image Recognition", CVPR)' in bridge
    assert "*training* error, so not by overfitting" in bridge
    assert "it does not measure degradation" in bridge
    assert not [c for c in _code("06").split("claims.claim(")[1:] if "degradation" in c.split("\n")[0]]
    work = next(line for line in _bibliography().split("\n- ") if "Deep Residual Learning" in line)
    work = " ".join(work.split())
    assert "He et al. 2016" in work and "degradation" in work and "higher training error" in work
    verdict = _index(_cells("06"), "markdown", "**Verdict.** The lines above the table describe one seed per init")
    assert _index(_cells("06"), "markdown", "**The names for it") == verdict + 1  # right after section 1's verdict


# 4. VGG's afterlife (09, section 2): no training, every number from the paper as REFERENCE.md records it.


def test_09_afterlife_quotes_the_papers_transfer_results_as_reference_records_them():
    section = _markdown_cell("09", "## 2. After the paper")
    table_11 = re.search(
        r"Table 11 \(D & E combined; D alone, E alone\): VOC-2007 (\d+\.\d) mAP .*?VOC-2012 (\d+\.\d) mAP .*?"
        r"Caltech-101 (\d+\.\d) .*?Caltech-256 (\d+\.\d)",
        _reference(),
    )
    assert table_11, "REFERENCE.md's Table 11 line has moved"
    voc07, voc12, c101, c256 = table_11.groups()
    assert f"{voc07} and {voc12} mean AP on Pascal VOC-2007 and VOC-2012" in section
    assert f"{c101}% and {c256}% mean class recall on Caltech-101 and Caltech-256" in section
    assert "no fine-tuning" in section and "no fine-tuning" in _reference().split("Appendix B")[1][:120]


def test_09_afterlife_states_the_papers_input_and_cost_as_sections_2_1_and_3_3_do():
    reference, loss = _reference(), _markdown_cell("09", "**A loss.**")
    quote = "subtracting the mean RGB value, computed on the training set, from each pixel"
    assert quote in loss and quote in reference
    assert "2-3 weeks on four NVIDIA Titan Black GPUs (Sec. 3.3)" in loss
    assert "On a system equipped with four NVIDIA Titan Black GPUs, training a single net took 2-3 weeks" in reference
    # "no division by a standard deviation, which torchvision's weights and this course's networks add"
    assert all(s != 1 for s in pretrained.torchvision_weights("vgg16").transforms().std)
    assert all(s != 1 for s in spec_of(recipes.build_model("classroom")).std)
    cell = _code_cell("09", 'torchvision_weights("vgg16").transforms()')
    assert "fit(" not in cell


@pytest.mark.parametrize(
    ("cited", "work"),
    [
        ("FCN (Long et al. 2015)", "Fully Convolutional Networks for Semantic Segmentation"),
        ("Faster R-CNN (Ren et al. 2015)", "Faster R-CNN: Towards Real-Time Object Detection"),
        ("SSD (Liu et al. 2016)", "SSD: Single Shot MultiBox Detector"),
        ("Gatys et al. (2016)", "Image Style Transfer Using Convolutional Neural Networks"),
        ("Johnson et al. (2016)", "Perceptual Losses for Real-Time Style Transfer"),
    ],
)
def test_09_afterlife_cites_each_work_and_reference_lists_it(cited, work):
    assert cited in _prose("09")
    assert work in " ".join(_bibliography().split())


# 5. "Open the helper" cells: after the exercise that asks for the same code (05.3, 08.3), as 02 does for 02.1.


def _after_exercise(number: str, exercise_id: str, marker: str) -> None:
    cells = _cells(number)
    check = _index(cells, "code", f'ex.check("{exercise_id}", answer);')
    opened = _index(cells, "code", marker)
    assert opened == check + 2 and cells[check + 1][1].startswith("**Open the helper**")
    assert "import inspect" in cells[opened][1]  # runs on its own, whatever ran before it


def test_05_opens_grad_cam_after_exercise_05_3_and_its_lines_are_the_exercises():
    _after_exercise("05", "05.3", "inspect.getsource(probe.grad_cam)")
    source = inspect.getsource(probe.grad_cam)
    assert len(source.splitlines()) < 60
    assert "alpha = grads.mean((2, 3), keepdim=True)" in source and "F.relu((alpha * a).sum(1))" in source
    assert "return output.clone()" in source  # "the hook returns a copy of A to the network"
    solution = exercises.EXERCISES["05.3"].solution
    assert "G.mean(dim=(1, 2))" in solution and "torch.relu(" in solution  # the same two lines, for one image


def test_grad_cam_touches_no_weights_grad_as_05_says():
    assert "without touching any weight's `.grad`" in _prose("05")
    model = recipes.build_model("classroom")
    maps = probe.grad_cam(model, torch.randn(2, 1, 32, 32))
    assert maps.shape == (2, 32, 32) and all(p.grad is None for p in model.parameters())


def test_08_opens_pruning_in_section_1_and_distillation_after_exercise_08_3():
    cells = _cells("08")
    pruning = _index(cells, "code", "prune.filter_l1_norms, prune.channels_to_keep, prune.prune_channels")
    assert _index(cells, "markdown", "## 1. Pruning") < pruning < _index(cells, "markdown", "## 2. Quantization")
    _after_exercise("08", "08.3", "inspect.getsource(distill.distillation_loss)")
    for helper in (prune.filter_l1_norms, prune.channels_to_keep, prune.prune_channels, distill.distillation_loss):
        assert len(inspect.getsource(helper).splitlines()) < 40, helper


def test_08_says_what_kl_divs_reductions_do_and_the_helper_uses_batchmean():
    said = _markdown_cell("08", "**Open the helper**, once you have written your own `kd_loss`")
    assert 'reduction="mean"` would also divide by the number of classes, making the soft term 10 times' in said
    assert "too small here (PyTorch only warns)" in said
    assert 'reduction="batchmean"' in inspect.getsource(distill.distillation_loss)
    torch.manual_seed(0)
    s, t = torch.randn(8, 10).log_softmax(1), torch.randn(8, 10).log_softmax(1)
    batchmean = F.kl_div(s, t, reduction="batchmean", log_target=True)
    per_image = (t.exp() * (t - s)).sum(1).mean()  # the KL divergence of each image, averaged
    assert torch.allclose(batchmean, per_image)
    with pytest.warns(UserWarning, match="batchmean"):  # "(PyTorch only warns)"
        mean = F.kl_div(s, t, reduction="mean", log_target=True)
    assert torch.allclose(mean * 10, batchmean)
    assert len(recipes.build_model("classroom").input_spec.classes) == 10  # "10 times ... here"

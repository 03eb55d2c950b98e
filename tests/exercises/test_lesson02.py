"""Notebook 02's exercises (VGG blocks): known-wrong answers, the right forms a check must also accept (padding
"same", lazy layers, log-softmax), and what only these checks do: refuse the package's block, the stub, a block
whose only fault is in its values; and 02.8's BatchNorm output, by hand, against nn.BatchNorm1d itself."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vgg_edu import d2l_reference, exercises, models
from vgg_edu.exercises import lesson02

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_vgg_blocks.ipynb"


def _vgg_block(num_convs, in_channels, out_channels, *, relu=True, pool=True, conv=nn.Conv2d, **conv_options):
    """A VGG block with one thing changed: no ReLUs, no pool, another conv class or other conv options."""
    layers = []
    for _ in range(num_convs):
        layers.append(conv(out_channels, kernel_size=3, **conv_options) if conv is nn.LazyConv2d
                      else conv(in_channels, out_channels, kernel_size=3, **conv_options))  # fmt: skip
        layers += [nn.ReLU()] if relu else []
        in_channels = out_channels
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


def _vgg_block_without_relus(num_convs, in_channels, out_channels):
    return _vgg_block(num_convs, in_channels, out_channels, relu=False, padding=1)


def _vgg_block_without_pool(num_convs, in_channels, out_channels):
    convs = _vgg_block(num_convs, in_channels, out_channels, relu=False, pool=False, padding=1)
    return nn.Sequential(*convs, nn.ReLU())


def _vgg_block_valid_padding(num_convs, in_channels, out_channels):
    return _vgg_block(num_convs, in_channels, out_channels, padding="valid")


def _vgg_block_same_padding(num_convs, in_channels, out_channels):
    return _vgg_block(num_convs, in_channels, out_channels, padding="same")


def _vgg_block_lazy(num_convs, in_channels, out_channels):  # d2l's block: the convs read their input's channels
    return _vgg_block(num_convs, in_channels, out_channels, conv=nn.LazyConv2d, padding=1)


def _vgg_block_lazy_without_relus(num_convs, in_channels, out_channels):
    return _vgg_block(num_convs, in_channels, out_channels, conv=nn.LazyConv2d, relu=False, padding=1)


def _vgg_block_without_biases(num_convs, in_channels, out_channels):  # bias=False is for a conv before BatchNorm
    return _vgg_block(num_convs, in_channels, out_channels, padding=1, bias=False)


def _package_block_wrapped(num_convs, in_channels, out_channels):
    return models.vgg_block(num_convs, in_channels, out_channels)


def _features_channels_updated_first(conv_arch, in_channels):  # the fix put before the append
    blocks = []
    for num_convs, out_channels in conv_arch:
        in_channels = out_channels
        blocks.append(models.vgg_block(num_convs, in_channels, out_channels))
    return nn.Sequential(*blocks)


def _features_lazy(conv_arch, in_channels):  # right: lazy convs read the channels they receive, nothing to chain
    return nn.Sequential(*(_vgg_block_lazy(num_convs, None, out_channels) for num_convs, out_channels in conv_arch))


def _features_lazy_one_block(conv_arch, in_channels):  # lazy, but one block of the last width: one pool only
    return _vgg_block_lazy(sum(n for n, _ in conv_arch), None, conv_arch[-1][1])


def _features_d2l_blocks(conv_arch, in_channels):  # right: the book's lazy block, as section 4 prints it
    return nn.Sequential(*(d2l_reference.vgg_block(num_convs, out_channels) for num_convs, out_channels in conv_arch))


def _features_one_block(conv_arch, in_channels):  # every conv in one block: one pool only
    widths = [c for n, c in conv_arch for _ in range(n)]
    layers = [m for c_in, c_out in zip([in_channels] + widths, widths) for m in (nn.Conv2d(c_in, c_out, 3, padding=1),
                                                                             nn.ReLU())]  # fmt: skip
    return nn.Sequential(*layers, nn.MaxPool2d(2))


def _features_without_pools(conv_arch, in_channels):
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(nn.Sequential(*list(models.vgg_block(num_convs, in_channels, out_channels))[:-1]))
        in_channels = out_channels
    return nn.Sequential(*blocks)


class _Zeros(nn.Module):
    def __init__(self, classifier=None):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = classifier or nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


class _Logits(_Zeros):
    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class _DoubledSoftmax(_Zeros):
    def forward(self, x):
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1) * 2


class _DoubledLogits(_Zeros):
    def forward(self, x):
        return 2 * self.classifier(torch.flatten(self.features(x), 1))


class _LogSoftmax(_Zeros):  # the same cross-entropy as the raw scores: right
    def forward(self, x):
        return torch.log_softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def _softmax_in_classifier():  # the softmax moved, not removed: every row still sums to 1
    return _Logits(nn.Sequential(nn.Linear(8 * 14 * 14, 10), nn.Softmax(dim=1)))


def _log_softmax_in_classifier():
    return _Logits(nn.Sequential(nn.Linear(8 * 14 * 14, 10), nn.LogSoftmax(dim=1)))


class _TinyVGGZeros(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


class _TinyVGGViewAll(_TinyVGGZeros):  # the batch flattened too, another way
    def forward(self, x):
        return self.classifier(self.features(x).view(-1))


class _TinyVGGView(_TinyVGGZeros):  # right: one vector per image, written with view
    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class _TinyVGGFlattenLayer(_TinyVGGZeros):  # right: nn.Flatten, whose start_dim is 1
    def forward(self, x):
        return self.classifier(nn.Flatten()(self.features(x)))


def _first_block_no_padding():
    return nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2))


WRONG = {
    "02.1": [
        models.vgg_block,
        _package_block_wrapped,
        _vgg_block_without_relus,
        _vgg_block_without_pool,
        _vgg_block_valid_padding,
        _vgg_block_lazy_without_relus,
        _vgg_block_without_biases,
    ],  # fmt: skip
    # 02.1's answers given to 02.2 (a block where a stack of blocks is asked), and fixes that are not one
    "02.2": [
        models.vgg_block,
        _package_block_wrapped,
        _vgg_block_without_relus,
        _vgg_block_without_pool,
        _features_channels_updated_first,
        _features_one_block,
        _features_without_pools,
        _features_lazy_one_block,
    ],  # fmt: skip
    "02.3": [_vgg_block_without_relus(2, 3, 64), _first_block_no_padding(), models.vgg_block(2, 3, 32)],
    "02.4": [_vgg_block_without_relus(3, 512, 512), models.vgg_block(2, 512, 512)],
    "02.5": [_TinyVGGZeros, _TinyVGGViewAll, 42],
    "02.6": [[(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], [(2, 64)] * 5, [(3, 64), (1, 128)] + [(2, 256)] * 3],
    "02.7": [_Zeros, _DoubledSoftmax, _softmax_in_classifier(), _DoubledLogits],
    "02.8": [
        -2 / math.sqrt(5),  # the training-mode output: the batch's mean and biased variance
        -2 / math.sqrt(20 / 3),  # the batch's mean and unbiased variance
        3.0,  # the running statistics before the step
        2.5 / math.sqrt(1.4),  # the running variance updated with the biased variance
        -1.5 / math.sqrt(6.1),  # momentum as the old estimate's weight
        2.5,  # the running mean updated, not the variance
        3 / math.sqrt(0.9 + 0.1 * 20 / 3),  # the running variance updated, not the mean
        2.5 / (0.9 + 0.1 * 20 / 3),  # divided by the variance, not its square root
        2.01,  # beyond the stated 0.005
        [2.0, 2.0],  # two numbers
    ],
}

RIGHT = {
    "02.1": [_vgg_block_same_padding, _vgg_block_lazy],
    "02.2": [_features_lazy, _features_d2l_blocks],
    "02.3": [_vgg_block_same_padding(2, 3, 64), _vgg_block_lazy(2, 3, 64)],
    "02.5": [_TinyVGGView, _TinyVGGFlattenLayer],
    "02.7": [_Logits, _LogSoftmax, _log_softmax_in_classifier()],
    "02.8": [2.0, 1.997, np.float32(1.9973), torch.tensor([[1.9973]]), torch.tensor(1.9973, dtype=torch.float16)],
}
NOT_COUNTS = ["02.8"]  # a BatchNorm output
SECRETS = {"02.8": ["1.99", "20 / 3", "1.56"]}  # besides the answer's own digits: the answer, the batch's variance
NOT_ABOVE = {"02.8": ["1.997", "1.566", "1.567"]}  # the answer and the running variance, nowhere above the exercise


def _run(code: str):
    namespace = {"torch": torch, "nn": nn, "math": math, "models": models}
    exec(code, namespace)
    return namespace["answer"]


@pytest.mark.parametrize("exercise_id", ["02.1"])
def test_the_package_block_is_not_accepted_as_the_students(exercise_id, capsys):
    for fake in (models.vgg_block, _package_block_wrapped, d2l_reference.vgg_block,
                 lambda n, i, o: models.vgg_block(n, i, o)):  # fmt: skip
        assert exercises.check(exercise_id, fake) is False
        assert "package" in capsys.readouterr().out


def test_the_vgg_block_stub_runs_and_is_rejected(capsys):
    assert exercises.check("02.1", _run(lesson02.STUB)) is False  # the notebook runs with the stub unanswered
    assert "0 convs" in capsys.readouterr().out


def test_a_block_without_relus_fails_by_its_outputs_alone(capsys):
    assert exercises.check("02.3", _vgg_block_without_relus(2, 3, 64)) is False
    assert "negative" in capsys.readouterr().out  # the convs, kernels and pool are right: only the values tell


def test_a_block_without_relus_is_told_so_whatever_weights_it_drew(capsys):
    # Some draws (3 of 2,000 measured) give a block without ReLUs positive biases that outweigh its convs on the
    # check's input: all its outputs there are positive. The message must not follow the draw (the grader's sandbox
    # draws the weights anew, and once told such a block "output differs" where the kernel said "negative").
    def biased_without_relus(num_convs, in_channels, out_channels):
        block = _vgg_block_without_relus(num_convs, in_channels, out_channels)
        nn.init.constant_(block[num_convs - 1].bias, 1.0)
        return block

    torch.manual_seed(0)
    probe = biased_without_relus(3, 4, 6)(torch.randn(2, 4, 8, 8))
    assert (probe > 0).all()  # the case this test is about: no negative output on an input like the check's
    assert exercises.check("02.1", biased_without_relus) is False
    assert "negative" in capsys.readouterr().out


def test_valid_padding_is_refused_for_its_padding_and_same_padding_accepted(capsys):
    assert exercises.check("02.1", _vgg_block_valid_padding) is False
    assert "padding 1" in capsys.readouterr().out
    assert exercises.check("02.1", _vgg_block_same_padding) is True


def test_a_lazy_block_is_checked_by_what_it_computes(capsys):
    assert exercises.check("02.1", _vgg_block_lazy) is True
    assert exercises.check("02.1", _vgg_block_lazy_without_relus) is False
    assert "negative" in capsys.readouterr().out


def test_the_softmax_moved_into_the_classifier_is_still_probabilities(capsys):
    assert exercises.check("02.7", _softmax_in_classifier()) is False
    assert "probabilities" in capsys.readouterr().out


def test_the_stack_of_blocks_fix_is_not_the_block_exercises_solution():
    """02.2 fixes a different function from the vgg_block 02.1 asks for (and section 1 prints): its solution is not
    02.1's, and the line it adds is not in 02.1's solution."""
    solution_02_1, solution_02_2 = (exercises.EXERCISES[i].solution for i in ("02.1", "02.2"))
    assert "def vgg_features" in solution_02_2 and "def vgg_features" not in solution_02_1
    added = set(solution_02_2.splitlines()) - set(lesson02.BUGS["02.2"].splitlines())
    assert added == {"        in_channels = out_channels"}
    assert "models.vgg_block" in solution_02_2


def test_the_block_exercise_comes_before_the_package_block_is_shown():
    cells = [(c["cell_type"], "".join(c["source"])) for c in json.loads(NOTEBOOK.read_text())["cells"]]
    k = next(i for i, (kind, s) in enumerate(cells) if kind == "code" and 'ex.check("02.1"' in s)
    assert lesson02.STUB in cells[k][1]
    before = "\n".join(source for _, source in cells[: k - 1])
    assert "make_layers" not in before and "vgg_block(" not in before


@pytest.mark.parametrize("exercise_id", sorted(lesson02.BUGS))
def test_a_snippet_run_unchanged_is_told_so_without_naming_its_bug(exercise_id, tmp_path, monkeypatch, capsys):
    """The cell as handed out, run as it is: "Not yet", the snippet is as given, and no diagnosis of the bug."""
    import importlib

    header = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nfrom vgg_edu import models\n\n"
    (tmp_path / f"snippet_{exercise_id.replace('.', '_')}.py").write_text(header + lesson02.BUGS[exercise_id])
    monkeypatch.syspath_prepend(str(tmp_path))
    given = importlib.import_module(f"snippet_{exercise_id.replace('.', '_')}").answer
    assert exercises.check(exercise_id, given) is False
    out = capsys.readouterr().out
    assert lesson02.AS_GIVEN in out and out.count("\n") == 2  # the verdict and the hint, nothing else


def test_a_block_without_biases_is_refused_for_them(capsys):
    """bias=False computes the right shapes, and the same values with the same weights: only the check of the convs
    themselves can tell it from VGG's block, whose convs have biases (a conv drops its bias only before BatchNorm)."""
    assert exercises.check("02.1", _vgg_block_without_biases) is False
    assert "no bias" in capsys.readouterr().out


def test_lazy_convs_are_materialised_before_their_channels_are_read(capsys):
    """An unbuilt LazyConv2d reports 0 input channels: the check runs the stack once on a dummy input first, so a
    right fix built with lazy convs is not told that its channels "do not chain"."""
    assert nn.LazyConv2d(4, 3).in_channels == 0
    for right in (_features_lazy, _features_d2l_blocks):
        assert exercises.check("02.2", right) is True
        assert "do not chain" not in capsys.readouterr().out
    assert exercises.check("02.2", _features_lazy_one_block) is False  # built, its convs are read as any others'
    assert "do not chain" in capsys.readouterr().out


def _batchnorm_after_one_step(momentum=0.1):
    """02.8's layer, run by PyTorch: one training step on the question's batch, then evaluation mode."""
    bn = nn.BatchNorm1d(1, momentum=momentum)
    with torch.no_grad():
        bn.train()(torch.tensor([[2.0], [4.0], [6.0], [8.0]]))
    return bn.eval()


def test_the_batchnorm_answer_is_what_torchs_own_layer_outputs(capsys):
    """02.8's solution, written out by hand, against nn.BatchNorm1d itself; its output tensor passes as it is."""
    with torch.no_grad():
        out = _batchnorm_after_one_step()(torch.tensor([[3.0]]))
    assert out.item() == pytest.approx(_run(exercises.EXERCISES["02.8"].solution), abs=1e-5)
    assert out.item() == pytest.approx(lesson02._bn_eval_output(), abs=1e-6)
    assert exercises.check("02.8", out) is True


def test_the_plausible_batchnorm_mistakes_are_each_named(capsys):
    """The wrong answers computed by PyTorch where it can compute them: the layer with the momentum read the other
    way, the fresh layer (no step), the value standardised with the batch's own statistics."""
    value, batch = torch.tensor([[3.0]]), torch.tensor([2.0, 4.0, 6.0, 8.0])
    with torch.no_grad():
        torch_wrong = {
            "momentum 0.1 is the weight of the batch": _batchnorm_after_one_step(momentum=0.9)(value),
            "before the step": nn.BatchNorm1d(1).eval()(value),
            "the batch's statistics": F.batch_norm(value, batch.mean()[None], batch.var(unbiased=False)[None]),
        }
    by_hand = {
        "unbiased variance": lesson02._bn_eval_output(unbiased=False),
        "the running variance moved too": lesson02._bn_eval_output(update_var=False),
        "the running mean moved too": lesson02._bn_eval_output(update_mean=False),
        "square root": lesson02._bn_eval_output(sqrt=False),
    }
    for said, wrong in {**torch_wrong, **by_hand}.items():
        assert exercises.check("02.8", wrong) is False
        assert said in capsys.readouterr().out.split("Hint:")[0], said

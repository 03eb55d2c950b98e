"""Knowledge distillation: the loss against a hand computation of Hinton et al. 2015, label smoothing on the hard term
only, refusals, a frozen teacher."""

import math

import numpy as np
import pytest
import torch

from vgg_edu.compression.distill import Distiller, distillation_loss
from vgg_edu.training.loop import fit

from conftest import requires_cuda, small_model, tiny_data, with_statistics


def _kd_by_hand(s, t, y, temp, alpha):
    """Hinton et al. 2015 in numpy: (1 - a) CE + a T^2 KL(softmax(t/T) || softmax(s/T)), batch mean."""

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    s, t = s.astype(np.float64), t.astype(np.float64)
    ce = -log_softmax(s)[np.arange(len(y)), y].mean()
    log_p, log_q = log_softmax(t / temp), log_softmax(s / temp)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(1).mean()
    return (1 - alpha) * ce + alpha * temp**2 * kl


@pytest.mark.parametrize("temp, alpha", [(4.0, 0.9), (1.0, 0.5), (2.5, 0.0), (10.0, 1.0)])
def test_distillation_loss_matches_the_hand_computation(temp, alpha):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(6, 10, generator=g), 4 * torch.randn(6, 10, generator=g)
    y = torch.randint(0, 10, (6,), generator=g)
    got = distillation_loss(s, t, y, temperature=temp, alpha=alpha)
    assert math.isclose(float(got), _kd_by_hand(s.numpy(), t.numpy(), y.numpy(), temp, alpha), rel_tol=1e-5)


def test_label_smoothing_applies_to_the_hard_term_only():
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    y = torch.randint(0, 10, (6,), generator=g)
    smooth = torch.full((6, 10), 0.1 / 10).scatter_add_(1, y.view(-1, 1), torch.full((6, 1), 0.9))
    ce = float(-(smooth * s.log_softmax(1)).sum(1).mean())
    soft = _kd_by_hand(s.numpy(), t.numpy(), y.numpy(), 2.0, 1.0)
    got = distillation_loss(s, t, y, temperature=2.0, alpha=0.5, label_smoothing=0.1)
    assert math.isclose(float(got), 0.5 * ce + 0.5 * soft, rel_tol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        Distiller(small_model(), label_smoothing=1.0)


def test_the_soft_term_is_zero_when_the_student_copies_the_teacher():
    t = torch.randn(4, 10)
    assert float(distillation_loss(t, t, torch.zeros(4, dtype=torch.long), alpha=1.0)) == pytest.approx(0)


@pytest.mark.parametrize("kw, message", [({"temperature": 0}, "temperature"), ({"alpha": 1.5}, "alpha"),
                                         ({"temperature": "4"}, "temperature"), ({"temperature": -2.0}, "temperature"),
                                         ({"temperature": float("nan")}, "temperature"),
                                         ({"temperature": float("inf")}, "temperature"),
                                         ({"alpha": float("nan")}, "alpha")])  # fmt: skip
def test_bad_distillation_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        distillation_loss(torch.zeros(2, 10), torch.zeros(2, 10), torch.zeros(2, dtype=torch.long), **kw)
    with pytest.raises(ValueError, match=message):
        Distiller(small_model(), **kw)


def test_a_teacher_that_is_not_a_network_is_refused():
    with pytest.raises(TypeError, match="teacher must be a trained network"):
        Distiller("resnet50")


def test_distiller_trains_the_student_and_leaves_the_teacher_alone(one_thread):
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    teacher = with_statistics(small_model(seed=1, width_divisor=8))
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = small_model().eval()
    distiller = Distiller(teacher, temperature=3.0, alpha=0.7)
    x = student.input_spec(ds.train_images[:8])
    with torch.no_grad():
        expected = distillation_loss(student(x), teacher(x), ds.train_labels[:8], temperature=3.0, alpha=0.7)
        assert torch.allclose(distiller(student(x), ds.train_labels[:8], x), expected)
    fit(student, ds, epochs=1, batch_size=32, loss_fn=distiller, quiet=True)
    assert all(torch.equal(frozen[k], v) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters())


@requires_cuda
@pytest.mark.cuda
def test_a_student_distils_from_a_teacher_on_cuda():
    ds = tiny_data(n_train=64, n_test=16, n_val=16)
    teacher = with_statistics(small_model(width_divisor=8)).cuda()
    student = small_model().cuda()
    history = fit(student, ds, epochs=1, batch_size=32, loss_fn=Distiller(teacher), quiet=True)
    assert history.final["step"] == 2 and next(student.parameters()).is_cuda

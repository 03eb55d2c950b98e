"""What notebook 06 added to train.py: Adam, the paper's step schedule and the post's plateau schedule with
patience 3, against hand computations and torch's own schedulers."""

import pytest
import torch

from vgg_edu.training.loop import fit
from vgg_edu.training.optim import make_optimizer, make_scheduler

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_adam_is_torchs_adam_with_coupled_weight_decay():
    opt = make_optimizer(small_model(), "adam", 1e-3, 0.9, 5e-4)
    assert type(opt) is torch.optim.Adam and opt.defaults["weight_decay"] == 5e-4
    with pytest.raises(ValueError, match="'adam'"):
        make_optimizer(small_model(), "lion", 1e-3, 0.9, 0.0)


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    opt = _opt()
    sched = make_scheduler(opt, "step", 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:50] == [1.0] * 50
    assert lrs[50:75] == pytest.approx([0.1] * 25)
    assert lrs[75:] == pytest.approx([0.01] * 25)
    reference = torch.optim.lr_scheduler.MultiStepLR(_opt(), milestones=[50, 75], gamma=0.1)
    assert reference.milestones == {50: 1, 75: 1}  # the same milestones, by torch's own scheduler


def test_plateau3_waits_three_epochs_without_progress():
    opt = _opt(0.1)
    sched = make_scheduler(opt, "plateau3", 10)
    seen = []
    for acc in (0.5, 0.6, 0.6, 0.6, 0.6, 0.6):
        sched.step(acc)
        seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([0.1] * 5 + [0.01])  # it acts on the 4th epoch in a row without a better accuracy
    patience1 = _opt(0.1)
    sched1 = make_scheduler(patience1, "plateau", 10)
    for acc in (0.5, 0.6, 0.6, 0.6):
        sched1.step(acc)
    assert patience1.param_groups[0]["lr"] == pytest.approx(0.01)


def test_fit_runs_the_new_schedules_and_plateau3_needs_validation():
    ds = tiny_data(n_val=20)
    h = fit(small_model(), ds, epochs=2, batch_size=32, lr=0.1, schedule="step", log_every=1, quiet=True)
    # 6 steps: 0.1 for steps 1-3, 0.01 for step 4, 0.001 for 5 and 6; each row logs the rate after its step
    assert [round(s["lr"], 6) for s in h.steps] == [0.1, 0.1, 0.01, 0.001, 0.001, 0.001]
    h = fit(small_model(), ds, epochs=2, batch_size=32, lr=0.1, schedule="plateau3", optimizer="adam", quiet=True)
    assert h.final["lr"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="validation"):
        fit(small_model(), tiny_data(), epochs=1, schedule="plateau3", quiet=True)

"""The update rules and the schedules: Adam, the paper's step schedule, the plateau schedules with patience 1 and 3, the
curves' formulas, against hand computations and torch's own schedulers."""

import math

import pytest
import torch

from vgg_edu.training.config import OPTIMIZERS, SCHEDULES
from vgg_edu.training.loop import fit
from vgg_edu.training.optim import (
    KINDS,
    make_optimizer,
    make_schedule,
    make_scheduler,
    needs_validation,
    schedule_curve,
)

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_every_schedule_the_config_offers_has_a_kind():
    assert tuple(KINDS) == SCHEDULES


def test_every_choice_the_config_offers_is_built():
    built = {name: type(make_optimizer(small_model(), name, 0.1, 0.9, 5e-4)) for name in OPTIMIZERS}
    assert built == {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    for name in SCHEDULES:
        opt = _opt(0.1)
        make_scheduler(opt, name, 10)
        assert opt.param_groups[0]["lr"] > 0, name


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


def test_plateau_schedule_follows_validation_accuracy():
    ds = tiny_data(n_val=20)
    frozen = small_model(batch_norm=False)  # lr 1e-6, no BatchNorm: validation accuracy stays put
    h = fit(frozen, ds, epochs=4, batch_size=32, lr=1e-6, schedule="plateau", quiet=True)
    assert len({r["val_acc"] for r in h.epochs}) == 1
    assert [r["lr"] for r in h.epochs] == pytest.approx([1e-6, 1e-6, 1e-6, 1e-7])  # patience 1, then / 10


def test_schedule_curves_follow_their_formulas():
    total, peak = 40, 0.1
    one = schedule_curve("onecycle", total, peak)
    warm = round(0.25 * total)
    assert one[0] == pytest.approx(peak / 25) and one[warm] == pytest.approx(peak) and max(one) == one[warm]
    t = 30
    assert one[t] == pytest.approx(peak * (1 + math.cos(math.pi * (t - warm) / (total - warm))) / 2)
    assert schedule_curve("constant", 5, 0.3) == pytest.approx([0.3] * 5)
    cosine = schedule_curve("cosine", total, peak)
    assert cosine[20] == pytest.approx(peak / 2) and len(cosine) == total
    with pytest.raises(ValueError, match="validation accuracy"):
        schedule_curve("plateau", 10)


@pytest.mark.parametrize("name", SCHEDULES)
def test_a_schedule_says_when_it_steps(name):
    """Per-step schedules move after every step and not at an epoch's end; the plateau ones the other way round, and
    only they need validation. Against the torch scheduler stepped by hand."""
    schedule = make_schedule(_opt(0.1), name, 12)
    opt, reference_opt = schedule.scheduler.optimizer, _opt(0.1)
    reference = make_scheduler(reference_opt, name, 12)
    plateau = isinstance(reference, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert needs_validation(name) is schedule.needs_validation is plateau
    for _ in range(6):  # six epochs of two steps, validation accuracy stalled at 0.5
        for _ in range(2):
            opt.step()
            reference_opt.step()
            schedule.after_step()
            if not plateau:
                reference.step()
        schedule.after_epoch(None)  # an epoch that was not validated: nothing to follow
        schedule.after_epoch(0.5)
        if plateau:
            reference.step(0.5)
        assert opt.param_groups[0]["lr"] == reference_opt.param_groups[0]["lr"]
    assert schedule.state_dict() == reference.state_dict()  # what a checkpoint saves, as before
    assert (opt.param_groups[0]["lr"] < 0.1) is (name != "constant")  # it did act (plateau3: after 4 stalled epochs)
    with pytest.raises(ValueError, match="unknown schedule"):
        needs_validation("sixth")

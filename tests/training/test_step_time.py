"""What a training step costs: against the pipeline's resizes and against its MACs, and in words."""

import pandas as pd
import pytest

from vgg_edu.training.step_time import pipeline_costs, step_against_resize, step_ms, time_against_macs

from conftest import tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def test_pipeline_costs_time_three_parts_per_image():
    costs = pipeline_costs(tiny_data(), size=32, batch_size=4)
    assert costs.shape == (3, 1) and (costs.iloc[:, 0] > 0).all()
    assert "training step" in costs.index and costs.columns[0] == "ms per image at 32 px"


def test_step_ms_times_each_variant():
    variants = {
        "32 px": {"width_divisor": 16},
        "64 px, config B": {"width_divisor": 16, "input_size": 64, "config": "B"},
        "32 px, longer": {"width_divisor": 16, "epochs": 3},  # a run's field: the step is the 32 px one
    }
    timed = step_ms(tiny_data(), variants, batch_size=4, repeats=1)
    assert list(timed.index) == list(variants) and (timed.ms_per_image > 0).all()
    # VGG-11/16 at 32 px: the conv formula's sum (H W C_in C_out 9, pools after convs 1, 2, 4, 6) and the GAP head
    sides, widths = [32, 16, 8, 8, 4, 4, 2, 2], [4, 8, 16, 16, 32, 32, 32, 32]
    conv = sum(s * s * c * i * 9 for s, c, i in zip(sides, widths, [1] + widths[:-1]))
    assert timed.MACs_M["32 px"] == pytest.approx((conv + 32 * 10) / 1e6, abs=1e-9) == timed.MACs_M["32 px, longer"]
    # config B at 64 px adds a conv in stages 1 and 2: 64^2 4 4 9 and 32^2 8 8 9 more than A at 64 px
    a64 = step_ms(tiny_data(), {"A": {"width_divisor": 16, "input_size": 64}}, batch_size=4, repeats=1).MACs_M["A"]
    extra = timed.MACs_M["64 px, config B"] - a64
    assert extra == pytest.approx((64 * 64 * 4 * 4 * 9 + 32 * 32 * 8 * 8 * 9) / 1e6, abs=1e-9)


def test_step_against_resize_says_the_ratios_and_which_lesson_they_support():
    parts = ["PIL resize (d2l, per image)", "F.interpolate (batched)", "training step"]
    cpu = step_against_resize(pd.Series([0.2, 0.01, 7.0], index=parts))  # 7 / 0.2 = 35, 7 / 0.01 = 700
    assert "35x as long as PIL's resize and 700x as long as F.interpolate" in cpu
    assert "over ten times either resize" in cpu and "waiting" not in cpu
    gpu = step_against_resize(pd.Series([0.2, 0.004, 0.3], index=parts))  # 1.5 and 75
    assert "1.5x as long as PIL's resize and 75x as long as F.interpolate" in gpu
    assert "PIL's resize is within a tenth of the step" in gpu and "over ten times" not in gpu
    both = step_against_resize(pd.Series([0.2, 0.1, 0.5], index=parts))  # 2.5 and 5
    assert "PIL's resize and F.interpolate are within a tenth" in both


def test_time_against_macs_says_whether_time_follows_the_macs():
    rising = pd.DataFrame({"MACs_M": [31.0, 10.0, 66.0], "ms_per_image": [0.3, 0.1, 0.7]}, index=["56", "32", "84"])
    said = time_against_macs(rising)
    assert said.startswith("a step took more time the more MACs it did")
    assert said.index("32 10.0 M MACs, 0.100 ms") < said.index("56 31.0 M") < said.index("84 66.0 M")
    flat = rising.assign(ms_per_image=[0.1, 0.1, 0.12])  # two networks of different MACs in the same time
    assert time_against_macs(flat).startswith("a step's time did not follow its MACs")

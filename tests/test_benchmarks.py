"""The benchmark scripts run end to end, cut to a few steps: every figure they print comes from a real measurement.

They read the real Fashion-MNIST (as the notebooks do); speed itself is never asserted here (docs/benchmarks.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vgg_edu.data.fashion_mnist import find_fashion_mnist

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *args):
    if find_fashion_mnist() is None:
        pytest.skip("Fashion-MNIST is not on this machine (make data)")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, cwd=ROOT, env=os.environ | {"OMP_NUM_THREADS": "1"}, check=False, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_train_throughput_times_both_pipelines_at_steady_state_in_fresh_processes():
    out = _run(
        "train_throughput.py", "--resize", "32", "--warmup", "1", "--steps", "2", "--rounds", "1",
        "--eval-images", "64", "--threads", "1",
    )  # fmt: skip
    lines = out.splitlines()
    assert "1 warm-up + 2 timed steps each" in lines[0] and "each pipeline in a fresh process" in lines[0]
    rounds = re.findall(r"round 1 (d2l|vgg_edu) +([\d.]+) s +([\d.]+) examples/s \(training at steady state", out)
    assert [name for name, _, _ in rounds] == ["d2l", "vgg_edu"]
    for _, seconds, rate in rounds:  # 2 timed steps of 128 images; seconds printed to 0.01, the rate to 0.1
        rounding = 0.05 + 2 * 128 * 0.005 / float(seconds) ** 2
        assert float(rate) == pytest.approx(2 * 128 / float(seconds), abs=rounding)
    start_up = re.findall(
        r"start-up (d2l|vgg_edu) +(-?[\d.]+) s +\(its 1 warm-up steps took ([\d.]+) s, 1 steady steps ([\d.]+) s", out
    )
    assert [name for name, *_ in start_up] == ["d2l", "vgg_edu"]
    for (_, extra, warm, steady), (_, seconds, _) in zip(start_up, rounds):  # start-up: warm-up less a steady step
        assert float(steady) == pytest.approx(float(seconds) / 2, abs=0.006)
        assert float(extra) == pytest.approx(float(warm) - float(steady), abs=0.011)
    ratio = re.search(
        r"steady state: best d2l ([\d.]+), vgg_edu ([\d.]+) examples/s; ratio vgg_edu / d2l: (\d+\.\d\d)x", out
    )
    assert ratio and float(ratio[3]) == pytest.approx(float(ratio[2]) / float(ratio[1]), abs=0.01)
    assert re.search(r"evaluation of 64 test images: d2l [\d.]+, vgg_edu [\d.]+ images/s .*start-up included", out)


def test_time_to_accuracy_reports_each_target_and_the_d2l_estimate(tmp_path):
    rows = tmp_path / "rows.json"
    out = _run(
        "time_to_accuracy.py", "--recipes", "classroom_v1", "--set", "epochs=1", "--set", "max_steps=3",
        "--d2l-steps", "1", "--threads", "1", "--json", str(rows),
    )  # fmt: skip
    assert out.count("time to 0.9") == 2 and "not reached" in out  # 3 steps reach neither target
    assert re.search(r"d2l recipe .*: \d+ min for its 10 epochs here, extrapolated from 1 steps", out)
    assert rows.is_file()


def test_step_overhead_times_each_variant_against_the_first():
    out = _run(
        "step_overhead.py", "--variants", "plain,prefetch", "--warmup", "1", "--steps", "2", "--rounds", "1",
        "--threads", "1",
    )  # fmt: skip
    assert "1 warm-up + 2 timed steps, 1 rounds" in out.splitlines()[0]
    assert len(re.findall(r"round 1 (plain|prefetch) +[\d.]+ ms a step, warm-up [\d.]+ s", out)) == 2
    best = {
        v: (float(ms), float(x))
        for v, ms, x in re.findall(r"best (plain|prefetch) +([\d.]+) ms a step \(([\d.]+)x", out)
    }
    assert best["plain"][1] == 1.0
    assert best["prefetch"][1] == pytest.approx(best["plain"][0] / best["prefetch"][0], abs=0.01)

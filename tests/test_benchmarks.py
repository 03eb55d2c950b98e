"""The benchmark scripts run end to end, cut to a few steps: every figure they print comes from a real measurement.

They read the real Fashion-MNIST (as the notebooks do); speed itself is never asserted here (docs/benchmarks.md)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vgg_edu.data.fashion_mnist import find_fashion_mnist

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


def test_train_throughput_times_both_pipelines_in_fresh_processes():
    out = _run("train_throughput.py", "--resize", "32", "--steps", "2", "--rounds", "1", "--eval-images", "64")
    assert "each pipeline in a fresh process" in out.splitlines()[0]
    assert len(re.findall(r"round 1 (d2l|vgg_edu) +[\d.]+ s +[\d.]+ examples/s", out)) == 2
    assert re.search(r"ratio vgg_edu / d2l: \d+\.\d\dx", out)
    assert re.search(r"evaluation of 64 test images: d2l [\d.]+, vgg_edu [\d.]+ images/s", out)


def test_time_to_accuracy_reports_each_target_and_the_d2l_estimate(tmp_path):
    rows = tmp_path / "rows.json"
    out = _run(
        "time_to_accuracy.py", "--recipes", "classroom_v1", "--set", "epochs=1", "--set", "max_steps=3",
        "--d2l-steps", "1", "--threads", "1", "--json", str(rows),
    )  # fmt: skip
    assert out.count("time to 0.9") == 2 and "not reached" in out  # 3 steps reach neither target
    assert re.search(r"d2l recipe .*: \d+ min for its 10 epochs here, extrapolated from 1 steps", out)
    assert rows.is_file()

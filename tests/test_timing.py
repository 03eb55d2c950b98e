"""Timing in turns: each function on its own threads, a warm-up round, the median; what a timing ran on."""

import time

import pytest
import torch

from vgg_edu import timing


def test_median_ms_in_turns_runs_each_on_its_threads_and_takes_the_median():
    seen, calls = [], {"a": 0}

    def a():
        calls["a"] += 1
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    timed = timing.median_ms_in_turns({"a": (a, 1), "b": (lambda: time.sleep(0.002), before)}, per=2, repeats=3)
    assert calls["a"] == 4 and set(seen) == {1} and torch.get_num_threads() == before  # warm-up + 3; restored
    assert timed["b"] >= 1.0 > timed["a"] >= 0  # 2 ms a call, 2 items a call: at least 1 ms per item


@pytest.mark.parametrize("repeats", [0, -1, 2.5, True])
def test_median_ms_in_turns_needs_a_timed_round(repeats):
    with pytest.raises(ValueError, match="repeats must be a positive whole number"):
        timing.median_ms_in_turns({"a": (lambda: None, 1)}, per=1, repeats=repeats)


def test_load_note_names_threads_and_load_and_survives_a_system_without_load_average(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(timing.os, "getloadavg", lambda: (2.345, 1.0, 1.0))
        assert timing.load_note() == "1 thread, load average 2.3"
        torch.set_num_threads(2)
        monkeypatch.delattr(timing.os, "getloadavg")  # Windows has none
        assert timing.load_note() == "2 threads"
    finally:
        torch.set_num_threads(before)

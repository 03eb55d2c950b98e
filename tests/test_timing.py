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
    timed = timing.median_ms_in_turns({"a": (a, 1), "b": (lambda: time.sleep(0.02), before)}, per=2, repeats=3)
    assert calls["a"] == 4 and set(seen) == {1} and torch.get_num_threads() == before  # warm-up + 3; restored
    assert timed["b"] >= 10.0 > timed["a"] >= 0  # 20 ms a call, 2 items a call: at least 10 ms per item; a call of
    # a() takes microseconds, so a busy machine (another test worker) would have to hold it 10 ms in two rounds of 3


@pytest.mark.parametrize("repeats", [0, -1, 2.5, True])
def test_median_ms_in_turns_needs_a_timed_round(repeats):
    with pytest.raises(ValueError, match="repeats must be a positive whole number"):
        timing.median_ms_in_turns({"a": (lambda: None, 1)}, per=1, repeats=repeats)


def test_load_note_names_threads_and_load_and_survives_a_system_without_load_average(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(timing.os, "cpu_count", lambda: 2)
        monkeypatch.setattr(timing.os, "getloadavg", lambda: (1.345, 1.0, 1.0))
        assert timing.load_note() == "1 thread, load average 1.3 on 2 cores"
        monkeypatch.setattr(timing.os, "getloadavg", lambda: (6.44, 1.0, 1.0))  # more work than cores: it says why
        why = "other work shared the CPU, which slows timings"
        assert timing.load_note() == f"1 thread, load average 6.4 on 2 cores: {why}"
        assert timing.load_note("cpu").startswith("CPU (1 thread), load average 6.4")  # the threads named once
        torch.set_num_threads(2)
        monkeypatch.delattr(timing.os, "getloadavg")  # Windows has none
        assert timing.load_note() == "2 threads"
    finally:
        torch.set_num_threads(before)


def test_ms_in_turns_keeps_every_timed_round_and_the_median_is_theirs():
    order = []
    works = {n: (lambda n=n: order.append(n), 1) for n in ("a", "b")}
    rounds = timing.ms_in_turns(works, per=1, repeats=3)
    assert order == ["a", "b"] * 4  # a warm-up round, then three rounds, in turns
    assert list(rounds) == ["a", "b"] and all(len(t) == 3 for t in rounds.values())


def test_median_ms_in_turns_is_the_median_of_the_rounds(monkeypatch):
    ticks = iter([0, 1, 1, 3, 3, 10, 10, 11, 11, 20, 20, 24])  # start/stop pairs: 1, 2 warm-up; 7, 1, 9, 4 ms x 1e3
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks) / 1e3)
    works = {"a": (lambda: None, 1), "b": (lambda: None, 1)}
    rounds = timing.ms_in_turns(works, per=1, repeats=2)
    assert rounds == {"a": pytest.approx([7, 9]), "b": pytest.approx([1, 4])}  # the warm-up round (1, 2) left out
    ticks = iter([0, 1, 1, 3, 3, 10, 10, 11, 11, 20, 20, 24])
    assert timing.median_ms_in_turns(works, per=1, repeats=2) == {"a": pytest.approx(8), "b": pytest.approx(2.5)}


def test_training_step_is_a_whole_step_and_forward_pass_keeps_no_graph():
    torch.manual_seed(0)
    model, x, y = torch.nn.Linear(4, 3), torch.randn(5, 4), torch.randint(0, 3, (5,))
    reference = torch.nn.Linear(4, 3)
    reference.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    timing.training_step(model, lambda: x, y, optimizer=opt)()  # the batch made within the step
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(reference(x), y).backward()
    ref_opt.step()
    assert torch.allclose(model.weight, reference.weight) and torch.allclose(model.bias, reference.bias)
    timing.training_step(model, x)()  # no labels: the outputs' sum, no optimizer: gradients only
    assert torch.allclose(model.weight.grad, x.sum(0).expand(3, 4))
    seen = []
    model.register_forward_hook(lambda m, args, out: seen.append(out.requires_grad))
    timing.forward_pass(model, x)()
    assert seen == [False]

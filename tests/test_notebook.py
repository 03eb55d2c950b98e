"""A notebook's first step: the device, the threads, the seeds, one line saying which."""

import torch

from vgg_edu import cpu, notebook, runtime


def test_start_seeds_after_measuring_and_says_where(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cpu"))
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    measured = cpu.ThreadChoice(1, {1: 3.0, 2: 9.0})
    monkeypatch.setattr(cpu, "use_fitting_threads", lambda: torch.rand(3).sum() and measured)
    device = notebook.start(seed=7)
    drawn = torch.rand(1)
    torch.manual_seed(7)
    assert device == torch.device("cpu") and torch.equal(drawn, torch.rand(1))  # the measuring drew nothing after
    said = capsys.readouterr().out
    assert said == "computing on the CPU with 1 thread (faster than 2 here now); fast mode: True\n"

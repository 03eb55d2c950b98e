"""A notebook's first step: the device, the threads, the seeds, one line saying which."""

import torch

from vgg_edu import cpu, notebook, runtime


def test_start_seeds_after_measuring_and_says_where(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "best_device", lambda: torch.device("cpu"))
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    monkeypatch.setattr(cpu, "use_fitting_threads", lambda: torch.rand(3).sum() and "1 CPU thread (measured)")
    device = notebook.start(seed=7)
    drawn = torch.rand(1)
    torch.manual_seed(7)
    assert device == torch.device("cpu") and torch.equal(drawn, torch.rand(1))  # the measuring drew nothing after
    said = capsys.readouterr().out
    assert said == "computing on the CPU, 1 CPU thread (measured); fast mode: True\n"

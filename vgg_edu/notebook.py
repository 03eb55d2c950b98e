"""A notebook's first step, ``device = notebook.start()``: where it computes, the CPU threads, the seeds, and
figures shown with their alt text. Nothing in the package imports this module; every notebook calls it once.
"""

from __future__ import annotations

import torch

from . import cpu, runtime


def start(seed: int = 0) -> torch.device:
    """A notebook's first step: the best device there is (``runtime.best_device``), on the CPU the thread count that is
    fastest on this machine now (``cpu.use_fitting_threads``), every generator seeded, and figures shown with their
    alt text (``plots.alt_text.register``; outside a Jupyter kernel nothing); prints one plain line saying which
    ("computing on the CPU with 1 thread (faster than 2 here now)"; the times measured, ``cpu.choose_threads().ms``,
    are for teachers, and the command line prints them). Returns the device."""
    from .plots import alt_text  # matplotlib: a notebook's setup needs it; the package runs without it

    alt_text.register()
    device = runtime.best_device()
    where = f"the CPU with {cpu.use_fitting_threads()}" if device.type == "cpu" else runtime.device_name(device)
    runtime.seed_everything(seed)
    print(f"computing on {where}; fast mode: {runtime.fast_mode()}")
    return device

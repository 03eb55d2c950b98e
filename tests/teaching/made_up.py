"""What several of the teaching tests share (``tests/teaching/``, which pytest puts on ``sys.path``): lesson 01's
exercises and the imports a made-up submission starts with; an answer checked by the kernel's ``check``, then by
the grader apart from its code (``recheck`` and ``serve``, without bubblewrap); a payload that patches the check in
whatever process loads it; the processes still running that a test marked.

The exercise tests' modules (their right and wrong answers) and this one are pickled by value, as a notebook's
answers are: the process that loads them cannot import them.
"""

import contextlib
import dataclasses
import io
import signal
import sys
from pathlib import Path

import cloudpickle

# tests/exercises/, as pytest imports it
from exercises import test_lesson02, test_lesson05, test_lesson08, test_lesson09

from vgg_edu import exercises
from vgg_edu.teaching import answers, recheck
from vgg_edu.teaching.limits import Limits

LESSON = exercises.list_exercises("01.")
IMPORTS = (
    "import math\nimport torch\nfrom vgg_edu import analysis, models, receptive\nfrom vgg_edu import exercises as ex"
)

for _module in (test_lesson02, test_lesson05, test_lesson08, test_lesson09, sys.modules[__name__]):
    cloudpickle.register_pickle_by_value(_module)  # their answers travel by value, as a notebook's do


def in_kernel_then_apart(exercise_id, answer, folder, monkeypatch) -> tuple[tuple, tuple]:
    """(the kernel's verdict and first line, the grader's), the answer saved by ``check`` as in a graded kernel."""
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(folder))
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        passes = exercises.check(exercise_id, answer)
    monkeypatch.delenv(exercises.ANSWERS_ENV)
    return (passes, said.getvalue().strip().splitlines()[0]), apart(answers.saved(folder)[-1], folder)


def apart(note: dict, folder) -> tuple:
    """(passes, what check said) for a saved answer, checked as the grader checks it, its code run in a server."""
    command = {"command": [sys.executable, "-m", "vgg_edu.teaching.serve"], "folder": str(folder)}
    command["limits"] = dataclasses.asdict(Limits(sandbox="none"))
    previous = signal.signal(signal.SIGALRM, recheck._on_alarm)
    try:
        return tuple(recheck.verdict_of(note, command))
    finally:
        signal.signal(signal.SIGALRM, previous)


PATCH = """
import sys, torch
def _always(*args, **kwargs):
    return True
torch.allclose = _always
package = sys.modules["vgg_edu.exercises"]
package.check = _always
for e in package.EXERCISES.values():
    e.check = _always
    e.check.__globals__.update(_behaves_like_vgg_block=_always, _behaves_like_vgg_stages=_always)
"""


class PatchWhenLoaded:
    """Replaces the check, torch.allclose and the checks' helpers in whatever process unpickles it."""

    def __reduce__(self):
        return (exec, (PATCH,))


def running(marker: str) -> list[str]:
    """The processes on this machine whose command line holds ``marker`` (their ids)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found

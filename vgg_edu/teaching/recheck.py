"""Check a submission's saved answers again, away from its kernel: ``python -m vgg_edu.teaching.recheck DIR APART``,
in the grader's own process, with the teacher's package, after the notebook's sandbox is gone.

- A data answer is read from JSON (``answers.from_data``: no code of the notebook runs) and given to
  ``exercises.check``.
- A code answer (``Exercise.takes_code``) is never loaded here: its pickle is rebuilt (cloudpickle) only in a
  sandbox of its own (``serve``, a container or bubblewrap, with the student package and only that answer,
  read-only), started for it from the command in ``APART`` (a JSON file the grader wrote), and only data comes back.
  The check runs here, unchanged: a function of tensors and numbers (``Exercise.called_apart``) is given
  ``serve.Remote``, which runs each call there; any other code answer is given the stand-in ``observe.stand_in``
  makes from what the sandbox reports (a module rebuilt from torch.nn's own classes and its weights, and refused
  unless it gives the outputs the student's module gave; a forward, a hook or ``param_groups`` run there on the
  grader's inputs).

Each answer is checked under an alarm of ``ANSWER_SECONDS``; the verdicts, ``{answer's file stem: [passes, what
check said]}``, go back as JSON on the standard output (``handback``), which the grader reads as data.

So no code of the student's runs in the process that checks it, and an answer cannot change its check, what the
check compares with or the libraries it uses: tested with answers to 02.x that replace ``exercises.check``,
``torch.allclose`` or the check's globals while they are loaded or when first called. What crosses is data that
the check compares with torch's own layers or recomputes, so forging it means producing the behaviour the check
tests; what ``observe`` cannot check that way (an answer's source, and whether 02.1 calls the package's own block
builder) is said there. The checks compute their expected values after the answer has returned, and the answer's
source is kept in the gradebook's executed notebook for the teacher to read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path

from .. import exercises
from . import handback, observe, sandbox, serve
from .answers import from_data, saved
from .limits import Limits

ANSWER_SECONDS = 60


class _TooLong(BaseException):  # not an Exception: check must not swallow it
    pass


def _on_alarm(signum, frame):
    raise _TooLong


def judged_apart(note: dict) -> bool:
    """A code answer, to an exercise that takes code: checked here, its code run in a sandbox of its own."""
    exercise = exercises.EXERCISES.get(str(note.get("exercise")))
    return bool(note.get("code") and "path" in note and exercise and exercise.takes_code)


def _load(note: dict, remote: serve.Remote | None):
    if remote is None:
        return from_data(note["data"])
    if exercises.EXERCISES[note["exercise"]].called_apart:
        return remote
    return observe.stand_in(note["exercise"], remote, str(note.get("source") or ""))


def verdict_of(note: dict, apart: dict | None = None) -> tuple[bool, str]:
    """(passes, what check said) for one saved answer, checked here (a code answer's code run as ``apart`` says)."""
    out, remote = io.StringIO(), None
    signal.alarm(ANSWER_SECONDS)
    try:
        if judged_apart(note):  # the answer's code runs in its own sandbox, never here
            path = Path(apart["folder"]) / Path(note["path"]).name
            limits = Limits(**apart["limits"])
            remote = serve.Remote([*apart["command"], str(path)], sandbox.limiter(limits), apart.get("env"))
        with contextlib.redirect_stdout(out):
            try:
                answer = _load(note, remote)
            except observe.Refused as err:
                print(f"[{note['exercise']}] Not yet. {err}")
                return False, out.getvalue().strip()
            passes = exercises.check(note["exercise"], answer) is True
    except _TooLong:
        return False, f"checking this answer took over {ANSWER_SECONDS} s"
    except BaseException as err:  # an answer that will not load, whatever it raises
        return False, f"the saved answer could not be loaded: {type(err).__name__}"
    finally:
        signal.alarm(0)
        if remote is not None:
            remote.close()
    said = out.getvalue().strip()
    return passes, said.splitlines()[0][:300] if said else ""


def main(argv=None) -> None:
    result_fd = handback.claim_stdout()
    folder, apart_file = argv if argv is not None else sys.argv[1:]
    os.environ.pop(exercises.ANSWERS_ENV, None)  # checking here must not save the answers again
    signal.signal(signal.SIGALRM, _on_alarm)
    apart = json.loads(Path(apart_file).read_text())
    verdicts = {n["stem"]: verdict_of(n, apart) for n in saved(folder) if "data" in n or judged_apart(n)}
    handback.send(result_fd, json.dumps(verdicts).encode())


if __name__ == "__main__":
    main()

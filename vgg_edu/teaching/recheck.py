"""Check a submission's saved answers again, away from its kernel:
``python -m vgg_edu.teaching.recheck DIR data APART`` or ``... DIR code``.

- ``data``: the grader's own process, with the teacher's package, after the notebook's sandbox is gone. Each answer
  is read from JSON (``answers.from_data``: no code of the notebook runs) and given to ``exercises.check``.
  A function answer that the check only calls (``Exercise.called_apart``) is checked there too: the check calls
  ``serve.Remote``, which runs the function in a sandbox of its own and brings back only data (``APART``, a JSON
  file the grader wrote, says how to start that sandbox).
- ``code``: the other code answers (classes, modules, functions the check hands objects to), in a fresh sandbox of
  their own (bubblewrap, started after the notebook's is gone), with the student package (checks sealed, no
  solution) and only those answers, read-only, in ``DIR``. A code answer is rebuilt (cloudpickle) and run only there.

Each answer is checked under an alarm of ``ANSWER_SECONDS``; the verdicts, ``{answer's file stem: [passes, what
check said]}``, go back as JSON on the standard output (``handback``), which the grader reads as data.

What this does not stop: a code answer checked in the ``code`` sandbox runs in the same process as its check, so
one written to cheat can change that check (or what it compares with) before it returns. The checks compute their
expected values after the answer has returned, so that reading the checker's frames (``sys._getframe``) shows none,
and the answer's source is kept in the gradebook's executed notebook for the teacher to read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import signal
import sys
from pathlib import Path

from .. import exercises
from . import handback, sandbox, serve
from .answers import from_data, saved

ANSWER_SECONDS = 60


class _TooLong(BaseException):  # not an Exception: check must not swallow it
    pass


def _on_alarm(signum, frame):
    raise _TooLong


def called_apart(note: dict) -> bool:
    """A function answer that the check only calls: checked in the grader's process, the function run apart."""
    exercise = exercises.EXERCISES.get(str(note.get("exercise")))
    return bool(note.get("code") and "path" in note and exercise and exercise.called_apart)


def _load(note: dict, apart: dict | None):
    if note.get("code") and apart is not None:  # the function runs in its own sandbox, never here
        path = Path(apart["folder"]) / Path(note["path"]).name
        return serve.Remote([*apart["command"], str(path)], sandbox.limiter(sandbox.Limits(**apart["limits"])))
    if note.get("code"):
        return pickle.loads(Path(note["path"]).read_bytes())  # only ever in the code answers' sandbox
    return from_data(note["data"])


def verdict_of(note: dict, apart: dict | None = None) -> tuple[bool, str]:
    """(passes, what check said) for one saved answer, rebuilt and checked here."""
    out, answer = io.StringIO(), None
    signal.alarm(ANSWER_SECONDS)
    try:
        answer = _load(note, apart)
        with contextlib.redirect_stdout(out):
            passes = exercises.check(note["exercise"], answer) is True
    except _TooLong:
        return False, f"checking this answer took over {ANSWER_SECONDS} s"
    except BaseException as err:  # an answer that will not load, whatever it raises
        return False, f"the saved answer could not be loaded: {type(err).__name__}"
    finally:
        signal.alarm(0)
        if isinstance(answer, serve.Remote):
            answer.close()
    said = out.getvalue().strip()
    return passes, said.splitlines()[0][:300] if said else ""


def main(argv=None) -> None:
    result_fd = handback.claim_stdout()
    folder, kind, *rest = argv if argv is not None else sys.argv[1:]
    os.environ.pop(exercises.ANSWERS_ENV, None)  # checking here must not save the answers again
    signal.signal(signal.SIGALRM, _on_alarm)
    if kind == "data":
        apart = json.loads(Path(rest[0]).read_text())
        verdicts = {n["stem"]: verdict_of(n, apart if called_apart(n) else None) for n in saved(folder)
                    if "data" in n or called_apart(n)}  # fmt: skip
    else:
        verdicts = {n["stem"]: verdict_of(n) for n in saved(folder) if "path" in n and not called_apart(n)}
    handback.send(result_fd, json.dumps(verdicts).encode())


if __name__ == "__main__":
    main()

"""Check a submission's saved answers again, in a process of the grader's own:
``python -m vgg_edu.teaching.recheck ANSWERS_DIR RESULT_JSON``.

The grader starts this after the student's kernel is gone, in an empty folder, with a fresh copy of the teacher's
package first on the path: nothing the notebook did to its ``check``, its copy of the package or its output reaches
the verdict. Each answer is loaded (cloudpickle) and given to the same ``exercises.check`` the students use, under a
per-answer alarm. The result maps each exercise to ``pass``, ``fail``, or ``pass (kernel)`` where an answer could
not be saved and the kernel's own check said Correct (the gradebook does not count it: the teacher checks it).
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
from .answers import saved

ANSWER_SECONDS = 60


class _TooLong(BaseException):  # not an Exception: check must not swallow it
    pass


def _on_alarm(signum, frame):
    raise _TooLong


def verdict_of(note: dict) -> tuple[bool, str]:
    """(passes, what check said) for one saved answer, checked here."""
    if not note.get("pickled"):
        why = note.get("why_not_pickled", "not saved")
        return bool(note.get("kernel_verdict")), f"(answer not saved for grading: {why}; kernel's verdict)"
    out = io.StringIO()
    signal.alarm(ANSWER_SECONDS)
    try:
        answer = pickle.loads(Path(note["path"]).read_bytes())
        with contextlib.redirect_stdout(out):
            passes = exercises.check(note["exercise"], answer) is True
    except _TooLong:
        return False, f"checking this answer took over {ANSWER_SECONDS} s"
    except BaseException as err:  # a saved answer that will not load, whatever it raises
        return False, f"the saved answer could not be loaded: {type(err).__name__}"
    finally:
        signal.alarm(0)
    return passes, out.getvalue().strip().splitlines()[0] if out.getvalue().strip() else ""


def recheck(folder: str | Path) -> dict[str, dict]:
    """Per exercise: ``verdict`` (pass, pass (kernel), fail), ``answers`` (how many were given) and ``said``."""
    results: dict[str, dict] = {}
    for note in saved(folder):
        passes, said = verdict_of(note)
        entry = results.setdefault(note["exercise"], {"verdict": "fail", "answers": 0, "said": ""})
        entry["answers"] += 1
        if entry["verdict"] == "fail":
            entry["said"] = said
            if passes:
                entry["verdict"] = "pass" if note.get("pickled") else "pass (kernel)"
    return results


def main(argv=None) -> None:
    folder, result = (argv if argv is not None else sys.argv[1:])[:2]
    os.environ.pop(exercises.ANSWERS_ENV, None)  # checking here must not save the answers again
    signal.signal(signal.SIGALRM, _on_alarm)
    Path(result).write_text(json.dumps(recheck(folder)))


if __name__ == "__main__":
    main()

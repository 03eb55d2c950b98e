"""The answers a notebook gave to ``exercises.check``, saved for the grader.

In grading, ``check`` runs in the student's kernel and calls ``record`` for every answer: the answer goes into the
folder ``$VGG_EDU_ANSWERS`` as ``<exercise>.<n>.pkl`` (cloudpickle, so a function or class written in the notebook
travels by value), with what the kernel's check said beside it. The grader does not trust that verdict: it loads the
answers in a fresh process and checks them again with its own copy of the package (``recheck``). Printing "Correct!"
or replacing ``check`` in the kernel therefore earns nothing; the only way to a point is a right answer. An answer
that cannot be pickled (it holds an open file, a generator ...) keeps the kernel's verdict, marked for the teacher
and not counted.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

MAX_PER_EXERCISE = 20
"""A notebook that calls check in a loop saves its first 20 answers to each exercise, no more."""

_ID = re.compile(r"^\d\d\.\d+$")


def _dumps(answer: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:  # a student's own machine: grading is never done there
        return pickle.dumps(answer)
    return cloudpickle.dumps(answer)


def record(exercise_id: str, answer: Any, kernel_verdict: bool) -> None:
    """Save ``answer`` to exercise ``exercise_id`` in ``$VGG_EDU_ANSWERS``; never raises (a notebook must not fail
    because grading is on)."""
    folder = Path(os.environ.get("VGG_EDU_ANSWERS", ""))
    if not folder.is_dir() or not _ID.match(exercise_id):
        return
    taken = len(list(folder.glob(f"{exercise_id}.*.json")))
    if taken >= MAX_PER_EXERCISE:
        return
    stem = f"{exercise_id}.{taken}"
    note = {"exercise": exercise_id, "kernel_verdict": bool(kernel_verdict), "pickled": False}
    try:
        (folder / f"{stem}.pkl").write_bytes(_dumps(answer))
        note["pickled"] = True
    except Exception as err:  # an answer pickle cannot carry
        note["why_not_pickled"] = f"{type(err).__name__}: {err}"[:300]
    try:
        (folder / f"{stem}.json").write_text(json.dumps(note))
    except OSError:
        pass


def saved(folder: str | Path) -> list[dict]:
    """The notes ``record`` wrote, each with ``path`` (its pickle) added, in the order the answers were given."""
    notes = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(note, dict) and _ID.match(str(note.get("exercise", ""))):
            note["path"] = str(path.parent / (path.name[: -len(".json")] + ".pkl"))
            notes.append(note)
    return notes

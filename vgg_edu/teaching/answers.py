"""The answers a notebook gave to ``exercises.check``, saved for the grader as data.

In grading, ``check`` runs in the student's kernel (inside the sandbox) and calls ``record`` for every answer, after
``normalize`` has turned numbers, arrays and tensors into plain Python. The answer goes into ``$VGG_EDU_ANSWERS`` as
``<exercise>.<n>.json``, with what the kernel's check said beside it, in one of two forms:

- data: ``None``, booleans, integers, floats, text, and lists and tuples of them, written as JSON (``to_data``).
  Loading it is ``json.loads`` (``from_data``): no code of the notebook can run in the grader, and an object that
  only looks like a number (an ``==`` that is always True) is not data: it is saved as "not data", a wrong answer.
- code: the answer to an exercise that asks for a function, a class or a module (``Exercise.takes_code``), written
  with cloudpickle beside the note (``<exercise>.<n>.code``) with its source text in the note for the teacher. Only
  a sandbox of its own ever loads it (``serve``'s, one per answer): the grader's own processes never do.

The grader does not trust the kernel's verdict: it checks every answer again (``recheck``; code through ``serve``
and ``observe``). Printing "Correct!" or replacing ``check`` in the kernel therefore earns nothing.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
from pathlib import Path
from typing import Any

MAX_PER_EXERCISE = 20
"""A notebook that calls check in a loop saves its first 20 answers to each exercise, no more."""
MAX_BYTES = 8 * 2**20
"""A data answer larger than this (as JSON) is not saved: it counts as wrong."""
MAX_CODE_BYTES = 64 * 2**20
"""A code answer larger than this (as a pickle) is not saved: it counts as wrong. VGG-16's fifth block (02.4)
holds 7 million weights, 28 MB."""
MAX_CODE_TOTAL = 128 * 2**20
"""Nor is one that would take a notebook's code answers together past this (they travel back in its results, which
``sandbox.OUTPUT_MB`` caps)."""
MAX_DEPTH = 32

_ID = re.compile(r"^\d\d\.\d+$")
_NAME = re.compile(r"^\d\d\.\d+\.\d+\.json$")


class NotData(ValueError):
    """The answer holds something that is not plain data (its type's name is the message)."""


def to_data(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON: lists as lists, tuples as ``{"tuple": [...]}``, inf and nan as ``{"float": "inf"}``; only
    the exact built-in types (a subclass of int or str could answer anything to ``==``)."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if type(value) in (list, tuple) and depth < MAX_DEPTH:
        items = [to_data(v, depth + 1) for v in value]
        return items if type(value) is list else {"tuple": items}
    raise NotData(type(value).__name__)


def from_data(data: Any) -> Any:
    """The answer ``to_data`` wrote, rebuilt from JSON."""
    if isinstance(data, list):
        return [from_data(v) for v in data]
    if isinstance(data, dict) and isinstance(data.get("tuple"), list):
        return tuple(from_data(v) for v in data["tuple"])
    if isinstance(data, dict) and data.get("float") in ("inf", "-inf", "nan"):
        return float(data["float"])
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    raise NotData(type(data).__name__)


def _source(answer: Any) -> str:
    try:
        return inspect.getsource(answer if callable(answer) or inspect.ismodule(answer) else type(answer))[:20_000]
    except (TypeError, OSError):
        return ""


def _note(exercise_id: str, answer: Any, takes_code: bool, folder: Path, stem: str) -> dict:
    note: dict[str, Any] = {"exercise": exercise_id}
    try:
        note["data"] = to_data(answer)
        if len(json.dumps(note["data"])) > MAX_BYTES:
            del note["data"]
            note["why_not_saved"] = "the answer is over 8 MB"
        return note
    except NotData as err:
        if not takes_code:
            note["why_not_saved"] = f"not data (a {err}): this exercise takes numbers, text or lists of them"
            return note
    import cloudpickle  # the teachers extra: only grading saves code

    note["code"], note["source"] = True, _source(answer)
    blob = cloudpickle.dumps(answer)
    if len(blob) > MAX_CODE_BYTES:
        note["why_not_saved"] = "the answer is over 64 MB"
        return note
    if len(blob) + sum(p.stat().st_size for p in folder.glob("*.code")) > MAX_CODE_TOTAL:
        note["why_not_saved"] = "the notebook's code answers are over 128 MB together"
        return note
    (folder / f"{stem}.code").write_bytes(blob)
    return note


def record(exercise_id: str, answer: Any, kernel_verdict: bool, takes_code: bool = False) -> None:
    """Save ``answer`` to exercise ``exercise_id`` in ``$VGG_EDU_ANSWERS``; never raises (a notebook must not fail
    because grading is on)."""
    folder = Path(os.environ.get("VGG_EDU_ANSWERS", ""))
    if not folder.is_dir() or not _ID.match(exercise_id):
        return
    taken = len(list(folder.glob(f"{exercise_id}.*.json")))
    if taken >= MAX_PER_EXERCISE:
        return
    stem = f"{exercise_id}.{taken}"
    try:
        note = _note(exercise_id, answer, takes_code, folder, stem)
    except Exception as err:  # an answer cloudpickle cannot carry (an open file, a generator ...)
        note = {"exercise": exercise_id, "why_not_saved": f"{type(err).__name__}: {err}"[:300]}
    note["kernel_verdict"] = bool(kernel_verdict)
    try:
        (folder / f"{stem}.json").write_text(json.dumps(note))
    except OSError:
        pass


def saved(folder: str | Path) -> list[dict]:
    """The notes ``record`` wrote, in the order the answers were given, each with ``stem`` (its file's name) and,
    for code, ``path`` (its pickle, which only its own sandbox opens: ``serve``)."""
    notes = []
    names = [p for p in Path(folder).glob("*.json") if _NAME.match(p.name)]
    for path in sorted(names, key=lambda p: [int(x) for x in p.name.split(".")[:3]]):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(note, dict) and _ID.match(str(note.get("exercise", ""))):
            note["stem"] = path.name[: -len(".json")]
            if note.get("code") and path.with_suffix(".code").is_file():
                note["path"] = str(path.with_suffix(".code"))
            notes.append(note)
    return notes

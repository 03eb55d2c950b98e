"""What was handed in: every file under ``SUBMISSIONS/``, read into memory before any of them runs.

``SUBMISSIONS/`` holds one folder per student (``alice/01_receptive_fields.ipynb``) or one notebook per student
(``alice.ipynb``). Nothing is followed or skipped in silence:

- a link (to another student's notebook, to a file outside the folder) is refused, with a row that says so;
- a notebook is graded on the exercises of the lesson its name starts with (``01_...``), all of them, or, where
  its name starts with no lesson's number (``alice.ipynb``), of the lesson the teacher names (``--lesson 01``);
  without one, it is not run, and its row says why;
- two notebooks of one student for one lesson are both graded and both flagged: the teacher picks;
- Jupyter's checkpoints, macOS's zip debris and backups (``name~``) are not graded, and the report lists them;
  a hidden folder or notebook (``.alice``) is graded like any other.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import exercises

DEBRIS = re.compile(r"^(\.ipynb_checkpoints|__MACOSX|\.DS_Store|Thumbs\.db|.*~)$")
MAX_MB = 100


@dataclass
class Submission:
    student: str
    path: str  # inside the student's folder
    data: bytes = b""
    refused: str = ""  # why it is not run
    notes: list[str] = field(default_factory=list)
    fallback: str | None = None  # the lesson of a notebook whose name gives none (--lesson)

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def lesson(self) -> str | None:
        match = re.match(r"(\d\d)_", self.name)
        lesson = match.group(1) if match else self.fallback
        return lesson if lesson and exercises.list_exercises(lesson + ".") else None

    @property
    def exercise_ids(self) -> list[str]:
        return exercises.list_exercises(self.lesson + ".") if self.lesson else []


def _read(student: str, path: Path, relative: str, lesson: str | None) -> Submission:
    sub = Submission(student, relative, fallback=lesson)
    if path.is_symlink():
        sub.refused = "refused: a link (links are not followed: hand in the notebook itself)"
    elif path.stat().st_size > MAX_MB * 2**20:
        sub.refused = f"refused: over {MAX_MB} MB"
    elif sub.name.endswith(".ipynb") and sub.lesson is None:
        sub.refused = "not run: its name does not start with a lesson's number (01_...; or grade with --lesson NN)"
    else:
        sub.data = path.read_bytes()
    return sub


def find(root: Path, lesson: str | None = None) -> tuple[list[Submission], list[str]]:
    """(every file handed in, the debris not graded); links are not followed, anywhere. ``lesson``: the lesson of
    the notebooks whose names give none."""
    found, skipped = [], []
    for entry in sorted(root.iterdir()):
        if DEBRIS.match(entry.name):
            skipped.append(entry.name)
        elif entry.is_dir() and not entry.is_symlink():
            for folder, dirs, files in os.walk(entry):  # followlinks=False: a linked folder is listed, not entered
                here = Path(folder)
                skipped += [str((here / d).relative_to(root)) for d in dirs if DEBRIS.match(d)]
                linked = [d for d in dirs if (here / d).is_symlink()]
                dirs[:] = sorted(d for d in dirs if not DEBRIS.match(d) and d not in linked)
                for name in sorted(files) + linked:
                    if DEBRIS.match(name):
                        skipped.append(str((here / name).relative_to(root)))
                    else:
                        found.append(_read(entry.name, here / name, str((here / name).relative_to(entry)), lesson))
        else:
            found.append(_read(entry.stem if entry.suffix == ".ipynb" else entry.name, entry, entry.name, lesson))
    lessons = Counter((s.student, s.lesson) for s in found if s.lesson and not s.refused)
    for sub in found:
        if not sub.refused and lessons[(sub.student, sub.lesson)] > 1:
            n = lessons[(sub.student, sub.lesson)]
            sub.notes.append(f"one of {n} notebooks of this student for lesson {sub.lesson}: the teacher picks")
    return found, skipped

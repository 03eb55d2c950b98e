"""``python -m vgg_edu grade SUBMISSIONS/ --out grades.csv``: run every submitted notebook and say, per student,
which exercises pass.

``SUBMISSIONS/`` holds one folder per student (``alice/01_receptive_fields.ipynb``), or one notebook per student
(``alice.ipynb``). Every submission is read into memory first, then run alone, one after the other, each in a fresh
private folder (``sandbox``) in fast mode (``VGG_EDU_FAST=1``) under a time limit for the whole notebook, a memory
limit and a file-size limit, importing the students' copy of the package (``redact``: what they ran, and no
solution to print). The answers its ``exercises.check`` calls received are checked again by the teacher's
own package in a separate process (``recheck``): a point is an answer the students' ``check`` calls Correct. A
submission that is not a notebook, raises, loops, crashes its kernel or deletes files is recorded as such; it cannot
touch the next one's folder, which does not exist yet, nor the copy of the package that checks it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import exercises
from . import gradebook, redact, sandbox

SKIPPED = re.compile(r"^(\.|__MACOSX$|.*~$)")  # hidden files, .ipynb_checkpoints, macOS zip debris, backups


@dataclass
class Submission:
    student: str
    name: str  # the file's name
    data: bytes = b""
    exercise_ids: list[str] = field(default_factory=list)


def exercises_of(name: str) -> list[str]:
    """The exercises a notebook is graded on, from the two digits its file name starts with (``01_...`` -> 01.x)."""
    match = re.match(r"(\d\d)", name)
    return exercises.list_exercises(match.group(1) + ".") if match else []


def find_submissions(root: Path) -> list[Submission]:
    """Every file handed in: ``root/student/file`` or ``root/student.ipynb``, read into memory now."""
    found = []
    for entry in sorted(root.iterdir()):
        if SKIPPED.match(entry.name):
            continue
        files = [entry] if entry.is_file() else [p for p in sorted(entry.rglob("*")) if p.is_file()]
        student = entry.stem if entry.is_file() else entry.name
        for path in files:
            if any(SKIPPED.match(part) for part in path.relative_to(root).parts):
                continue
            found.append(Submission(student, path.name, path.read_bytes(), exercises_of(path.name)))
    return found


def not_a_notebook(sub: Submission) -> str | None:
    """Why this file cannot be run as a notebook, or None."""
    if not sub.name.endswith(".ipynb"):
        return f"not a notebook ({sub.name})"
    try:
        nbformat.validate(nbformat.reads(sub.data.decode("utf-8"), as_version=4))
    except Exception as err:  # bad JSON, bad encoding, a notebook of the wrong shape
        return f"not a notebook ({type(err).__name__})"
    return None


@dataclass(frozen=True)
class Limits:
    seconds: float = 600
    cell_seconds: int = 600
    memory_gb: float = 8


def _kernel_env(folder: Path, lib: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VGG_EDU_")}
    env.update(
        VGG_EDU_FAST="1", VGG_EDU_ANSWERS=str(folder / "answers"), VGG_EDU_ARTIFACTS=str(folder / "work" / "artifacts"),
        PYTHONPATH=str(lib), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    data_dir = gradebook.fashion_mnist_dir()
    if data_dir:
        env["VGG_EDU_DATA"] = data_dir
    return env


def _status(code: int | None, run: dict | None, limits: Limits) -> str:
    if code is None:
        return f"time limit ({limits.seconds:g} s)"
    if run is None:
        return "no result (killed, out of memory, or its files deleted)"
    if run["status"] != "finished":
        return run["status"]
    return f"errors in {len(run['errors'])} cells" if run["errors"] else "ok"


def _unfinished(code: int | None, log: str, result: Path) -> list[str]:
    """What is known of a run that left no result: the cell it was running at its time limit, or its last words."""
    running = gradebook.read_json(result / "running.json")
    if code is None and isinstance(running, dict) and "cell" in running:
        return [f"stopped in cell {running['cell']}: {str(running.get('source', ''))[:120]!r}"]
    return [log.strip().splitlines()[-1][:200]] if log.strip() else []


def run_submission(sub: Submission, snapshot: dict[str, bytes], limits: Limits, keep: Path | None = None) -> dict:
    """Run one submission in a private folder and check its answers: the gradebook's row for it."""
    row = {"student": sub.student, "notebook": sub.name, "verdicts": {}, "errors": [], "seconds": 0.0}
    problem = not_a_notebook(sub)
    if problem:
        return {**row, "status": problem}
    folder = Path(tempfile.mkdtemp(prefix="vgg_edu_grade_"))
    try:
        (folder / "work").mkdir()
        (folder / "answers").mkdir()
        (folder / "result").mkdir()
        (folder / "work" / sub.name).write_bytes(sub.data)
        lib = sandbox.write_package(redact.student_package(snapshot), folder / "lib")  # as the students have it
        start = time.perf_counter()
        args = ["-m", "vgg_edu.teaching.execute", sub.name, "--cell-timeout", str(limits.cell_seconds)]
        args += ["--result", str(folder / "result")]
        code, log = sandbox.run_limited(
            args, cwd=folder / "work", env=_kernel_env(folder, lib), seconds=limits.seconds, memory_gb=limits.memory_gb
        )
        row["seconds"] = time.perf_counter() - start
        run = gradebook.read_json(folder / "result" / "run.json")
        row["status"], row["errors"] = _status(code, run, limits), (run or {}).get("errors", [])
        if run is None:
            row["errors"] = _unfinished(code, log, folder / "result")
        row["verdicts"] = gradebook.recheck(folder / "answers", snapshot, folder)
        if keep is not None and (folder / "result" / "executed.ipynb").is_file():
            gradebook.keep_executed(folder / "result" / "executed.ipynb", keep, sub)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return row


def grade(root: Path, out_csv: Path, limits: Limits = Limits(), progress=print) -> list[dict]:
    """Grade every submission under ``root``; write ``out_csv``, a markdown report beside it (same name, ``.md``) and
    the executed notebooks in a folder beside it (``<name>_notebooks/``). Returns the rows."""
    snapshot = sandbox.package_snapshot()
    keep = out_csv.with_name(out_csv.stem + "_notebooks")
    rows = []
    submissions = find_submissions(root)
    for i, sub in enumerate(submissions, 1):
        progress(f"[{i}/{len(submissions)}] {sub.student}: {sub.name} ...", end=" ", flush=True)
        row = run_submission(sub, snapshot, limits, keep)
        row["exercises"] = sub.exercise_ids
        rows.append(row)
        progress(f"{row['status']}, {gradebook.score(row)}/{len(gradebook.graded_ids(row))} in {row['seconds']:.0f} s")
    gradebook.write_csv(rows, out_csv)
    gradebook.write_markdown(rows, out_csv.with_suffix(".md"), limits)
    return rows


def grade_command(args) -> int:
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 1
    if args.time_limit <= 0 or args.memory_limit <= 0:
        print("error: --time-limit and --memory-limit must be positive", file=sys.stderr)
        return 1
    limits = Limits(seconds=args.time_limit, cell_seconds=int(args.time_limit) + 1, memory_gb=args.memory_limit)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rows = grade(args.submissions, args.out, limits)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(rows)} submissions graded: {args.out} and {args.out.with_suffix('.md')}")
    return 0

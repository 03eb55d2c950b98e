"""The grader's bookkeeping: the answers checked again, the CSV and the markdown report a teacher reads.

A verdict per exercise is ``pass``, ``fail`` (answered, not right), ``blank`` (``check`` never received an answer)
or ``pass (kernel)``: the kernel's own check said Correct, but the answer could not be saved to be checked again.
That one is not counted in the score (the kernel's word can be forged): the report marks it for the teacher to check
by hand in the executed notebook.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import shutil
from pathlib import Path

from ..data.fashion_mnist import find_fashion_mnist
from . import sandbox

MARKS = {"pass": "✓", "pass (kernel)": "✓?", "fail": "✗", "blank": "·"}


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def fashion_mnist_dir() -> str | None:
    """Where the teacher's Fashion-MNIST is, so that a submission's folder needs no copy of it."""
    found = find_fashion_mnist()
    return str(Path(found).resolve()) if found else None


def recheck(answers: Path, snapshot: dict[str, bytes], folder: Path) -> dict[str, dict]:
    """The answers saved in ``answers`` checked in a new process by a fresh copy of the teacher's package."""
    lib = sandbox.write_package(snapshot, folder / "lib_check")
    (folder / "check").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VGG_EDU_")}
    env.update(PYTHONPATH=str(lib), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    result = folder / "verdicts.json"
    sandbox.run_limited(
        ["-m", "vgg_edu.teaching.recheck", str(answers), str(result)],
        cwd=folder / "check", env=env, seconds=300, memory_gb=8,
    )  # fmt: skip
    verdicts = read_json(result)
    return verdicts if isinstance(verdicts, dict) else {}


def keep_executed(executed: Path, keep: Path, sub) -> None:
    """A copy of the executed notebook for the teacher: ``keep/student/name`` (at most 50 MB)."""
    if executed.stat().st_size <= 50 * 2**20:
        target = keep / sub.student / sub.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(executed, target)


def graded_ids(row: dict) -> list[str]:
    return sorted(set(row.get("exercises", [])) | set(row["verdicts"]))


def verdict(row: dict, exercise_id: str) -> str:
    return row["verdicts"].get(exercise_id, {}).get("verdict", "blank")


def score(row: dict) -> int:
    return sum(verdict(row, i) == "pass" for i in graded_ids(row))


def write_csv(rows: list[dict], path: Path) -> None:
    """One row per submission: student, notebook, status, score, out_of, seconds, errors, then one column per
    exercise (pass, fail, blank, pass (kernel); empty where the exercise is not that notebook's)."""
    ids = sorted({i for row in rows for i in graded_ids(row)})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "status", "score", "out_of", "seconds", "errors", *ids])
        for row in rows:
            mine = set(graded_ids(row))
            writer.writerow(
                [row["student"], row["notebook"], row["status"], score(row), len(mine), f"{row['seconds']:.1f}",
                 " | ".join(row["errors"]), *[verdict(row, i) if i in mine else "" for i in ids]]
            )  # fmt: skip


def _table(rows: list[dict]) -> list[str]:
    ids = sorted({i for row in rows for i in graded_ids(row)})
    lines = ["| student | score | status | " + " | ".join(ids) + " |", "|---|---|---|" + "---|" * len(ids)]
    for row in sorted(rows, key=lambda r: r["student"]):
        marks = " | ".join(MARKS[verdict(row, i)] for i in ids)
        lines.append(f"| {row['student']} | {score(row)}/{len(graded_ids(row))} | {row['status']} | {marks} |")
    return lines


def write_markdown(rows: list[dict], path: Path, limits) -> None:
    """The report: one table per notebook (✓ pass, ✗ fail, · blank, ✓* kernel's verdict), then what went wrong."""
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        "# Gradebook",
        "",
        f"{len(rows)} submissions graded on {when}, each in fast mode in a folder of its own, under "
        f"{limits.seconds:g} s and {limits.memory_gb:g} GiB. ✓ passes the course's `check`, ✗ answered but not "
        "right, · not answered, ✓? Correct in the student's kernel but the answer could not be saved to check again: "
        "not counted, check it by hand in the executed notebook (`<csv name>_notebooks/`).",
    ]
    for notebook in sorted({row["notebook"] for row in rows if graded_ids(row)}):
        lines += ["", f"## {notebook}", "", *_table([r for r in rows if r["notebook"] == notebook])]
    troubles = [row for row in rows if row["status"] != "ok"]
    if troubles:
        lines += ["", "## What went wrong", ""]
        for row in troubles:
            detail = "; ".join(row["errors"][:5]) or "no cell output"
            lines.append(f"- **{row['student']}**, {row['notebook']}: {row['status']}. {detail}")
    path.write_text("\n".join(lines) + "\n")

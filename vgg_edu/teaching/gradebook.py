"""The grader's bookkeeping: verdicts per exercise, the kept notebooks, the CSV and the markdown report a teacher
reads. Only the grader writes them, after every sandbox of the run is gone; no submission can see them.

A verdict per exercise is ``pass``, ``fail`` (answered, not right), ``blank`` (``check`` never received an answer)
or ``pass (kernel)``: the kernel's own check said Correct, but the answer could not be saved to be checked again
(not data where data is asked for, too large, code cloudpickle cannot carry). That one is not counted in the score
(the kernel's word can be forged): the report marks it for the teacher to check by hand in the executed notebook.
A notebook is scored on its own lesson's exercises, out of all of them; answers to other exercises are noted, not
counted. Every cell is text: a CSV cell that a spreadsheet would read as a formula gets a leading ``'``, the
markdown is escaped, long texts are cut.
"""

from __future__ import annotations

import csv
import datetime
import re
from pathlib import Path

from ..data.fashion_mnist import find_fashion_mnist
from .answers import saved

MARKS = {"pass": "✓", "pass (kernel)": "✓?", "fail": "✗", "blank": "·"}
MAX_CELL = 2000  # characters of errors and notes in one CSV cell (a spreadsheet's cell holds 32,767)


def fashion_mnist_dir() -> str | None:
    """Where the teacher's Fashion-MNIST is, so that a submission's sandbox can read it."""
    found = find_fashion_mnist()
    return str(Path(found).resolve()) if found else None


def new_row(sub) -> dict:
    row = {"student": sub.student, "notebook": sub.path, "exercises": sub.exercise_ids, "verdicts": {}}
    return {**row, "out_of": len(sub.exercise_ids), "errors": [], "notes": list(sub.notes), "seconds": 0.0, "kept": ""}


def add_verdicts(row: dict, answers: Path, checked: dict, lesson: list[str]) -> None:
    """Per exercise of the notebook's lesson: ``verdict``, ``answers`` (how many were given) and ``said``, from the
    saved answers and what the re-check said of each (``checked``: file stem -> [passes, said])."""
    foreign = set()
    for note in saved(answers):
        if note["exercise"] not in lesson:
            foreign.add(note["exercise"])
            continue
        passes, said = checked.get(note["stem"], [False, note.get("why_not_saved", "not checked")])
        entry = row["verdicts"].setdefault(note["exercise"], {"verdict": "fail", "answers": 0, "said": ""})
        entry["answers"] += 1
        if entry["verdict"] != "pass":
            entry["said"] = str(said)[:300]
            if passes is True:
                entry["verdict"] = "pass"
            elif "why_not_saved" in note and note.get("kernel_verdict") is True:
                entry["verdict"] = "pass (kernel)"
    if foreign:
        row["notes"].append(f"answers to {', '.join(sorted(foreign))}, not this notebook's lesson: not counted")


def keep_executed(row: dict, executed: bytes | None, run: dict | None, keep: Path | None, sub) -> None:
    """The executed notebook for the teacher, ``keep/<student>/<its path>``, never over another one; or why not."""
    if keep is None:
        return
    if executed is None:
        size = (run or {}).get("executed_mb")
        row["kept"] = f"not kept: the executed notebook is {size} MB" if size else "not kept: the run left none"
        return
    target = keep / sub.student / sub.path
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{Path(sub.path).stem}-{n}{Path(sub.path).suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(executed)
    row["kept"] = str(target.relative_to(keep))


def verdict(row: dict, exercise_id: str) -> str:
    return row["verdicts"].get(exercise_id, {}).get("verdict", "blank")


def score(row: dict) -> int:
    return sum(verdict(row, i) == "pass" for i in row["exercises"])


def cell(value) -> str:
    """A CSV cell no spreadsheet runs: text that starts like a formula gets a leading ``'``; cut at MAX_CELL."""
    text = str(value)[:MAX_CELL]
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(rows: list[dict], path: Path) -> None:
    """One row per submission: student, notebook, status, score, out_of, seconds, kept, notes, errors, then one
    column per exercise (pass, fail, blank, pass (kernel); empty where the exercise is not that notebook's)."""
    ids = sorted({i for row in rows for i in row["exercises"]})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        header = ["student", "notebook", "status", "score", "out_of", "seconds", "kept", "notes", "errors"]
        writer.writerow([*header, *ids])
        for row in rows:
            mine = set(row["exercises"])
            writer.writerow([cell(v) for v in (
                row["student"], row["notebook"], row["status"], score(row), row["out_of"], f"{row['seconds']:.1f}",
                row["kept"], " | ".join(row["notes"]), " | ".join(row["errors"]),
                *[verdict(row, i) if i in mine else "" for i in ids],
            )])  # fmt: skip


def md(text) -> str:
    """``text`` as one line of markdown that shows as written (no table cell broken, no link, no HTML)."""
    one_line = " ".join(str(text).split())[:MAX_CELL]
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", one_line)


def _table(rows: list[dict]) -> list[str]:
    ids = sorted({i for row in rows for i in row["exercises"]})
    lines = ["| student | score | status | " + " | ".join(ids) + " |", "|---|---|---|" + "---|" * len(ids)]
    for row in sorted(rows, key=lambda r: r["student"]):
        marks = " | ".join(MARKS[verdict(row, i)] for i in ids)
        lines.append(f"| {md(row['student'])} | {score(row)}/{row['out_of']} | {md(row['status'])} | {marks} |")
    return lines


def write_markdown(rows: list[dict], path: Path, limits, skipped: list[str] = ()) -> None:
    """The report: one table per lesson (✓ pass, ✗ fail, · blank, ✓? kernel's verdict), then what went wrong."""
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    tool = {"bwrap": "bubblewrap", "podman": "a Podman container", "docker": "a Docker container"}.get(limits.sandbox)
    where = f"each in a sandbox of its own ({tool})" if limits.sandboxed else "UNSANDBOXED, as the teacher's user"
    lines = [
        "# Gradebook",
        "",
        f"{len(rows)} submissions graded on {when}, {where}, in fast mode, under {limits.seconds:g} s and "
        f"{limits.memory_gb:g} GiB. ✓ passes the course's `check`, ✗ answered but not right, · not answered, ✓? "
        "Correct in the student's kernel but the answer could not be saved to check again: not counted, check it by "
        "hand in the executed notebook (`<csv name>_notebooks/`).",
    ]
    lessons = sorted({row["exercises"][0][:2] for row in rows if row["exercises"]})
    for lesson in lessons:
        mine = [r for r in rows if r["exercises"] and r["exercises"][0][:2] == lesson]
        lines += ["", f"## Lesson {lesson}", "", *_table(mine)]
    troubles = [row for row in rows if row["status"] != "ok" or row["notes"] or row["kept"].startswith("not")]
    if troubles:
        lines += ["", "## What went wrong", ""]
        for row in troubles:
            detail = "; ".join(row["notes"] + row["errors"][:5] + [row["kept"]] * row["kept"].startswith("not"))
            lines.append(f"- **{md(row['student'])}**, {md(row['notebook'])}: {md(row['status'])}. {md(detail)}")
    if skipped:
        lines += ["", "## Not graded (checkpoints, zip debris, backups)", "", *[f"- {md(s)}" for s in skipped]]
    path.write_text("\n".join(lines) + "\n")

"""``vgg_edu.teaching.grade``: a class of made-up submissions graded as a teacher expects, once for every test
(module fixture); and grading unsandboxed when the teacher asks.

The tiny notebooks answer lesson 01's exercises from the teacher's solution texts, so they follow the lesson when
its exercises change. ``test_bwrap`` grades a hostile class with the real command."""

import nbformat
import pytest

from vgg_edu import exercises
from vgg_edu.teaching import assign, grade, gradebook
from vgg_edu.teaching.limits import Limits

from made_up import IMPORTS, LESSON

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`

FORGE = """
import json, os, pathlib
saved = pathlib.Path(os.environ["VGG_EDU_ANSWERS"])
(saved / "01.3.0.json").write_text(json.dumps({"exercise": "01.3", "kernel_verdict": True, "code": True}))
(saved / "01.3.0.code").write_bytes(b"x")
(saved / "01.4.0.json").write_text(json.dumps({"exercise": "01.4", "kernel_verdict": True, "why_not_saved": "?"}))
"""
WRONG_TYPES = ["'eighteen'", "[1, 2]", "{'a': 1}", "lambda x: x"]


def _notebook(*cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (IMPORTS, *cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _right(exercise_id: str) -> str:
    return exercises.EXERCISES[exercise_id].solution + f"\nex.check({exercise_id!r}, answer)"


def _given(exercise_id: str, answer: str) -> str:
    return f"answer = {answer}\nex.check({exercise_id!r}, answer)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A class of made-up submissions, graded once: name -> the gradebook's row."""
    root = tmp_path_factory.mktemp("submissions")
    half = len(LESSON) // 2
    alice = root / "alice" / "01_tiny.ipynb"
    cheat = [
        "print('[01.1] Correct!')",  # faking the verdict
        "for i in ex.list_exercises('01'): ex.solution(i)",
        "import vgg_edu.exercises.lesson01 as l; print(open(l.__file__).read()[:200])",
        "ex.EXERCISES['01.2'].check = lambda answer: True\nex.check('01.2', 1)",  # replacing the check in the kernel
        FORGE,  # forged notes of answers: one pickle that is not one, one "not saved" that the kernel "passed"
    ]
    vandal = [
        _right(LESSON[0]),
        f"import pathlib\npathlib.Path({str(alice)!r}).write_text('{{}}')\n"
        "for p in pathlib.Path('..').rglob('*.ipynb'): p.write_text('{}')",
        "import shutil, pathlib, vgg_edu\nshutil.rmtree(pathlib.Path(vgg_edu.__file__).parent)\n"
        "shutil.rmtree(pathlib.Path.cwd(), ignore_errors=True)",
    ]
    submissions = {
        "alice": [_right(i) for i in LESSON],
        "blank": [_given(i, "None") for i in LESSON],
        "half": [_right(i) for i in LESSON[:half]] + [_given(i, "1") for i in LESSON[half:]],
        "types": [_given(i, t) for i, t in zip(LESSON, WRONG_TYPES)],
        "syntax": [_right(LESSON[0]), "answer = (1,\nex.check('01.2', answer)", _right(LESSON[2])],
        "loop": [_right(LESSON[0]), "import time\nwhile True:\n    time.sleep(1)", _right(LESSON[1])],  # asleep:
        # a cell that never ends need not hold a core the other test worker could use
        "crash": [_right(LESSON[0]), "import os\nos.kill(os.getpid(), 9)", _right(LESSON[1])],
        "cheat": cheat,
        "vandal": vandal,
    }
    for student, cells in submissions.items():
        (root / student).mkdir()
        nbformat.write(_notebook(*cells), root / student / "01_tiny.ipynb")
    (root / "paper").mkdir()
    (root / "paper" / "01_tiny.ipynb").write_bytes(b"%PDF-1.4 not a notebook")
    (root / "pdf").mkdir()
    (root / "pdf" / "answers.pdf").write_bytes(b"%PDF-1.4")
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    rows = grade.grade(root, out, Limits(seconds=45), progress=lambda *a, **k: None)
    return {row["student"]: row for row in rows}, out


def _verdicts(row) -> list[str]:
    return [gradebook.verdict(row, i) for i in LESSON]


def test_right_blank_half_and_wrong_types(graded):
    rows, _ = graded
    assert rows["alice"]["status"] == "ok" and _verdicts(rows["alice"]) == ["pass"] * len(LESSON)
    assert rows["blank"]["status"] == "ok" and _verdicts(rows["blank"]) == ["blank"] * len(LESSON)
    half = len(LESSON) // 2
    assert _verdicts(rows["half"]) == ["pass"] * half + ["fail"] * (len(LESSON) - half)
    assert _verdicts(rows["types"]) == ["fail"] * len(LESSON)
    assert rows["types"]["status"] == "ok"  # a wrong type is a wrong answer, never an error


def test_broken_submissions_are_recorded_and_keep_what_they_answered(graded):
    rows, _ = graded
    assert rows["syntax"]["status"] == "errors in 1 cells" and "SyntaxError" in rows["syntax"]["errors"][0]
    assert _verdicts(rows["syntax"])[0::2] == ["pass", "pass"] and _verdicts(rows["syntax"])[1] == "blank"
    assert rows["loop"]["status"].startswith("time limit") and "while True" in rows["loop"]["errors"][0]
    assert _verdicts(rows["loop"])[:2] == ["pass", "blank"]
    assert rows["crash"]["status"] == "kernel died" and _verdicts(rows["crash"])[:2] == ["pass", "blank"]
    for student in ("paper", "pdf"):
        assert rows[student]["status"].startswith("not a notebook") and not rows[student]["verdicts"]


def test_printing_faking_and_replacing_check_earn_nothing(graded):
    rows, out = graded
    assert _verdicts(rows["cheat"]) == ["blank", "fail", "fail", "pass (kernel)"]  # the last one a forged note
    assert gradebook.score(rows["cheat"]) == 0
    assert assign.leaked(out.parent / "grades_notebooks" / "cheat") == []  # graded with the students' package


def test_a_submission_that_edits_others_and_deletes_files_harms_only_itself(graded):
    rows, _ = graded
    assert _verdicts(rows["alice"]) == ["pass"] * len(LESSON)  # read before anything ran: its grade stands
    assert gradebook.verdict(rows["vandal"], LESSON[0]) == "pass"  # checked by a fresh copy of the package


def test_the_gradebook_files(graded):
    rows, out = graded
    import csv

    table = {r["student"]: r for r in csv.DictReader(out.open())}
    assert table["alice"]["score"] == str(len(LESSON)) and table["half"]["score"] == str(len(LESSON) // 2)
    assert table["alice"][LESSON[0]] == "pass" and table["blank"][LESSON[0]] == "blank"
    report = out.with_suffix(".md").read_text()
    assert f"| alice | {len(LESSON)}/{len(LESSON)} | ok |" in report and "## What went wrong" in report
    assert (out.parent / "grades_notebooks" / "alice" / "01_tiny.ipynb").is_file()


def test_grading_unsandboxed_when_asked_still_grades(tmp_path):
    """--unsandboxed (the teacher's own user, no bubblewrap): the same run, the same grades, and the report says so."""
    (tmp_path / "submissions").mkdir()
    nbformat.write(_notebook(*[_right(i) for i in LESSON]), tmp_path / "submissions" / "alice.ipynb")
    out, limits = tmp_path / "grades.csv", Limits(seconds=60, sandbox="none")
    rows = grade.grade(tmp_path / "submissions", out, limits, progress=lambda *a, **k: None, lesson="01")  # no NN_
    assert [gradebook.verdict(rows[0], i) for i in LESSON] == ["pass"] * len(LESSON)
    assert "UNSANDBOXED" in out.with_suffix(".md").read_text()

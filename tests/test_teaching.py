"""Teachers: student versions without solutions, and grading made-up submissions as a teacher expects.

The grading tests run tiny notebooks that answer lesson 01's exercises (from the teacher's solution texts, so they
follow the lesson when its exercises change); one test runs a real course notebook, the student version of 01.
"""

import argparse
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from vgg_edu import exercises
from vgg_edu.teaching import answers, assign, grade, gradebook, redact, sandbox

ROOT = Path(__file__).resolve().parent.parent
LESSON = exercises.list_exercises("01.")
IMPORTS = (
    "import math\nimport torch\nfrom vgg_edu import analysis, models, receptive\nfrom vgg_edu import exercises as ex"
)
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
def student_package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    return sandbox.write_package(redact.student_package(sandbox.package_snapshot()), folder)


def _in_student_kernel(folder: Path, code: str) -> str:
    """Run ``code`` with ``folder`` as the working folder (first on sys.path, as in a Jupyter kernel), no PYTHONPATH."""
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_student_package_has_the_checks_and_hints_but_no_solution(student_package):
    code = textwrap.dedent(f"""
        import inspect, json, pathlib
        import vgg_edu
        from vgg_edu import exercises as ex
        assert pathlib.Path(vgg_edu.__file__).is_relative_to(pathlib.Path.cwd()), vgg_edu.__file__
        print(json.dumps({{i: [e.solution, e.hint, e.question] for i, e in ex.EXERCISES.items()}}))
        ex.solution({LESSON[0]!r})
        try:
            inspect.getsource(ex.EXERCISES[{LESSON[0]!r}].check)
        except OSError:
            print("no source")
    """)
    out = _in_student_kernel(student_package, code).splitlines()
    seen = json.loads(out[0])
    assert sorted(seen) == sorted(exercises.EXERCISES)
    for exercise_id, (solution, hint, question) in seen.items():
        assert solution == ""
        assert (hint, question) == (exercises.EXERCISES[exercise_id].hint, exercises.EXERCISES[exercise_id].question)
    assert out[1:] == [redact.NO_SOLUTIONS, "no source"]


def test_no_solution_text_is_in_any_student_file_but_the_detector_finds_the_teachers(student_package):
    assert assign.leaked(student_package) == []
    assert len(assign.leaked(ROOT / "vgg_edu" / "exercises")) >= 3  # the detector works: the teacher's files have them
    sealed = (student_package / "vgg_edu" / "exercises" / "lesson03.py").read_text()
    code = re.sub(r'"[^"\n]*"', '""', sealed)  # the sealed blob's base85 may hold "==" by chance: its code may not
    assert "_check_03" not in sealed and "expected" not in sealed and "==" not in code


def test_the_sealed_checks_accept_the_solutions_and_refuse_wrong_answers(student_package):
    lines = [IMPORTS]
    for exercise_id in LESSON + exercises.list_exercises("03."):
        solution, name = textwrap.indent(exercises.EXERCISES[exercise_id].solution, "    "), "_" + exercise_id[-1]
        lines.append(f"def {name}():\n{solution}\n    return answer")
        lines.append(f"print(ex.check({exercise_id!r}, {name}()), ex.check({exercise_id!r}, -7))")
    out = _in_student_kernel(student_package, "\n".join(lines))
    verdicts = [line for line in out.splitlines() if line in ("True False", "True True", "False False")]
    assert verdicts == ["True False"] * (len(LESSON) + len(exercises.list_exercises("03.")))


def test_strip_solutions_drops_solutions_docstrings_and_comments():
    source = '@exercise("9.9", "q?", hint="h", solution="answer = 42  # the answer")\n'
    source += 'def _c(a):\n    """42."""\n    return a == 42  # yes\n'
    stripped = redact.strip_solutions(source)
    assert "solution=''" in stripped and "the answer" not in stripped and "# yes" not in stripped
    assert '"""' not in stripped and "hint='h'" in stripped


def test_assign_writes_student_and_teacher_versions(tmp_path, capsys):
    assert assign.assign_command(argparse.Namespace(out=tmp_path, notebooks=ROOT / "notebooks")) == 0
    course = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (tmp_path / "student").glob("*.ipynb")) == course
    assert (tmp_path / "student" / "vgg_edu.zip").is_file() and (tmp_path / "student" / "README.md").is_file()
    for name in course:
        original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        student = nbformat.read(tmp_path / "student" / name, as_version=4)
        teacher = nbformat.read(tmp_path / "teacher" / name, as_version=4)
        code = [c.source for c in student.cells if c.cell_type == "code"]
        assert not any("ex.solution(" in s for s in code)
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
        checks = [s for s in code if "ex.check(" in s]  # every exercise cell kept as the course has it
        assert checks == [c.source for c in original.cells if c.cell_type == "code" and "ex.check(" in c.source]
        assert not any("git+https" in s for s in code)  # the Colab cell no longer installs the full package
        solution_cells = [c.source for c in teacher.cells if "ex.solution(" in c.source]
        assert all(not line.startswith("#") for s in solution_cells for line in s.splitlines())
    assert assign.assign_command(argparse.Namespace(out=ROOT / "notebooks" / "x", notebooks=ROOT / "notebooks")) == 1
    assert "must not be" in capsys.readouterr().err


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
        "loop": [_right(LESSON[0]), "while True:\n    pass", _right(LESSON[1])],
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
    rows = grade.grade(root, out, sandbox.Limits(seconds=45), progress=lambda *a, **k: None)
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


def test_check_saves_answers_only_when_grading(tmp_path, monkeypatch, capsys):
    exercises.check(LESSON[0], 5)
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    for _ in range(answers.MAX_PER_EXERCISE + 3):
        exercises.check(LESSON[0], 5)
    exercises.check(LESSON[0], None)  # not answered: nothing to save
    assert len(answers.saved(tmp_path)) == answers.MAX_PER_EXERCISE


def test_the_student_version_of_a_real_notebook_runs_top_to_bottom_unanswered(tmp_path):
    """The one real notebook: 01's student version in fast mode, with the student package from its folder; then the
    sealed checks accept the teacher's solutions, in that kernel."""
    assign.assign(tmp_path, ROOT / "notebooks")
    path = tmp_path / "student" / "01_receptive_fields.ipynb"
    nb = nbformat.read(path, as_version=4)
    probe = [f"exec({exercises.EXERCISES[i].solution!r})\nassert ex.check({i!r}, answer)" for i in LESSON]
    probe.append("import pathlib, vgg_edu\nassert pathlib.Path(vgg_edu.__file__).is_relative_to(pathlib.Path.cwd())")
    nb.cells += [nbformat.v4.new_code_cell(c) for c in probe]
    nbformat.write(nb, path)
    env = {"PATH": "/usr/bin:/bin", "VGG_EDU_FAST": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    code = (
        "import nbformat, nbclient; nb = nbformat.read('01_receptive_fields.ipynb', 4); nbclient.execute(nb, cwd='.')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=path.parent, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_commands_on_the_command_line_refuse_bad_input_in_one_line(tmp_path, capsys, monkeypatch):
    from vgg_edu.__main__ import main
    from vgg_edu.teaching import bwrap

    assert main(["grade", str(tmp_path / "nowhere")]) == 1
    assert main(["grade", str(tmp_path), "--time-limit", "0"]) == 1
    assert main(["grade", str(tmp_path), "--lesson", "99", "--out", str(tmp_path.parent / "g.csv")]) == 1
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "grades.csv")]) == 1  # inside the submissions
    assert main(["assign", str(tmp_path), "--notebooks", str(tmp_path)]) == 1
    monkeypatch.setattr(bwrap, "executable", lambda: None)
    assert main(["grade", str(tmp_path), "--out", str(tmp_path.parent / "g.csv")]) == 1  # no sandbox: not graded
    assert not (tmp_path.parent / "g.csv").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 6 and all(line.startswith("error: ") for line in err)
    assert "bubblewrap" in err[-1] and "--unsandboxed" in err[-1]


def test_answers_are_saved_as_data_and_nothing_else_is(tmp_path, monkeypatch):
    """Numbers, text and lists are JSON; an object with a payload, or an int that is not an int, is "not data"."""

    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    class MyInt(int):
        pass

    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    answers.record("01.1", float("inf"), False)
    answers.record("01.2", Payload(), True)
    answers.record("01.3", [(3, 1), (2, 2)], True)
    answers.record("01.4", MyInt(3), False)
    notes = answers.saved(tmp_path)
    assert [n["exercise"] for n in notes] == LESSON
    assert answers.from_data(notes[0]["data"]) == float("inf")
    assert answers.from_data(notes[2]["data"]) == [(3, 1), (2, 2)]
    assert all("data" not in notes[i] and "not data" in notes[i]["why_not_saved"] for i in (1, 3))
    assert not list(tmp_path.glob("*.code"))  # only an exercise that takes code saves code


def test_grading_unsandboxed_when_asked_still_grades(tmp_path):
    """--unsandboxed (the teacher's own user, no bubblewrap): the same run, the same grades, and the report says so."""
    (tmp_path / "submissions").mkdir()
    nbformat.write(_notebook(*[_right(i) for i in LESSON]), tmp_path / "submissions" / "alice.ipynb")
    out, limits = tmp_path / "grades.csv", sandbox.Limits(seconds=60, sandboxed=False)
    rows = grade.grade(tmp_path / "submissions", out, limits, progress=lambda *a, **k: None, lesson="01")  # no NN_
    assert [gradebook.verdict(rows[0], i) for i in LESSON] == ["pass"] * len(LESSON)
    assert "UNSANDBOXED" in out.with_suffix(".md").read_text()

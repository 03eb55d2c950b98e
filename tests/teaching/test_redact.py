"""``vgg_edu.teaching.redact``: the student copy of the package has the checks, hints and questions but no
solution, and its sealed checks still accept the solutions and refuse wrong answers (in a kernel of its own)."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vgg_edu import exercises
from vgg_edu.teaching import assign, redact, sandbox

from made_up import IMPORTS, LESSON

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def student_package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    return sandbox.write_package(redact.student_package(sandbox.package_snapshot()), folder)


def _in_student_kernel(folder: Path, code: str) -> str:
    """Run ``code`` with ``folder`` as the working folder (first on sys.path, as in a Jupyter kernel), no PYTHONPATH."""
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
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

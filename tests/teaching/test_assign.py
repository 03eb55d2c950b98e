"""``vgg_edu.teaching.assign``: the student and teacher versions of every notebook, and the student version of a
real notebook (01) run top to bottom with the student package."""

import argparse
import subprocess
import sys
from pathlib import Path

import nbformat

from vgg_edu import exercises
from vgg_edu.teaching import assign

from made_up import LESSON

ROOT = Path(__file__).resolve().parents[2]


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
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=path.parent, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]

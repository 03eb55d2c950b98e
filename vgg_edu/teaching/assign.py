"""``python -m vgg_edu assign OUT/``: the versions of the course a teacher hands out and keeps.

- ``OUT/student/``: every notebook, outputs cleared, the exercise cells left to fill as the course has them, the
  teacher's "print every solution" cell removed and the Colab set-up cell changed to unpack ``vgg_edu.zip``; beside
  them ``vgg_edu/``, the package without solutions and with its checks sealed (``redact``), the same as
  ``vgg_edu.zip``, and a README for students. Jupyter starts a notebook's kernel in the notebook's folder, and that
  folder comes first on ``sys.path``: the student copy is what ``import vgg_edu`` finds there, even where the full
  package is installed too.
- ``OUT/teacher/``: the same notebooks with their solution cell switched on, for the full package.

Students install the course's dependencies, not the course package (``pip install vgg-edu`` or a clone would bring
the solutions; the public repository holds them).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat

from .. import exercises, paths
from . import redact, sandbox

SOLUTIONS_CELL = re.compile(r"ex\.solution\(")
STUDENT_SETUP = """\
# Setup on Google Colab: upload this assignment's vgg_edu.zip (Files pane, left) first; this cell unpacks it and
# installs what the course needs. On your own machine (JupyterLab opened in this folder) it does nothing.
import sys

if "google.colab" in sys.modules:
    !unzip -qo vgg_edu.zip
    %pip install -q {requirements}"""

STUDENT_README = """\
# Your copy of the VGG course

Open the notebooks with JupyterLab started in this folder (`jupyter lab`): the `vgg_edu` folder beside them is the
course's package for this assignment, and the notebooks import it from here. Install what it needs once:

    pip install {requirements} jupyterlab ipywidgets

Each notebook ends with exercises: write your answer in the cell, run it, and `ex.check` says whether it is right
(`ex.hint("01.2")` helps). Run the whole notebook (Run > Restart Kernel and Run All Cells) before you hand it in,
and hand in the `.ipynb` file without renaming it. On Google Colab: upload the notebook and `vgg_edu.zip`, and run
the first cell.
"""


def requirements() -> str:
    """The package's own dependencies, without torch and torchvision (every Colab and course set-up has them)."""
    try:
        from importlib.metadata import requires

        wanted = [r.split(";")[0].replace(" ", "") for r in requires("vgg-edu") or [] if "extra ==" not in r]
    except Exception:  # not installed from the repository: the one dependency Colab lacks
        wanted = ["torchinfo>=1.8"]
    return " ".join(f'"{r}"' for r in wanted if re.split(r"[<>=!~\[]", r)[0] not in ("torch", "torchvision"))


def _clear(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)


def student_notebook(nb):
    """The student version: no outputs, no cell that prints the solutions, the Colab cell unpacking the package."""
    _clear(nb)
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and SOLUTIONS_CELL.search(c.source))]
    for cell in nb.cells:
        if cell.cell_type == "code" and "google.colab" in cell.source and "pip install" in cell.source:
            cell.source = STUDENT_SETUP.format(requirements=requirements())
    return nb


def teacher_notebook(nb):
    """The teacher version: no outputs, the commented-out "print every solution" cell switched on."""
    _clear(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and SOLUTIONS_CELL.search(cell.source):
            cell.source = "\n".join(re.sub(r"^# ?", "", line) for line in cell.source.splitlines())
    return nb


def leaked(folder: Path) -> list[str]:
    """Files under ``folder`` holding the text of a solution, or of a solution's ``answer = ...`` line, where it is
    longer than 25 characters (so that ``answer = 3`` is not mistaken for one): empty for a good student version."""
    texts = {
        text.strip()
        for e in exercises.EXERCISES.values()
        for text in [e.solution, *(line for line in e.solution.splitlines() if line.startswith("answer ="))]
        if len(text.strip()) > 25
    }
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".py", ".ipynb", ".md")]
    return sorted(str(p.relative_to(folder)) for p in files if any(t in p.read_text(errors="replace") for t in texts))


def assign(out: Path, notebooks: Path) -> list[Path]:
    """Write ``out/student`` and ``out/teacher`` from the notebooks in ``notebooks``; return the student notebooks."""
    student, teacher = out / "student", out / "teacher"
    shutil.rmtree(student / "vgg_edu", ignore_errors=True)
    written = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        for folder, version in ((student, student_notebook), (teacher, teacher_notebook)):
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(version(nbformat.read(path, as_version=4)), folder / path.name)
        written.append(student / path.name)
    package = sandbox.write_package(redact.student_package(sandbox.package_snapshot()), student)
    shutil.make_archive(str(student / "vgg_edu"), "zip", root_dir=package, base_dir="vgg_edu")
    (student / "README.md").write_text(STUDENT_README.format(requirements=requirements()))
    problems = leaked(student)
    if problems:
        raise RuntimeError(f"a solution's text is still in the student version: {', '.join(problems)}")
    return written


def assign_command(args) -> int:
    notebooks = args.notebooks or (paths.repo_root() / "notebooks" if paths.repo_root() else None)
    if notebooks is None or not notebooks.is_dir() or not list(notebooks.glob("[0-9][0-9]_*.ipynb")):
        print("error: no course notebooks found; pass --notebooks DIR (the repository's notebooks/)", file=sys.stderr)
        return 1
    if args.out.resolve() == notebooks.resolve() or notebooks.resolve() in args.out.resolve().parents:
        print("error: OUT must not be the course's notebooks folder or inside it", file=sys.stderr)
        return 1
    try:
        written = assign(args.out, notebooks)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(written)} student notebooks, the package without solutions and vgg_edu.zip in {args.out / 'student'}")
    print(f"teacher versions (solutions printed at the end) in {args.out / 'teacher'}")
    return 0

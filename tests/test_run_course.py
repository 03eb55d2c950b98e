"""tools/run_course.py, what ``make course`` runs: a line per notebook with its time, HTML with alt text, the kernel
over IPC, a failed notebook reported without stopping the others, and nothing written outside --out."""

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`

ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a lesson"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_the_course_runner_reports_each_notebook_and_writes_only_its_html(tmp_path):
    good = _notebook(tmp_path / "01_good.ipynb", "import matplotlib.pyplot as plt\nfrom vgg_edu import notebook\n"
                     "notebook.start()\nfig, ax = plt.subplots()\nax.set(title='loss', xlabel='step')")  # fmt: skip
    bad = _notebook(tmp_path / "02_bad.ipynb", "1 / 0")
    out = tmp_path / "html"
    before = sorted(p.name for p in tmp_path.iterdir())
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_course.py"), str(bad), str(good), "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("02_bad: ") and line.endswith("FAILED") for line in lines)
    assert any(line.startswith("01_good: ") and line.endswith(" ok") for line in lines)
    assert "ZeroDivisionError" in run.stdout and "failed: 02_bad.ipynb" in run.stderr
    assert "without encryption" not in run.stderr + run.stdout  # IPC, not TCP
    html = (out / "01_good.html").read_text()
    assert 'alt="loss (x: step)"' in html and "No description has been provided" not in html
    assert (out / "02_bad.html").is_file()
    executed = json.loads((out / "01_good.ipynb").read_text())["cells"][1]  # the run, outputs kept
    assert executed["execution_count"] == 1 and "execute_result" in [o["output_type"] for o in executed["outputs"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["html"])


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "run_course.py"), str(tmp_path / "nope.ipynb")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and run.stderr.strip() == f"error: no such notebook: {tmp_path / 'nope.ipynb'}"


# `make course` as the README gives it: the Makefile's own command line, on a probe notebook and on notebook 00, in
# full mode (VGG_EDU_FAST unset), with the output folder relative to the checkout as the default `build` is.
PROBE = (
    "from vgg_edu import claims\n"
    "claims.claim(1 > 2, 'one is more than two', evidence='1 against 2')\n"
    "claims.claim(2 > 1, 'two is more than one')\n"
    "print('the cell after the claims ran')"
)


def _make(target: str, *variables: str, fast: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VGG_EDU_FAST"} | ({"VGG_EDU_FAST": "1"} if fast else {})
    return subprocess.run(["make", "-C", str(ROOT), target, *variables], capture_output=True, text=True, env=env,
                          timeout=900)  # fmt: skip


@pytest.fixture
def course_out():
    """An output folder given relative to the checkout (as `build` is), removed afterwards."""
    relative = Path("build") / f"pytest-{uuid.uuid4().hex[:8]}"
    yield relative
    shutil.rmtree(ROOT / relative, ignore_errors=True)


def test_make_course_runs_a_notebook_whose_claim_fails_to_its_end_and_lists_the_sentence(tmp_path, course_out):
    probe = _notebook(tmp_path / "01_probe.ipynb", PROBE)
    run = _make("course", f"NOTEBOOKS={probe}", f"COURSE_OUT={course_out}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    executed = nbformat.read(ROOT / course_out / "01_probe.ipynb", as_version=4).cells[1]
    shown = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in executed.outputs)
    assert 'Your run differs from the text. The text says: "one is more than two"' in shown  # the student's note
    assert "Claim holds: two is more than one" in shown and "the cell after the claims ran" in shown
    assert not [o for o in executed.outputs if o.output_type == "error"]
    listed = 'code cell 1: "one is more than two" (this run: 1 against 2)'
    assert "Sentences of the prose this run did not support (1;" in run.stdout and listed in run.stdout
    assert listed in (ROOT / course_out / "claims.txt").read_text()
    assert "two is more than one" not in (ROOT / course_out / "claims.txt").read_text()


def test_make_course_strict_fails_on_the_sentence_after_rendering_every_notebook(tmp_path, course_out):
    probe = _notebook(tmp_path / "01_probe.ipynb", PROBE)
    holds = _notebook(tmp_path / "02_holds.ipynb", "from vgg_edu import claims\nclaims.claim(True, 'true')")
    run = _make("course-strict", f"NOTEBOOKS={probe} {holds}", f"COURSE_OUT={course_out}")
    assert run.returncode != 0 and "--strict: 1 sentence(s) of the prose not supported" in run.stderr
    assert (ROOT / course_out / "01_probe.html").is_file() and (ROOT / course_out / "02_holds.html").is_file()
    passing = _make("course-strict", f"NOTEBOOKS={holds}", f"COURSE_OUT={course_out}")
    assert passing.returncode == 0 and "Every sentence checked by a claim held in this run." in passing.stdout


def test_make_course_renders_notebook_00_in_full_mode(course_out):
    run = _make("course", "NOTEBOOKS=notebooks/00_start_here.ipynb", f"COURSE_OUT={course_out}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "00_start_here: " in run.stdout and " ok" in run.stdout
    html = (ROOT / course_out / "00_start_here.html").read_text()
    assert "computing on" in html and "fast mode: False" in html


def test_make_figures_runs_with_the_same_command_line(course_out):
    run = _make("figures", "NOTEBOOKS=notebooks/00_start_here.ipynb", f"COURSE_OUT={course_out}", fast=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (ROOT / course_out / "00_start_here.html").is_file()

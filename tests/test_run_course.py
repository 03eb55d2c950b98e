"""tools/run_course.py, what ``make course`` runs: a line per notebook with its time, HTML with alt text, the kernel
over IPC, a failed notebook reported without stopping the others, and nothing written outside --out."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a lesson"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def test_the_course_runner_reports_each_notebook_and_writes_only_its_html(tmp_path):
    good = _notebook(tmp_path / "01_good.ipynb", "import matplotlib.pyplot as plt\nfrom vgg_edu import plots\n"
                     "fig, ax = plt.subplots()\nax.set(title='loss', xlabel='step')")  # fmt: skip
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
    assert executed["execution_count"] == 1 and executed["outputs"][0]["output_type"] == "execute_result"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["html"])


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "run_course.py"), str(tmp_path / "nope.ipynb")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and run.stderr.strip() == f"error: no such notebook: {tmp_path / 'nope.ipynb'}"

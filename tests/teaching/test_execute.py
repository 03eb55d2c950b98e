"""``vgg_edu.teaching.execute``: a notebook run top to bottom on a real kernel, a cell that raises not stopping it,
and what goes back to the grader (one zip: ``run.json``, the executed notebook, the answers and nothing else)."""

import io
import json
import zipfile

import nbformat

from vgg_edu.teaching import execute


def _notebook(*cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_a_cell_that_raises_does_not_stop_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nbformat.write(_notebook("x = 20", "1 / 0", "print(x + 1)", "raise ValueError('no ' * 100)"), tmp_path / "nb.ipynb")
    result, executed = execute.run(tmp_path / "nb.ipynb", seconds=120)
    nb = nbformat.reads(executed.decode(), as_version=4)
    assert nb.cells[2].outputs[0]["text"] == "21\n"  # the cell after the one that raised ran
    assert result["status"] == "finished" and result["executed_mb"] == round(len(executed) / 2**20, 1)
    assert result["errors"] == [
        "cell 2: ZeroDivisionError: division by zero",
        "cell 4: ValueError: " + ("no " * 100)[:160],
    ]


def test_errors_are_named_by_the_cell_they_are_in():
    nb = _notebook("a", "b", "c")
    nb.cells[1].outputs = [
        nbformat.v4.new_output("stream", text="hi"),
        nbformat.v4.new_output("error", ename="KeyError", evalue="'k'", traceback=[]),
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="E", evalue="x" * 500, traceback=[])]
    assert execute.cell_errors(nb) == ["cell 2: KeyError: 'k'", "cell 3: E: " + "x" * 160]


def test_the_zip_holds_the_result_the_notebook_and_the_answers_only(tmp_path):
    (tmp_path / "answers" / "deeper").mkdir(parents=True)
    (tmp_path / "answers" / "01.1.0.json").write_text('{"exercise": "01.1"}')
    (tmp_path / "answers" / "deeper" / "01.2.0.json").write_text("{}")
    (tmp_path / "secret").write_text("the teacher's")
    (tmp_path / "answers" / "01.3.0.json").symlink_to(tmp_path / "secret")
    result = {"status": "finished", "errors": [], "executed_mb": 0.0}
    with zipfile.ZipFile(io.BytesIO(execute.packed(tmp_path, result, b"{}"))) as z:
        assert sorted(z.namelist()) == ["answers/01.1.0.json", "executed.ipynb", "run.json"]
        assert json.loads(z.read("run.json")) == result and z.read("answers/01.1.0.json") == b'{"exercise": "01.1"}'
    with zipfile.ZipFile(io.BytesIO(execute.packed(tmp_path, result, None))) as z:
        assert "executed.ipynb" not in z.namelist()  # too large to keep: the grader says so

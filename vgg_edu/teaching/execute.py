"""Run one submitted notebook, top to bottom, in the current folder:
``python -m vgg_edu.teaching.execute NB --result DIR``.

The grader starts this in a fresh folder of the submission's own, under its time and memory limits, with
``VGG_EDU_FAST=1`` and ``VGG_EDU_ANSWERS`` set; the kernel (nbclient's, a child of this process) inherits all of it.
A cell that raises does not stop the run (later exercises still count, as in nbgrader's autograde). What happened
goes to ``DIR/run.json`` (outside the notebook's folder, which the notebook may delete): ``finished`` or ``kernel
died``, and the cells that raised; the executed notebook is saved as ``DIR/executed.ipynb`` for the teacher.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError


def cell_errors(nb) -> list[str]:
    """``cell N: ErrorName: message`` for every cell whose output holds an error (N: its place in the notebook)."""
    errors = []
    for n, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {n}: {out.get('ename', '?')}: {str(out.get('evalue', ''))[:160]}")
    return errors


def _cell_noter(result: Path):
    def note(cell, cell_index: int) -> None:
        """Leave the running cell's number in ``running.json``: a notebook killed at its time limit says where."""
        if cell.cell_type == "code":
            (result / "running.json").write_text(json.dumps({"cell": cell_index + 1, "source": cell.source[:120]}))

    return note


def run(path: Path, cell_timeout: int, result: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=cell_timeout, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": "."}},
        on_cell_start=_cell_noter(result),
    )  # fmt: skip
    status = "finished"
    try:
        client.execute()
    except DeadKernelError:
        status = "kernel died"
    except CellTimeoutError:
        status = "cell time limit"
    nbformat.write(nb, result / "executed.ipynb")
    return {"status": status, "errors": cell_errors(nb)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vgg_edu.teaching.execute")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--cell-timeout", type=int, default=600)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run(args.notebook.resolve(), args.cell_timeout, args.result.resolve())
    (args.result / "run.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()

"""Run one submitted notebook, top to bottom, inside the sandbox:
``python -m vgg_edu.teaching.execute NB --out DIR --seconds S``.

The grader starts this in its sandbox (``sandbox``) with ``VGG_EDU_FAST=1`` and ``VGG_EDU_ANSWERS=DIR/answers``; the
kernel (nbclient's, a child of this process) inherits the sandbox and the environment. A cell that raises does not
stop the run (later exercises still count, as in nbgrader's autograde); a cell still running when the notebook's
``S`` seconds are up is stopped, and the kernel shut down. The cell about to run is logged on the standard error
(``cell N: source``: the grader names it if the run is killed). At the end, everything the grader needs goes back as
one zip on the standard output (``handback``): ``run.json`` (``finished``, ``kernel died`` or ``time limit``, the
cells that raised, the executed notebook's size), ``executed.ipynb`` (at most ``MAX_KEPT_MB``) and the answers.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import handback

MAX_KEPT_MB = 50


def cell_errors(nb) -> list[str]:
    """``cell N: ErrorName: message`` for every cell whose output holds an error (N: its place in the notebook)."""
    errors = []
    for n, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {n}: {out.get('ename', '?')}: {str(out.get('evalue', ''))[:160]}")
    return errors


def _log_cell(cell, cell_index: int) -> None:
    if cell.cell_type == "code":
        print(f"cell {cell_index + 1}: {json.dumps(cell.source[:120])}", file=sys.stderr, flush=True)


def run(path: Path, seconds: float) -> tuple[dict, bytes | None]:
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + seconds
    client = NotebookClient(
        nb, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": "."}},
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())), on_cell_start=_log_cell,
    )  # fmt: skip
    status = "finished"
    try:
        client.execute()
    except DeadKernelError:
        status = "kernel died"
    except CellTimeoutError:
        status = "time limit"
    text = nbformat.writes(nb).encode()
    result = {"status": status, "errors": cell_errors(nb), "executed_mb": round(len(text) / 2**20, 1)}
    return result, (text if len(text) <= MAX_KEPT_MB * 2**20 else None)


def packed(out: Path, result: dict, executed: bytes | None) -> bytes:
    """The zip the grader reads, made in memory (the notebook may have filled its disk): ``run.json``,
    ``executed.ipynb`` and the answers' files, nothing else."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("run.json", json.dumps(result))
        if executed is not None:
            z.writestr("executed.ipynb", executed)
        for path in sorted((out / "answers").glob("*")):
            if path.is_file() and not path.is_symlink():
                z.write(path, str(path.relative_to(out)))
    return buffer.getvalue()


def main(argv=None) -> None:
    result_fd = handback.claim_stdout()
    parser = argparse.ArgumentParser(prog="python -m vgg_edu.teaching.execute")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=600)
    args = parser.parse_args(argv)
    (args.out / "answers").mkdir(parents=True, exist_ok=True)  # before the kernel starts: it writes there
    result, executed = run(args.notebook, args.seconds)
    handback.send(result_fd, packed(args.out, result, executed))


if __name__ == "__main__":
    main()

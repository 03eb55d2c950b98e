"""Run the course's notebooks one by one and render each to HTML: what ``make course`` does.

    python tools/run_course.py                     # every notebooks/NN_*.ipynb, HTML into build/
    python tools/run_course.py notebooks/04_*.ipynb --out build

A line per notebook with its wall time, and inside a long one a progress line at least every minute (which cell
is running, since when); kernels talk over IPC, not TCP; the HTML carries each figure's alt text; widget state is
dropped, so each widget cell shows its static figure. Each run is also kept as a notebook with its
outputs (``--out``/NN_name.ipynb). Nothing in the checkout is written but ``--out``: the
committed figures in images/ are refreshed only by ``make figures`` (``VGG_EDU_SAVE_FIGURES=1``).
Exit code 1 if a notebook failed (the others still run); its error is printed and its partial HTML written.

A sentence of the prose that this run did not support (``vgg_edu.claims``: a note in the notebook, which goes on) is
listed at the end with what the run measured, and in ``--out``/claims.txt; ``--strict`` (``make course-strict``,
for the course's maintainers) makes any such sentence fail the run, after every notebook has run.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor

from vgg_edu.claims import METADATA_KEY

ROOT = Path(__file__).resolve().parent.parent


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class _Progress:
    """Prints which cell runs, at most once a ``every`` seconds, from a timer thread (so a long cell is heard)."""

    def __init__(self, name: str, n_code: int, every: float = 60.0):
        self.name, self.n_code, self.every = name, n_code, every
        self.start, self.cell, self.since = time.perf_counter(), 0, time.perf_counter()
        self.done = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()

    def on_cell_start(self, cell, cell_index):
        if cell.cell_type == "code":
            self.cell, self.since = self.cell + 1, time.perf_counter()

    def _tick(self):
        while not self.done.wait(self.every):
            now = time.perf_counter()
            print(
                f"    {self.name}: code cell {self.cell}/{self.n_code} running for {_clock(now - self.since)} "
                f"({_clock(now - self.start)} in all)",
                flush=True,
            )


def unsupported_claims(nb) -> list[str]:
    """Each sentence an executed notebook's claims did not support: ``code cell N: "sentence" (evidence)``."""
    found, n = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        for output in cell.get("outputs", []):
            said = output.get("metadata", {}).get(METADATA_KEY)
            if said:
                evidence = f" (this run: {said['evidence']})" if said.get("evidence") else ""
                found.append(f'code cell {n}: "{said["sentence"]}"{evidence}')
    return found


def run(path: Path, out: Path, timeout: int) -> tuple[bool, list[str]]:
    """Run one notebook, write its HTML and the executed notebook into ``out``; whether it ran to its end, and the
    sentences its claims did not support."""
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    progress = _Progress(path.stem, n_code)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        kernel_manager_class=KernelManager,
        on_cell_start=progress.on_cell_start,
    )
    client.km = KernelManager(kernel_name="python3", transport="ipc", connection_file=str(out / f".{path.stem}.json"))
    ok = True
    try:
        client.execute()
    except (CellExecutionError, DeadKernelError, TimeoutError) as err:
        ok = False
        print(f"  {path.name} FAILED: {str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}")
    finally:
        progress.done.set()
    unsupported = unsupported_claims(nb)
    nb, _ = ClearMetadataPreprocessor().preprocess(nb, {})
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(ROOT / "tools" / "course_template")])
    html, _ = exporter.from_notebook_node(nb)
    (out / f"{path.stem}.html").write_text(html)
    nbformat.write(nb, out / f"{path.stem}.ipynb")  # the run with its outputs, for a reviewer or a teacher
    said = f", {len(unsupported)} sentence(s) not supported by this run" if unsupported else ""
    print(f"{path.stem}: {_clock(time.perf_counter() - progress.start)} {'ok' if ok else 'FAILED'}{said}", flush=True)
    return ok, unsupported


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build", help="where the HTML and the run notebooks go (default build/)"
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one cell may take (default 3600)")
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 1) if the prose says anything this run did not support"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = args.out.resolve()  # the kernels run in the notebooks' folder: a relative path would point there
    out.mkdir(parents=True, exist_ok=True)
    start, failed, unsupported = time.perf_counter(), [], []
    for path in paths:
        ok, said = run(path.resolve(), out, args.timeout)
        failed += [] if ok else [path.name]
        unsupported += [f"{path.stem}, {line}" for line in said]
    print(f"{len(paths)} notebooks in {_clock(time.perf_counter() - start)}; HTML in {out}")
    listing = "\n".join(f"  {line}" for line in unsupported)
    (out / "claims.txt").write_text(listing + "\n" if unsupported else "")
    if unsupported:
        print(f"Sentences of the prose this run did not support ({len(unsupported)}; also in {out / 'claims.txt'}):")
        print(listing)
    else:
        print("Every sentence checked by a claim held in this run.")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    if unsupported and args.strict:
        print(f"--strict: {len(unsupported)} sentence(s) of the prose not supported by this run", file=sys.stderr)
    return 1 if failed or (unsupported and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())

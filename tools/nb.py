"""Write a notebook from a list of cells, outputs empty: ``python tools/nb.py`` is not needed by users.

Course authors build notebooks with ``make_notebook(path, cells)`` where each cell is ("md", text) or
("code", source); the common Colab badge and set-up cell come first.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = "vgg-edu/vgg-edu"  # GitHub owner/name used by the Colab badges and the Colab install line


def colab_header(path: str | Path, title: str) -> list:
    name = Path(path).name
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name})")
    setup = (
        "# Setup: on Google Colab this installs the course package; anywhere else it does nothing.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install -q \"vgg-edu[notebooks] @ git+https://github.com/{REPO}\""
    )
    return [("md", f"# {title}\n\n{badge}"), ("code", setup)]


ROOT = Path(__file__).resolve().parent.parent


def make_notebook(path: str | Path, title: str, cells: list) -> None:
    """Write ``path`` (relative to the repository root) with the Colab header and ``cells``, no outputs."""
    path = ROOT / path
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for kind, source in colab_header(path, title) + cells:
        source = source.strip("\n")
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.write(nb, str(path))


def strip(paths) -> None:
    """Remove outputs and execution counts from notebooks in place."""
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, p)


if __name__ == "__main__":
    strip(sys.argv[1:])

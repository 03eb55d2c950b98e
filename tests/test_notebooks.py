"""The course's conventions, checked on every notebook file (running them is nbmake's job)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_outputs_committed(path):
    dirty = [i for i, c in enumerate(cells(path)) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: strip outputs with `nbstripout notebooks/*.ipynb` (cells {dirty})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_setup_cell_first(path):
    first, second = cells(path)[:2]
    assert "colab.research.google.com/github/" in "".join(first["source"])
    assert path.name in "".join(first["source"])
    setup = "".join(second["source"])
    assert second["cell_type"] == "code" and '"google.colab" in sys.modules' in setup and "%pip install" in setup


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=lambda p: p.name)
def test_at_least_three_self_checking_exercises(path):
    source = "".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "code")
    ids = set(re.findall(r"check\(\s*[\"'](\d\d\.\d+)[\"']", source))
    assert len(ids) >= 3, f"{path.name} checks exercises {sorted(ids)}"
    from vgg_edu import exercises

    assert ids <= set(exercises.EXERCISES), f"unregistered: {ids - set(exercises.EXERCISES)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_and_exercises_carry_their_notebooks_number(path):
    source = "".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "code")
    figures = re.findall(r"save_figure\([^,]+,\s*f?[\"'](\d\d)_", source)
    exercises = re.findall(r"check\(\s*[\"'](\d\d)\.\d+[\"']", source)
    wrong = sorted({n for n in figures + exercises if n != path.name[:2]})
    assert not wrong, f"{path.name} names figures or exercises of notebook(s) {wrong}"

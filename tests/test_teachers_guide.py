"""docs/teachers_guide.md (issue 33, item 6): a section for every notebook, in the course's order, naming each of its
exercises; every link of the guide resolves (files and headings); the README links it from its teacher section and
from what the course assumes; and the guide gives no exercise's answer away."""

import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from vgg_edu import analysis, exercises, models, receptive

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "teachers_guide.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXERCISE = re.compile(r"\b(\d\d)\.(\d+)(?:-(?:\1\.)?(\d+))?")  # 01.2, or a range 01.1-01.4


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def broken_links(text: str, source: Path) -> list[str]:
    """Every relative link in ``text`` (the Markdown file ``source``) whose file is missing, or whose ``#anchor``
    names no heading of that file (of ``source`` for a link to an anchor alone)."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...
            continue
        name, _, anchor = target.partition("#")
        path = (source.parent / name).resolve() if name else source
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


def _sections() -> dict[str, str]:
    """The guide's text by its level-2 heading."""
    parts = re.split(r"^## (.+)$", GUIDE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _named_exercises(text: str) -> set[str]:
    named = set()
    for lesson, first, last in EXERCISE.findall(text):
        named |= {f"{lesson}.{k}" for k in range(int(first), int(last or first) + 1)}
    return named


def test_the_guide_has_a_section_for_every_notebook_in_order():
    assert [name for name in _sections() if name[:2].isdigit()] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("notebook", [p.stem for p in NOTEBOOKS])
def test_each_section_names_its_lessons_exercises_and_no_other(notebook):
    named = {i for i in _named_exercises(_sections()[notebook]) if i.startswith(notebook[:2] + ".")}
    assert named == set(exercises.list_exercises(notebook[:2])), notebook


def test_every_link_of_the_guide_resolves():
    assert not broken_links(GUIDE.read_text(), GUIDE)


def test_a_broken_link_is_found():
    text = "[a](../README.md#no-such-heading) [b](missing.md) [c](#nor-this) [d](https://x.org/#y) [e](benchmarks.md)"
    broken = broken_links(text, GUIDE)
    assert len(broken) == 3 and not any(b.startswith(("https", "benchmarks")) for b in broken), broken


def test_the_readme_links_the_guide_from_its_teacher_section_and_what_the_course_assumes():
    readme = (ROOT / "README.md").read_text()
    for heading in ("## For teachers", "### What the course assumes"):
        section = readme.split(heading + "\n", 1)[1].split("\n#", 1)[0]
        assert "(docs/teachers_guide.md)" in section, heading
    assert not broken_links(readme, ROOT / "README.md")


def _answer(exercise_id: str):
    namespace = {"torch": torch, "nn": nn, "math": math, "analysis": analysis, "models": models, "receptive": receptive}
    exec(exercises.EXERCISES[exercise_id].solution, namespace)
    return exercises.normalize(namespace["answer"])


def spellings(answer) -> list[str]:
    """How a numeric or list answer could be written in the guide; small integers (18, 30, 49) are left out: they
    are also the course's ordinary numbers (18/25 MACs, 30% of the compute)."""
    if isinstance(answer, float) and not answer.is_integer():
        return [f"{answer:.3f}", f"{answer:.4f}", f"{100 * answer:.1f}%"]
    if isinstance(answer, (int, float)):
        return [str(int(answer)), f"{int(answer):,}"] if abs(answer) >= 1000 else []
    if isinstance(answer, (list, tuple)):
        return [str(tuple(answer)), str(list(answer))]
    return []


def test_the_guide_gives_no_exercises_answer():
    guide = GUIDE.read_text()
    given = {i: s for i in exercises.list_exercises() for s in spellings(_answer(i)) if s in guide}
    assert not given, f"the guide writes these answers (show them with ex.solution instead): {given}"


def test_an_answer_in_the_text_would_be_found():
    assert "202,752" in spellings(202752) and "0.059" in spellings(0.05892556509887896)
    assert spellings(18) == [] and "(0, 5, 27, 32)" in spellings((0, 5, 27, 32))


def _plan(section: str) -> str:
    match = re.search(r"\*\*Plan[^*]*\*\*.*?(?=\n\n|\Z)", section, re.S)
    assert match, "no **Plan** paragraph"
    return match.group(0)


def _planned_minutes(plan: str) -> list[int]:
    """The minutes a plan gives its parts: the numbers in brackets, "(15)"."""
    return [int(m) for m in re.findall(r"\((\d+)\)", plan)]


@pytest.mark.parametrize("notebook", [p.stem for p in NOTEBOOKS if not p.name.startswith("00")])
def test_each_notebook_is_planned_as_one_75_minute_session(notebook):
    """Issue 33, item 3: each notebook is one class session of at most about 75 minutes; the guide's plan says how,
    part by part, and its parts add up to no more (00 is the opening of 01's session)."""
    plan = _plan(_sections()[notebook])
    assert plan.startswith("**Plan (75 min)"), plan[:80]
    minutes = _planned_minutes(plan)
    assert len(minutes) >= 3 and sum(minutes) <= 75, (notebook, minutes)


def test_a_plan_over_75_minutes_would_be_caught():
    plan = _plan("**Plan (75 min).** Pruning (30); quantization (20); the head (15); exercises (20).\n\nMore.")
    assert _planned_minutes(plan) == [30, 20, 15, 20] and sum(_planned_minutes(plan)) > 75


def test_03s_widget_answer_quotes_the_layer_tables_macs():
    """The guide's answer to 03's widget question gives MACs read from `analysis.layer_table`: hold each number
    against the table, rounded as the guide writes it (3.7749 GMACs is 3.77, not 3.78)."""
    answer = " ".join(_sections()["03_vgg16"].split())
    found = re.search(
        r"in D, (\d\.\d+) GMACs per second conv at 32 px, (\d\.\d+) at 320 .*?\((\d\.\d+) and (\d\.\d+) GMACs at 224 "
        r"px, against (\d\.\d+) in each of stages 3 and 4\)",
        answer,
    )
    assert found, "the guide's answer to 03's widget question has moved"

    def macs(config: str, size: int) -> dict:
        with torch.device("meta"):
            table = analysis.layer_table(models.VGG(config), input_size=(3, size, size))
        return (table.set_index("name")["macs"] / 1e9).to_dict()

    d32, d320, a224 = macs("D", 32), macs("D", 320), macs("A", 224)
    computed = [d32["conv1_2"], d320["conv1_2"], a224["conv1_1"], a224["conv2_1"], a224["conv3_1"] + a224["conv3_2"]]
    for written, value in zip(found.groups(), computed):
        assert written == f"{value:.{len(written.split('.')[1])}f}", (written, value)
    assert d320["conv2_2"] == d320["conv3_2"] == d320["conv4_2"] == d320["conv1_2"]  # every second conv alike
    assert a224["conv4_1"] + a224["conv4_2"] == a224["conv3_1"] + a224["conv3_2"]

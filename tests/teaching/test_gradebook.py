"""``vgg_edu.teaching.gradebook``: verdicts from the saved answers and the re-check, the kept notebooks, and the CSV
and markdown a teacher reads, read back with the csv module and rendered by a markdown parser (mistune)."""

import csv
import html
import re
from types import SimpleNamespace

import mistune

from vgg_edu import exercises
from vgg_edu.teaching import answers, gradebook
from vgg_edu.teaching.limits import Limits

from made_up import LESSON


def _row(student, verdicts, lesson=LESSON, **more):
    row = gradebook.new_row(SimpleNamespace(student=student, path="01_x.ipynb", exercise_ids=lesson, notes=[]))
    row["verdicts"] = {i: {"verdict": v, "answers": 1, "said": ""} for i, v in verdicts.items()}
    return {**row, "status": "ok", **more}


def test_verdicts_from_the_saved_answers_and_what_the_recheck_said(tmp_path, monkeypatch):
    monkeypatch.setenv(exercises.ANSWERS_ENV, str(tmp_path))
    answers.record(LESSON[0], 1, False)  # 01.1.0: wrong first ...
    answers.record(LESSON[0], 2, True)  # 01.1.1: ... then right
    answers.record(LESSON[1], 3, True)  # the kernel says Correct, the re-check does not
    answers.record(LESSON[2], object(), True)  # not data: not saved, the kernel's word only
    answers.record("07.1", 4, True)  # another lesson's exercise
    checked = {
        f"{LESSON[0]}.0": [False, "Not yet."],
        f"{LESSON[0]}.1": [True, "Correct!"],
        f"{LESSON[1]}.0": [False, "no"],
    }
    row = _row("alice", {})
    gradebook.add_verdicts(row, tmp_path, checked, LESSON)
    got = [gradebook.verdict(row, i) for i in LESSON]
    assert got == ["pass", "fail", "pass (kernel)", "blank"]
    assert row["verdicts"][LESSON[0]]["answers"] == 2 and row["verdicts"][LESSON[0]]["said"] == "Correct!"
    assert gradebook.score(row) == 1  # the kernel's word is not counted
    assert row["notes"] == ["answers to 07.1, not this notebook's lesson: not counted"]


def test_the_csv_reads_back_as_written_and_runs_no_formula(tmp_path):
    rows = [
        _row("alice", dict.fromkeys(LESSON, "pass"), notes=['=HYPERLINK("x")']),
        _row("-bob", {LESSON[0]: "pass", LESSON[1]: "fail"}, errors=["x" * 3000]),
        _row("carol", {"07.1": "pass"}, lesson=["07.1"]),
    ]
    gradebook.write_csv(rows, tmp_path / "g.csv")
    table = list(csv.DictReader((tmp_path / "g.csv").open(newline="")))
    assert [r["student"] for r in table] == ["alice", "'-bob", "carol"]
    assert [(r["score"], r["out_of"]) for r in table] == [
        (str(len(LESSON)), str(len(LESSON))),
        ("1", str(len(LESSON))),
        ("1", "1"),
    ]
    assert [table[1][i] for i in LESSON] == ["pass", "fail"] + ["blank"] * (len(LESSON) - 2)
    assert table[0]["07.1"] == "" and table[2][LESSON[0]] == ""  # not that notebook's lesson: empty
    assert table[0]["notes"] == '\'=HYPERLINK("x")' and len(table[1]["errors"]) == gradebook.MAX_CELL


def _text(rendered: str) -> str:
    """The text a reader sees of rendered HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def test_markdown_text_shows_as_written():
    for text in ("a | b", "**not bold** and _not_ `code`", "[a link](http://x)", "<b>x</b> # 1. + - ~", "back\\slash"):
        assert _text(mistune.html(gradebook.md(text))).strip() == text
    assert gradebook.md("two\nlines\tand  spaces") == "two lines and spaces"


def test_the_report_has_one_table_per_lesson_and_says_what_went_wrong(tmp_path):
    rows = [
        _row("a|b", dict.fromkeys(LESSON, "pass")),
        _row("z", {LESSON[0]: "pass (kernel)"}, status="time limit (45 s)", errors=["stopped in cell 3"]),
        _row("c", {"07.1": "fail"}, lesson=["07.1"]),
    ]
    gradebook.write_markdown(rows, tmp_path / "g.md", Limits(seconds=45), skipped=[".ipynb_checkpoints"])
    rendered = mistune.create_markdown(plugins=["table"])((tmp_path / "g.md").read_text())
    tables = re.findall(r"<table>.*?</table>", rendered, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", t) for t in tables]
    width = 3 + len(LESSON)
    assert len(tables) == 2 and [len(c) for c in cells] == [2 * width, 4]  # lesson 01: two rows; lesson 07: one
    assert cells[0][:3] == ["a|b", f"{len(LESSON)}/{len(LESSON)}", "ok"]
    assert cells[0][width : width + 4] == ["z", f"0/{len(LESSON)}", "time limit (45 s)", "✓?"]
    text = _text(rendered)
    assert "z, 01_x.ipynb: time limit (45 s). stopped in cell 3" in text and "\n.ipynb_checkpoints" in text
    assert "under 45 s" in text and "(bubblewrap)" in text


def test_an_executed_notebook_is_kept_beside_never_over_another(tmp_path):
    sub = SimpleNamespace(student="alice", path="week1/01_x.ipynb")
    rows = [_row("alice", {}) for _ in range(3)]
    for row, text in zip(rows, (b"first", b"second")):
        gradebook.keep_executed(row, text, {}, tmp_path, sub)
    gradebook.keep_executed(rows[2], None, {"executed_mb": 61.2}, tmp_path, sub)
    assert [r["kept"] for r in rows] == [
        "alice/week1/01_x.ipynb",
        "alice/week1/01_x-2.ipynb",
        "not kept: the executed notebook is 61.2 MB",
    ]
    assert (tmp_path / rows[0]["kept"]).read_bytes() == b"first" and (
        tmp_path / rows[1]["kept"]
    ).read_bytes() == b"second"

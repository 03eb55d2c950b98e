"""``vgg_edu.teaching.submissions``: what was handed in, read into memory before anything runs: links refused,
lessons from the names (or ``--lesson``), duplicates flagged, debris listed and not graded."""

from vgg_edu.teaching import submissions


def _hand_in(root):
    files = {
        "alice/01_receptive_fields.ipynb": b"alice",
        "bob.ipynb": b"bob",  # one notebook per student, its name gives no lesson
        "carol/01_a.ipynb": b"carol a",
        "carol/week1/01_b.ipynb": b"carol b",
        "carol/02_blocks.ipynb": b"carol 02",
        "carol/notes.txt": b"not a notebook",
        "carol/.ipynb_checkpoints/01_a-checkpoint.ipynb": b"debris",
        "carol/01_a.ipynb~": b"a backup",
        ".eve/01_x.ipynb": b"hidden, graded",
        "__MACOSX/alice/01_receptive_fields.ipynb": b"zip debris",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "dave").mkdir()
    (root / "dave" / "01_copy.ipynb").symlink_to(root / "alice" / "01_receptive_fields.ipynb")
    (root / "dave" / "linked").symlink_to(root / "carol", target_is_directory=True)


def test_every_file_handed_in_is_found_read_and_judged(tmp_path):
    _hand_in(tmp_path)
    found, skipped = submissions.find(tmp_path)
    by = {(s.student, s.path): s for s in found}
    assert sorted(by) == [
        (".eve", "01_x.ipynb"), ("alice", "01_receptive_fields.ipynb"), ("bob", "bob.ipynb"),
        ("carol", "01_a.ipynb"), ("carol", "02_blocks.ipynb"), ("carol", "notes.txt"), ("carol", "week1/01_b.ipynb"),
        ("dave", "01_copy.ipynb"), ("dave", "linked"),
    ]  # fmt: skip
    assert sorted(skipped) == ["__MACOSX", "carol/.ipynb_checkpoints", "carol/01_a.ipynb~"]
    (tmp_path / "alice" / "01_receptive_fields.ipynb").write_bytes(b"changed later")
    assert by[("alice", "01_receptive_fields.ipynb")].data == b"alice"  # read before anything ran
    assert by[(".eve", "01_x.ipynb")].data == b"hidden, graded" and by[(".eve", "01_x.ipynb")].lesson == "01"
    for link in (by[("dave", "01_copy.ipynb")], by[("dave", "linked")]):
        assert link.refused.startswith("refused: a link") and link.data == b""
    assert by[("bob", "bob.ipynb")].refused.startswith("not run: its name does not start with a lesson's number")
    assert by[("carol", "02_blocks.ipynb")].exercise_ids[0].startswith("02.")
    assert not by[("carol", "notes.txt")].refused and by[("carol", "notes.txt")].lesson is None


def test_two_notebooks_for_one_lesson_are_both_flagged(tmp_path):
    _hand_in(tmp_path)
    by = {(s.student, s.path): s for s in submissions.find(tmp_path)[0]}
    flagged = {key for key, s in by.items() if s.notes}
    assert flagged == {("carol", "01_a.ipynb"), ("carol", "week1/01_b.ipynb")}
    assert by[("carol", "01_a.ipynb")].notes == ["one of 2 notebooks of this student for lesson 01: the teacher picks"]


def test_the_teachers_lesson_for_names_that_give_none(tmp_path, monkeypatch):
    _hand_in(tmp_path)
    bob = next(s for s in submissions.find(tmp_path, lesson="01")[0] if s.student == "bob")
    assert not bob.refused and bob.lesson == "01" and bob.data == b"bob"
    assert next(s for s in submissions.find(tmp_path, lesson="99")[0] if s.student == "bob").refused  # no lesson 99
    monkeypatch.setattr(submissions, "MAX_MB", 0)
    assert all(s.refused in ("refused: over 0 MB", "refused: a link (links are not followed: hand in the notebook "
               "itself)") for s in submissions.find(tmp_path)[0])  # fmt: skip

"""Where files go, and the one writability check: by trying, changing nothing."""

import pytest

from vgg_edu import paths


def test_a_read_only_course_folder_falls_back_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VGG_EDU_ARTIFACTS")
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path / "course")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    real = paths.writable_folder

    def read_only(path):
        if str(path).startswith(str(tmp_path / "course")):
            raise PermissionError(30, "Read-only file system")
        return real(path)

    monkeypatch.setattr(paths, "writable_folder", read_only)
    folder = paths.artifacts_dir()
    assert folder == tmp_path / "home" / ".cache" / "vgg_edu" / "artifacts" and folder.is_dir()
    assert "VGG_EDU_ARTIFACTS" in capsys.readouterr().out
    monkeypatch.setenv("VGG_EDU_ARTIFACTS", str(tmp_path / "course" / "asked"))
    with pytest.raises(PermissionError, match="VGG_EDU_ARTIFACTS"):
        paths.artifacts_dir()


def test_check_writable_tries_for_real_and_changes_nothing(tmp_path, monkeypatch):
    existing = tmp_path / "m.pt"
    existing.write_bytes(b"keep me")
    assert paths.check_writable(existing) == existing and existing.read_bytes() == b"keep me"
    assert paths.check_writable(tmp_path / "new" / "deeper" / "m.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no probe file, no folder made
    with pytest.raises(IsADirectoryError, match="is a folder"):
        paths.check_writable(tmp_path)
    with pytest.raises(PermissionError, match="cannot write"):
        paths.check_writable(existing / "under_a_file.pt")

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(paths.tempfile, "mkstemp", read_only)
    with pytest.raises(PermissionError, match="Read-only file system"):
        paths.check_writable(tmp_path / "other.pt")

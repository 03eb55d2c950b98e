"""``vgg_edu.teaching.view``: what a sandboxed run sees, whichever tool makes the sandbox (the runs themselves:
``test_bwrap``, ``test_container``)."""

import os
import sys
from pathlib import Path

from vgg_edu.teaching import sandbox, view


def test_the_system_and_the_python_are_shown_the_teachers_package_and_its_finder_hidden(tmp_path):
    site = view.site_dirs()[0]
    inside_python = site / "nbclient"  # a folder the Python folders would show
    seen = view.view({view.LIB: tmp_path}, hidden=[sandbox.PACKAGE, inside_python, tmp_path / "submissions"])
    prefix = Path(sys.prefix).resolve()
    assert any(p == prefix or p in prefix.parents for p in seen.python)
    assert Path("/usr") in seen.system and all(os.readlink(path) == target for target, path in seen.links)
    assert inside_python in seen.emptied and tmp_path / "submissions" not in seen.emptied  # not visible anyway
    finders = [p for p in site.glob("__editable__*")]
    assert set(finders) <= set(seen.nulled)  # an editable install leads to the teacher's checkout: shown empty
    assert all(p.name.startswith("__editable__") or p.suffix in {".pth", ".egg-link"} for p in seen.nulled)
    assert len(seen.nulled) == len(set(seen.nulled))
    assert seen.inputs == [(view.LIB, tmp_path)]


def test_a_python_under_tmp_gives_the_run_a_tmp_of_its_own(monkeypatch):
    monkeypatch.setattr(view, "python_dirs", lambda: [Path("/tmp/checkout/.venv")])
    assert view.view({}, []).python_in_tmp
    monkeypatch.setattr(view, "python_dirs", lambda: [Path("/opt/venv")])
    assert not view.view({}, []).python_in_tmp

"""``vgg_edu.teaching.cli``: the teachers' commands on ``python -m vgg_edu``'s command line."""

import json
import subprocess
import sys

from vgg_edu.teaching.limits import Limits


def test_the_commands_on_the_command_line_refuse_bad_input_in_one_line(tmp_path, capsys, monkeypatch):
    from vgg_edu.__main__ import main
    from vgg_edu.teaching import bwrap, container

    assert main(["grade", str(tmp_path / "nowhere")]) == 1
    assert main(["grade", str(tmp_path), "--time-limit", "0"]) == 1
    assert main(["grade", str(tmp_path), "--lesson", "99", "--out", str(tmp_path.parent / "g.csv")]) == 1
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "grades.csv")]) == 1  # inside the submissions
    assert main(["assign", str(tmp_path), "--notebooks", str(tmp_path)]) == 1
    monkeypatch.setattr(bwrap, "executable", lambda: None)
    monkeypatch.setattr(container, "usable", lambda engine: False)
    assert main(["grade", str(tmp_path), "--out", str(tmp_path.parent / "g.csv")]) == 1  # no sandbox: not graded
    assert not (tmp_path.parent / "g.csv").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 6 and all(line.startswith("error: ") for line in err)
    assert "bubblewrap" in err[-1] and "--unsandboxed" in err[-1]


def test_the_parsers_defaults_are_the_graders_and_import_nothing_heavy():
    """``grade``'s defaults are ``limits.Limits``'s; parsing imports neither the grader nor PyTorch (a fresh
    process: ``python -m vgg_edu --help`` answers at once)."""
    code = (
        "import argparse, json, sys\nfrom vgg_edu.teaching import cli\n"
        "sub = argparse.ArgumentParser().add_subparsers()\ncli.add_parsers(sub)\n"
        "args = sub.choices['grade'].parse_args(['subs'])\n"
        "print(json.dumps([vars(args) | {'run': args.run.__name__, 'submissions': str(args.submissions), "
        "'out': str(args.out)}, sorted(m for m in sys.modules if m.startswith(('torch', 'vgg_edu.teaching.')))]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    parsed, imported = json.loads(done.stdout)
    assert imported == ["vgg_edu.teaching.cli"]
    limits = Limits()
    assert (parsed["time_limit"], parsed["memory_limit"], parsed["disk_limit"] * 1024) == (
        limits.seconds, limits.memory_gb, limits.disk_mb
    )  # fmt: skip
    assert parsed["out"] == "grades.csv" and parsed["lesson"] is None and not parsed["unsandboxed"]
    assert parsed["run"] == "_grade"

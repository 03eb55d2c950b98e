"""``vgg_edu.teaching.sandbox``: the package snapshot written back byte for byte, the environment a run starts
from, and one run (``--unsandboxed`` here; ``test_bwrap`` and ``test_container`` run it sandboxed) under its time
and memory limits: killed when its time is up, with every process it started."""

import filecmp
import json
import resource
import textwrap
import time

from vgg_edu.teaching import sandbox, view
from vgg_edu.teaching.limits import Limits

from made_up import running


def test_the_snapshot_writes_the_package_back_byte_for_byte(tmp_path):
    written = sandbox.write_package(sandbox.package_snapshot(), tmp_path)
    sources = sorted(p.relative_to(sandbox.PACKAGE.parent) for p in sandbox.PACKAGE.rglob("*.py"))
    assert sources and sorted(p.relative_to(written) for p in written.rglob("*.py")) == sources
    _, mismatch, errors = filecmp.cmpfiles(sandbox.PACKAGE.parent, written, [str(p) for p in sources], shallow=False)
    assert mismatch == [] and errors == []
    assert not list(written.rglob("__pycache__"))


def test_a_run_gets_none_of_the_teachers_environment_but_its_threads(monkeypatch):
    monkeypatch.setenv("VGG_EDU_TEST_SECRET", "x")
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = sandbox.base_env()
    assert "VGG_EDU_TEST_SECRET" not in env and env["TZ"] == "Europe/Paris" and env["OMP_NUM_THREADS"] == "1"
    assert env["PYTHONPATH"] == str(view.LIB) and env["HOME"] == str(view.HOME)
    assert set(env) == {"TZ", "OMP_NUM_THREADS", "PATH", "HOME", "TMPDIR", "LANG", "MPLBACKEND",
                        "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"}  # fmt: skip


MARKER = "vgg-edu-sandbox-test-5c1e"
RUN = f"""
import json, os, resource, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{MARKER}"])  # left running
print(json.dumps({{"env": sorted(os.environ), "cwd": os.getcwd(), "as": resource.getrlimit(resource.RLIMIT_AS)[0]}}))
print("to the log", file=sys.stderr)
sys.stdout.flush()
time.sleep(600)
"""


def test_a_run_past_its_time_is_killed_with_everything_it_started(tmp_path):
    limits = Limits(seconds=30, memory_gb=6, sandbox="none")
    env = {**sandbox.base_env(), "VGG_EDU_ONLY_THIS": "1"}
    start = time.perf_counter()
    code, out, log = sandbox.run(
        ["-c", textwrap.dedent(RUN)], folder=tmp_path, env=env, ro={}, hidden=[], limits=limits, seconds=3, label="t"
    )
    assert code is None and time.perf_counter() - start < 30  # past its 3 s: killed, not waited for
    seen = json.loads(out)
    assert seen["as"] == 6 * 2**30 and "VGG_EDU_ONLY_THIS" in seen["env"]
    assert set(seen["env"]) - set(env) <= {"LC_CTYPE"}  # what it was given (Python may set LC_CTYPE), nothing else
    assert seen["cwd"] == str(tmp_path / "grading" / view.HOME.relative_to(view.INSIDE))  # the sandbox's home
    assert log.strip() == "to the log"
    for _ in range(50):  # the kernel reaps the killed child in a moment
        if not running(MARKER):
            break
        time.sleep(0.1)
    assert running(MARKER) == []
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != 6 * 2**30  # the limit was the run's, not the grader's

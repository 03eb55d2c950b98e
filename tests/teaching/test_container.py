"""``vgg_edu.teaching.container``: a run in a container, as ``python -m vgg_edu grade --sandbox podman`` starts it:
what its command line asks of the engine, its image, and a real run killed at its time limit with every process it
started, its container removed, within its memory limit; and the hostile class (``hostile_class``: every attack,
beside honest students) graded in it. The engine is Podman (with runc here: ``podman.conf``); Docker takes the same
command line, and ``VGG_EDU_TEST_ENGINE=docker`` runs these tests with it where its daemon runs."""

import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
import time
from pathlib import Path

import pytest
from hostile_class import *  # noqa: F403 (its tests and their fixture, collected here)

from vgg_edu.teaching import bwrap, container, grade, sandbox, view
from vgg_edu.teaching.limits import Limits

from made_up import running

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`

PODMAN_CONF = Path(__file__).with_name("podman.conf")


ENGINE = os.environ.get("VGG_EDU_TEST_ENGINE", "podman")


@pytest.fixture(scope="module")
def sandbox_tool():
    return ENGINE


def test_the_command_asks_for_no_network_a_read_only_root_limits_and_only_its_inputs(tmp_path, monkeypatch):
    monkeypatch.setattr(container, "image", lambda *args: "IMAGE")
    limits = Limits(memory_gb=2, disk_mb=300, processes=64, sandbox="docker")
    env = {"A": "b"}
    cmd = container.command("docker", ["python", "-c", "1"], env=env, ro={view.LIB: tmp_path}, hidden=[],
                            limits=limits, label="sub1", folder=tmp_path)  # fmt: skip
    options = dict(zip(cmd, cmd[1:]))
    assert cmd[:3] == ["docker", "run", "--rm"] and options["--network"] == "none" and "--read-only" in cmd
    assert options["--user"] == "65534:65534" and options["--cap-drop"] == "all"
    assert options["--security-opt"] == "no-new-privileges" and options["--pids-limit"] == "64"
    assert options["--memory"] == options["--memory-swap"] == "2048m"
    assert options["--label"] == f"{container.LABEL}=sub1"
    volumes = [v for flag, v in zip(cmd, cmd[1:]) if flag == "--volume"]
    assert volumes and all(v.endswith(":ro") for v in volumes)  # nothing of the machine is writable
    assert f"{tmp_path}:{view.LIB}:ro" in volumes
    assert [v for flag, v in zip(cmd, cmd[1:]) if flag == "--env"] == ["A=b"]  # its variables, nothing else
    assert f"{view.WRITABLE}:rw,size=300m,mode=1777" in [v for f, v in zip(cmd, cmd[1:]) if f == "--tmpfs"]
    assert "--interactive" not in cmd and "--read-only-tmpfs=false" not in cmd  # a Podman option only
    assert cmd[-3:] == ["python", "-c", "1"] and "IMAGE" in cmd


def test_the_image_is_an_empty_root_its_name_its_content():
    links = [("usr/bin", Path("/bin"))]
    layer = container._root_tar(links, python_in_tmp=False)
    assert layer == container._root_tar(links, python_in_tmp=False)  # the same layer, the same name
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert all(m.isdir() or m.issym() for m in members.values())  # no file: nothing of the machine is copied
    assert members["bin"].linkname == "usr/bin" and members["tmp"].linkname == str(view.TMP)
    with tarfile.open(fileobj=io.BytesIO(container._root_tar(links, python_in_tmp=True))) as tar:
        assert tar.getmember("tmp").isdir()


def test_auto_chooses_a_container_engine_that_answers_then_bubblewrap(monkeypatch):
    answering = set()
    monkeypatch.setattr(container, "usable", lambda engine: engine in answering)
    monkeypatch.setattr(bwrap, "executable", lambda: "/usr/bin/bwrap")
    assert grade.choose_sandbox("auto") == "bwrap"
    answering.add("docker")
    assert grade.choose_sandbox("auto") == "docker" and grade.choose_sandbox("bwrap") == "bwrap"
    answering.add("podman")
    assert grade.choose_sandbox("auto") == "podman"
    monkeypatch.setattr(bwrap, "executable", lambda: None)
    answering.clear()
    assert grade.choose_sandbox("auto") is None and grade.choose_sandbox("podman") is None


def test_an_engine_that_does_not_answer_is_not_usable(tmp_path, monkeypatch):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert not container.usable("docker")  # installed, but its daemon is not running
    assert not container.usable("no-such-engine")
    fake.write_text('#!/bin/sh\n[ "$1" = run ] && { echo "crun: hybrid cgroups" >&2; exit 126; }\n'
                    "exit 0\n")  # fmt: skip
    assert not container.usable("docker")  # it answers, imports, but runs nothing: as Podman with crun here


MARKER = "vgg-edu-container-test-9d2b"
RUN = f"""
import json, os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{MARKER}"], start_new_session=True)
print(json.dumps({{"env": sorted(os.environ), "cwd": os.getcwd(), "uid": os.getuid(),
                   "root_writable": os.access("/usr", os.W_OK)}}))
print("to the log", file=sys.stderr)
sys.stdout.flush()
time.sleep(600)
"""


@pytest.fixture
def engine(monkeypatch):
    assert shutil.which(ENGINE), f"the container tests need {ENGINE}: `make podman` (apt-get install podman runc)"
    monkeypatch.setenv("CONTAINERS_CONF", str(PODMAN_CONF))
    assert container.usable(ENGINE), f"{ENGINE} info fails"


def _left(label: str) -> list[str]:
    listing = [ENGINE, "ps", "--all", "--quiet", "--filter", f"label={container.LABEL}={label}"]
    return subprocess.run(listing, capture_output=True, text=True, check=True).stdout.split()


def test_a_run_past_its_time_is_killed_with_everything_it_started_and_its_container_removed(tmp_path, engine):
    limits = Limits(seconds=30, sandbox=ENGINE)
    env = {**sandbox.base_env(), "VGG_EDU_ONLY_THIS": "1"}
    start = time.perf_counter()
    code, out, log = sandbox.run(
        ["-c", textwrap.dedent(RUN)], folder=tmp_path, env=env, ro={}, hidden=[sandbox.PACKAGE], limits=limits,
        seconds=8, label=tmp_path.name,
    )  # fmt: skip
    assert code is None and time.perf_counter() - start < 60  # past its 8 s: killed, not waited for
    seen = json.loads(out)
    assert seen["uid"] == view.NOBODY and seen["cwd"] == str(view.HOME) and not seen["root_writable"]
    assert "VGG_EDU_ONLY_THIS" in seen["env"] and "CONTAINERS_CONF" not in seen["env"]
    assert set(seen["env"]) - set(env) <= {"container", "HOSTNAME", "TERM", "PWD", "OLDPWD", "LC_CTYPE"}
    assert log.strip() == "to the log"
    assert _left(tmp_path.name) == [] and running(MARKER) == []


def test_a_run_over_its_memory_is_killed_and_the_network_is_not_there(tmp_path, engine):
    limits = Limits(seconds=60, memory_gb=0.25, sandbox=ENGINE)
    probe = "import socket; s = socket.socket(); print(s.connect_ex(('1.1.1.1', 53)), flush=True); b = b'x' * 2**30"
    code, out, log = sandbox.run(
        ["-c", probe], folder=tmp_path, env=sandbox.base_env(), ro={}, hidden=[], limits=limits, seconds=60,
        label=tmp_path.name,
    )  # fmt: skip
    assert out.decode().strip() != "0"  # no route out: connect fails (ENETUNREACH)
    assert code not in (0, None), log  # 1 GiB in a 256 MiB container: killed (137) or MemoryError (1)
    assert _left(tmp_path.name) == []


def test_a_hidden_folder_inside_the_python_is_empty_in_the_container(tmp_path, engine):
    """As the teacher's package would be, were it installed in the grading Python: here a package that is."""
    import nbclient

    hidden = Path(nbclient.__file__).parent
    limits = Limits(seconds=60, sandbox=ENGINE)
    probe = f"import os, nbformat\nprint(os.listdir({str(hidden)!r}))"
    code, out, log = sandbox.run(
        ["-c", probe], folder=tmp_path, env=sandbox.base_env(), ro={}, hidden=[hidden], limits=limits, seconds=60,
        label=tmp_path.name,
    )  # fmt: skip
    assert code == 0 and out.decode().strip() == "[]", log  # its neighbour imports; it is an empty folder
    assert any(hidden.iterdir())

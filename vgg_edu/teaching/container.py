"""The container engine's command line for one run: the view (``view``) rendered as Podman's or Docker's options
(the two take the same ones), and the removal of every container a submission started.

The image is one the grader makes: an empty root (the system's top-level links, the folders the view mounts on)
imported with ``ENGINE import``; the system and the grading Python are then mounted read-only into it, as bubblewrap
does, so nothing is downloaded and nothing of the teacher's is copied. Each run is ``ENGINE run --rm`` with no
network, a read-only root, one tmpfs of a fixed size for what it writes, a memory limit and a pids limit (the
engine's cgroups), user 65534 without capabilities and no new privileges, labelled with its submission; the grader
removes every container with that label (``remove``) before the next submission begins.
"""

from __future__ import annotations

import hashlib
import io
import os
import resource
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .limits import Limits
from .view import HOME, INSIDE, NOBODY, OUT, TMP, TMP_HOST, WRITABLE, view

ENGINES = ("podman", "docker")
LABEL = "vgg-edu-grading"


TRIAL = Limits(seconds=120, memory_gb=0.5, disk_mb=16, processes=16)
"""The limits of the container ``usable`` starts (in the engine it tries)."""


def usable(engine: str) -> bool:
    """The engine is installed, answers, and runs a container as the grader starts them: Docker's client without its
    daemon does not answer; Podman with crun on a machine of mixed cgroups v1 and v2 answers but runs nothing."""
    if shutil.which(engine) is None:
        return False
    with tempfile.TemporaryDirectory(prefix="vgg_edu_engine_") as folder:
        label = Path(folder).name
        try:
            if subprocess.run([engine, "info"], capture_output=True, timeout=60).returncode != 0:
                return False
            trial = command(engine, ["true"], env={}, ro={}, hidden=[], limits=TRIAL, label=label, folder=Path(folder))
            return subprocess.run(trial, capture_output=True, timeout=TRIAL.seconds).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
        finally:
            try:
                remove(engine, label)
            except OSError:
                pass


def client_env() -> dict[str, str]:
    """What the engine's client is given of the teacher's environment (where it finds its configuration and its
    daemon or its user's storage); the container itself is given only the run's variables."""
    keep = ("PATH", "HOME", "USER", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith(("CONTAINERS_", "DOCKER_"))}


def _root_tar(links: list[tuple[str, Path]], python_in_tmp: bool) -> bytes:
    """The image's only layer: the folders the view mounts on and the system's top-level links, owned by root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("dev", "proc", "sys", "etc", "usr", "run", str(INSIDE)[1:]) + (("tmp",) if python_in_tmp else ()):
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755 if name != "tmp" else 0o1777
            tar.addfile(entry)
        for target, path in [*links, *([] if python_in_tmp else [(str(TMP), TMP_HOST)])]:
            entry = tarfile.TarInfo(str(path)[1:])
            entry.type, entry.linkname = tarfile.SYMTYPE, target
            tar.addfile(entry)
    return buffer.getvalue()


def image(engine: str, links: list[tuple[str, Path]], python_in_tmp: bool, folder: Path) -> str:
    """The image's name, imported into ``engine`` first where it is not there yet (its tag: the layer's digest)."""
    layer = _root_tar(links, python_in_tmp)
    name = f"localhost/{LABEL}:{hashlib.sha256(layer).hexdigest()[:16]}"
    if subprocess.run([engine, "image", "inspect", name], capture_output=True).returncode != 0:
        (folder / "root.tar").write_bytes(layer)
        done = subprocess.run([engine, "import", str(folder / "root.tar"), name], capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"{engine} import: {done.stderr.strip()[-300:]}")
    return name


def _within_hard_limit(name: str, wanted: int) -> int:
    """``wanted``, or the grader's own hard limit where that is lower (raising it would need CAP_SYS_RESOURCE)."""
    hard = resource.getrlimit(getattr(resource, name))[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def command(engine: str, argv: list[str], *, env: dict, ro: dict[Path, Path], hidden: list[Path], limits: Limits,
            label: str, folder: Path, interactive: bool = False) -> list[str]:  # fmt: skip
    """``ENGINE run`` running ``argv`` with ``env`` only, under ``limits`` (``limits.Limits``), labelled ``label``;
    ``interactive``: its standard input kept open (a code answer's server). ``folder``: the grader's, where the
    image's layer is written before it is imported, and the empty folder shown over a hidden one."""
    seen = view(ro, hidden)
    size = f"size={limits.disk_mb}m,mode=1777"
    cmd = [engine, "run", "--rm", "--label", f"{LABEL}={label}", "--network", "none", "--read-only"]
    cmd += ["--user", f"{NOBODY}:{NOBODY}", "--cap-drop", "all", "--security-opt", "no-new-privileges"]
    memory = f"{int(limits.memory_gb * 1024)}m"
    cmd += ["--pids-limit", str(limits.processes), "--memory", memory, "--memory-swap", memory]
    cmd += ["--hostname", "sandbox", "--workdir", "/"]
    cmd += ["--ulimit", "core=0:0", "--ulimit", f"fsize={2**28}:{2**28}"]
    for name, flag, wanted in (("RLIMIT_NOFILE", "nofile", 1024), ("RLIMIT_NPROC", "nproc", 4096)):
        value = _within_hard_limit(name, wanted)
        cmd += ["--ulimit", f"{flag}={value}:{value}"]
    if engine == "podman":
        cmd += ["--read-only-tmpfs=false"]  # no tmpfs of its own on /tmp, /var/tmp and /run
    if interactive:
        cmd += ["--interactive"]
    for path in [*seen.system, *seen.python]:
        cmd += ["--volume", f"{path}:{path}:ro"]
    empty = folder / "empty"  # a bind, not a tmpfs: Podman mounts every tmpfs before the binds it would lie under
    empty.mkdir(mode=0o755, exist_ok=True)
    for path in seen.emptied:
        cmd += ["--volume", f"{empty}:{path}:ro"]
    for path in seen.nulled:
        cmd += ["--volume", f"/dev/null:{path}:ro"]
    cmd += ["--tmpfs", f"{WRITABLE}:rw,{size}"] + (["--tmpfs", f"{TMP_HOST}:rw,{size}"] if seen.python_in_tmp else [])
    for inside, host in seen.inputs:
        cmd += ["--volume", f"{host}:{inside}:ro"]
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    start = f'mkdir -p {HOME} {OUT} {TMP} && cd {HOME} && exec "$@"'  # its folders, made in its tmpfs
    return cmd + [image(engine, seen.links, seen.python_in_tmp, folder), "/bin/sh", "-c", start, "sh", *argv]


def remove(engine: str, label: str) -> None:
    """Kill and remove every container labelled ``label``; raise ``OSError`` if one is still there."""
    listing = [engine, "ps", "--all", "--quiet", "--filter", f"label={LABEL}={label}"]
    for _ in range(3):
        ids = subprocess.run(listing, capture_output=True, text=True).stdout.split()
        if not ids:
            return
        subprocess.run([engine, "kill", *ids], capture_output=True)
        subprocess.run([engine, "rm", "--force", *ids], capture_output=True)
    raise OSError(f"{engine} could not remove the containers labelled {LABEL}={label}")

"""One run of a submission's code under its limits: in a container of Podman or Docker (``container``) or in
bubblewrap (``bwrap``), each showing it the same view (``view``), or, only where the teacher asks in so many words
(``--unsandboxed``), as the teacher's own user in a private folder.

Either way: only the environment variables the run is given, a time limit for the whole run after which every
process it started is killed, an address-space limit per process, a file-size limit, a process limit; its output
read back from a file of a limited size. The package snapshot (the teacher's package read once, before any
submission runs) is what the student copy is made from and what checks the data answers again.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from . import bwrap, container
from .limits import Limits
from .view import HOME, INSIDE, LIB, OUT, TMP

PACKAGE = Path(__file__).resolve().parent.parent


def package_snapshot(package: Path = PACKAGE) -> dict[str, bytes]:
    """Every source file of the teacher's package, read once, before any submission runs."""
    return {
        str(path.relative_to(package.parent)): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def write_package(snapshot: dict[str, bytes], dest: Path) -> Path:
    """Write the snapshot under ``dest`` (which then goes first on ``PYTHONPATH``) and return ``dest``."""
    for name, data in snapshot.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dest


SANDBOXES = (*container.ENGINES, "bwrap")


OUTPUT_MB = 256
"""The most a run's output (the zip of its results) and its log may each hold."""
KEPT_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TZ")
"""The teacher's environment variables a run is given (and nothing else of the teacher's environment)."""


def base_env() -> dict[str, str]:
    """What every run starts from: no variable of the teacher's but ``KEPT_ENV``."""
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(
        PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", HOME=str(HOME), TMPDIR=str(TMP),
        LANG="C.UTF-8", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(LIB),
    )  # fmt: skip
    return env


def processes_of(uid: int) -> int:
    count = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            count += entry.stat().st_uid == uid
        except OSError:
            pass
    return count


def limiter(limits: Limits):
    """A ``preexec_fn``: the address space (RLIMIT_AS: PyTorch needs about 3.5 GB of it just to import), the size
    of any file written, no core dumps, and the processes of the user the run is (RLIMIT_NPROC; on top of those the
    user has already where that is the teacher); where the OS has no such limit it is skipped. None for a container,
    whose limits are the engine's (the client, and a process that starts clients, keep the teacher's)."""
    if limits.sandbox in container.ENGINES:
        return None
    nproc = processes_of(bwrap.sandbox_uid() if limits.sandboxed else os.getuid()) + limits.processes
    wanted = {"RLIMIT_AS": int(limits.memory_gb * 2**30), "RLIMIT_FSIZE": OUTPUT_MB * 2**20, "RLIMIT_CORE": 0}
    wanted["RLIMIT_NPROC"] = nproc

    def apply() -> None:
        for name, value in wanted.items():
            limit = getattr(resource, name, None)
            if limit is not None:
                try:
                    resource.setrlimit(limit, (value, value))
                except (ValueError, OSError):
                    pass

    return apply


def _unsandboxed(argv: list[str], env: dict, ro: dict[Path, Path], folder: Path) -> tuple[list[str], dict, Path]:
    """The same run as the teacher's user: the sandbox's folders made under ``folder``, its paths changed to them."""
    root = folder / "grading"
    for path in (HOME, OUT, TMP):
        (root / path.relative_to(INSIDE)).mkdir(parents=True)
    for inside, host in ro.items():
        (root / inside.relative_to(INSIDE)).symlink_to(host)
    swap = lambda text: text.replace(str(INSIDE), str(root))  # noqa: E731
    return [swap(a) for a in argv], {k: swap(v) for k, v in env.items()}, root / HOME.relative_to(INSIDE)


def readable(*paths: Path) -> None:
    """Let the sandbox's user (65534, where the grader is root) read these folders the grader made in its temporary
    folder (their names are random, and the grader's folder above them is not listed to others: 0711)."""
    for path in paths:
        if path.parent.name.startswith("vgg_edu_"):
            path.parent.chmod(0o711)
        for p in [path, *path.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


def command(argv: list[str], *, env: dict, ro: dict[Path, Path], hidden: list[Path], limits: Limits, label: str,
            folder: Path, interactive: bool = False) -> list[str]:  # fmt: skip
    """The command that runs ``argv`` in the sandbox ``limits`` names (``ro``: inside -> host, read-only; ``hidden``:
    the teacher's folders), labelled ``label`` (its submission: ``clean`` ends what it left)."""
    if limits.sandbox in container.ENGINES:
        return container.command(
            limits.sandbox, argv, env=env, ro=ro, hidden=hidden, limits=limits, label=label, folder=folder,
            interactive=interactive,
        )  # fmt: skip
    return bwrap.command(argv, env=env, ro=ro, hidden=hidden, disk_mb=limits.disk_mb)


def client_env(limits: Limits) -> dict[str, str]:
    """The environment of the process that starts the sandbox (not of the run inside it, given ``env`` alone)."""
    return container.client_env() if limits.sandbox in container.ENGINES else {"PATH": "/usr/bin:/bin"}


def clean(limits: Limits, label: str) -> None:
    """End every container of a submission (``label``); bubblewrap's runs end with their first process."""
    if limits.sandbox in container.ENGINES:
        container.remove(limits.sandbox, label)


def run(args: list[str], *, folder: Path, env: dict, ro: dict[Path, Path], hidden: list[Path], limits: Limits,
        seconds: float, label: str) -> tuple[int | None, bytes, str]:  # fmt: skip
    """Run ``python args`` in the sandbox (``ro``: inside -> host, read-only; ``hidden``: the teacher's folders)
    for at most ``seconds``, then kill whatever is left of it. (exit code, or None past ``seconds``; its standard
    output, at most ``OUTPUT_MB``; the last 4,000 characters of its standard error)."""
    argv = [sys.executable, *args]
    if limits.sandboxed:
        cwd, cmd = folder, command(argv, env=env, ro=ro, hidden=hidden, limits=limits, label=label, folder=folder)
    else:
        cmd, env, cwd = _unsandboxed(argv, env, ro, folder)
    out_path, log_path = folder / "stdout", folder / "log"
    with open(out_path, "wb") as out, open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=client_env(limits) if limits.sandboxed else env, stdout=out, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=limiter(limits),
        )  # fmt: skip
        try:
            code = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap's --die-with-parent then ends its PID namespace
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            clean(limits, label)  # a container outlives its client: removed here
    return code, out_path.read_bytes(), log_path.read_bytes().decode(errors="replace")[-4000:]

"""The cheap protections around a submission: a fresh private folder, a fresh copy of the teacher's package, time,
memory and file-size limits, and every process it started killed at the end.

None of this is a sandbox in the security sense: the notebook runs as the teacher's user and can read and write
whatever that user can (see the README, "For teachers": grade in a container or as a separate user).
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def package_snapshot(package: Path = PACKAGE) -> dict[str, bytes]:
    """Every source file of the teacher's package, read once, before any submission runs."""
    return {
        str(path.relative_to(package.parent)): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def digest(snapshot: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name, data in sorted(snapshot.items()):
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()


def write_package(snapshot: dict[str, bytes], dest: Path) -> Path:
    """Write the snapshot under ``dest`` (which then goes first on ``PYTHONPATH``) and return ``dest``."""
    for name, data in snapshot.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dest


def limiter(memory_gb: float, file_gb: float = 2.0):
    """A ``preexec_fn`` that caps the address space (RLIMIT_AS, so PyTorch needs about 3.5 GB of it just to import)
    and the size of any file written, and turns core dumps off; where the OS has no such limit it is skipped."""

    def apply() -> None:
        for name, value in (("RLIMIT_AS", memory_gb), ("RLIMIT_FSIZE", file_gb), ("RLIMIT_CORE", 0)):
            limit = getattr(resource, name, None)
            if limit is not None and value is not None:
                try:
                    resource.setrlimit(limit, (int(value * 2**30), int(value * 2**30)))
                except (ValueError, OSError):
                    pass

    return apply


def run_limited(args: list[str], *, cwd: Path, env: dict, seconds: float, memory_gb: float) -> tuple[int | None, str]:
    """Run ``args`` (this Python) in its own session under the limits, its output into ``cwd/../<cwd name>.log``; on
    return every process of that session, the kernel included, is killed. (exit code, or None past ``seconds``; the
    last 4,000 characters of its output)."""
    limited = limiter(memory_gb) if sys.platform != "win32" else None
    log = cwd.parent / f"{cwd.name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=limited,
        )  # fmt: skip
        try:
            code = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return code, log.read_bytes().decode(errors="replace")[-4000:]

"""The bubblewrap (``bwrap``) command line that makes one run's sandbox: the view (``view``) rendered as bwrap's
options. Bubblewrap is Flatpak's sandbox (Debian: ``apt-get install bubblewrap``); nothing here is a sandbox of its
own, only the list of what the run may see.

The run has its own network namespace (loopback only: no network, no port of the machine), PID namespace (when its
first process ends, every process it started is killed by the kernel), IPC and UTS namespaces; a new session. It
runs as user 65534 (nobody), without capabilities: where the grader is root, bwrap keeps the real user and
``setpriv`` drops to 65534 inside, so the process limit (``RLIMIT_NPROC``) counts that user's processes; for another
user it is 65534 in a user namespace, and the limit counts on top of the teacher's own processes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .view import HOME, NOBODY, OUT, TMP, TMP_HOST, WRITABLE, view


def executable() -> str | None:
    return shutil.which("bwrap")


def command(argv: list[str], *, env: dict, ro: dict[Path, Path], hidden: list[Path], disk_mb: int) -> list[str]:
    """The bwrap command running ``argv`` with ``env`` only; ``ro``: inside path -> host path, read-only;
    ``hidden``: host folders that must not show through the Python folders (the teacher's package ...)."""
    seen = view(ro, hidden)
    cmd = [executable() or "bwrap"]
    for target, path in seen.links:
        cmd += ["--symlink", target, str(path)]
    for path in seen.system:
        cmd += ["--ro-bind", str(path), str(path)]
    made: set[Path] = set()
    if seen.python_in_tmp:  # then /tmp is a tmpfs of its own, made before the Python folders are bound into it
        cmd += ["--perms", "1777", "--size", str(disk_mb * 2**20), "--tmpfs", str(TMP_HOST)]
        made.add(TMP_HOST)
    for path in seen.python:  # its parent folders made open to all (the host's /root, say, is not)
        for parent in sorted(set(path.parents) - made - {Path("/")}):
            cmd += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        cmd += ["--ro-bind", str(path), str(path)]
    for folder in seen.emptied:
        cmd += ["--tmpfs", str(folder)]
    for found in seen.nulled:
        cmd += ["--ro-bind", "/dev/null", str(found)]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    cmd += ["--perms", "1777", "--size", str(disk_mb * 2**20), "--tmpfs", str(WRITABLE)]
    for folder in (HOME, OUT, TMP):
        cmd += ["--perms", "1777", "--dir", str(folder)]
    if not seen.python_in_tmp:
        cmd += ["--symlink", str(TMP), str(TMP_HOST)]
    for inside, host in seen.inputs:
        cmd += ["--ro-bind", str(host), str(inside)]
    cmd += ["--chdir", str(HOME), "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if os.geteuid() == 0:
        cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv", f"--reuid={NOBODY}"]
        cmd += [f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        cmd += ["--unshare-all", "--uid", str(NOBODY), "--gid", str(NOBODY), "--"]
    return cmd + argv


def sandbox_uid() -> int:
    """The user whose processes the process limit counts on the machine: 65534 for root, else the teacher."""
    return NOBODY if os.geteuid() == 0 else os.getuid()

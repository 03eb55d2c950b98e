"""The bubblewrap (``bwrap``) command line that isolates one run: a submitted notebook, or one of its code answers
(``serve``). Bubblewrap is Flatpak's sandbox (Debian: ``apt-get install bubblewrap``); nothing here is a sandbox of
its own, only the list of what the run may see.

Inside, the run sees:

- the system (``/usr``, ``/etc``, ``/bin``, ``/lib`` ...) and the Python that grades (its prefix, the virtual
  environment, the site-packages on ``sys.path``), read-only, less the teacher's package (an empty folder over it
  wherever it would be visible), the submissions and the gradebook, and less the editable install's finder and
  ``.pth`` files that lead to the teacher's checkout;
- ``/grading/lib`` (the student package), ``/grading/in`` (its input) and ``/grading/data`` (Fashion-MNIST),
  read-only;
- ``/grading/rw``, one empty tmpfs of a fixed size (its disk quota), gone with it, which holds its home
  (``/grading/rw/home``), its results (``/grading/rw/out``) and its ``/tmp`` (a link to ``/grading/rw/tmp``; where
  the grading Python itself lies under /tmp, as in a checkout there, /tmp is a tmpfs of its own of the same size);
- its own network namespace (loopback only: no network, no port of the machine), PID namespace (when its first
  process ends, every process it started is killed by the kernel), IPC and UTS namespaces; a new session; only the
  environment variables it is given.

It runs as user 65534 (nobody), without capabilities: where the grader is root, bwrap keeps the real user and
``setpriv`` drops to 65534 inside, so the process limit (``RLIMIT_NPROC``) counts that user's processes; for another
user it is 65534 in a user namespace, and the limit counts on top of the teacher's own processes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

INSIDE = Path("/grading")
LIB, IN, DATA, WRITABLE = (INSIDE / name for name in ("lib", "in", "data", "rw"))
HOME, OUT, TMP = (WRITABLE / name for name in ("home", "out", "tmp"))
TMP_HOST = Path("/tmp")
NOBODY = 65534
SYSTEM = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def executable() -> str | None:
    return shutil.which("bwrap")


def _under(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def site_dirs() -> list[Path]:
    """The site-packages folders on the grading Python's path."""
    found = {Path(p).resolve() for p in sys.path if p and {"site-packages", "dist-packages"} & set(Path(p).parts)}
    return sorted(p for p in found if p.is_dir())


def python_dirs() -> list[Path]:
    """The grading Python's installation and site-packages folders (not the working folder, not a checkout)."""
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    dirs: list[Path] = []
    for path in sorted(prefixes | set(site_dirs())):
        if not _under(path, dirs) and not _under(path, [Path("/usr")]):
            dirs.append(path)
    return dirs


def _leads_to(path: Path, hidden: list[Path]) -> bool:
    """An editable install's finder, ``.pth`` or ``.egg-link`` that names a hidden folder (the teacher's checkout)."""
    if path.name.startswith("__editable__"):
        return True
    try:
        text = path.read_text(errors="replace")[:100_000]
    except OSError:
        return False
    return any(str(h) in text for h in hidden)


def command(argv: list[str], *, env: dict, ro: dict[Path, Path], hidden: list[Path], disk_mb: int) -> list[str]:
    """The bwrap command running ``argv`` with ``env`` only; ``ro``: inside path -> host path, read-only;
    ``hidden``: host folders that must not show through the Python folders (the teacher's package ...)."""
    cmd = [executable() or "bwrap"]
    for name in SYSTEM:
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    dirs = python_dirs()
    made: set[Path] = set()
    python_in_tmp = any(_under(path, [TMP_HOST]) for path in dirs)  # a checkout (and its .venv) under /tmp
    if python_in_tmp:  # then /tmp is a tmpfs of its own, made before the Python folders are bound into it
        cmd += ["--perms", "1777", "--size", str(disk_mb * 2**20), "--tmpfs", str(TMP_HOST)]
        made.add(TMP_HOST)
    for path in dirs:  # its parent folders made open to all (the host's /root, say, is not)
        for parent in sorted(set(path.parents) - made - {Path("/")}):
            cmd += ["--perms", "0755", "--dir", str(parent)]
            made.add(parent)
        cmd += ["--ro-bind", str(path), str(path)]
    hidden = [h.resolve() for h in hidden]
    for folder in hidden:
        if _under(folder, dirs) or _under(folder, [Path("/usr"), Path("/etc")]):
            cmd += ["--tmpfs", str(folder)]
    for path in site_dirs():
        for found in [*path.glob("__editable__*"), *path.glob("*.pth"), *path.glob("*.egg-link")]:
            if _under(found.resolve(), dirs) and _leads_to(found, hidden):
                cmd += ["--ro-bind", "/dev/null", str(found)]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    cmd += ["--perms", "1777", "--size", str(disk_mb * 2**20), "--tmpfs", str(WRITABLE)]
    for folder in (HOME, OUT, TMP):
        cmd += ["--perms", "1777", "--dir", str(folder)]
    if not python_in_tmp:
        cmd += ["--symlink", str(TMP), str(TMP_HOST)]
    for inside, host in ro.items():
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

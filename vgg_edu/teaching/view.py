"""What a sandboxed run sees (a submitted notebook, or one of its code answers: ``serve``), whichever tool makes the
sandbox: bubblewrap (``bwrap``) or a container engine, Podman or Docker (``container``). Each renders this view.

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
- no network (loopback only), its own process tree (when its first process ends, or its container is removed,
  every process it started is killed), only the environment variables it is given; user 65534 (nobody), without
  capabilities.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

INSIDE = Path("/grading")
LIB, IN, DATA, WRITABLE = (INSIDE / name for name in ("lib", "in", "data", "rw"))
HOME, OUT, TMP = (WRITABLE / name for name in ("home", "out", "tmp"))
TMP_HOST = Path("/tmp")
NOBODY = 65534
SYSTEM = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


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


@dataclass(frozen=True)
class View:
    links: list[tuple[str, Path]]  # (target, path): the system's top-level links, such as /bin -> usr/bin
    system: list[Path]  # the system's folders, read-only
    python: list[Path]  # the grading Python's folders, read-only
    python_in_tmp: bool  # a checkout (and its .venv) under /tmp: then /tmp is a tmpfs of its own
    emptied: list[Path]  # folders shown empty: the teacher's package where the Python folders would show it
    nulled: list[Path]  # files shown empty: an editable install's finder or .pth that leads to the teacher's checkout
    inputs: list[tuple[Path, Path]]  # (inside, host), read-only: the student package, the run's input, the data


def view(ro: dict[Path, Path], hidden: list[Path]) -> View:
    """What a run sees: ``ro``, inside path -> host path, read-only; ``hidden``, host folders that must not show
    through the Python folders (the teacher's package, the submissions, the gradebook)."""
    links, system = [], []
    for name in SYSTEM:
        path = Path("/") / name
        if path.is_symlink():
            links.append((os.readlink(path), path))
        elif path.is_dir():
            system.append(path)
    python = python_dirs()
    hidden = [h.resolve() for h in hidden]
    emptied = [h for h in hidden if _under(h, python) or _under(h, [Path("/usr"), Path("/etc")])]
    nulled = sorted({
        found
        for path in site_dirs()
        for found in [*path.glob("__editable__*"), *path.glob("*.pth"), *path.glob("*.egg-link")]
        if _under(found.resolve(), python) and _leads_to(found, hidden)
    })  # fmt: skip
    in_tmp = any(_under(path, [TMP_HOST]) for path in python)
    return View(links, system, python, in_tmp, emptied, nulled, list(ro.items()))

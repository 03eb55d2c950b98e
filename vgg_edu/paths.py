"""Where the course's files go, and the one check that a path can be written.

- ``repo_root()``: the checkout this package was installed from (editable install), if any;
- ``artifacts_dir()``: where notebooks keep what they make for each other (checkpoints, metrics);
- ``check_writable(path)``: by trying, since ``os.access`` says yes to root on read-only mounts and ``/proc``;
- ``not_a_folder(path)``: the one "is a folder" refusal, for a path that should name a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def repo_root() -> Path | None:
    """The course repository this package was installed from (editable install), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "notebooks").is_dir() and (root / "pyproject.toml").is_file() else None


def artifacts_dir() -> Path:
    """Where notebooks keep what they make for each other (checkpoints, metrics): ``$VGG_EDU_ARTIFACTS`` or
    ``artifacts/`` beside the repository's notebooks (``./artifacts`` when the package runs outside the repo).

    A folder that takes no files (a read-only course folder on a shared server, say) is replaced by
    ``~/.cache/vgg_edu/artifacts``, with one line saying so; a ``$VGG_EDU_ARTIFACTS`` that cannot be written is an
    error, since it was asked for."""
    root = os.environ.get("VGG_EDU_ARTIFACTS")
    path = Path(root) if root else (repo_root() / "artifacts" if repo_root() else Path("artifacts"))
    try:
        return writable_folder(path)
    except OSError as err:
        if root:
            raise PermissionError(f"VGG_EDU_ARTIFACTS={root} cannot be written ({err.strerror or err})") from err
        fallback = writable_folder(Path.home() / ".cache" / "vgg_edu" / "artifacts")
        if path not in _said_fallback:
            _said_fallback.add(path)
            print(
                f"{path} cannot be written ({err.strerror or err}): keeping this course's files in {fallback} "
                "instead (set VGG_EDU_ARTIFACTS to choose another folder)."
            )
        return fallback


_said_fallback: set = set()


def writable_folder(folder) -> Path:
    """``folder``, made if missing, after trying that it takes a new file (created and removed at once); an
    ``OSError`` where it does not. The one writability check: ``check_writable`` and ``artifacts_dir`` both use it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".vgg_edu-write-test.", suffix=".tmp")
    os.close(fd)
    os.unlink(probe)
    return folder


def not_a_folder(path, example: str = "model.pt") -> Path:
    """``path``, or (where it is a folder) the one "is a folder" refusal: an ``IsADirectoryError`` that names a file
    path to give instead (``example`` in that folder)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file path such as {path / example}")
    return path


def check_writable(path) -> Path:
    """Raise a ``PermissionError`` naming the file ``path`` when it cannot be written, by trying
    (``writable_folder``) in the nearest folder that exists, so that no folder is made. An existing file is opened
    for appending, which changes nothing in it."""
    path = not_a_folder(path)
    folder = next((d for d in (path.parent, *path.parent.parents) if d.exists()), Path("."))
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder", str(folder))
        writable_folder(folder)
        if path.exists():
            with open(path, "ab"):
                pass
    except OSError as err:
        raise PermissionError(
            f"cannot write {path}: {folder} does not take new files ({err.strerror or err}). Choose another path."
        ) from err
    return path

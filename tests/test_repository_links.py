"""One place holds the repository's address: pyproject.toml's ``[project.urls] Repository``. Every Colab badge, the
notebooks' install line and every other GitHub link of the README and the notebooks agree with it (issue 23)."""

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ADDRESS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
BRANCH = "main"  # the badges open notebooks from this branch

GITHUB = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)")
BADGE = re.compile(r"colab\.research\.google\.com/github/([\w.-]+)/([\w.-]+)/blob/([\w.-]+)/([^)\s\"]+)")
INSTALL = re.compile(r"git\+https://github\.com/([\w.-]+)/([\w.-]+)")


def owner_repo() -> str:
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", ADDRESS)
    assert match, f"pyproject's Repository {ADDRESS!r} is not https://github.com/OWNER/REPO (Colab's badges need one)"
    return "/".join(match.groups())


def texts() -> dict[str, str]:
    """The README and every notebook's cells (sources only: outputs are stripped)."""
    found = {"README.md": (ROOT / "README.md").read_text()}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        found[f"notebooks/{path.name}"] = "\n".join("".join(c["source"]) for c in cells)
    return found


def disagreements(name: str, text: str, address: str) -> list[str]:
    """Every GitHub address in ``text`` (badges, install lines, links) that is not ``address`` ('OWNER/REPO'), and
    every badge that opens a file other than an existing one on ``BRANCH``."""
    wrong = []
    for pattern in (GITHUB, BADGE, INSTALL):
        for m in pattern.finditer(text):
            if f"{m.group(1)}/{m.group(2)}" != address:
                wrong.append(f"{name}: {m.group(0)} is not {address}")
    for m in BADGE.finditer(text):
        if m.group(3) != BRANCH or not (ROOT / m.group(4)).is_file():
            wrong.append(f"{name}: the badge {m.group(0)} opens no file of branch {BRANCH}")
    return wrong


def test_the_address_is_a_github_repository():
    assert owner_repo().count("/") == 1


@pytest.mark.parametrize("name", list(texts()))
def test_every_badge_and_install_line_agrees_with_pyproject(name):
    wrong = disagreements(name, texts()[name], owner_repo())
    assert not wrong, "\n".join(wrong) + "\n(the address lives in pyproject.toml's [project.urls]; see the README)"


def test_each_notebook_has_its_badge_and_the_install_line():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        text = texts()[f"notebooks/{path.name}"]
        badge = f"colab.research.google.com/github/{owner_repo()}/blob/{BRANCH}/notebooks/{path.name}"
        assert badge in text and badge in readme, f"{path.name}: no badge {badge} in it and in the README"
        assert f"git+{ADDRESS}" in text, f"{path.name}: its setup cell does not install from git+{ADDRESS}"


def test_a_wrong_address_is_found():
    """The check can fail: another owner, a badge to a missing notebook, another branch."""
    text = (
        "[b](https://colab.research.google.com/github/someone/else/blob/main/notebooks/00_start_here.ipynb) "
        f"[c](https://colab.research.google.com/github/{owner_repo()}/blob/main/notebooks/99_missing.ipynb) "
        f"[d](https://colab.research.google.com/github/{owner_repo()}/blob/dev/notebooks/00_start_here.ipynb) "
        '%pip install "vgg-edu @ git+https://github.com/someone/else"'
    )
    wrong = disagreements("t", text, owner_repo())
    assert sum("someone/else" in w for w in wrong) == 3  # the badge; the install line, as one and as a link
    assert sum("opens no file" in w for w in wrong) == 2

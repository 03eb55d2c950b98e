"""environment.yml and pyproject.toml name the same packages; the Makefile and CI stay wired together."""
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _applies(requirement: str) -> bool:
    """Requirements for other Python versions only (e.g. tomli on 3.10) are not the conda environment's business."""
    return "python_version" not in requirement


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] if _applies(r)}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra if _applies(r)}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    pip = {_name(d) for d in env["dependencies"] if isinstance(d, dict) for d in d["pip"]}
    assert conda | pip == wanted
    assert not conda & pip


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make course" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()

"""environment.yml and pyproject.toml name the same packages; the Makefile and CI stay wired together."""

import ast
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


PACKAGE = ROOT / "vgg_edu"


def _body_lines(fn) -> int:
    """Lines of a function from its first statement after the docstring to its end."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return fn.end_lineno - body[0].lineno + 1 if body else 0


def test_no_function_in_the_package_is_longer_than_60_lines():
    """Docstrings aside: a student reads any function in one screen."""
    long = [
        f"{path.relative_to(ROOT)}:{fn.name} ({_body_lines(fn)} lines)"
        for path in PACKAGE.rglob("*.py")
        for fn in ast.walk(ast.parse(path.read_text()))
        if isinstance(fn, ast.FunctionDef) and _body_lines(fn) > 60
    ]
    assert not long


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    assert not names & set(sys.stdlib_module_names) - {"__init__", "__main__"}


def test_the_package_exports_what_it_says():
    import vgg_edu

    assert vgg_edu.__all__ and all(hasattr(vgg_edu, name) for name in vgg_edu.__all__)
    documented = set(re.findall(r"``(\w+)``", vgg_edu.__doc__))
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    assert modules - {"__init__", "__main__"} <= documented


def test_readme_package_table_names_every_module():
    readme = (ROOT / "README.md").read_text()
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    for name in modules - {"__init__", "__main__"}:
        assert f"`vgg_edu.{name}`" in readme, name


def test_license_file_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_ruff_and_pre_commit_are_configured():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["ruff"]["line-length"] == 120
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    ids = {h["id"] for repo in hooks["repos"] for h in repo["hooks"]}
    assert {"ruff", "ruff-format", "nbstripout"} <= ids
    assert "ruff check" in (ROOT / "Makefile").read_text() and "ruff format --check" in (ROOT / "Makefile").read_text()

"""The package's shape (short functions, no circle, no standard-library names, every module documented, plotting
and torch only where needed) and files that must agree (environment.yml and pyproject.toml, pre-commit's ruff and
the tests extra's, LICENSE and pyproject)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _applies(requirement: str) -> bool:
    """Requirements for other Python versions only (a backport, say) are not the conda environment's business."""
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


def test_no_module_in_the_package_passes_500_lines():
    """One idea per module, read top to bottom in one sitting: a longer one is split along its sections (as
    ``probe`` was, into the package ``vgg_edu.probe``)."""
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long


def _test_file(module: Path) -> Path:
    """Where ``module``'s tests are: ``tests/<package>/test_<module>.py`` (``tests/test_<module>.py`` for a top-level
    module); the command line's (``__main__``) in ``tests/test_main.py``; a package's ``__init__`` in the file named
    for the package (the exercise registry's in ``tests/test_exercises.py``)."""
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    if not parts:  # vgg_edu/__init__.py
        return ROOT / "tests" / "test_packaging.py"
    return ROOT / "tests" / Path(*parts[:-1]) / f"test_{parts[-1].strip('_')}.py"


def _defines_anything(module: Path) -> bool:
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in ast.parse(module.read_text()).body)


def test_every_module_has_its_test_file():
    """A new module comes with its test file. A package's ``__init__`` that only imports and documents has none (the
    package's own, its docstring and version, is tested here)."""
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or _defines_anything(p)]
    missing = [
        f"{p.relative_to(ROOT)}: {_test_file(p).relative_to(ROOT)}" for p in modules if not _test_file(p).is_file()
    ]
    assert len(modules) > 50 and not missing


def test_no_module_shadows_the_standard_library():
    names = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    assert not names & set(sys.stdlib_module_names) - {"__init__", "__main__"}


def _modules(package: Path) -> set[str]:
    """The modules and subpackages of ``package``, by name."""
    names = {p.stem for p in package.glob("*.py")} | {
        p.name for p in package.iterdir() if (p / "__init__.py").is_file()
    }
    return names - {"__init__", "__main__"}


GROUPED = ("data", "training", "compression")  # packages of modules on one theme: each module has its own README row


def test_the_package_exports_what_it_says():
    """Its modules, each name in one home: neither ``vgg_edu`` nor ``vgg_edu.plots`` re-exports a function."""
    import types

    import vgg_edu
    from vgg_edu import plots

    assert not hasattr(vgg_edu, "__all__") and not hasattr(vgg_edu, "__getattr__")
    assert set(plots.__all__) == _modules(PACKAGE / "plots")
    assert all(isinstance(getattr(plots, name), types.ModuleType) for name in plots.__all__)
    assert _modules(PACKAGE) <= set(re.findall(r"``(\w+)``", vgg_edu.__doc__))


def test_every_subpackage_docstring_lists_its_modules():
    import importlib

    for name in GROUPED:
        doc = importlib.import_module(f"vgg_edu.{name}").__doc__ or ""
        missing = _modules(PACKAGE / name) - set(re.findall(r"``(\w+)``", doc))
        assert not missing, f"vgg_edu.{name}'s docstring does not list {sorted(missing)}"


def test_readme_package_table_names_every_module():
    readme = (ROOT / "README.md").read_text()
    names = {f"vgg_edu.{name}" for name in _modules(PACKAGE) - set(GROUPED)}
    names |= {f"vgg_edu.{pkg}.{name}" for pkg in GROUPED for name in _modules(PACKAGE / pkg)}
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing


def test_the_tests_mirror_the_package():
    """``tests/<package>/test_<module>.py`` tests ``vgg_edu/<package>/<module>.py``; no two test files share a name
    (``tests`` has no ``__init__.py``, so pytest imports each test file by its name alone)."""
    nested = sorted((ROOT / "tests").glob("*/test_*.py"))
    orphans = [str(p.relative_to(ROOT)) for p in nested if not (PACKAGE / p.parent.name / f"{p.stem[5:]}.py").exists()]
    assert nested and not orphans
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_package_has_no_import_circle():
    """Module A imports B (at the top or inside a function) and B imports A, directly or through others: none."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                graph[name] |= {f"{target}.{a.name}" for a in node.names} | {target}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vgg_edu"):
                graph[name] |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    graph = {k: {t for t in v if t in graph and t != k} for k, v in graph.items()}

    def reach(start):
        seen, todo = set(), list(graph[start])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo += graph[n]
        return seen

    circles = sorted(m for m in graph if m in reach(m) and not m.endswith(("__init__", "vgg_edu")))
    assert not circles


def test_training_never_imports_claims():
    """Training runs; judging the prose by a run is the notebooks' (``claims``), never a dependency of training."""
    offenders = []
    for path in (PACKAGE / "training").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {(node.module or "").rsplit(".", 1)[-1]} | {a.name for a in node.names}
                if "claims" in names:
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_training_code_never_imports_plotting():
    """Figures come to a run as callbacks; nothing outside ``plots`` imports it or matplotlib, but a notebook's first
    step (``notebook.start``, which nothing in the package imports) gives the figures it will show their alt text."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "plots" not in path.parts
        and path != PACKAGE / "notebook.py"
        and re.search(r"^\s*(from|import) (\.+plots|vgg_edu\.plots|matplotlib)", path.read_text(), re.M)
    ]
    assert not offenders


def test_only_plots_imports_matplotlib():
    """Every module outside ``vgg_edu.plots`` imports without pulling in matplotlib (in a fresh process)."""
    import subprocess

    code = (
        "import importlib, pathlib, sys, vgg_edu\n"
        "root = pathlib.Path(vgg_edu.__file__).parent\n"
        "files = [p.relative_to(root.parent).with_suffix('') for p in root.rglob('*.py') if 'plots' not in p.parts]\n"
        "names = ['.'.join(f.parts).removesuffix('.__init__') for f in files if f.name != '__main__']\n"
        "[importlib.import_module(n) for n in names]\n"
        "print(len(names) > 30, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.stdout.strip() == "True False", out.stderr


def test_command_line_help_does_not_import_torch():
    """``python -m vgg_edu --help`` answers at once: nothing it imports pulls in PyTorch or pandas."""
    import subprocess

    code = (
        "import sys, runpy\nsys.argv = ['vgg_edu', '--help']\n"
        "try:\n    runpy.run_module('vgg_edu', run_name='__main__')\n"
        "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("[]"), out.stdout[-300:]


def test_license_file_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (ROOT / "LICENSE").read_text().startswith(f"{project['license']['text']} License")  # the same licence


def test_pre_commit_runs_the_ruff_the_tests_extra_installs():
    """One ruff: pre-commit's hook is the version ``make test`` lints with (the tests extra pins it)."""
    tests_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["tests"]
    pinned = next(r for r in tests_extra if _name(r) == "ruff").split("==")[1]
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    rev = next(repo["rev"] for repo in hooks["repos"] if "ruff" in repo["repo"])
    assert rev == f"v{pinned}"


def test_the_version_is_written_once_in_pyproject():
    import vgg_edu

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert vgg_edu.__version__ == project["version"]
    written = [p for p in PACKAGE.rglob("*.py") if re.search(r"__version__\s*=\s*[\"']\d+\.\d+", p.read_text())]
    assert not written  # read from the installed metadata, not copied by hand

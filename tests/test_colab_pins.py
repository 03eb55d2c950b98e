"""The package installs on what Colab runs, and the Colab-like environment is Colab's, as Colab publishes it.

Colab's lists (tests/colab_like/published/, copied from googlecolab/backend-info) are read here by a parser of this
file's own, not by tools/colab_pins.py's, so that a mistake in the generator shows."""

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from vgg_edu.colab import PROTECTED

ROOT = Path(__file__).resolve().parent.parent
COLAB = ROOT / "tests" / "colab_like"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _freeze(path: Path) -> dict[str, str]:
    """{name: public version} of a pip freeze's ``name==version`` lines."""
    pairs = (line.split("==") for line in path.read_text().splitlines() if "==" in line and not line.startswith("#"))
    return {_normal(name): version.split("+")[0] for name, version in pairs}


def _pins(path: Path) -> dict[str, str]:
    """{name: version} of a requirements file's ``name==version`` lines (comments skipped)."""
    return {_normal(r.name): str(r.specifier)[2:] for r in map(Requirement, _lines(path))}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


COLAB_GPU = _freeze(COLAB / "published" / "pip-freeze.gpu.txt")


def colab_python(os_info: str) -> Version:
    """The Python version a Colab ``os-info`` file names (``Python 3.13.15``)."""
    return Version(re.search(r"^Python (\S+)$", os_info, flags=re.MULTILINE).group(1))


def allows(requires_python: str, python: Version) -> bool:
    return python in SpecifierSet(requires_python)


@pytest.mark.parametrize("os_info", ["os-info-gpu.txt", "os-info.txt"])
def test_colabs_published_python_is_within_requires_python(os_info):
    python = colab_python((COLAB / "published" / os_info).read_text())
    requires = PROJECT["requires-python"]
    assert allows(requires, python), f"Colab runs {python}: requires-python is {requires}"


def test_the_python_check_fails_for_the_cap_that_broke_every_badge():
    assert not allows(">=3.10,<3.13", colab_python("Ubuntu 22.04.5 LTS\nPython 3.13.15\n"))
    assert allows(">=3.11", Version("3.14.0")), "a floor alone lets every newer Python in"


def test_the_colab_like_environment_is_built_with_colabs_python():
    python = colab_python((COLAB / "published" / "os-info-gpu.txt").read_text())
    assert (COLAB / "python-version").read_text().strip() == f"{python.major}.{python.minor}"


def test_every_pin_of_the_simulation_is_colabs_version():
    pinned = _pins(COLAB / "requirements.txt") | _pins(COLAB / "constraints.txt")
    other = {n: f"{v} (Colab: {COLAB_GPU.get(n)})" for n, v in pinned.items() if COLAB_GPU.get(n) != v}
    assert not other, f"pinned to another version than Colab's published one: {other}"


def test_colabs_kernel_packages_pip_torch_and_the_course_dependencies_are_installed_at_colabs_versions():
    installed = _pins(COLAB / "requirements.txt")
    wanted = {"pip", "torch", "torchvision", *PROTECTED}
    wanted |= {_normal(Requirement(r).name) for r in PROJECT["dependencies"]} & set(COLAB_GPU)
    assert wanted <= set(installed), f"not installed in the simulation: {sorted(wanted - set(installed))}"


def test_the_pin_check_catches_a_version_from_memory(tmp_path):
    remembered = tmp_path / "requirements.txt"
    remembered.write_text("jupyter-client==6.1.12\ntornado==6.5.7\n")
    assert {n for n, v in _pins(remembered).items() if COLAB_GPU[n] != v} == {"jupyter-client"}


def test_every_dependency_floor_is_a_version_the_tests_run():
    """A floor of a dependency Colab ships is Colab's version: the Colab-like environment runs exactly it."""
    floors = {}
    for text in PROJECT["dependencies"]:
        requirement = Requirement(text)
        floor = next((s.version for s in requirement.specifier if s.operator == ">="), None)
        floors[_normal(requirement.name)] = floor
    assert all(floors.values()), f"a dependency without a floor: {floors}"
    untested = {
        n: f">={f} (Colab, the oldest tested: {COLAB_GPU[n]})"
        for n, f in floors.items()
        if n in COLAB_GPU and Version(f) != Version(COLAB_GPU[n])
    }
    assert not untested, f"floors that no test environment runs: {untested}"


def test_the_generated_files_are_what_colabs_lists_give():
    spec = importlib.util.spec_from_file_location("colab_pins", ROOT / "tools" / "colab_pins.py")
    colab_pins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab_pins)
    stale = [name for name, text in colab_pins.pins().items() if (COLAB / name).read_text() != text]
    assert not stale, f"{stale} are out of date: run python tools/colab_pins.py and review the diff"

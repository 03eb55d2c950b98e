"""The course as a student who clicks a Colab badge meets it, in a Colab-like environment.

``make colab-like`` builds .venv-colab with Colab's Python (3.13) and Colab's published versions of its kernel side
(IPython 7.34, ipykernel 6.17, ipywidgets 7.7, jupyter-client 7.4, notebook 6.5, tornado 6.5, pyzmq 26.2 ...), its
pip, torch and torchvision, and the science packages it ships: tests/colab_like/requirements.txt, generated from
Colab's own lists by tools/colab_pins.py (tests/test_colab_pins.py). What still differs from Colab: torch's CUDA
build (the registry's, not Colab's +cu128), the frontend, and the machine.
Its kernel loads a stand-in ``google.colab``, so each notebook's setup cell takes its Colab branch, and installs the
package from a wheel of this checkout (``VGG_EDU_INSTALL_FROM``) instead of GitHub. Here:

- pip's ``--dry-run --report`` of the setup's own requirement: it installs only what Colab lacks, and none of
  Colab's kernel packages (``vgg_edu.colab.PROTECTED``) changes;
- every notebook runs top to bottom in fast mode on a fresh Colab-like kernel, in a fresh working folder (each
  Colab notebook gets its own runtime); the setup cell says where it computes and that no restart is needed;
- every control of every widget is moved to its other end by the comm message a frontend sends, and must redraw the
  figure without a traceback (ipywidgets 7.7; JupyterLab's ipywidgets 8 is tests/test_browser.py's);
- after all of it, Colab's kernel packages are the versions they were.

- a setup whose install fails stops in its own cell with one message, not a ``NameError`` in every later cell.

Without .venv-colab the tests fail and say how to build it: they never skip. About 4 minutes on 2 cores (the
environment takes 2-3 more to build, once: Colab's torch from the registry is about 5 GB with its CUDA wheels).
"""

from __future__ import annotations

import json
import shutil

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    import colab_kernel as ck
except ImportError:  # tests/ as a package
    from . import colab_kernel as ck

from vgg_edu.colab import PROTECTED

pytestmark = pytest.mark.colab_like

NOTEBOOKS = sorted((ck.REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SETUP = ck.setup_cell(NOTEBOOKS[0])
LACKING = {"vgg-edu", "torchinfo"}  # what Colab does not have: the package and its one dependency Colab lacks


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def replaced(report: dict, installed: dict[str, str | None]) -> dict[str, str]:
    """From pip's installation report: each package it would install that is already installed (so would be
    replaced, upgraded or downgraded), with 'old -> new'. The course's own package is expected to be reinstalled."""
    out = {}
    for item in report["install"]:
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        if installed.get(name) is not None and name != "vgg-edu":
            out[name] = f"{installed[name]} -> {version}"
    return out


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A wheel of this checkout (built from a copy, so nothing is written here), what Colab lacks uninstalled from
    the Colab-like environment (every run installs it afresh, as a new runtime would), and the versions of
    everything installed there before the setup runs."""
    why = ck.missing()
    if why:
        pytest.fail(f"COLAB-LIKE TEST CANNOT RUN: {why}", pytrace=False)
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ck.REPO / name, source)
    shutil.copytree(ck.REPO / "vgg_edu", source / "vgg_edu", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheel")
    built = ck.colab_run("-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source))
    assert built.returncode == 0, built.stderr[-3000:]
    ck.colab_run("-m", "pip", "uninstall", "-y", "-q", *LACKING, check=True)  # as on a fresh Colab runtime
    listed = ck.colab_run("-m", "pip", "list", "--format=json", check=True)
    installed = {canonical(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    wheel = next(wheels.glob("vgg_edu-*.whl"))
    return {"source": wheel.as_uri(), "installed": installed}


def canonical_pins() -> dict[str, str]:
    lines = (ck.REPO / "tests" / "colab_like" / "requirements.txt").read_text().splitlines()
    pairs = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {canonical(name): version for name, version in pairs}


def test_the_environment_runs_colabs_python_and_colabs_versions(colab):
    python = (ck.REPO / "tests" / "colab_like" / "python-version").read_text().strip()
    running = ck.colab_run("-c", "import sys; print('%d.%d' % sys.version_info[:2])", check=True).stdout.strip()
    assert running == python, f"the Colab-like Python is {running}; Colab runs {python}"
    pins = canonical_pins()
    installed = {n: (v or "").split("+")[0] for n, v in ck.versions(pins).items()}
    assert installed == pins, {n: f"{installed[n]} (Colab: {v})" for n, v in pins.items() if installed[n] != v}


def test_a_failed_install_stops_the_setup_cell_with_one_message(tmp_path):
    env = {"VGG_EDU_INSTALL_FROM": (tmp_path / "no-such-wheel.whl").as_uri()}
    with ck.ColabLikeKernel(env, cwd=tmp_path) as kernel:
        run = kernel.run(SETUP)
        said = run.text()
        assert run.status == "error", f"the setup cell went on after pip failed:\n{said}"
        assert "The course package did not install" in said, said
        assert "ModuleNotFoundError" not in said and "Traceback" not in said, said


def test_every_notebook_has_the_same_setup_cell():
    different = [p.name for p in NOTEBOOKS if ck.setup_cell(p) != SETUP]
    assert not different, f"these notebooks' setup cells differ from {NOTEBOOKS[0].name}'s: {different}"


def test_replaced_finds_a_replaced_kernel_package():
    """The check below can fail: a report that upgrades ipywidgets (the old setup's ``notebooks`` extra did) is
    caught, a package that was absent is not."""
    report = {
        "install": [
            {"metadata": {"name": n, "version": v}} for n, v in (("ipywidgets", "8.1.9"), ("torchinfo", "1.8.0"))
        ]
    }
    assert replaced(report, {"ipywidgets": "7.7.1", "torchinfo": None}) == {"ipywidgets": "7.7.1 -> 8.1.9"}


def test_setup_installs_only_what_colab_lacks(colab, tmp_path):
    requirement = ck.pip_requirement(SETUP, colab["source"])
    report_path = tmp_path / "report.json"
    done = ck.colab_run("-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report_path), requirement)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    installs = {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}
    assert not replaced(report, colab["installed"]), f"the setup would replace {replaced(report, colab['installed'])}"
    assert not set(installs) & set(PROTECTED), f"the setup would install {sorted(set(installs) & set(PROTECTED))}"
    assert set(installs) == LACKING, f"the setup installs {installs}; Colab lacks only {sorted(LACKING)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_its_widgets_redraw_on_a_colab_like_kernel(colab, path, tmp_path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    env = {"VGG_EDU_FAST": "1", "VGG_EDU_INSTALL_FROM": colab["source"]}
    problems, moves = [], 0
    with ck.ColabLikeKernel(env, cwd=tmp_path) as kernel:
        for n, cell in enumerate(cells):
            run = kernel.run("".join(cell["source"]))
            if run.status != "ok" or run.errors():
                pytest.fail(f"{path.name}, code cell {n}: {run.status}\n" + "\n".join(run.errors()), pytrace=False)
            if n == 0:
                said = run.text()
                assert "computing on" in said and "No restart needed" in said, f"the setup cell said:\n{said}"
            if "interactive(" not in "".join(cell["source"]):
                continue  # tqdm's progress bars are widgets too: only the course's own are moved
            shown_widgets = ck.widget_displays(run)
            if run.images() < 2 * len(shown_widgets):  # each: its live figure, and the static one in its bundle
                problems.append(f"cell {n}: {run.images()} figures for {len(shown_widgets)} widgets: none drawn live")
            for shown in shown_widgets:
                if "image/png" not in shown:
                    problems.append(f"cell {n}: the widget has no static figure beside it")
                for model_id, state in kernel.controls(shown[ck.WIDGET_VIEW]["model_id"]):
                    update = ck.far_end(state)
                    if update is None:
                        continue
                    moved = kernel.move(model_id, update)
                    moves += 1
                    if moved.errors() or not moved.images():
                        label = f"cell {n}, {state.get('description')} -> {update}"
                        problems.append(f"{label}: {moved.errors() or 'no figure redrawn'}")
    assert not problems, f"{path.name}: " + "\n".join(problems)
    widget_cells = sum("interactive(" in "".join(c["source"]) for c in cells)
    assert bool(moves) == bool(widget_cells), f"{path.name}: {widget_cells} widget cells, {moves} controls moved"


def test_colabs_kernel_packages_are_unchanged_after_every_notebook(colab):
    after = ck.versions(PROTECTED)
    changed = {n: f"{colab['installed'].get(n)} -> {v}" for n, v in after.items() if v != colab["installed"].get(n)}
    assert not changed, f"running the notebooks changed Colab's kernel packages: {changed}"

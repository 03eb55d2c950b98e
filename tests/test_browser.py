"""The notebooks' widgets, proven in a real JupyterLab driven by a real Chromium (issue 13).

One JupyterLab (fast mode: VGG_EDU_FAST=1) serves a temporary copy of notebooks/ (or of the folder
VGG_EDU_BROWSER_NOTEBOOKS names). For every notebook with an ``interactive(`` call: Run > Run All Cells; each widget
is scrolled into view; its controls are moved through every combination of their ends (sliders typed to min and
max, dropdowns set to their first and last option, checkboxes toggled), and each move must redraw the figure.
A traceback in any output (cells' and widgets' alike), a control label cut short, or a browser console error fails
the test (the Colab badge, an external image, is the one console error ignored). A second test checks that a widget
cell shows one figure in a live kernel, not the static fallback beside it.

Needs a Chromium (Debian's, /usr/bin/chromium, or VGG_EDU_CHROMIUM) and playwright's Python package (the tests
extra); ``make test`` installs both where apt-get exists. Without them the tests fail and say how to install
them: they never skip. Part of ``make test`` (about 4 minutes on 2 busy cores); ``-m "not browser"`` leaves it out.
"""

from __future__ import annotations

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    from browser_lab import CHROMIUM, LabServer, NotebookPage, missing_tools, widget_notebooks
except ImportError:  # tests/ as a package
    from .browser_lab import CHROMIUM, LabServer, NotebookPage, missing_tools, widget_notebooks

pytestmark = pytest.mark.browser

WIDGET_NOTEBOOKS = widget_notebooks()
RUN_TIMEOUT_S = 600  # one notebook, Run All Cells, fast mode; they take well under a minute each on 2 cores

# What each notebook's run recorded, for the figure-count test: {notebook: {cell index: images in its output}}.
_FIGURES: dict[str, dict[int, int]] = {}


@pytest.fixture(scope="module")
def browser():
    """One JupyterLab and one headless Chromium for the whole module; both always shut down, kernels included."""
    why = missing_tools()
    if why:
        pytest.fail(f"BROWSER TEST CANNOT RUN: {why}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with LabServer(env={"VGG_EDU_FAST": "1"}) as lab, sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Nothing but the loopback resolves: external resources (the Colab badge) fail at once, never hang.
            args=[
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--disable-dev-shm-usage",
                "--no-sandbox",  # as root (CI containers) Chromium refuses to start with its sandbox
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",  # no update checks, no component downloads: offline-safe
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield lab, chromium
        finally:
            chromium.close()


def _open_and_run(lab, chromium, name: str) -> NotebookPage:
    """Open ``name``, run all its cells and fail (with the traceback) if they do not all run cleanly."""
    nb = NotebookPage(lab, chromium, name, timeout_s=RUN_TIMEOUT_S)
    try:
        nb.open()
        state = nb.run_all()
    except Exception as exc:
        shot = nb.screenshot()
        nb.close()
        pytest.fail(
            f"{name}: Run All Cells did not finish: {exc}\nscreenshot: {shot}\n{lab.log_tail(15)}", pytrace=False
        )
    errors = nb.errors()
    if not state.get("done") or errors:
        shot = nb.screenshot()
        nb.close()
        detail = "\n".join(f"--- traceback ---\n{e.strip()[-1500:]}" for e in errors) or str(state)
        pytest.fail(
            f"{name}: Run All Cells stopped: {state.get('counted')} of {state['n_code']} code cells ran"
            f"{' (a dialog: ' + state['dialog'] + ')' if 'dialog' in state else ''}\n{detail}\n"
            f"screenshot: {shot}",
            pytrace=False,
        )
    return nb


def test_widget_notebooks_found():
    assert WIDGET_NOTEBOOKS, "no notebook in notebooks/ calls interactive(: nothing for the browser test to check"


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_widgets_redraw_without_errors(browser, name):
    """Run all cells, then move every control of every widget to its ends: each move redraws, nothing fails."""
    lab, chromium = browser
    nb = _open_and_run(lab, chromium, name)
    problems = []
    try:
        assert nb.widget_cells, f"{name}: no cell calls interactive("
        for index in nb.widget_cells:
            interact, why = nb.show_widget(index)
            if interact is None:
                problems.append(why)
                continue
            problems += nb.exercise_controls(index, interact)
        problems += [
            f"traceback in an output:\n{e.strip()[-800:]}"
            for e in nb.errors()
            if not any(e.strip()[-200:] in p for p in problems)
        ]
        problems += nb.console
        _FIGURES[name] = dict(nb.figures)
        print(f"{name}: figures per widget cell {nb.figures}; moves:\n  " + "\n  ".join(nb.moves))
        shot = nb.screenshot() if problems else ""
    finally:
        nb.close()
    assert not problems, (
        f"{name}: {len(problems)} problem(s) with its widgets in JupyterLab "
        f"(screenshot: {shot}):\n" + "\n".join(f"- {p}" for p in problems)
    )


@pytest.mark.parametrize("name", WIDGET_NOTEBOOKS)
def test_one_figure_per_widget_cell(browser, name):
    """In a live kernel a widget cell shows ONE figure, the widget's: the static fallback is for frontends without
    widgets only. (Counted right after Run All Cells, before any control moved.)"""
    if name not in _FIGURES:  # run alone (-k): run the notebook here
        lab, chromium = browser
        nb = _open_and_run(lab, chromium, name)
        try:
            for index in nb.widget_cells:
                nb.show_widget(index)
            _FIGURES[name] = dict(nb.figures)
        finally:
            nb.close()
    figures = _FIGURES[name]
    wrong = {cell: n for cell, n in figures.items() if n != 1}
    assert figures and not wrong, (
        f"ONE-FIGURE CHECK: {name}: widget cells must show exactly one figure in a live kernel; "
        f"cells (index: images) {wrong or 'none drawn'} - the static fallback is shown beside the live figure"
    )

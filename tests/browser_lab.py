"""A real JupyterLab driven by a real Chromium, for tests/test_browser.py.

``LabServer`` starts JupyterLab from this interpreter's environment on a free loopback port, in a temporary copy of
the notebooks, with its own settings, workspaces, config and data directories (nothing of the user's is read or
written), and always shuts it down with every kernel it started. ``widget_notebooks`` finds the notebooks that make
widgets. The rest are small helpers over playwright's sync API for a notebook page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# VGG_EDU_BROWSER_NOTEBOOKS: another folder of notebooks to check (e.g. an older version, to see the test catch bugs).
NOTEBOOKS = Path(os.environ.get("VGG_EDU_BROWSER_NOTEBOOKS", REPO / "notebooks"))
CHROMIUM = Path(os.environ.get("VGG_EDU_CHROMIUM", "/usr/bin/chromium"))

INSTALL_HELP = """\
The browser test needs Debian's Chromium and playwright's Python package (`make test` installs both where
apt-get exists):
    sudo apt-get install -y chromium           # gives /usr/bin/chromium (or set VGG_EDU_CHROMIUM=/path/to/chrome)
    .venv/bin/python -m pip install playwright # the Python API only: no `playwright install`, Chromium comes from apt
"""

# Console errors that are not the course's: the Colab badge is an external image that cannot load offline.
IGNORED_CONSOLE = ("colab-badge.svg", "colab.research.google.com")


def widget_notebooks(folder: Path = NOTEBOOKS) -> list[str]:
    """Names (without .ipynb) of the notebooks with a code cell that calls ``interactive(``."""
    names = []
    for path in sorted(folder.glob("[0-9]*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any(c["cell_type"] == "code" and "interactive(" in "".join(c["source"]) for c in cells):
            names.append(path.stem)
    return names


def code_cells(path: Path) -> tuple[int, list[int]]:
    """(number of code cells, indices among all cells of those that call ``interactive(``)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    widgets = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and "interactive(" in "".join(c["source"])]
    return sum(c["cell_type"] == "code" for c in cells), widgets


def missing_tools() -> str | None:
    """Why the browser test cannot run here (with how to fix it), or None."""
    problems = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append(f"no playwright in {sys.executable}")
    return "; ".join(problems) + "\n" + INSTALL_HELP if problems else None


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the test process dies, even killed, so that no server is
    left behind; on SIGTERM the server shuts its kernels down (and ipykernel exits when its parent is gone)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """JupyterLab on 127.0.0.1 in a temporary copy of ``notebooks``; a context manager.

    The kernels inherit ``env`` (e.g. VGG_EDU_FAST=1). Every process started carries a unique marker in its
    environment, so that ``stop`` can find and end the kernels too (jupyter_client starts them in their own
    session, out of the server's process group) even when the server dies first.
    """

    def __init__(self, notebooks: Path = NOTEBOOKS, env: dict[str, str] | None = None, startup_timeout: float = 120):
        self.notebooks, self.extra_env, self.startup_timeout = notebooks, env or {}, startup_timeout
        self.token = uuid.uuid4().hex
        self.marker = uuid.uuid4().hex
        self.port = None
        self.proc = None
        self.tmp = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace of its own (no tabs restored from an earlier notebook)."""
        return f"{self.url}/lab/workspaces/vgg-edu-{notebook}/tree/{notebook}.ipynb?reset&token={self.token}"

    def __enter__(self) -> LabServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="vgg-edu-lab-"))
        root = self.tmp / "notebooks"
        root.mkdir()
        for nb in self.notebooks.glob("*.ipynb"):
            shutil.copy2(nb, root / nb.name)
        settings = self.tmp / "settings"
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        # fetchNews "false": no news pop-up over the page (and no request to the internet); no update check either.
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        for d in ("workspaces", "config", "data", "runtime", "ipython", "artifacts"):
            (self.tmp / d).mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_", "MPLBACKEND"))}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.tmp / "config"),  # no user config, kernelspecs or extensions of the user's
            JUPYTER_DATA_DIR=str(self.tmp / "data"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            VGG_EDU_ARTIFACTS=str(self.tmp / "artifacts"),  # checkpoints and metrics stay out of the repository
            PYDEVD_DISABLE_FILE_VALIDATION="1",
            VGG_EDU_BROWSER_TEST=self.marker,
        )
        env.update(self.extra_env)
        self.port = _free_port()
        self.log = open(self.tmp / "jupyterlab.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                "--ServerApp.allow_remote_access=False",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
                "--ServerApp.open_browser=False",
            ]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                if time.monotonic() > deadline:
                    why = f"JupyterLab not up after {self.startup_timeout:.0f} s:\n{self.log_tail()}"
                    raise RuntimeError(why) from exc
                time.sleep(0.25)  # polling a server that is starting; nothing to wait on instead

    def api(self, method: str, path: str, timeout: float = 30):
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def close_sessions(self, path: str) -> None:
        """Shut down the kernel of the notebook at ``path`` (relative to the root), freeing its memory."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == path:
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=60)

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=60)

    def log_tail(self, lines: int = 40) -> str:
        if self.tmp is None or not (self.tmp / "jupyterlab.log").is_file():
            return ""
        return "\n".join((self.tmp / "jupyterlab.log").read_text(errors="replace").splitlines()[-lines:])

    def _marked_pids(self) -> list[int]:
        """Processes (kernels included) started with this server's marker in their environment."""
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if f"VGG_EDU_BROWSER_TEST={self.marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                continue
        return [p for p in pids if p != os.getpid()]

    def stop(self) -> None:
        """Shut the kernels and the server down, politely, then by force; always leaves no process behind."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown", timeout=10)
                self.proc.wait(timeout=30)
            except Exception:
                pass
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        if self.marker and Path("/proc").is_dir():
            for sig in (signal.SIGTERM, signal.SIGKILL):
                pids = self._marked_pids()
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 5
                while pids and self._marked_pids() and time.monotonic() < deadline:
                    time.sleep(0.1)
        if getattr(self, "log", None) is not None:
            self.log.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


# --- the page ---------------------------------------------------------------------------------------------------

# An output that shows a Python traceback: cells' output areas and ipywidgets' Output widgets alike (JupyterLab
# renders error outputs with the stderr MIME type).
ERROR_OUTPUTS = """
  (root) => [...root.querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.innerText).filter(t => /Traceback|Error/.test(t))
    .concat([...root.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)
            .filter(t => t.includes('Error displaying widget')))
"""


def console_collector(page) -> list[str]:
    """Collect the page's console errors and uncaught exceptions, except those about the Colab badge."""
    errors: list[str] = []

    def on_console(msg):
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if any(s in msg.text or s in where for s in IGNORED_CONSOLE):
            return
        errors.append(f"console error: {msg.text} (at {where or '?'})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught page exception: {exc}"))
    return errors


# JavaScript helpers, defined on every call (pages are short-lived). textContent, not innerText: JupyterLab's
# default windowing (content-visibility) leaves off-screen cells unrendered, and innerText of those is empty.
_JS_LIB = r"""
const STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]';
const errorTexts = (root) => [...root.querySelectorAll(STDERR)]
    .map(e => e.textContent).filter(t => /Traceback|Error/.test(t))
    .concat([...root.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent)
            .filter(t => t.includes('Error displaying widget')));
const hash = (s) => {
    let h = 5381;
    for (let i = 0; i < s.length; i++) h = (h * 33 + s.charCodeAt(i)) | 0;
    return `${s.length}:${h}`;
};
const kernelStatus = (name) => {
    const item = document.querySelector(`span[title="Change kernel for ${name}"]`);
    return item ? item.textContent.trim() : '';
};
const kernelIdle = (name) => { const s = kernelStatus(name); return /\| Idle$/.test(s) && !/^No Kernel/.test(s); };
const outputSignature = (out) =>
    hash([...out.querySelectorAll('img')].map(i => i.src).join('|') + errorTexts(out).join('|'));
"""


def js(body: str) -> str:
    """A function for page.evaluate / wait_for_function with the helpers above in scope."""
    return f"(arg) => {{ {_JS_LIB}\n {body} }}"


class NotebookPage:
    """One notebook open in its own page and workspace; ``problems`` collects what went wrong, in words."""

    def __init__(self, lab: LabServer, browser, name: str, timeout_s: float = 600):
        self.lab, self.name, self.path = lab, name, f"{name}.ipynb"
        self.n_code, self.widget_cells = code_cells(lab.tmp / "notebooks" / self.path)
        self.timeout_ms = timeout_s * 1000
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(60_000)
        self.console = console_collector(self.page)
        self.figures: dict[int, int] = {}
        self.moves: list[str] = []  # what was moved and what came of it, for the log

    def close(self) -> None:
        try:
            self.page.close()
        finally:
            self.lab.close_sessions(self.path)

    def screenshot(self) -> str:
        folder = Path(tempfile.gettempdir()) / "vgg-edu-browser"
        folder.mkdir(exist_ok=True)
        path = folder / f"{self.name}.png"
        try:
            self.page.screenshot(path=path, full_page=False)
        except Exception as exc:  # the screenshot only helps to read a failure; never hide the failure itself
            return f"(no screenshot: {exc})"
        return str(path)

    def wait_kernel_idle(self, timeout_ms: float = 120_000) -> None:
        self.page.wait_for_function(js("return kernelIdle(arg);"), arg=self.path, timeout=timeout_ms, polling=250)

    def open(self) -> None:
        """Open the notebook and wait until its kernel is started and idle."""
        self.page.goto(self.lab.page_url(self.name))
        self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
        self.wait_kernel_idle()

    def run_all(self) -> dict:
        """Run > Run All Cells, then wait until the kernel is idle and every code cell has an execution count (or
        a traceback stopped the run, or a dialog or a dead kernel blocks it). Returns that final state."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        state = self.page.wait_for_function(
            js(r"""
            const [name, nCode] = arg;
            const dialog = document.querySelector('.jp-Dialog');
            if (dialog) return {dialog: dialog.textContent.trim().slice(0, 300)};
            const status = kernelStatus(name);
            if (/\| (Dead|Unknown)$/.test(status)) return {dead: status};
            const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-CodeCell')]
                .map(c => c.querySelector('.jp-InputArea-prompt')).filter(Boolean).map(e => e.textContent.trim());
            const counted = prompts.filter(t => /^\[\d+\]:$/.test(t)).length;
            const errors = errorTexts(document.querySelector('.jp-NotebookPanel .jp-Notebook'));
            if (!kernelIdle(name) || prompts.includes('[*]:')) return false;
            if (prompts.length === nCode && counted === nCode) return {done: true, counted, errors};
            if (errors.length) return {done: false, counted, errors};
            return false;
            """),
            arg=[self.path, self.n_code],
            timeout=self.timeout_ms,
            polling=500,
        ).json_value()
        state["n_code"] = self.n_code
        return state

    def errors(self) -> list[str]:
        return self.page.locator(".jp-NotebookPanel .jp-Notebook").evaluate(js("return errorTexts(arg);"))

    def cell(self, index: int):
        return self.page.locator(f'.jp-NotebookPanel .jp-Notebook .jp-Cell[data-windowed-list-index="{index}"]')

    def show_widget(self, index: int):
        """Scroll the widget cell into view and wait until its widget has drawn (an image or a traceback in its
        output). Returns (the widget's locator, None), or (None, what the cell shows instead)."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        handle = cell.element_handle()
        try:
            self.page.wait_for_function(
                js(r"""
                const out = arg.querySelector('.widget-interact > .widget-output');
                if (errorTexts(arg).length) return 'error';
                return out && out.querySelector('img') ? 'drawn' : false;
                """),
                arg=handle,
                timeout=60_000,
                polling=250,
            )
        except Exception:
            shown = cell.locator(".jp-Cell-outputArea").evaluate("e => e.textContent.trim().slice(0, 300)")
            return None, f"cell {index}: no widget with a figure within 60 s; the cell shows: {shown!r}"
        self.figures[index] = cell.locator(".jp-Cell-outputArea img").count()
        return cell.locator(".widget-interact").first, None

    def exercise_controls(self, index: int, interact) -> list[str]:
        """Move every control of the widget to its ends; after each move wait until the widget's figure changes.
        Returns the problems (no redraw, a traceback in the widget's output, a control's label cut short).

        Every combination of ends: all controls go to their low ends first, then a Gray code walks through all
        2^n combinations of low and high ends, one control moving at a time (2^n - 1 moves; 31 for five
        controls). So a slider range that does not fit another control's choice (a channel slider past the
        channels of the first layer) is found whichever order the controls come in. Low/high: a slider's min/max
        (read at each move, since it may follow another control), a dropdown's first/last option, a checkbox
        unchecked/checked.
        """
        problems = []
        out = interact.locator(":scope > .widget-output").first
        controls = interact.locator(":scope > .jupyter-widgets:not(.widget-output)")
        movers = []
        for k in range(controls.count()):
            control = controls.nth(k)
            control.scroll_into_view_if_needed()
            classes = control.get_attribute("class") or ""
            label = control.locator(".widget-label, .widget-label-basic span").all_text_contents() or [""]
            label = next((t.strip() for t in label if t.strip() and t.strip() != "\u200b"), f"control {k}")
            cut = control.locator(".widget-label").evaluate_all(
                "ls => ls.filter(l => l.scrollWidth > l.clientWidth + 1).map(l => l.textContent)"
            )
            if cut:
                problems.append(f"cell {index} {label}: its label is cut short on the page (ellipsis): {cut}")
            kind = next((kind for kind in ("slider", "dropdown", "checkbox") if f"widget-{kind}" in classes), None)
            if kind is None:
                problems.append(f"cell {index} {label}: a control this test cannot move (classes {classes!r})")
                continue
            movers.append((label, control, getattr(self, f"_{kind}_move")))
        if len(movers) > 8:  # 2^n moves: a widget this big needs a cheaper plan, not hours of clicking
            problems.append(f"cell {index}: {len(movers)} controls; this test walks every combination up to 8")
            return problems
        gray = [g ^ (g >> 1) for g in range(2 ** len(movers))]
        flips = [(gray[g] ^ gray[g - 1]).bit_length() - 1 for g in range(1, len(gray))]
        plan = [(m, "low") for m in movers]
        plan += [(movers[k], "high" if gray[g + 1] >> k & 1 else "low") for g, k in enumerate(flips)]
        for (label, control, move), end in plan:
            control.scroll_into_view_if_needed()
            before = out.evaluate(js("return outputSignature(arg);"))
            what = move(control, end)
            if what is None:  # already there: nothing to redraw
                continue
            where = f"cell {index}, {label} -> {what}"
            try:
                result = self.page.wait_for_function(
                    js(r"""
                    const [out, before] = arg;
                    const errors = errorTexts(out);
                    const now = outputSignature(out);
                    if (now === before) return false;
                    if (errors.length) return {errors};
                    return out.querySelector('img') ? {drawn: now} : false;
                    """),
                    arg=[out.element_handle(), before],
                    timeout=90_000,
                    polling=100,
                ).json_value()
            except Exception:
                problems.append(f"{where}: the figure did not redraw within 90 s (output unchanged)")
                self.moves.append(f"{where}: NO REDRAW")
                continue
            self.moves.append(f"{where}: {'TRACEBACK' if result.get('errors') else 'redrawn'}")
            for error in result.get("errors", []):
                problems.append(f"{where}: traceback in the widget's output:\n{_tail(error)}")
            self.wait_kernel_idle()
        return problems

    @staticmethod
    def _checkbox_move(control, end):
        box = control.locator("input[type=checkbox]")
        if box.is_checked() == (end == "high"):
            return None
        box.click()
        return "checked" if box.is_checked() else "unchecked"

    @staticmethod
    def _slider_move(control, end):
        """IntSlider/FloatSlider: type the end into the readout; SelectionSlider (or no readout): Home/End keys on
        the handle. The range is read at each move, since it may follow another control."""
        handle = control.locator(".noUi-handle").first
        readout = control.locator(".widget-readout").first
        lo, hi, now = (float(handle.get_attribute(f"aria-value{k}")) for k in ("min", "max", "now"))
        target = lo if end == "low" else hi
        if target == now:
            return None
        text = readout.text_content().strip() if readout.count() and readout.is_visible() else ""
        try:
            numeric = float(text) == now
        except ValueError:
            numeric = False
        if numeric:
            value = str(int(target)) if target.is_integer() and "." not in text else repr(target)
            readout.fill(value)
            readout.press("Enter")
            return f"{value} (typed into the readout; slider range {lo:g}..{hi:g})"
        key = "Home" if end == "low" else "End"
        handle.focus()
        handle.press(key)
        return f"its {'min' if end == 'low' else 'max'}imum (key {key} on the slider)"

    @staticmethod
    def _dropdown_move(control, end):
        select = control.locator("select").first
        labels = select.locator("option").all_text_contents()
        target = 0 if end == "low" else len(labels) - 1
        if target == select.evaluate("s => s.selectedIndex"):
            return None
        select.select_option(index=target)
        return f"{labels[target].strip()!r} ({'first' if end == 'low' else 'last'} of {len(labels)} options)"


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join("    " + line for line in kept[-lines:])

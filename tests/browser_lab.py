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
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = Path(os.environ.get("VGG_EDU_CHROMIUM", "/usr/bin/chromium"))

INSTALL_HELP = """\
The browser test needs Debian's Chromium and playwright's Python package:
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
        return f"{self.url}/lab/tree/{notebook}.ipynb?token={self.token}"

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
            JUPYTER_CONFIG_DIR=str(self.tmp / "config"),     # no user config, kernelspecs or extensions of the user's
            JUPYTER_DATA_DIR=str(self.tmp / "data"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            VGG_EDU_ARTIFACTS=str(self.tmp / "artifacts"),   # checkpoints and metrics stay out of the repository
            PYDEVD_DISABLE_FILE_VALIDATION="1",
            VGG_EDU_BROWSER_TEST=self.marker,
        )
        env.update(self.extra_env)
        self.port = _free_port()
        self.log = open(self.tmp / "jupyterlab.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.root_dir={root}",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", "--ServerApp.allow_remote_access=False",
             f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
             "--ServerApp.open_browser=False"] + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab not up after {self.startup_timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.25)  # polling a server that is starting; nothing to wait on instead

    def api(self, method: str, path: str, timeout: float = 30):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

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

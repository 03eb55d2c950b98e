"""A Colab-like kernel for tests/test_colab_like.py: IPython 7.34, ipykernel 6.17 and ipywidgets 7.7 from .venv-colab
(built by ``make colab-like``), with a stand-in ``google.colab`` loaded at start-up as Colab's kernel loads the real
one. Notebooks run in it cell by cell through jupyter_client, as a frontend would run them; a widget's control is
moved by the comm message a frontend sends when a student drags it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAND_IN = Path(__file__).resolve().parent / "colab_like"  # holds google/colab/__init__.py
COLAB_PYTHON = Path(os.environ.get("VGG_EDU_COLAB_PYTHON") or REPO / ".venv-colab" / "bin" / "python").absolute()
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT_S = 900  # one cell in fast mode; the setup cell installs the package


def missing() -> str | None:
    """Why the Colab-like environment cannot be used here, or None."""
    if not COLAB_PYTHON.exists():
        return f"{COLAB_PYTHON} does not exist: build it with `make colab-like` (or set VGG_EDU_COLAB_PYTHON)"
    return None


def colab_run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the Colab-like Python (outside any kernel) with ``args``; output captured as text."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(COLAB_PYTHON), *args], capture_output=True, text=True, env=env, **kwargs)


def versions(names) -> dict[str, str | None]:
    """The installed version of each distribution in the Colab-like environment (None where absent)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    done = colab_run("-c", code, *names, check=True)
    return json.loads(done.stdout)


def setup_cell(notebook: Path) -> str:
    """The source of a notebook's setup cell (its first code cell)."""
    cells = json.loads(notebook.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def pip_requirement(setup: str, source: str) -> str:
    """The requirement the setup cell's ``%pip install`` line installs, with its ``{variable}`` (the address it
    reads from ``VGG_EDU_INSTALL_FROM``, GitHub by default) set to ``source``."""
    line = next(line for line in setup.splitlines() if "%pip install" in line)
    requirement = re.search(r'"([^"]+)"', line).group(1)
    return re.sub(r"\{\w+\}", source, requirement)


@dataclass
class CellRun:
    """What one cell sent back: every iopub message, and the execute reply's status."""

    messages: list = field(default_factory=list)
    status: str = "ok"

    def text(self) -> str:
        """Everything the cell printed (streams and text/plain of displays), and tracebacks."""
        parts = []
        for m in self.messages:
            c = m["content"]
            if m["msg_type"] == "stream":
                parts.append(c["text"])
            elif m["msg_type"] in ("display_data", "execute_result"):
                parts.append(c["data"].get("text/plain", ""))
            elif m["msg_type"] == "error":
                parts.append("\n".join(c["traceback"]))
        return "".join(parts)

    def errors(self) -> list[str]:
        """Tracebacks: error messages, and stderr that shows one."""
        found = [re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(m["content"]["traceback"])) for m in self.of("error")]
        found += [
            m["content"]["text"]
            for m in self.of("stream")
            if "Traceback (most recent call last)" in m["content"]["text"]
        ]
        return found

    def of(self, kind: str) -> list:
        return [m for m in self.messages if m["msg_type"] == kind]

    def images(self) -> int:
        return sum("image/png" in m["content"]["data"] for m in self.of("display_data"))


class ColabLikeKernel:
    """A kernel of the Colab-like environment in a fresh working folder (as Colab's /content), started with
    ``env`` added to a clean environment (no PYTHONPATH but the stand-in's: the package comes from pip)."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.env, self.cwd = env, cwd
        self.widget_states: dict[str, dict] = {}  # model id -> the state its comm_open carried

    def __enter__(self):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        self._specs = tempfile.TemporaryDirectory()
        spec_dir = Path(self._specs.name) / "colab-like"
        spec_dir.mkdir()
        argv = [str(COLAB_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=google.colab"]
        (spec_dir / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "Colab-like", "language": "python"})
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VGG_EDU_", "PYTHON", "VIRTUAL_ENV", "JPY_"))}
        # One thread: the test is about behaviour, not speed, and two OpenMP threads on a shared 2-core CPU were
        # measured several times slower than one (notebook 08, then 07: 922 s against 137 s, the CPU shared with
        # other jobs).
        quiet = {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "OMP_NUM_THREADS": "1"}
        env |= {"PYTHONPATH": str(STAND_IN)} | quiet | self.env
        self.km = KernelManager(
            kernel_name="colab-like", kernel_spec_manager=KernelSpecManager(kernel_dirs=[spec_dir.parent])
        )
        self.km.start_kernel(cwd=str(self.cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        return self

    def __exit__(self, *exc):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._specs.cleanup()

    def run(self, code: str, timeout: float = CELL_TIMEOUT_S) -> CellRun:
        """Execute ``code`` as a cell; collect what it sent."""
        run = CellRun()

        def hook(msg):
            run.messages.append(msg)
            self._track(msg)

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
        run.status = reply["content"]["status"]
        return run

    def _track(self, msg) -> None:
        """Keep ``widget_states`` as the kernel changes them: comm_open, then comm_msg updates (a limit's new max)."""
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and "state" in content.get("data", {}):
            self.widget_states[content["comm_id"]] = dict(content["data"]["state"])
        elif msg["msg_type"] == "comm_msg" and content["data"].get("method") == "update":
            self.widget_states.setdefault(content["comm_id"], {}).update(content["data"]["state"])

    def controls(self, view_model_id: str) -> list[tuple[str, dict]]:
        """(model id, state) of each control of an ``interactive`` widget, from its view's model id."""
        children = self.widget_states[view_model_id]["children"]
        ids = [c.removeprefix("IPY_MODEL_") for c in children]
        return [(i, self.widget_states[i]) for i in ids if self.widget_states[i]["_model_name"] != "OutputModel"]

    def move(self, model_id: str, state: dict, timeout: float = 300) -> CellRun:
        """Send what a frontend sends when a control is moved (a comm ``update``); collect what the kernel sent back
        for it until it is idle again (the redraw: the widget's Output captures the outputs of that message)."""
        content = {"comm_id": model_id, "data": {"method": "update", "state": state, "buffer_paths": []}}
        msg = self.kc.session.msg("comm_msg", content)
        self.kc.shell_channel.send(msg)
        run = CellRun()
        while True:
            reply = self.kc.get_iopub_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return run
            run.messages.append(reply)
            self._track(reply)


def widget_displays(run: CellRun) -> list[dict]:
    """The display data of each widget a cell displayed (its model id under ``WIDGET_VIEW``)."""
    return [m["content"]["data"] for m in run.of("display_data") if WIDGET_VIEW in m["content"]["data"]]


def far_end(state: dict) -> dict | None:
    """The state update that moves a control to the end its default is not at (None for other widgets)."""
    kind = state["_model_name"]
    if kind in ("IntSliderModel", "FloatSliderModel"):
        return {"value": state["min"] if state["value"] == state["max"] else state["max"]}
    if kind == "DropdownModel":
        last = len(state["_options_labels"]) - 1
        return {"index": 0 if state["index"] == last else last}
    if kind == "CheckboxModel":
        return {"value": not state["value"]}
    return None


if __name__ == "__main__":  # python tests/colab_kernel.py: is the Colab-like environment there?
    print(missing() or f"ok: {COLAB_PYTHON}")
    sys.exit(1 if missing() else 0)

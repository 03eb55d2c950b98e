"""Google Colab: what the notebooks' setup cell says after it has installed the package there.

The setup cell (the first code cell of every notebook) installs only what Colab lacks: this package, without its
``notebooks`` extra, and what it needs that Colab does not ship (torchinfo). Colab's own kernel packages
(``PROTECTED``) stay as they are: Colab warns that upgrading them can make its runtime crash. Then it calls
``report()``, which prints where the notebook will compute and, on a runtime without a GPU, how to get one.
"""

from __future__ import annotations

import importlib.metadata
import sys

from . import runtime

PROTECTED = (
    "ipykernel",
    "ipython",
    "ipywidgets",
    "jupyter-client",
    "jupyter-core",
    "jupyter-server",
    "notebook",
    "prompt-toolkit",
    "pyzmq",
    "tornado",
    "traitlets",
    "widgetsnbextension",
)
"""Colab's kernel-side packages (as pip names them): the setup must change none of them."""

# Modules a running kernel has already loaded, with the distribution pip would have replaced under them.
_LOADED = {
    "IPython": "ipython",
    "ipykernel": "ipykernel",
    "ipywidgets": "ipywidgets",
    "jupyter_client": "jupyter-client",
    "tornado": "tornado",
    "zmq": "pyzmq",
    "traitlets": "traitlets",
    "prompt_toolkit": "prompt-toolkit",
    "numpy": "numpy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "torch": "torch",
    "torchvision": "torchvision",
}

GPU_HOWTO = (
    "This runtime has no GPU: the notebooks run on its CPU and skip what needs one (notebook 04's run of the book's "
    "recipe, hours on a CPU). For a GPU: Runtime > Change "
    "runtime type > Hardware accelerator: a GPU (T4 on the free tier) > Save. Colab then starts a new runtime, "
    "without what this one installed or wrote: run the notebook again from the top."
)


def stale_modules() -> list[str]:
    """Packages this kernel had already imported whose files on disk now hold another version (a pip install
    replaced them): these need a restart (Runtime > Restart session) to take effect. Empty after the course's
    setup, which changes none of them."""
    stale = []
    for module, dist in _LOADED.items():
        loaded = _version_of(sys.modules.get(module))
        if loaded is None:
            continue
        try:
            on_disk = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        if _public(loaded) != _public(on_disk):
            stale.append(f"{dist} {loaded} (now {on_disk} on disk)")
    return stale


def _version_of(module) -> str | None:
    """A loaded module's version string (tornado names it ``version``), or None."""
    version = getattr(module, "__version__", None) or getattr(module, "version", None)
    return str(version) if isinstance(version, str) else None


def _public(version: str) -> str:
    """``2.14.1+cu130`` -> ``2.14.1``: torch's ``__version__`` carries a local tag its metadata may not."""
    return version.split("+")[0]


def report() -> str:
    """Print (and return) where this runtime computes; on a CPU, how to switch to a GPU runtime; and whether the
    install needs a restart of the session (it should not)."""
    device = runtime.best_device()
    lines = [f"vgg-edu is installed; computing on {runtime.device_name(device)}."]
    if device.type == "cpu":
        lines.append(GPU_HOWTO)
    stale = stale_modules()
    if stale:
        lines.append(
            "pip replaced packages this kernel had already loaded: " + ", ".join(stale) + ". Restart the session "
            "(Runtime > Restart session), then run the notebook from the top."
        )
    else:
        lines.append("No restart needed: nothing this kernel had loaded was changed (pip's note about one is general).")
    text = "\n".join(lines)
    print(text)
    return text

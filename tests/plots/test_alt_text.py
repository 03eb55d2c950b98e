"""Every figure a notebook shows carries its titles and axis labels as alt text (plots.alt_text)."""

import matplotlib.pyplot as plt
import nbformat
import pytest
from nbclient import NotebookClient

from vgg_edu.plots import alt_text

pytestmark = pytest.mark.usefixtures("close_figures")


def test_a_figure_is_described_by_its_own_words():
    fig, (a, b) = plt.subplots(1, 2)
    fig.suptitle("VGG-16, stage by stage")
    a.set(title="receptive field", xlabel="stage", ylabel="side (px)")
    b.set(title="jump")
    assert alt_text.describe(fig) == (
        "VGG-16, stage by stage. Panel 1: receptive field (x: stage; y: side (px)). Panel 2: jump"
    )
    assert alt_text.describe(plt.figure()) == "A figure without titles or axis labels."


def test_outside_a_kernel_nothing_is_registered():
    assert alt_text.register() is False


def _figure_outputs(first_lines: str) -> list[dict]:
    """The image outputs of one executed cell: ``first_lines``, then a figure with a title and an x label."""
    nb = nbformat.v4.new_notebook()
    source = (
        f"import matplotlib.pyplot as plt\n{first_lines}\nfig, ax = plt.subplots()\nax.set(title='loss', xlabel='step')"
    )
    nb.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]


def test_importing_plots_patches_nothing():
    """Only an explicit call (a notebook's ``notebook.start``) gives figures alt text, never an import."""
    images = _figure_outputs("from vgg_edu import plots")
    assert len(images) == 1 and "alt" not in images[0].get("metadata", {}).get("image/png", {})


def test_a_notebooks_figure_output_carries_its_alt_text():
    images = _figure_outputs("from vgg_edu import notebook\nnotebook.start()")
    assert len(images) == 1 and images[0]["metadata"]["image/png"]["alt"] == "loss (x: step)"

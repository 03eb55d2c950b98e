"""Notebook 00's figure: VGG-16's stack with the paper's names."""

import pytest
from matplotlib.patches import Rectangle

from vgg_edu import analysis, models, plots

from conftest import on_meta

pytestmark = pytest.mark.usefixtures("close_figures")


def test_vgg16_stack_draws_every_conv_pool_and_fc_with_the_papers_names():
    table = analysis.layer_table(on_meta(models.vgg16))
    ax = plots.start.plot_vgg_stack(table).axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 13 + 5 + 3
    assert [b.get_height() for b in boxes[:3]] == [224, 224, 112]  # conv1_1, conv1_2, pool1: H of the output
    assert [b.get_height() for b in boxes[-3:]] == [1, 1, 1]  # fc6-fc8: a vector has no H, never drawn as if
    texts = {t.get_text() for t in ax.texts}
    assert {"conv1_1", "conv5_3", "pool5", "fc6", "fc8", "64x224x224", "512x7x7", "4096"} <= texts  # C x H x W
    assert not any(t.endswith("x64") or t.endswith("x512") for t in texts)  # one order only, PyTorch's

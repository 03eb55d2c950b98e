"""Notebook 05's figures: feature maps, top patches, filters, channel statistics, attributions on one scale."""

import numpy as np
import pytest
import torch

from vgg_edu import models, plots, probe

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def probed():
    torch.manual_seed(0)
    model = models.init_weights(
        models.VGG("A", in_channels=1, num_classes=10, width_divisor=16, hidden=64), "kaiming_fan_in"
    ).eval()
    return model, torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def test_feature_map_figures(probed):
    model, x = probed
    assert len(plots.feature_maps.plot_feature_maps(model, x[0], "relu2_1", channels=6).axes) == 6
    assert len(plots.feature_maps.plot_stages(model, x[0], channels=4).axes) == 5 * 5  # VGG-11: five stages
    assert len(plots.feature_maps.plot_channel(model, x[0], "relu3_1", 2).axes) == 3 + 1  # and the map's colourbar
    assert len(plots.feature_maps.plot_top_k(model, x, "relu3_1", 2, k=3).axes) == 6
    filters = plots.feature_maps.plot_filters(model)
    assert len(filters.axes) == 4 + 1  # 64 / 16 filters in conv1_1, one colourbar (one input channel)
    assert filters.axes[-1].get_ylabel() == "weight"
    stats_fig = plots.feature_maps.plot_channel_stats(probe.channel_stats(model, x), title="VGG-11/16: 4 images")
    stats_axes = stats_fig.axes
    assert len(stats_axes) == 2 and all(ax.get_ylabel() and ax.get_xlabel() for ax in stats_axes)
    assert stats_fig.get_suptitle() == "VGG-11/16: 4 images"
    maps = {"Grad-CAM": probe.grad_cam(model, x[:2]), "saliency": probe.saliency(model, x[:2])}
    assert len(plots.feature_maps.plot_attributions(x[:2], maps).axes) == 6 + 2  # 2 x 3 panels, a colourbar per map
    assert len(plots.feature_maps.plot_embedding(np.random.rand(4, 2), [0, 1, 1, 2], ["a", "b", "c"]).axes) == 1
    with pytest.raises(ValueError, match="no spatial maps"):
        plots.feature_maps.plot_feature_maps(model, x[0], "fc6")
    with pytest.raises(ValueError, match=r"relu1_1 has 4 channels \(0 to 3\); got channel 4"):
        plots.feature_maps.plot_channel(model, x[0], "relu1_1", 4)  # never wraps round to channel 0
    assert probe.layer_widths(model, x)["relu1_1"] == 4 and probe.layer_widths(model, x)["relu5_2"] == 32


def test_attribution_colourbars_say_what_they_measure_and_share_a_scale(probed):
    model, x = probed
    black = probe.pixel_input(model, 0)
    grey = probe.occlusion(model, x[:2], window=8, stride=8)
    dark = probe.occlusion(model, x[:2], window=8, stride=8, baseline=black)
    maps = {"occlusion, grey": grey, "occlusion, black": dark, "Grad-CAM": probe.grad_cam(model, x[:2])}
    fig = plots.feature_maps.plot_attributions(x[:2], maps, units={"Grad-CAM": "a.u."})
    bars = fig.axes[-3:]
    assert [b.get_xlabel() for b in bars] == ["drop in P(c | x)", "drop in P(c | x)", "a.u."]
    panels = fig.axes[:-3]  # row by row: image, then one panel per map
    overlays = [panels[k].images[-1] for k in (1, 2)]
    top = float(torch.cat([grey.flatten(), dark.flatten()]).abs().max())
    assert all(im.get_clim() == pytest.approx((-top, top)) for im in overlays)  # one symmetric scale for both
    cams = [panels[k].images[-1].get_array() for k in (3, 7)]  # Grad-CAM: each image's map divided by its max
    assert [float(c.max()) for c in cams] == pytest.approx([1.0, 1.0])

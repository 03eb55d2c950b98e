"""``vgg_edu.probe.top_patches``: the top-k images of a channel on a constructed example, and the receptive box
against where the gradient of a unit reaches."""

import pytest
import torch
from torch import nn

from vgg_edu import analysis
from vgg_edu import probe as P


def test_top_k_on_a_constructed_example():
    # A 1x1 conv with weights 1 and 2: channel c's map is (c + 1) * image. Each image is dark but for one pixel.
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight[:, 0, 0, 0] = torch.tensor([1.0, 2.0])
    net = nn.Sequential(conv)
    values = torch.tensor([0.3, 0.9, 0.1, 0.7, 0.5])
    spots = [(0, 0), (3, 5), (7, 7), (2, 1), (6, 4)]
    x = torch.zeros(5, 1, 8, 8)
    for n, (r, c) in enumerate(spots):
        x[n, 0, r, c] = values[n]
    best = P.top_k(net, x, "0", channel=1, k=3, batch_size=2)
    assert best.indices.tolist() == [1, 3, 4]
    assert torch.allclose(best.values, 2 * values[[1, 3, 4]])
    assert best.positions.tolist() == [[3, 5], [2, 1], [6, 4]]
    assert best.boxes == [(3, 5, 4, 6), (2, 1, 3, 2), (6, 4, 7, 5)]  # a 1x1 conv sees one pixel
    with pytest.raises(ValueError, match="2 channels"):
        P.top_k(net, x, "0", channel=2)


def test_receptive_box_is_where_the_gradient_reaches():
    # All-positive weights, average pooling and a positive input: every pixel in the receptive field gets gradient.
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, padding=1))
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.zeros_(m.bias)
    table = analysis.layer_table(net, (1, 16, 16))
    for r, c in [(0, 0), (3, 5), (7, 7)]:
        x = torch.ones(1, 1, 16, 16, requires_grad=True)
        net(x)[0, 0, r, c].backward()
        rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
        expected = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
        assert P.receptive_box(net, "3", r, c, (1, 16, 16), table=table) == expected

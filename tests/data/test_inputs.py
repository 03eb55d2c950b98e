"""The input contract: InputSpec, to_input's normalisation, resizing and flips, batches in a seeded order."""

import pytest
import torch

from vgg_edu.data.inputs import InputSpec, batches, to_input


def test_input_spec_is_the_models_contract():
    spec = InputSpec(size=32)
    images = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    assert torch.equal(spec(images), to_input(images, 32))
    assert InputSpec.from_dict(spec.as_dict()) == spec
    rgb = InputSpec(size=8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), classes=("a", "b"))
    x = rgb(torch.full((1, 3, 8, 8), 255, dtype=torch.uint8))
    assert x.shape == (1, 3, 8, 8) and torch.allclose(x, torch.full_like(x, 2.0))


def test_to_input_normalises_resizes_and_flips():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)  # (1, 2, 2)
    x = to_input(images)
    expected = (torch.tensor([[0, 255], [51, 102]]) / 255 - 0.2860) / 0.3530
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert torch.allclose(x[0, 0], expected)
    flipped = to_input(images, flip=torch.tensor([True]))
    assert torch.allclose(flipped[0, 0], expected.flip(-1))
    big = to_input(torch.full((3, 1, 28, 28), 128, dtype=torch.uint8), resize=64)
    assert big.shape == (3, 1, 64, 64)
    assert torch.allclose(big, torch.full_like(big, (128 / 255 - 0.2860) / 0.3530))  # a constant stays constant
    for bad in (torch.zeros(2, 28, 28), torch.zeros(2, 28, 28, dtype=torch.float64), [[0, 1]]):
        with pytest.raises(TypeError, match="uint8"):
            to_input(bad)


def test_batches_cover_every_example_once_in_a_seeded_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1).expand(10, 28, 28).contiguous()
    labels = torch.arange(10)
    out = list(batches(images, labels, 4, shuffle=True, seed=3))
    assert [len(y) for _, y in out] == [4, 4, 2]
    order = torch.cat([y for _, y in out])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    # x and y stay paired: each image's pixel value is its label
    for x, y in out:
        assert torch.allclose(x[:, 0, 0, 0], (y.float() / 255 - 0.2860) / 0.3530)
    again = torch.cat([y for _, y in batches(images, labels, 4, shuffle=True, seed=3)])
    other = torch.cat([y for _, y in batches(images, labels, 4, shuffle=True, seed=4)])
    assert torch.equal(order, again) and not torch.equal(order, other)
    resumed = torch.cat([y for _, y in batches(images, labels, 4, shuffle=True, seed=3, start=1)])
    assert torch.equal(resumed, order[4:])


def test_batches_flip_about_half_repeatably():
    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    images[:, :, 0] = 255  # a bright left column
    labels = torch.zeros(200, dtype=torch.long)
    x1 = torch.cat([x for x, _ in batches(images, labels, 64, flip=True, seed=1)])
    x2 = torch.cat([x for x, _ in batches(images, labels, 64, flip=True, seed=1)])
    flipped = x1[:, 0, 0, -1] > 0  # the bright column moved to the right
    assert torch.equal(x1, x2)
    assert 60 < int(flipped.sum()) < 140
    assert torch.equal(flipped, ~(x1[:, 0, 0, 0] > 0))

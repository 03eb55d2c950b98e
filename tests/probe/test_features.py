"""``vgg_edu.probe.features``: the penultimate features against the classifier run by hand, a 2-D embedding that
keeps two clusters apart, and the neighbours' agreement against scikit-learn's nearest neighbours."""

import numpy as np
import pytest
import torch

from vgg_edu import probe as P


def test_penultimate_features_are_the_last_linear_input(model, x):
    f = P.penultimate(model, x, batch_size=3)
    with torch.no_grad():
        expected = model.classifier[:-1](torch.flatten(model.avgpool(model.features(x)), 1))
    assert f.shape == (4, 64) and torch.allclose(f, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_separates_two_clusters(method):
    g = torch.Generator().manual_seed(0)
    feats = torch.cat([torch.randn(30, 80, generator=g), torch.randn(30, 80, generator=g) + 6])
    xy = P.embed_2d(feats, method)
    assert xy.shape == (60, 2)
    a, b = xy[:30], xy[30:]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    assert gap > 2 * max(a.std(0).max(), b.std(0).max())
    with pytest.raises(ValueError, match="pca"):
        P.embed_2d(feats, "umap")


def test_neighbour_agreement_against_scikit_learns_nearest_neighbours():
    """Per class, the share of each image's k nearest neighbours (itself left out) with its label, counted
    independently with scikit-learn; a class apart scores 1, two classes drawn from one cloud about a half."""
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(0)
    feats = torch.cat([torch.randn(30, 5, generator=g) + 20, torch.randn(60, 5, generator=g)])  # class 0 far away
    labels = torch.tensor([0] * 30 + [1, 2] * 30)  # classes 1 and 2 mixed in one cloud
    got = P.neighbour_agreement(feats, labels, k=5)
    index = NearestNeighbors(n_neighbors=6).fit(feats.numpy()).kneighbors(feats.numpy(), return_distance=False)
    same = (labels.numpy()[index[:, 1:]] == labels.numpy()[:, None]).mean(1)  # column 0 is the image itself
    expected = [same[labels.numpy() == c].mean() for c in range(3)]
    assert np.allclose(got.numpy(), expected, atol=1e-6)
    assert got[0] == 1 and 0.2 < got[1] < 0.8 and 0.2 < got[2] < 0.8

"""The two realism measures: distance to the nearest real image, and the judge classifier."""

import torch

from aebook.data import shuffle_pixels
from aebook.models import ConvAutoencoder, receptive_fields
from aebook.realism import fit_judge, nearest_distance
from conftest import make_set


def test_nearest_distance_is_zero_for_members_and_rms_otherwise():
    ref = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(nearest_distance(ref[:7], ref), torch.zeros(7), atol=1e-3)
    shifted = ref[:3] + 0.1  # every pixel 0.1 away from its source; other images are much further
    assert torch.allclose(nearest_distance(shifted, ref, chunk=2), torch.full((3,), 0.1), atol=1e-4)


def test_judge_learns_real_classes_and_is_unsure_of_blends():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(400, 1, 28, 28)
    y = torch.arange(400) % 2
    x[y == 0, :, :, :14] = 1.0   # class 0: left half bright
    x[y == 1, :, :, 14:] = 1.0   # class 1: right half bright
    x += torch.rand(x.shape, generator=g) * 0.2
    judge = fit_judge(x[:300], y[:300], x[300:], y[300:])
    assert judge.test_accuracy == 1.0
    assert judge.probabilities(x[:5]).shape == (5, 2)
    blend = (x[0:1] + x[1:2]) / 2
    assert judge.confidence(blend)[0] < judge.confidence(x[0:1])[0]


def test_the_judges_probabilities_are_scikit_learns():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from aebook.realism import Judge, _fit_weights

    g = torch.Generator().manual_seed(1)
    for n_classes in (2, 4):  # scikit-learn keeps one row of weights for two classes, one per class otherwise
        y = torch.arange(240) % n_classes
        x = torch.rand(240, 1, 6, 6, generator=g) + 0.3 * y.view(-1, 1, 1, 1) * torch.rand(1, 1, 6, 6, generator=g)
        fitted = _fit_weights(x, y, 200)
        ours = Judge(fitted["coef"].numpy(), fitted["intercept"].numpy(), fitted["classes"].numpy(), 0.0)
        theirs = LogisticRegression(C=0.05, max_iter=200).fit(x.flatten(1).double().numpy(), y.numpy())
        assert np.allclose(ours.probabilities(x), theirs.predict_proba(x.flatten(1).double().numpy()), atol=1e-6)
        assert np.array_equal(ours.predict(x), theirs.predict(x.flatten(1).double().numpy()))


def test_shuffle_pixels_is_one_fixed_permutation():
    from aebook.data import FashionMNISTData
    data = FashionMNISTData(make_set(20, 0), make_set(10, 1), make_set(10, 2), "standin")
    moved = shuffle_pixels(data, seed=0)
    assert moved.train.x.shape == data.train.x.shape
    assert torch.equal(moved.train.x.flatten(1).sort(1).values, data.train.x.flatten(1).sort(1).values)
    assert not torch.equal(moved.train.x, data.train.x)
    assert moved.train.fingerprint != data.train.fingerprint  # the cache tells them apart
    # the same permutation for every image and every split
    order = torch.randperm(784, generator=torch.Generator().manual_seed(0))
    assert torch.equal(moved.test.x.flatten(1), data.test.x.flatten(1)[:, order])


def test_receptive_fields_of_the_conv_encoder():
    assert receptive_fields(ConvAutoencoder()) == [3, 7]

"""Bad arguments to public helpers: a ValueError that names the bad value and what is allowed."""

import pytest
import torch

from aebook.data import load_fashion_mnist
from aebook.latent import principal_angles
from aebook.models import ConvAutoencoder, LinearAutoencoder
from aebook.train import TrainConfig


@pytest.mark.parametrize("model", [LinearAutoencoder(8), ConvAutoencoder(8)], ids=["fc", "conv"])
@pytest.mark.parametrize("shape", [(4, 3, 28, 28), (4, 1, 32, 32), (4, 784), (1, 28, 28)])
def test_wrong_image_shape(model, shape):
    with pytest.raises(ValueError) as err:
        model(torch.rand(*shape))
    assert str(shape) in str(err.value) and "(batch, 1, 28, 28)" in str(err.value)


@pytest.mark.parametrize("kwargs, bad", [
    (dict(steps=0), "steps"), (dict(steps=2.5), "steps"), (dict(eval_every=0), "eval_every"), (dict(batch_size=-1), "batch_size"),
    (dict(lr=float("nan")), "lr"), (dict(lr_plateau_factor=1.5), "lr_plateau_factor"),
])
def test_impossible_training_configuration(kwargs, bad):
    with pytest.raises(ValueError, match=f"TrainConfig.{bad} must be"):
        TrainConfig(**kwargs)


def test_unknown_data_source_lists_the_choices(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data source 'kaggle'.*'fashion-mnist', 'standin'"):
        load_fashion_mnist(source="kaggle", root=tmp_path)


def test_mismatched_subspaces():
    with pytest.raises(ValueError, match=r"\(784, 3\) and \(10, 3\)"):
        principal_angles(torch.rand(784, 3), torch.rand(10, 3))

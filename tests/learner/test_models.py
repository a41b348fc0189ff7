import pytest
import torch

from aebook.models import ConvAutoencoder, LinearAutoencoder, count_parameters


def linear_params(widths):
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


@pytest.mark.parametrize("latent_dim", [2, 32])
def test_fc_shapes_and_parameter_count(latent_dim):
    model = LinearAutoencoder(latent_dim=latent_dim)
    x = torch.rand(5, 1, 28, 28)
    x_hat, z = model(x)
    assert x_hat.shape == (5, 1, 28, 28)
    assert z.shape == (5, latent_dim)
    widths = [784, 256, 64, latent_dim]
    assert count_parameters(model) == linear_params(widths) + linear_params(widths[::-1])


def test_fc_spec_architecture_exactly():
    model = LinearAutoencoder(latent_dim=32)
    assert count_parameters(model) == 439_728
    sizes = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [256, 64, 32, 64, 256, 784]
    assert isinstance(model.decoder[-1], torch.nn.Sigmoid)
    x_hat, _ = model(torch.randn(3, 1, 28, 28) * 10)
    assert x_hat.min() >= 0 and x_hat.max() <= 1


def test_linear_variant_is_affine():
    model = LinearAutoencoder(latent_dim=8, hidden=(), nonlinear=False)
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.Sigmoid)) for m in model.modules())
    a, b = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    # affine: f(a) + f(b) - f(0) == f(a + b)
    zero = torch.zeros(2, 1, 28, 28)
    lhs = model(a)[0] + model(b)[0] - model(zero)[0]
    assert torch.allclose(lhs, model(a + b)[0], atol=1e-5)


def test_conv_shapes_and_parameter_count():
    model = ConvAutoencoder(latent_dim=32)
    x = torch.rand(4, 1, 28, 28)
    x_hat, z = model(x)
    assert x_hat.shape == x.shape and z.shape == (4, 32)
    conv = (1 * 16 * 9 + 16) + 2 * 16 + (16 * 32 * 9 + 32) + 2 * 32 + (1568 * 32 + 32)
    deconv = (32 * 1568 + 1568) + (32 * 16 * 9 + 16) + 2 * 16 + (16 * 1 * 9 + 1)
    assert count_parameters(model) == conv + deconv
    feature = model.encoder[:3](x)
    assert feature.shape == (4, 16, 14, 14)
    assert model.encoder[:6](x).shape == (4, 32, 7, 7)


@pytest.mark.parametrize("model", [LinearAutoencoder(16), ConvAutoencoder(16)])
def test_encode_decode_agree_with_forward(model):
    model.eval()
    x = torch.rand(6, 1, 28, 28)
    x_hat, z = model(x)
    assert torch.allclose(model.encode(x), z)
    assert torch.allclose(model.decode(z), x_hat)


def test_hparams_record_sizes():
    assert LinearAutoencoder(8).hparams["latent_dim"] == 8
    assert ConvAutoencoder(4, channels=(8, 16)).hparams == {"latent_dim": 4, "channels": (8, 16)}

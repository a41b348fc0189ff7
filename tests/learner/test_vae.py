"""The VAE: model shapes, the ELBO's terms, reparameterisation, free bits, annealing, training."""

import math

import pytest
import torch

from aebook import losses as Lo
from aebook.latent import active_units, encode_all, encode_distribution_all
from aebook.models import ConvVAE
from aebook.train import ELBOObjective, TrainConfig, fit


def test_conv_vae_shapes_and_interfaces():
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=5)
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (3, 5)
    assert vae.decode(mu).shape == (3, 1, 28, 28)
    x_hat, mu2, logvar2 = vae(x)
    assert x_hat.shape == x.shape and mu2.shape == (3, 5)
    assert float(x_hat.detach().min()) >= 0 and float(x_hat.detach().max()) <= 1
    vae.eval()  # in eval mode the code is the mean: deterministic
    assert torch.equal(vae(x)[0], vae(x)[0])
    vae.train()
    assert not torch.equal(vae(x)[0], vae(x)[0])  # in training z is sampled
    with pytest.raises(ValueError, match="ConvVAE expects"):
        vae.encode(torch.rand(3, 784))


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zero = torch.zeros(4, 3)
    assert float(Lo.kl_divergence(zero, zero)) == 0.0
    assert torch.equal(Lo.kl_per_dim(zero, zero), torch.zeros(3))
    assert float(Lo.kl_divergence(torch.full((4, 3), 0.5), zero)) == pytest.approx(3 * 0.125)
    assert float(Lo.kl_divergence(zero, torch.full((4, 3), -1.0))) > 0
    assert float(Lo.kl_divergence(zero, torch.full((4, 3), 1.0))) > 0
    # closed form against a Monte Carlo estimate for one 1-D Gaussian
    mu, logvar = torch.tensor([[0.7]]), torch.tensor([[-0.4]])
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    s = q.sample((200_000,))
    mc = (q.log_prob(s) - torch.distributions.Normal(0.0, 1.0).log_prob(s)).mean()
    assert float(Lo.kl_divergence(mu, logvar)) == pytest.approx(float(mc), abs=0.01)


def test_reduction_is_sum_over_pixels_mean_over_batch():
    x = torch.rand(6, 1, 28, 28)
    x_hat = torch.full_like(x, 0.5)
    one = Lo.bernoulli_recon_loss(x_hat[:1], x[:1])
    per_image = torch.nn.functional.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1)
    assert float(Lo.bernoulli_recon_loss(x_hat, x)) == pytest.approx(float(per_image.mean()), rel=1e-5)
    assert float(one) == pytest.approx(float(per_image[0]), rel=1e-5)
    terms = Lo.negative_elbo(x_hat, x, torch.ones(6, 4), torch.zeros(6, 4), beta=2.0)
    assert float(terms["kl"]) == pytest.approx(4 * 0.5)
    assert float(terms["loss"]) == pytest.approx(float(terms["recon_loss"] + 2.0 * terms["kl"]), rel=1e-6)


def test_reparameterisation_has_the_right_mean_and_variance_and_passes_gradients():
    mu = torch.tensor([1.5, -2.0], requires_grad=True)
    logvar = torch.tensor([math.log(0.25), math.log(4.0)], requires_grad=True)
    g = torch.Generator().manual_seed(0)
    z = ConvVAE.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2), generator=g)
    assert torch.allclose(z.mean(0), mu.detach(), atol=0.02)
    assert torch.allclose(z.var(0), torch.tensor([0.25, 4.0]), rtol=0.03)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and float(mu.grad.abs().sum()) > 0


def test_free_bits_floor_each_dimension():
    mu = torch.tensor([[0.1, 2.0, 0.0]])
    logvar = torch.zeros(1, 3)
    per_dim = Lo.kl_per_dim(mu, logvar)  # 0.005, 2.0, 0.0
    floored = Lo.free_bits_kl(mu, logvar, floor=0.5)
    assert float(floored) == pytest.approx(0.5 + 2.0 + 0.5)
    assert float(Lo.free_bits_kl(mu, logvar, floor=0.0)) == pytest.approx(float(per_dim.sum()))
    # below the floor the penalty has no gradient: nothing pushes that dimension to the prior
    mu.requires_grad_(True)
    Lo.free_bits_kl(mu, logvar, floor=0.5).backward()
    assert float(mu.grad[0, 0]) == 0.0 and float(mu.grad[0, 1]) > 0


def test_kl_annealing_schedule():
    assert [Lo.kl_weight(s, 4.0, warmup_steps=4) for s in (0, 1, 2, 3, 4, 5, 9)] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    assert Lo.kl_weight(1, 0.5) == 0.5


def test_elbo_objective_uses_the_schedule_in_training_and_the_target_in_validation():
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=3)
    x = torch.rand(8, 1, 28, 28)
    objective = ELBOObjective(beta=4.0, warmup_steps=4)
    objective.set_step(1)
    vae.eval()
    with torch.no_grad():
        target = objective(vae, x)
    assert float(target["loss"]) == pytest.approx(float(target["recon_loss"] + 4.0 * target["kl"]), rel=1e-5)
    vae.train()
    torch.manual_seed(1)
    with torch.no_grad():
        early = objective(vae, x)
    assert float(early["loss"]) == pytest.approx(float(early["recon_loss"] + 1.0 * early["kl"]), rel=1e-5)


def test_fit_logs_recon_and_kl_and_tells_the_objective_the_update():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    seen = []

    class Spy(ELBOObjective):
        def set_step(self, step):
            seen.append(step)
            super().set_step(step)
    history = fit(ConvVAE(latent_dim=2), x[:48], x[48:], TrainConfig(steps=9, batch_size=16, eval_every=3),
                  Spy(), device=torch.device("cpu"))
    assert seen == list(range(9))
    assert len(history.terms["recon_loss"]) == len(history.terms["kl"]) == 3
    assert all(k >= 0 for k in history.terms["kl"])


def test_validation_scores_a_sampled_code_the_same_way_every_time():
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=3).eval()
    x = torch.rand(8, 1, 28, 28)
    objective = ELBOObjective()
    with torch.no_grad():
        first, second = objective(vae, x), objective(vae, x)
        mu, logvar = vae.encode(x)
        at_mean = Lo.negative_elbo(vae.decode(mu), x, mu, logvar)
    assert float(first["loss"]) == float(second["loss"])  # fixed draws: comparable between validations
    assert float(first["loss"]) != pytest.approx(float(at_mean["loss"]), rel=1e-6)  # not the decoder at mu


def test_vae_codes_are_means_and_active_units():
    torch.manual_seed(0)
    vae = ConvVAE(latent_dim=4).eval()
    x = torch.rand(10, 1, 28, 28)
    mu, logvar = encode_distribution_all(vae, x)
    assert torch.equal(encode_all(vae, x), mu) and logvar.shape == (10, 4)
    codes = torch.stack([torch.linspace(-1, 1, 50), torch.zeros(50), torch.linspace(0, 0.01, 50),
                         torch.randn(50)], dim=1)
    assert active_units(codes) == 2


def test_the_elbo_is_float32_for_a_model_that_ran_in_bfloat16():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8)
    x_hat, mu, logvar = torch.rand(4, 1, 8, 8), torch.randn(4, 3), torch.randn(4, 3)
    low = [t.bfloat16() for t in (x_hat, mu, logvar)]
    terms = Lo.negative_elbo(low[0], x, low[1], low[2])
    exact = Lo.negative_elbo(*[low[0].float(), x, low[1].float(), low[2].float()])
    for name in ("loss", "recon_loss", "kl"):
        assert terms[name].dtype == torch.float32
        assert torch.equal(terms[name], exact[name])  # the same arithmetic as float32 on those values


def test_double_precision_stays_double():
    mu, logvar = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    terms = Lo.negative_elbo(torch.rand(4, 1, 8, 8, dtype=torch.float64), x, mu, logvar)
    assert all(t.dtype == torch.float64 for t in terms.values())

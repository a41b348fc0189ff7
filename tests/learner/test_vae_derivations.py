"""Chapter 4's derivations and worked examples, checked against the package's code.

The chapter derives the ELBO identity, the closed-form Gaussian KL, the Gaussian and Bernoulli
reconstruction losses and the continuous Bernoulli's constant, quotes a worked example (a
dimension with sigma = 0.5 pays KL and carries nothing) and shows the package's code as
listings. These tests hold each of those statements to the code that computes them.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest
import torch
from torch.distributions import ContinuousBernoulli, Normal, kl_divergence

from aebook import losses, models, playground, train
from aebook.report import listing

CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "04-variational.qmd"


def test_kl_per_dim_is_the_closed_form_gaussian_kl():
    torch.manual_seed(0)
    mu, logvar = torch.randn(64, 5), torch.randn(64, 5)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).mean(dim=0)
    assert torch.allclose(losses.kl_per_dim(mu, logvar), expected, atol=1e-5)
    assert torch.allclose(losses.kl_divergence(mu, logvar), expected.sum(), atol=1e-4)


def test_the_worked_example_a_constant_spread_pays_kl():
    """sigma = 0.5 and mu = 0 for every image: the chapter's 0.32 nats, the same whatever x is."""
    logvar = torch.full((10, 1), math.log(0.25))
    kl = float(losses.kl_per_dim(torch.zeros(10, 1), logvar))
    assert kl == pytest.approx(0.5 * (0.5 ** 2 - 1 - math.log(0.5 ** 2)), abs=1e-6)
    assert f"{kl:.2f}" == "0.32"


def test_elbo_plus_kl_to_the_posterior_is_log_evidence():
    """log p(x) = ELBO + KL(q || p(z|x)) exactly, in a model where the posterior is known:
    z ~ N(0, 1), x | z ~ N(a z, s^2)."""
    a, s, x = 1.7, 0.6, 0.9
    evidence = Normal(0.0, math.sqrt(a * a + s * s)).log_prob(torch.tensor(x))
    post_var = 1 / (1 + a * a / (s * s))
    posterior = Normal(post_var * a * x / (s * s), math.sqrt(post_var))
    for m, v in [(0.0, 1.0), (0.3, 0.2), (-1.0, 2.5)]:
        q = Normal(torch.tensor(m), torch.tensor(math.sqrt(v)))
        expected_log_lik = -0.5 * math.log(2 * math.pi * s * s) - ((x - a * m) ** 2 + a * a * v) / (2 * s * s)
        elbo = expected_log_lik - float(kl_divergence(q, Normal(0.0, 1.0)))
        gap = float(kl_divergence(q, posterior))
        assert elbo + gap == pytest.approx(float(evidence), abs=1e-5)
        assert elbo <= float(evidence) + 1e-9


def test_squared_error_is_a_gaussian_decoder_with_fixed_variance():
    torch.manual_seed(1)
    x, x_hat, sigma_x = torch.rand(784), torch.rand(784), 0.1
    nll = -Normal(x_hat, sigma_x).log_prob(x).sum()
    scaled = ((x - x_hat) ** 2).sum() / (2 * sigma_x ** 2) + 784 / 2 * math.log(2 * math.pi * sigma_x ** 2)
    assert float(nll) == pytest.approx(float(scaled), rel=1e-5)


def test_cross_entropy_on_grey_levels_is_smallest_at_x_and_not_zero_there():
    x = torch.tensor([[0.0, 0.3, 0.5, 0.8, 1.0]]).view(1, 1, 1, 5)
    floor = float(losses.bernoulli_recon_loss(x, x))
    for shift in (-0.05, 0.05):
        assert float(losses.bernoulli_recon_loss((x + shift).clamp(0, 1), x)) > floor
    entropy = -sum(p * math.log(p) + (1 - p) * math.log(1 - p) for p in (0.3, 0.5, 0.8))
    assert floor == pytest.approx(entropy, abs=1e-4)  # a perfect reconstruction still costs the grey pixels
    binary = torch.tensor([0.0, 1.0, 1.0, 0.0]).view(1, 1, 1, 4)
    assert float(losses.bernoulli_recon_loss(binary, binary)) < 1e-4  # ... and nothing for black and white


@pytest.mark.parametrize("lam", [0.1, 0.3, 0.7, 0.95])
def test_the_continuous_bernoulli_constant_normalises(lam):
    const = 2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam)
    xs = torch.linspace(0, 1, 20_001)
    density = const * lam ** xs * (1 - lam) ** (1 - xs)
    assert float(torch.trapezoid(density, xs)) == pytest.approx(1.0, abs=1e-6)
    cb = ContinuousBernoulli(probs=torch.tensor(lam))
    assert float(cb.log_prob(torch.tensor(0.4))) == pytest.approx(
        math.log(const) + 0.4 * math.log(lam) + 0.6 * math.log(1 - lam), abs=1e-5)


def test_negative_elbo_weights_the_kl_by_beta():
    torch.manual_seed(2)
    x, x_hat = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    zero, one = losses.negative_elbo(x_hat, x, mu, logvar, beta=0.0), losses.negative_elbo(x_hat, x, mu, logvar)
    assert torch.allclose(zero["loss"], one["recon_loss"])
    assert torch.allclose(one["loss"], one["recon_loss"] + one["kl"])


def _listed_objects() -> list[object]:
    """The objects the chapter shows with ``listing(...)``, looked up in the package."""
    names = [n.strip() for call in re.findall(r"^listing\(([^)]*)\)", CHAPTER.read_text(), re.MULTILINE)
             for n in call.split(",")]
    space = {**vars(models), **vars(losses), **vars(train), "playground": playground}
    found = []
    for name in names:  # a name, or a dotted path from one (playground.Run.batch)
        head, *rest = name.split(".")
        obj = space[head]
        for part in rest:
            obj = getattr(obj, part)
        found.append(obj)
    return found


def test_the_chapter_lists_the_vae_its_losses_and_its_objective():
    listed = _listed_objects()
    for needed in (models.VAE, models.ConvVAE, losses.bernoulli_recon_loss, losses.kl_per_dim,
                   losses.negative_elbo, train.ELBOObjective):
        assert needed in listed


def test_each_listing_is_the_package_source_with_its_line_numbers():
    for obj in _listed_objects():
        text = listing(obj).data
        lines, start = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj))
        end = start + len(lines) - 1
        assert f"{path.parent.name}/{path.name}`, lines {start}–{end}" in text
        file_lines = path.read_text().splitlines()[start - 1:end]
        assert "\n".join(file_lines) in text

"""Loss functions: pure, with their reduction stated and their equation cited.

Each computes in float32 at least, also for a model that ran in bfloat16 under mixed
precision (``TrainConfig.precision``): the images ``x`` are float32, so ``x_hat - x`` is
float32 already, and the ELBO's inputs are raised by ``at_least_float32`` (which leaves
float32 and float64 as they are).
"""

from __future__ import annotations

import torch


def at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 when it is in a 16-bit format (from autocast), else unchanged."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error, averaged over every pixel and every image in the batch.

    recon_loss = (1 / (B·D)) Σ_b Σ_d (x̂_bd − x_bd)², the reconstruction error
    deep autoencoders are trained on (Hinton & Salakhutdinov 2006). Reduction:
    mean over pixels and over the batch, so values are comparable across image sizes.
    """
    return torch.mean((x_hat - x) ** 2)


def per_image_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error per image: mean over pixels, no reduction over the batch -> (B,)."""
    return ((x_hat - x) ** 2).flatten(1).mean(dim=1)


def bernoulli_recon_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction term of the ELBO for a Bernoulli decoder: −log p(x | z).

    recon_loss = (1 / B) Σ_b Σ_d BCE(x̂_bd, x_bd), the first term of Kingma & Welling
    (2013), eq. 10, with grey levels in [0, 1] read as Bernoulli means. Reduction: sum
    over pixels, mean over the batch, so it is on the same per-image scale as ``kl``.
    """
    bce = torch.nn.functional.binary_cross_entropy(at_least_float32(x_hat).clamp(1e-6, 1 - 1e-6), x, reduction="none")
    return bce.flatten(1).sum(dim=1).mean()


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) of each latent dimension, averaged over the batch -> (latent_dim,).

    kl_j = −½ (1 + log σ_j² − μ_j² − σ_j²), Kingma & Welling (2013), appendix B.
    Reduction: none over dimensions, mean over the batch.
    """
    mu, logvar = at_least_float32(mu), at_least_float32(logvar)  # the encoder may have run in bfloat16
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(dim=0)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) summed over latent dimensions, mean over the batch (a scalar)."""
    return kl_per_dim(mu, logvar).sum()


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, floor: float) -> torch.Tensor:
    """KL with free bits (Kingma et al. 2016): Σ_j max(kl_j, floor), so no dimension is
    pushed below ``floor`` nats; with ``floor = 0`` it equals ``kl_divergence``."""
    return torch.clamp(kl_per_dim(mu, logvar), min=floor).sum()


def negative_elbo(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  beta: float = 1.0, free_bits: float = 0.0) -> dict[str, torch.Tensor]:
    """The VAE loss −ELBO = recon_loss + β·kl (Kingma & Welling 2013, eq. 10; β: Higgins et al. 2017).

    Returns the terms separately: ``loss`` (what is minimised; kl under free bits),
    ``recon_loss`` and ``kl`` (the true KL). Every term: sum over pixels or latent
    dimensions, mean over the batch.
    """
    recon_loss = bernoulli_recon_loss(x_hat, x)
    kl = kl_divergence(mu, logvar)
    penalty = free_bits_kl(mu, logvar, free_bits) if free_bits > 0 else kl
    return {"loss": recon_loss + beta * penalty, "recon_loss": recon_loss, "kl": kl}


def kl_weight(step: int, beta: float, warmup_steps: int = 0) -> float:
    """KL annealing (Bowman et al. 2016): β ramps linearly from 0 to β over the first
    ``warmup_steps`` updates (``step`` = updates made so far), then stays at β."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def mse_l1(x_hat: torch.Tensor, x: torch.Tensor, l1_weight: float = 0.05) -> torch.Tensor:
    """recon_loss = MSE + l1_weight · L1, both averaged over every pixel, channel and image.

    The squared error alone is minimised by the average of the plausible images, which
    is blurry; the absolute error is minimised by their median, which keeps edges, so a
    small L1 term sharpens reconstructions. Reduction: mean over pixels and batch.
    """
    return torch.mean((x_hat - x) ** 2) + l1_weight * torch.mean(torch.abs(x_hat - x))

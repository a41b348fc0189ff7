"""Loss functions: pure, with their reduction stated and their equation cited."""

from __future__ import annotations

import torch


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

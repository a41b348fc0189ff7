"""Measures: how well a model reconstructs, how much detail and redundancy an image set has, the
VAE's bound on log p(x), and how sure a measured difference or proportion is.

Every number a chapter reports is one of these, on the test images, so the prose can say how
big a difference is and whether it stands out from the noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from aebook.data import iterate_batches
from aebook.latent import reconstruct_all
from aebook.losses import per_image_mse
from aebook.memo import cached


# --------------------------------------------------------------------------- reconstruction


def reconstruction_error(model: nn.Module, x: torch.Tensor) -> float:
    """Mean squared error per pixel over the whole set (the book's test MSE)."""
    return float(per_image_errors(model, x).mean())



def per_image_errors(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel of each image's reconstruction -> (N,).

    Cached (``memo``) with the model's weights and the images, so a rerun reads the errors back.
    """
    model.eval()
    return cached("errors", (model, x, per_image_mse, reconstruct_all), lambda: per_image_mse(reconstruct_all(model, x), x))



# --------------------------------------------------------------------------- pixels


def high_frequency_energy(x: torch.Tensor) -> float:
    """Mean squared difference between images (N, C, H, W) and their 3x3 blur: the energy of fine detail."""
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")          # (N, C, H + 2, W + 2)
    # the 3x3 box blur as sums of shifted copies: four times as fast as avg_pool2d on a CPU, the same up to rounding
    rows = padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]                 # (N, C, H + 2, W)
    blurred = (rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]) / 9     # (N, C, H, W)
    return float(((x - blurred) ** 2).mean())



def pixel_correlations(x: torch.Tensor, offsets: list[int]) -> list[float]:
    """Pearson correlation between each pixel and the one ``k`` columns to its right, per offset k.

    One pass over the images: the Gram matrix of image columns (W x W) holds every
    product a horizontal offset needs.
    """
    rows = x.reshape(-1, x.shape[-1]).double()  # (N * H, W): every image row
    gram, col_sum, n = rows.T @ rows, rows.sum(0), rows.shape[0]
    width, squares = rows.shape[1], torch.diagonal(gram)
    result = []
    for k in offsets:
        m = n * (width - k)  # number of (left, right) pixel pairs
        mean_l, mean_r = col_sum[: width - k].sum() / m, col_sum[k:].sum() / m
        cov = torch.diagonal(gram, k).sum() / m - mean_l * mean_r
        var_l = squares[: width - k].sum() / m - mean_l ** 2
        var_r = squares[k:].sum() / m - mean_r ** 2
        result.append(float(cov / (var_l * var_r).sqrt()))
    return result



def pixel_correlation(x: torch.Tensor, offset: int = 1) -> float:
    """Pearson correlation between each pixel and the one ``offset`` columns to its right."""
    return pixel_correlations(x, [offset])[0]


def neighbour_contrast(x: torch.Tensor) -> torch.Tensor:
    """How far each inner pixel stands out from the mean of its four neighbours: (N, C, H, W) -> (N, C, H-2, W-2).

    Entry [i, j] belongs to pixel [i + 1, j + 1] of the image. A checkerboard pattern shows up as
    contrast that alternates in sign from one pixel to the next.
    """
    centre = x[..., 1:-1, 1:-1]
    around = (x[..., :-2, 1:-1] + x[..., 2:, 1:-1] + x[..., 1:-1, :-2] + x[..., 1:-1, 2:]) / 4
    return centre - around


def parity_gap(x: torch.Tensor) -> torch.Tensor:
    """Per image (N,): the mean ``neighbour_contrast`` of pixels in odd columns minus that in even columns,
    averaged with the same for rows (0-based pixel indices).

    An image's content does not know whether a pixel's index is odd or even, so over many real
    images this is zero up to noise; a stride-2 layer that treats odd and even pixels differently
    (a checkerboard) moves it away from zero.
    """
    c = neighbour_contrast(x)  # inner pixels 1..H-2: even positions of c are odd pixels
    by_column = c[..., :, 0::2].mean((-3, -2, -1)) - c[..., :, 1::2].mean((-3, -2, -1))
    by_row = c[..., 0::2, :].mean((-3, -2, -1)) - c[..., 1::2, :].mean((-3, -2, -1))
    return (by_column + by_row) / 2


# --------------------------------------------------------------------------- the VAE's bound on log p(x)


@torch.no_grad()
def log_weights(model: nn.Module, x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """log p(x|z) + log p(z) − log q(z|x) for ``k`` codes sampled from q(z|x) per image -> (N, k).

    p(x|z) is the decoder's Bernoulli likelihood on grey levels, summed over pixels (the
    likelihood of pytorch/examples' VAE; not a normalised density for grey levels in
    between 0 and 1); p(z) = N(0, I); q(z|x) the encoder's diagonal Gaussian. In nats.
    """
    model.eval()
    device = next(model.parameters()).device
    out = []
    for idx in iterate_batches(len(x), max(1, 4096 // k)):
        xb = x[idx].to(device)
        mu, logvar = model.encode(xb)
        eps = torch.randn((k, *mu.shape), generator=generator).to(device)
        z = mu + torch.exp(0.5 * logvar) * eps                                   # (k, B, d)
        x_hat = model.decode(z.flatten(0, 1)).clamp(1e-6, 1 - 1e-6)             # (k·B, C, H, W)
        target = xb.repeat(k, 1, 1, 1)
        log_px = -torch.nn.functional.binary_cross_entropy(x_hat, target, reduction="none").flatten(1).sum(1)
        log_pz = (-0.5 * z.pow(2) - 0.5 * np.log(2 * np.pi)).sum(-1)
        log_qz = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * np.log(2 * np.pi)).sum(-1)
        out.append((log_px.view(k, -1) + log_pz - log_qz).T.cpu())
    return torch.cat(out)



def negative_elbo_per_image(model: nn.Module, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One-sample estimate of −ELBO for each image, in nats (Kingma & Welling 2013, eq. 3) -> (N,).

    The sampled codes are seeded, so the estimate is cached (``memo``) with the model and images.
    """
    model.eval()
    return cached("neg-elbo", (model, x, seed, log_weights),
                  lambda: -log_weights(model, x, 1, torch.Generator().manual_seed(seed))[:, 0])



def importance_weighted_bound(model: nn.Module, x: torch.Tensor, k: int = 100, seed: int = 0) -> torch.Tensor:
    """−log p(x) bounded with ``k`` importance samples (Burda et al. 2016), in nats per image -> (N,).

    −log((1/k) Σ_i p(x, z_i) / q(z_i|x)): tighter than −ELBO, and equal to it for k = 1.
    The k decodings per image are the costly part, so the result is cached (``memo``).
    """
    def bound() -> torch.Tensor:
        w = log_weights(model, x, k, torch.Generator().manual_seed(seed))
        return -(torch.logsumexp(w, dim=1) - np.log(k))
    return cached("iw-bound", (model, x, k, seed, log_weights), bound)


# --------------------------------------------------------------------------- noise


def paired_se(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Standard error of mean(a − b) for per-item values measured on the same items.

    Two models scored on the same test images differ by less noise than either score
    alone carries, so a comparison is "within noise" when the mean difference is below
    about twice this.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("inf")



def proportion_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` measured on ``n`` independent items."""
    return float(np.sqrt(max(p * (1 - p), 1e-12) / max(n, 1)))



def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default), sound for the few items of a small test
    set where the normal approximation is not (Wilson 1927)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)



# --------------------------------------------------------------------------- denoising


def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in decibels -> (N,).

    PSNR = 10 · log10(1 / MSE) for grey levels in [0, 1] (the peak is 1): every halving of
    the squared error adds about 3 dB. An exact copy would be infinite; the error is floored at 1e-10.
    """
    return 10 * torch.log10(1.0 / per_image_mse(x_hat, x).clamp_min(1e-10))


# --------------------------------------------------------------------------- anomaly scores


def roc(normal: torch.Tensor | np.ndarray, anomalous: torch.Tensor | np.ndarray) -> dict[str, np.ndarray | float]:
    """The ROC curve and its area for a score that should be higher on ``anomalous`` items than on ``normal``.

    scikit-learn's ``roc_curve`` and ``roc_auc_score`` with anomalies as the positive class:
    ``fpr`` (false alarms among normal items) and ``tpr`` (anomalies caught) at every
    threshold, and ``auc``, the probability that a random anomaly scores above a random normal item.
    Cached (``memo``), so a rerun reads it back without importing scikit-learn (about 1.5 s).
    """
    normal, anomalous = np.asarray(normal, dtype=np.float64), np.asarray(anomalous, dtype=np.float64)
    curve = cached("roc", (normal, anomalous, _roc), lambda: _roc(normal, anomalous))
    return {key: value.numpy() for key, value in curve.items() if key != "auc"} | {"auc": curve["auc"]}


def _roc(normal: np.ndarray, anomalous: np.ndarray) -> dict[str, torch.Tensor | float]:
    """``roc`` uncached, with its arrays as tensors (what the cache stores)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    scores = np.concatenate([normal, anomalous])
    is_anomaly = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    fpr, tpr, thresholds = roc_curve(is_anomaly, scores)
    return {"fpr": torch.from_numpy(fpr), "tpr": torch.from_numpy(tpr), "thresholds": torch.from_numpy(thresholds),
            "auc": float(roc_auc_score(is_anomaly, scores))}


def auc_se(auc: float, n_normal: int, n_anomalous: int) -> float:
    """Standard error of an AUC measured on ``n_normal`` and ``n_anomalous`` items (Hanley & McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n_anomalous - 1) * (q1 - auc ** 2) + (n_normal - 1) * (q2 - auc ** 2)) \
        / max(1, n_normal * n_anomalous)
    return float(np.sqrt(max(var, 1e-12)))


def threshold_at_false_alarm_rate(normal_scores: torch.Tensor | np.ndarray, rate: float) -> float:
    """The score above which only a share ``rate`` of normal items fall: the (1 − rate) quantile.

    Chosen on normal *validation* items, it is the threshold a user would set before seeing
    any anomaly; its false-alarm rate on new items is then measured, not assumed.
    """
    return float(np.quantile(np.asarray(normal_scores, dtype=np.float64), 1 - rate))


def bernoulli_floor(x: torch.Tensor) -> torch.Tensor:
    """The least −log p(x|z) a Bernoulli decoder can reach on each image, in nats -> (N,).

    The binary cross-entropy −[x log x̂ + (1 − x) log(1 − x̂)] of one pixel is smallest at x̂ = x,
    where it equals the pixel's binary entropy H(x); summed over pixels, that is a floor set by
    the image's grey levels alone: 0 for a pixel exactly black or white, log 2 for mid-grey.
    """
    p = x.flatten(1).double().clamp(1e-12, 1 - 1e-12)
    return (-(p * p.log() + (1 - p) * (1 - p).log())).sum(1).float()


# --------------------------------------------------------------------------- retrieval


def precision_at_k(neighbour_labels: torch.Tensor, query_labels: torch.Tensor) -> torch.Tensor:
    """Share of each query's k retrieved items that have the query's class -> (N,).

    ``neighbour_labels`` (N, k) are the classes of the k items retrieved for each of the N queries.
    """
    return (neighbour_labels == query_labels[:, None]).float().mean(dim=1)

"""Working with codes: encode a whole set, t-SNE maps (cached), PCA and principal angles."""

from __future__ import annotations

import math
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aebook.data import iterate_batches
from aebook.losses import per_image_mse
from aebook.files import npy_bytes, try_save
from aebook.memo import cached
from aebook.runtime import cache_dir, log


@torch.no_grad()
def encode_all(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Codes z (N, latent_dim) of every image in ``x``, in batches, on the CPU (a VAE's code is mu)."""
    return encode_distribution_all(model, x, batch_size)[0]


@torch.no_grad()
def encode_distribution_all(model: nn.Module, x: torch.Tensor,
                            batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(mu, logvar)`` of every image for a VAE; ``(z, None)`` for a plain autoencoder."""
    model.eval()
    device = next(model.parameters()).device
    mus, logvars = [], []
    for idx in iterate_batches(len(x), batch_size):
        out = model.encode(x[idx].to(device))
        mu, logvar = out if isinstance(out, tuple) else (out, None)
        mus.append(mu.cpu())
        if logvar is not None:
            logvars.append(logvar.cpu())
    return torch.cat(mus), (torch.cat(logvars) if logvars else None)


@torch.no_grad()
def reconstruct_all(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Reconstructions x_hat of every image in ``x`` (same shape as ``x``), on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[idx].to(device))[0].cpu()
                      for idx in iterate_batches(len(x), batch_size)])


def reconstruction_error(model: nn.Module, x: torch.Tensor) -> float:
    """Mean squared error per pixel over the whole set (the book's test MSE)."""
    return float(per_image_errors(model, x).mean())


def per_image_errors(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel of each image's reconstruction -> (N,)."""
    return per_image_mse(reconstruct_all(model, x), x)


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


def tsne(z: torch.Tensor | np.ndarray, seed: int = 0, perplexity: float = 30.0,
         cache: Path | None = None) -> np.ndarray:
    """2-D t-SNE embedding of ``z`` (N, d), cached on disk by the codes and the settings.

    openTSNE (Poličar et al. 2024): FFT-accelerated gradients on every core, started from
    the codes' first two principal components, so a map of 10,000 codes takes seconds and
    the same codes give the same layout.
    """
    from openTSNE import TSNE

    z = np.ascontiguousarray(np.asarray(z, dtype=np.float32))
    digest = hashlib.sha256(z.tobytes() + f"{z.shape}|{seed}|{perplexity}|openTSNE".encode()).hexdigest()[:20]
    path = (Path(cache) if cache is not None else cache_dir() / "tsne") / f"tsne-{digest}.npy"
    if path.exists():
        try:
            xy = np.load(path, allow_pickle=False)
            if xy.shape == (len(z), 2):
                return xy
        except (OSError, ValueError):
            pass  # unreadable: recompute below and replace it
    xy = np.asarray(TSNE(n_components=2, perplexity=min(perplexity, (len(z) - 1) / 3), initialization="pca",
                         negative_gradient_method="fft", n_jobs=os.cpu_count() or 1, random_state=seed,
                         verbose=False).fit(z.astype(np.float64)), dtype=np.float32)
    _save_npy(path, xy)
    return xy


def _save_npy(path: Path, array: np.ndarray) -> None:
    """Cache ``array`` atomically (``aebook.files``); when it cannot be written (a full disk, a
    read-only folder) say so in one line and go on: the map is used all the same."""
    why = try_save(path, npy_bytes(array), what=f"the t-SNE map {path}")
    if why:
        log(f"[cache] {why}; the map is used without caching")


def pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` principal directions of images ``x``: (mean (D,), basis (D, k), variances (k,)).

    Computed from the D x D covariance matrix (cheap for D = 784) in double precision.
    """
    flat = x.flatten(1)
    mean = flat.mean(0, dtype=torch.float64)
    centred = flat.double() - mean
    variances, vectors = torch.linalg.eigh(centred.T @ centred / (len(flat) - 1))  # ascending
    order = torch.argsort(variances, descending=True)[:k]
    return mean.float(), vectors[:, order].float(), variances[order].float()


def pca_reconstruction_error(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> float:
    """Per-pixel MSE of projecting ``x`` onto ``mean + span(basis)`` and back."""
    return float(pca_per_image_errors(x, mean, basis).mean())


def pca_per_image_errors(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Per-pixel MSE of each image projected onto ``mean + span(basis)`` and back -> (N,)."""
    centred = x.flatten(1) - mean
    return ((centred @ basis @ basis.T - centred) ** 2).mean(dim=1)


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles in degrees between span(a) and span(b), for a, b of shape (D, k)."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"principal_angles needs two matrices (D, k) with the same D; "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    qa, _ = torch.linalg.qr(a.double())
    qb, _ = torch.linalg.qr(b.double())
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cosines)).float()


def knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor,
                test_features: torch.Tensor, k: int = 5) -> np.ndarray:
    """Class predicted for each test item by a vote of its ``k`` nearest training items (cached: ``memo``)."""
    from sklearn.neighbors import KNeighborsClassifier

    def vote() -> torch.Tensor:
        knn = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_features.flatten(1)),
                                                      np.asarray(train_labels))
        return torch.from_numpy(knn.predict(np.asarray(test_features.flatten(1))))
    inputs = (train_features, train_labels, test_features, k, KNeighborsClassifier.__module__)
    return cached("knn", inputs, vote).numpy()


def knn_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor,
                 test_features: torch.Tensor, test_labels: torch.Tensor, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour classifier: how well features keep the classes apart."""
    predicted = knn_predict(train_features, train_labels, test_features, k)
    return float((predicted == np.asarray(test_labels)).mean())


def angles_to_subspace(vectors: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Angle in degrees between each column of ``vectors`` (D, k) and span(``basis``) (D, m)."""
    q, _ = torch.linalg.qr(basis.double())
    v = vectors.double() / vectors.double().norm(dim=0, keepdim=True)
    cosines = (q.T @ v).norm(dim=0).clamp(0.0, 1.0)  # length of each projection
    return torch.rad2deg(torch.arccos(cosines)).float()


def per_class_accuracy(predicted: np.ndarray | torch.Tensor, labels: torch.Tensor,
                       class_names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Share of each class's items whose prediction is right, by class name."""
    predicted, labels = torch.as_tensor(np.asarray(predicted)), torch.as_tensor(labels)
    return {name: float((predicted[labels == c] == c).float().mean())
            for c, name in enumerate(class_names) if (labels == c).any()}


def top_variance_dims(z: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` code dimensions with the largest variance over ``z`` (N, d)."""
    return torch.argsort(z.var(dim=0), descending=True)[:k].tolist()


@torch.no_grad()
def traverse(model: nn.Module, z: torch.Tensor, dim: int, offsets: torch.Tensor) -> torch.Tensor:
    """Decode ``z`` (d,) with ``z[dim]`` shifted by each offset: images (len(offsets), 1, H, W).

    The offset 0 gives the plain reconstruction, so the centre of a symmetric sweep
    equals ``model.decode(z)``.
    """
    codes = z.detach().cpu().repeat(len(offsets), 1)
    codes[:, dim] += torch.as_tensor(offsets, dtype=codes.dtype)
    return decode_all(model, codes)


@torch.no_grad()
def decode_all(model: nn.Module, z: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Images decoded from codes ``z`` (N, d), computed in batches, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.decode(z[idx].to(device)).cpu()
                      for idx in iterate_batches(len(z), batch_size)])


def lerp(z0: torch.Tensor, z1: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation: one code (1 - t)·z0 + t·z1 per t -> (len(ts), d)."""
    t = torch.as_tensor(ts, dtype=z0.dtype)[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): along the great circle from z0 to z1 -> (len(ts), d).

    The direction turns at a constant rate and the length changes linearly from
    ``|z0|`` to ``|z1|``, so no point on the path is shorter than both endpoints.
    """
    t = torch.as_tensor(ts, dtype=torch.float64)[:, None]
    a, b = z0.double(), z1.double()
    na, nb = a.norm(), b.norm()
    omega = torch.arccos(torch.clamp((a / na) @ (b / nb), -1.0, 1.0))
    if omega < 1e-6:  # (nearly) parallel: the circle is a line
        return lerp(z0, z1, ts)
    direction = (torch.sin((1 - t) * omega) * a / na + torch.sin(t * omega) * b / nb) / torch.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).to(z0.dtype)


def neighbour_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 10) -> float:
    """Average share of each item's ``k`` nearest neighbours that two embeddings (N, d) agree on."""
    from sklearn.neighbors import NearestNeighbors

    def neighbours(z: torch.Tensor) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        return NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(na, nb)]))


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """Latent dimensions whose mean code varies across images, Var_x(mu_j) > threshold (Burda et al. 2016)."""
    return int((mu.var(dim=0) > threshold).sum())


def knn_accuracy_loo(z: torch.Tensor, labels: np.ndarray | torch.Tensor, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy: how often the k nearest *other* codes vote for an item's label."""
    from sklearn.neighbors import NearestNeighbors

    z, labels = np.asarray(z, dtype=np.float32), np.asarray(labels)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    votes = [np.bincount(labels[row]).argmax() for row in neighbours]
    return float((np.asarray(votes) == labels).mean())


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
    """One-sample estimate of −ELBO for each image, in nats (Kingma & Welling 2013, eq. 3) -> (N,)."""
    return -log_weights(model, x, 1, torch.Generator().manual_seed(seed))[:, 0]


def importance_weighted_bound(model: nn.Module, x: torch.Tensor, k: int = 100, seed: int = 0) -> torch.Tensor:
    """−log p(x) bounded with ``k`` importance samples (Burda et al. 2016), in nats per image -> (N,).

    −log((1/k) Σ_i p(x, z_i) / q(z_i|x)): tighter than −ELBO, and equal to it for k = 1.
    The k decodings per image are the costly part, so the result is cached (``memo``).
    """
    def bound() -> torch.Tensor:
        w = log_weights(model, x, k, torch.Generator().manual_seed(seed))
        return -(torch.logsumexp(w, dim=1) - np.log(k))
    return cached("iw-bound", (model, x, k, seed, log_weights), bound)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default), sound for the few items of a small test
    set where the normal approximation is not (Wilson 1927)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)

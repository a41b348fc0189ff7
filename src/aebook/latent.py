"""Working with codes: encode a whole set, t-SNE maps (cached), PCA and principal angles."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aebook.data import iterate_batches
from aebook.files import npy_bytes, try_save
from aebook.memo import cached
from aebook.runtime import cache_dir, log


@torch.no_grad()
def encode_all(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Codes z (N, latent_dim) of every image in ``x``, in batches, on the CPU (a VAE's code is mu)."""
    return encode_distribution_all(model, x, batch_size)[0]


def encode_distribution_all(model: nn.Module, x: torch.Tensor,
                            batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(mu, logvar)`` of every image for a VAE; ``(z, None)`` for a plain autoencoder.

    Cached (``memo``) with the model's weights and the images that made them: a chapter encodes
    the same test set with the same model many times, and a rerun reads the codes back.
    """
    model.eval()
    return cached("codes", (model, x, batch_size, _encode_distribution_all),
                  lambda: _encode_distribution_all(model, x, batch_size))


@torch.no_grad()
def _encode_distribution_all(model: nn.Module, x: torch.Tensor,
                             batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``encode_distribution_all``, uncached."""
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


EARLY_EXAGGERATION_ITER = 125  # openTSNE's default is 250; see ``tsne``


def tsne(z: torch.Tensor | np.ndarray, seed: int = 0, perplexity: float = 30.0,
         cache: Path | None = None) -> np.ndarray:
    """2-D t-SNE embedding of ``z`` (N, d), cached on disk by the codes and the settings.

    openTSNE (Poličar et al. 2024) on every core, started from the codes' first two principal
    components, so the same codes give the same layout. Its "auto" gradient method picks
    Barnes-Hut below 10,000 points and FFT interpolation above: for the 3,000 codes a book
    map draws, Barnes-Hut took 8 s against 29 s for FFT on a 2-core CPU, with a KL divergence
    no worse (0.83 against 0.84 nats, measured once on chapter 1's codes; ``make bench``
    reports the time and quality of such a map at every run).

    The early-exaggeration phase, which pulls clusters apart before the layout settles, runs
    125 iterations instead of openTSNE's 250 (then the usual 500). On the 3,000 codes of
    chapters 1, 2 and 4 that made the map 7-17% faster with the same KL divergence within 1%
    (0.897 against 0.897, 0.901 against 0.899, 0.876 against 0.884 nats; measured 2026-12-06).
    """
    z = np.ascontiguousarray(np.asarray(z, dtype=np.float32))
    settings = f"{z.shape}|{seed}|{perplexity}|openTSNE-auto-ee{EARLY_EXAGGERATION_ITER}"
    digest = hashlib.sha256(z.tobytes() + settings.encode()).hexdigest()[:20]
    path = (Path(cache) if cache is not None else cache_dir() / "tsne") / f"tsne-{digest}.npy"
    if path.exists():
        try:
            xy = np.load(path, allow_pickle=False)
            if xy.shape == (len(z), 2):
                return xy
        except (OSError, ValueError):
            pass  # unreadable: recompute below and replace it
    from openTSNE import TSNE  # here, not above: importing it takes about 2 s, and a cached map needs none of it

    fitted = TSNE(n_components=2, perplexity=min(perplexity, (len(z) - 1) / 3), initialization="pca",
                  negative_gradient_method="auto", early_exaggeration_iter=EARLY_EXAGGERATION_ITER,
                  n_jobs=os.cpu_count() or 1, random_state=seed, verbose=False).fit(z.astype(np.float64))
    xy = np.asarray(fitted, dtype=np.float32)
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

    Computed from the D x D covariance matrix in double precision: for 60,000 images that is
    about 37 billion multiply-adds, so the result is cached (``memo``) and a rerun reads it back.
    The covariance is summed over chunks of images, so a double-precision copy of the whole set
    (376 MB for 60,000 images) is never held at once.
    """
    def compute() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = x.flatten(1)
        mean = flat.mean(0, dtype=torch.float64)
        scatter = torch.zeros(flat.shape[1], flat.shape[1], dtype=torch.float64)  # Σ (x − mean)(x − mean)ᵀ
        chunk = 4_096
        for start in range(0, len(flat), chunk):
            centred = flat[start:start + chunk].double() - mean
            scatter += centred.T @ centred
        variances, vectors = torch.linalg.eigh(scatter / (len(flat) - 1))  # ascending
        order = torch.argsort(variances, descending=True)[:k]
        return mean.float(), vectors[:, order].float(), variances[order].float()
    return cached("pca", (x, k), compute)


def pca_reconstruction_error(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> float:
    """Per-pixel MSE of projecting ``x`` onto ``mean + span(basis)`` and back."""
    return float(pca_per_image_errors(x, mean, basis).mean())


def pca_errors_by_size(x: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Per-pixel MSE of ``x`` projected onto the first 1, 2, ..., k columns of ``basis`` -> (k,).

    One projection serves every size. For a centred image c and orthonormal columns v_1..v_k,
    Pythagoras splits |c|² into the part inside span(v_1..v_d) and the part left out, so keeping
    d columns leaves |c|² − Σ_{j≤d} (v_jᵀc)²: a cumulative sum, where projecting and rebuilding
    the images once per size would cost k passes over them. Equal to ``pca_reconstruction_error``
    with ``basis[:, :d]`` for each d, up to rounding (computed in double precision).
    """
    centred = (x.flatten(1) - mean).double()                                      # (N, D)
    along = (centred @ basis.double()) ** 2                                        # (N, k): (v_jᵀc)²
    left_out = (centred ** 2).sum(dim=1, keepdim=True) - along.cumsum(dim=1)      # (N, k)
    return (left_out / centred.shape[1]).mean(dim=0).float()


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
    """Class predicted for each test item by a vote of its ``k`` nearest training items (cached: ``memo``).

    scikit-learn is imported only to vote, not to read a cached vote back (it takes over a second).
    """
    from importlib.metadata import version

    def vote() -> torch.Tensor:
        from sklearn.neighbors import KNeighborsClassifier

        knn = KNeighborsClassifier(n_neighbors=k).fit(np.asarray(train_features.flatten(1)),
                                                      np.asarray(train_labels))
        return torch.from_numpy(knn.predict(np.asarray(test_features.flatten(1))))
    inputs = (train_features, train_labels, test_features, k, "scikit-learn " + version("scikit-learn"))
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
    """Spherical interpolation of the direction, linear interpolation of the length -> (len(ts), d).

    The direction turns at a constant rate along the great circle from z0/|z0| to z1/|z1|
    (White 2016's slerp of the two unit vectors), and the length changes linearly from
    ``|z0|`` to ``|z1|``, so no point on the path is shorter than both endpoints. For codes
    of equal length this is White's slerp; ``slerp_standard`` applies his formula to the
    codes themselves, whose length does not change linearly when |z0| != |z1|.
    """
    t = torch.as_tensor(ts, dtype=torch.float64)[:, None]
    a, b = z0.double(), z1.double()
    na, nb = a.norm(), b.norm()
    omega = torch.arccos(torch.clamp((a / na) @ (b / nb), -1.0, 1.0))
    if omega < 1e-6:  # (nearly) parallel: the circle is a line
        return lerp(z0, z1, ts)
    direction = (torch.sin((1 - t) * omega) * a / na + torch.sin(t * omega) * b / nb) / torch.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).to(z0.dtype)


def slerp_standard(z0: torch.Tensor, z1: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """The standard slerp formula applied to the codes themselves (White 2016) -> (len(ts), d):
    sin((1 - t)·omega)/sin(omega)·z0 + sin(t·omega)/sin(omega)·z1, omega the angle between z0 and z1.

    For codes of equal length it keeps that length all the way (it equals ``slerp``); for
    codes of different lengths its midpoint is at least as long as their mean length.
    """
    t = torch.as_tensor(ts, dtype=torch.float64)[:, None]
    a, b = z0.double(), z1.double()
    omega = torch.arccos(torch.clamp((a / a.norm()) @ (b / b.norm()), -1.0, 1.0))
    if omega < 1e-6:  # (nearly) parallel: the circle is a line
        return lerp(z0, z1, ts)
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).to(z0.dtype)


def neighbour_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 10) -> float:
    """Average share of each item's ``k`` nearest neighbours that two embeddings (N, d) agree on
    (cached: ``memo``)."""
    def neighbours(z: torch.Tensor) -> np.ndarray:
        from sklearn.neighbors import NearestNeighbors

        z = np.asarray(z, dtype=np.float32)
        return NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z, return_distance=False)[:, 1:]

    def overlap() -> float:
        na, nb = neighbours(a), neighbours(b)
        return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(na, nb)]))
    return cached("neighbour-overlap", (a, b, k, neighbours), overlap)


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
def nearest_neighbours(queries: torch.Tensor, gallery: torch.Tensor, k: int = 10, chunk: int = 512) -> torch.Tensor:
    """Indices (N, k) of the ``k`` gallery items closest to each query, nearest first (Euclidean distance).

    Queries and gallery are feature vectors (N, D) and (M, D), or images flattened to them:
    raw pixels, PCA coordinates or codes, so one function compares every way of describing an image.
    """
    q_all, g = queries.flatten(1).float(), gallery.flatten(1).float()
    out = []
    for start in range(0, len(q_all), chunk):
        d = torch.cdist(q_all[start:start + chunk], g)          # (chunk, M) distances
        out.append(d.topk(k, dim=1, largest=False).indices)     # (chunk, k), nearest first
    return torch.cat(out) if out else torch.empty(0, k, dtype=torch.long)

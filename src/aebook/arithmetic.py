"""Latent arithmetic: attribute vectors, adding them with a strength, and scoring the result.

An attribute vector v points from faces without an attribute to faces with it. Adding
α·v to a face's code and decoding should add the attribute and keep the face. Three
scores say whether it did (``arithmetic_scores``): a linear probe for the attribute,
trained on the codes of real emoji, read on the re-encoded result (direction); how much
the image changed where the attribute lives (magnitude); and whether the result's nearest
real emoji without the attribute is still the face we started from (identity).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aebook.latent import decode_all, encode_all
from aebook.memo import cached

GLASSES_CURATED = {"nerd face", "face with monocle", "disguised face"}  # names that do not say "glasses"
HAPPY_WORDS = ("smiling", "grinning", "laughing", "joy", "beaming", "smirking")
SAD_WORDS = ("crying", "sad", "frowning", "disappointed", "weary", "pensive", "worried", "anguished",
             "persevering", "confounded", "tired", "fearful", "anxious", "pleading", "downcast")


def has_glasses(name: str) -> bool:
    """Does this emoji wear glasses? From its name, plus a curated list where the name is silent."""
    return "glasses" in name or name in GLASSES_CURATED


def has_heart_eyes(name: str) -> bool:
    """Does this emoji have heart-shaped eyes? From its name."""
    return "heart-shaped eyes" in name or "heart-eyes" in name or "heart eyes" in name


def mood(name: str) -> int:
    """1 for a happy face, 0 for a sad one, -1 when the name says neither (or both)."""
    happy, sad = any(w in name for w in HAPPY_WORDS), any(w in name for w in SAD_WORDS)
    return 1 if happy and not sad else 0 if sad and not happy else -1


def attribute_vector(z: torch.Tensor, has: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Mean code of the items with the attribute minus the mean code of those without -> (d,)."""
    has = torch.as_tensor(np.asarray(has), dtype=torch.bool)
    if not bool(has.any()) or bool(has.all()):
        raise ValueError("attribute_vector needs items both with and without the attribute")
    return z[has].mean(dim=0) - z[~has].mean(dim=0)


def add_attribute(z: torch.Tensor, v: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """z + α·v, for one code (d,) or a batch (N, d); α is the strength (0: unchanged)."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"the strength alpha must be a number; got {type(alpha).__name__} {alpha!r}")
    return z + float(alpha) * v


@dataclass
class Probe:
    """A logistic-regression probe for one attribute, fitted on codes of real emoji."""

    classifier: object

    def probability(self, z: torch.Tensor) -> np.ndarray:
        """Probability that each code (N, d) shows the attribute -> (N,)."""
        return self.classifier.predict_proba(np.asarray(z, dtype=np.float64))[:, 1]


def fit_probe(z: torch.Tensor, has: np.ndarray | torch.Tensor) -> Probe:
    """Fit the probe on codes ``z`` (N, d) with labels ``has`` (N,); classes are balanced.

    The fitted numbers are cached (``memo``): the chapter asks for the same probe many times.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z, has = np.asarray(z, dtype=np.float64), np.asarray(has, dtype=int)
    fitted = cached("probe", (z, has, _fit_probe_numbers), lambda: _fit_probe_numbers(z, has))
    scaler, logistic = StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)
    scaler.mean_, scaler.scale_ = fitted["mean"].numpy(), fitted["scale"].numpy()
    scaler.var_, scaler.n_features_in_ = fitted["scale"].numpy() ** 2, z.shape[1]
    logistic.coef_, logistic.intercept_ = fitted["coef"].numpy(), fitted["intercept"].numpy()
    logistic.classes_, logistic.n_features_in_ = fitted["classes"].numpy(), z.shape[1]
    return Probe(make_pipeline(scaler, logistic))


def _fit_probe_numbers(z: np.ndarray, has: np.ndarray) -> dict[str, torch.Tensor]:
    """The probe fitted: the scaler's mean and scale, the regression's coefficients, intercept and classes."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(z, has)
    scaler, logistic = clf
    return {"mean": torch.from_numpy(scaler.mean_), "scale": torch.from_numpy(scaler.scale_),
            "coef": torch.from_numpy(logistic.coef_), "intercept": torch.from_numpy(logistic.intercept_),
            "classes": torch.from_numpy(logistic.classes_)}


def attribute_region(faces: torch.Tensor, has: np.ndarray | torch.Tensor, share: float = 0.1) -> torch.Tensor:
    """Where the attribute shows: the ``share`` of pixels (H, W) at which the mean face with the
    attribute differs most from the mean face without it (summed over colour channels)."""
    has = torch.as_tensor(np.asarray(has), dtype=torch.bool)
    gap = (faces[has].mean(0) - faces[~has].mean(0)).abs().sum(0)  # (H, W)
    return gap >= torch.quantile(gap.flatten(), 1 - share)


def region_change(before: torch.Tensor, after: torch.Tensor, region: torch.Tensor) -> np.ndarray:
    """Mean absolute change of each image (N, C, H, W) inside ``region`` (H, W): how visibly it moved there."""
    return (after - before).abs().mean(1)[:, region].mean(1).numpy()


def random_like(v: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random direction with the norm of ``v``: the control every attribute vector must beat."""
    r = torch.randn(v.shape, generator=torch.Generator().manual_seed(seed), dtype=v.dtype)
    return r / r.norm() * v.norm()


@torch.no_grad()
def arithmetic_scores(model: nn.Module, faces: torch.Tensor, targets: list[int], v: torch.Tensor, probe: Probe,
                      region: torch.Tensor, pool: list[int], alpha: float = 1.0) -> dict[str, np.ndarray]:
    """Three scores per target face for z + α·v, each compared with adding nothing (the reconstruction).

    ``attribute``: the probe's probability on the re-encoded result. ``change``: the mean
    absolute pixel change from the plain reconstruction inside the attribute's ``region``,
    how visible the edit is. ``kept``: 1 when, among the faces in ``pool`` (the faces
    *without* the attribute, so a successful transfer is not matched to the attribute's own
    source faces), the nearest to the result in pixels is still the target.

    The passes through the model are cached (``memo``) with the model, faces and vector that
    made them, so a chapter that scores the same edit again reads it back; the probe is applied
    afterwards, so any probe can read the same edited faces.
    """
    targets, pool = list(targets), list(pool)

    def edit() -> dict[str, torch.Tensor]:
        z = encode_all(model, faces[targets])
        plain = decode_all(model, z)
        images = decode_all(model, add_attribute(z, v, alpha))
        distances = torch.cdist(images.flatten(1), faces[pool].flatten(1))
        nearest = torch.as_tensor(pool)[distances.argmin(dim=1)]
        return {"codes": encode_all(model, images), "change": torch.from_numpy(region_change(plain, images, region)),
                "kept": nearest == torch.as_tensor(targets)}
    done = cached("arithmetic", (model, faces[targets], faces[pool], targets, pool, v, region, float(alpha)), edit)
    return {"attribute": probe.probability(done["codes"]), "change": done["change"].numpy(),
            "kept": done["kept"].numpy().astype(float)}

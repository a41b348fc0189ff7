"""Latent arithmetic: attribute vectors, adding them with a strength, and scoring the result.

An attribute vector v points from faces without an attribute to faces with it. Adding
α·v to a face's code and decoding should add the attribute and keep the face. Two
scores say whether it did: a linear probe for the attribute, trained on the codes of
real emoji, read on the re-encoded result; and whether the result's nearest real emoji
(in pixels) is still the face we started from.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aebook.latent import decode_all, encode_all

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
    """Fit the probe on codes ``z`` (N, d) with labels ``has`` (N,); classes are balanced."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.asarray(z, dtype=np.float64), np.asarray(has, dtype=int))
    return Probe(clf)


@torch.no_grad()
def transfer_scores(model: nn.Module, faces: torch.Tensor, targets: list[int], v: torch.Tensor,
                    probe: Probe, alpha: float = 1.0) -> dict[str, np.ndarray]:
    """For each target face: add α·v to its code, decode, and score the result.

    ``attribute``: the probe's probability on the re-encoded image. ``kept``: 1 when the
    nearest real face in pixels is still the target. Both are arrays over ``targets``.
    """
    z = encode_all(model, faces[targets])
    images = decode_all(model, add_attribute(z, v, alpha))
    attribute = probe.probability(encode_all(model, images))
    distances = torch.cdist(images.flatten(1), faces.flatten(1))
    kept = (distances.argmin(dim=1) == torch.as_tensor(targets)).numpy().astype(float)
    return {"attribute": attribute, "kept": kept}

"""How real do decoded images look? Three measurements used from the latent-space chapter on.

* ``nearest_distance``: how far an image lies from the closest real image (pixel RMSE).
* ``Judge``: a small classifier trained on real images; how confidently it recognises
  a decoded image as *some* item of clothing.
* ``FrechetSpace.distance``: the Fréchet distance between a *set* of images and real
  test images, in a fixed feature space (the top principal components of real images),
  the recipe of FID (Heusel et al. 2017) with a feature space we can compute here.

None is perfect alone (a blur of two coats is near a real coat; a linear classifier can
be confident about noise), so ``validation_table`` scores each on real images, blurred
ones and noise before the book trusts it, and every realism claim uses two of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from aebook.latent import pca
from aebook.memo import cached


@torch.no_grad()
def nearest_distance(x: torch.Tensor, reference: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Root-mean-square pixel distance from each image in ``x`` to its nearest ``reference`` image -> (N,)."""
    ref = reference.flatten(1).float()
    out = []
    for start in range(0, len(x), chunk):
        q = x[start:start + chunk].flatten(1).float()
        out.append(torch.cdist(q, ref).min(dim=1).values)
    return torch.cat(out) / ref.shape[1] ** 0.5 if out else torch.empty(0)


@dataclass
class Judge:
    """A multinomial logistic regression on raw pixels, fitted to real labelled images."""

    weights: np.ndarray   # (n_classes, D); one row for two classes, as scikit-learn keeps them
    bias: np.ndarray      # (n_classes,) or (1,)
    classes: np.ndarray   # the label of each output
    test_accuracy: float

    def probabilities(self, x: torch.Tensor) -> np.ndarray:
        """Class probabilities for images ``x`` -> (N, n_classes).

        The softmax of the linear scores, what the fitted ``LogisticRegression.predict_proba``
        computes (for two classes the one score s is the pair (0, s)); written out with NumPy
        so that a chapter whose judge comes from the cache need not import scikit-learn for it.
        """
        scores = x.flatten(1).numpy().astype(np.float64) @ self.weights.T + self.bias  # (N, rows)
        if scores.shape[1] == 1:
            scores = np.concatenate([np.zeros_like(scores), scores], axis=1)
        scores -= scores.max(axis=1, keepdims=True)  # the same softmax, without overflow
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def confidence(self, x: torch.Tensor) -> np.ndarray:
        """Probability of the judge's top class for each image -> (N,)."""
        return self.probabilities(x).max(axis=1)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """The judge's class for each image -> (N,)."""
        return self.classes[self.probabilities(x).argmax(axis=1)]


def fit_judge(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
              test_y: torch.Tensor, max_iter: int = 300) -> Judge:
    """Fit the judge (scikit-learn's ``LogisticRegression``) on real training images and measure
    its accuracy on real test images.

    The fitted weights are cached (``memo``): chapters 3 and 4 fit the same judge, and a warm
    run refits nothing.
    """
    fitted = cached("judge", (train_x, train_y, max_iter, _fit_weights),
                    lambda: _fit_weights(train_x, train_y, max_iter))
    judge = Judge(fitted["coef"].numpy(), fitted["intercept"].numpy(), fitted["classes"].numpy(), 0.0)
    judge.test_accuracy = float((judge.predict(test_x) == test_y.numpy()).mean())
    return judge


def _fit_weights(train_x: torch.Tensor, train_y: torch.Tensor, max_iter: int) -> dict[str, torch.Tensor]:
    """The judge's logistic regression fitted to ``train_x``: its coefficients, intercepts and classes."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=0.05, max_iter=max_iter)
    with warnings.catch_warnings():  # a stopped-early fit is still a fine judge; keep the page clean
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(train_x.flatten(1).numpy().astype(np.float64), train_y.numpy())
    return {"coef": torch.from_numpy(classifier.coef_), "intercept": torch.from_numpy(classifier.intercept_),
            "classes": torch.from_numpy(classifier.classes_)}


def blur(x: torch.Tensor, size: int = 5) -> torch.Tensor:
    """Box-blurred copies of images ``x`` (N, C, H, W): a smudge that keeps the outline."""
    padded = torch.nn.functional.pad(x, (size // 2,) * 4, mode="replicate")
    return torch.nn.functional.avg_pool2d(padded, size, stride=1)


@dataclass
class FrechetSpace:
    """A fixed feature space, the top ``k`` principal components of real images, for Fréchet distances."""

    mean: torch.Tensor   # (D,)
    basis: torch.Tensor  # (D, k)

    @classmethod
    def fit(cls, real: torch.Tensor, k: int = 32) -> FrechetSpace:
        """Principal components of real images ``real`` (N, C, H, W)."""
        mean, basis, _ = pca(real, k)
        return cls(mean, basis)

    def features(self, x: torch.Tensor) -> np.ndarray:
        """Coordinates of images ``x`` on the principal components -> (N, k)."""
        return ((x.flatten(1).float() - self.mean) @ self.basis).double().numpy()

    def distance(self, x: torch.Tensor, real: torch.Tensor) -> float:
        """Fréchet distance between Gaussians fitted to the features of ``x`` and of ``real``.

        FD = |mu_x − mu_r|² + tr(C_x + C_r − 2 (C_x C_r)^½) (Heusel et al. 2017). It compares
        whole distributions: a set of smudges has the wrong spread even if each smudge is
        near some real image, so it scores badly.
        """
        from scipy.linalg import sqrtm

        fx, fr = self.features(x), self.features(real)
        cx, cr = np.cov(fx, rowvar=False), np.cov(fr, rowvar=False)
        with warnings.catch_warnings():  # a set with no spread (one image repeated) has a singular C_x
            warnings.simplefilter("ignore")
            root = sqrtm(cx @ cr)
        root = root.real if np.iscomplexobj(root) else root
        return float(((fx.mean(0) - fr.mean(0)) ** 2).sum() + np.trace(cx + cr - 2 * root))


def validation_table(judge: Judge, space: FrechetSpace, reference: torch.Tensor, real: torch.Tensor,
                     candidates: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """Each measure on real test images and on ``candidates`` (e.g. reconstructions, blurred, noise).

    A measure is worth using when it scores real images best and the known-bad sets worse.
    ``real`` is split in two halves so that real images are compared with other real images.
    """
    half = len(real) // 2
    sets = {"real test images": real[:half], **candidates}
    return {name: {"distance to nearest real (median)": float(nearest_distance(x, reference).median()),
                   "judge confidence (mean)": float(judge.confidence(x).mean()),
                   "Fréchet distance": space.distance(x, real[half:])}
            for name, x in sets.items()}

"""How real do decoded images look? Two measurements used from the latent-space chapter on.

* ``nearest_distance``: how far an image lies from the closest real image (pixel RMSE).
* ``Judge``: a small classifier trained on real images; how confidently it recognises
  a decoded image as *some* item of clothing.

Neither is perfect alone (a blur of two coats is near a real coat; a linear classifier
can be confident about noise), so the book reports both.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch


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

    classifier: object
    test_accuracy: float

    def probabilities(self, x: torch.Tensor) -> np.ndarray:
        """Class probabilities for images ``x`` -> (N, n_classes)."""
        return self.classifier.predict_proba(x.flatten(1).numpy().astype(np.float64))

    def confidence(self, x: torch.Tensor) -> np.ndarray:
        """Probability of the judge's top class for each image -> (N,)."""
        return self.probabilities(x).max(axis=1)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """The judge's class for each image -> (N,)."""
        return self.probabilities(x).argmax(axis=1)


def fit_judge(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
              test_y: torch.Tensor, max_iter: int = 300) -> Judge:
    """Fit the judge on real training images and measure its accuracy on real test images."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=0.05, max_iter=max_iter)
    with warnings.catch_warnings():  # a stopped-early fit is still a fine judge; keep the page clean
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(train_x.flatten(1).numpy().astype(np.float64), train_y.numpy())
    judge = Judge(classifier, 0.0)
    judge.test_accuracy = float((judge.predict(test_x) == test_y.numpy()).mean())
    return judge

"""The in-page trainer (``web/trainer.js``) and its twin in PyTorch.

The widget trains a small fully connected autoencoder with a 2-number code in the reader's
browser. This module builds that widget from real images, and mirrors its fixed-seed run
in PyTorch, draw for draw: the same generator (mulberry32) gives the same initial weights,
batches and noise, so a chapter can state what the widget will show after N steps, and the
tests can check the page's hand-written gradients against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from aebook.losses import kl_divergence
from aebook.widgets import Widget, b64_bytes, b64_labels

LATENT_DIM = 2
# parameter name -> (rows, columns), in the order trainer.js draws them
SHAPES = ("W1", "b1", "Wmu", "bmu", "Wlv", "blv", "W3", "b3", "W4", "b4")


def mulberry32(seed: int) -> Iterator[float]:
    """The widget's generator: uniform floats in [0, 1), the same sequence as ``AEBook.rng(seed)``."""
    s = seed & 0xFFFFFFFF
    while True:
        s = (s + 0x6D2B79F5) & 0xFFFFFFFF
        t = s
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        yield ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296


def _imul(a: int, b: int) -> int:
    """JavaScript's ``Math.imul`` on unsigned 32-bit values (the low 32 bits of the product)."""
    return (a * b) & 0xFFFFFFFF


def normal(rand: Iterator[float]) -> float:
    """One standard normal draw by Box-Muller, as ``AEBook.normal``."""
    u, v = 1 - next(rand), next(rand)
    return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * v)


class TinyAE(nn.Module):
    """784 -> hidden -> 2 (mu; plus 2 for logvar in the VAE) -> hidden -> 784, in float64, as the widget."""

    def __init__(self, hidden: int = 64, pixels: int = 784, seed: int = 0) -> None:
        super().__init__()
        shapes = {"W1": (hidden, pixels), "b1": (hidden,), "Wmu": (LATENT_DIM, hidden), "bmu": (LATENT_DIM,),
                  "Wlv": (LATENT_DIM, hidden), "blv": (LATENT_DIM,), "W3": (hidden, LATENT_DIM), "b3": (hidden,),
                  "W4": (pixels, hidden), "b4": (pixels,)}
        rand = mulberry32(seed)
        for name in SHAPES:  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), nn.Linear's rule, from the widget's generator
            bound = 1 / math.sqrt(shapes["W" + name[1:]][1])
            count = math.prod(shapes[name])
            values = torch.tensor([(2 * next(rand) - 1) * bound for _ in range(count)], dtype=torch.float64)
            setattr(self, name, nn.Parameter(values.reshape(shapes[name])))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) for flat images x (n, 784)."""
        h = torch.relu(x @ self.W1.T + self.b1)                     # (n, hidden)
        return h @ self.Wmu.T + self.bmu, h @ self.Wlv.T + self.blv  # (n, 2), (n, 2)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits (n, 784) for codes z (n, 2)."""
        h = torch.relu(z @ self.W3.T + self.b3)                     # (n, hidden)
        return h @ self.W4.T + self.b4                              # (n, 784)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel values in [0, 1] for codes z."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None):
        """(x_hat logits, z, mu, logvar); with ``eps`` the code is sampled (the VAE), else z = mu."""
        mu, logvar = self.encode(x)
        z = mu if eps is None else mu + torch.exp(0.5 * logvar) * eps
        return self.decode_logits(z), z, mu, logvar


def losses(model: TinyAE, x: torch.Tensor, vae: bool, beta: float, eps: torch.Tensor | None) -> dict:
    """The widget's loss, mean over the batch of per-image sums: binary cross-entropy on the pixels
    (``recon_loss``), plus ``beta`` times the analytic KL to N(0, I) for the VAE (Kingma and Welling
    2013, eq. 10)."""
    logits, _, mu, logvar = model(x, eps if vae else None)
    # on logits, not losses.bernoulli_recon_loss's clamped probabilities: the page computes it this way
    recon_loss = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = kl_divergence(mu, logvar) if vae else torch.zeros((), dtype=x.dtype)
    return {"recon_loss": recon_loss, "kl": kl, "loss": recon_loss + (beta * kl if vae else 0)}


@dataclass(frozen=True)
class TrainerSettings:
    """The widget's controls: which model, the learning rate, the batch size and β."""

    vae: bool = False
    lr: float = 3e-3
    batch: int = 32
    beta: float = 1.0
    hidden: int = 64
    seed: int = 0


class Run:
    """The widget's seeded training run: batches without replacement, reshuffled every pass; noise on its own stream."""

    def __init__(self, images: torch.Tensor, settings: TrainerSettings, optimiser: str = "adam") -> None:
        self.x = images.reshape(len(images), -1).to(torch.float64)
        self.settings = settings
        self.model = TinyAE(settings.hidden, self.x.shape[1], settings.seed)
        params = list(self.model.parameters())
        self.opt = (torch.optim.Adam(params, lr=settings.lr) if optimiser == "adam"
                    else torch.optim.SGD(params, lr=settings.lr))
        self.order = list(range(len(self.x)))
        self.cursor = len(self.x)
        self.shuffle, self.noise = mulberry32(settings.seed + 1), mulberry32(settings.seed + 2)
        self.history: list[dict[str, float]] = []

    def batch(self) -> torch.Tensor:
        """The next batch, drawn as the widget draws it (Fisher-Yates with the shuffle stream)."""
        rows = []
        for _ in range(self.settings.batch):
            if self.cursor >= len(self.order):
                for i in range(len(self.order) - 1, 0, -1):
                    j = math.floor(next(self.shuffle) * (i + 1))
                    self.order[i], self.order[j] = self.order[j], self.order[i]
                self.cursor = 0
            rows.append(self.order[self.cursor])
            self.cursor += 1
        return self.x[rows]

    def step(self) -> dict[str, float]:
        """One update; returns the losses measured before it, as the widget's history does."""
        x, s = self.batch(), self.settings
        eps = (torch.tensor([normal(self.noise) for _ in range(s.batch * LATENT_DIM)], dtype=torch.float64)
               .reshape(s.batch, LATENT_DIM) if s.vae else None)
        out = losses(self.model, x, s.vae, s.beta, eps)
        self.opt.zero_grad()
        out["loss"].backward()
        self.opt.step()
        self.history.append({k: float(v.detach()) for k, v in out.items()})
        return self.history[-1]

    @torch.no_grad()
    def codes(self) -> torch.Tensor:
        """The code (the mean, for a VAE) of every image, (n, 2)."""
        return self.model.encode(self.x)[0]


def code_stats(z: torch.Tensor) -> dict[str, list[float]]:
    """Per-axis mean and (population) variance of codes, as the widget's ``state()`` reports them."""
    return {"mean": z.mean(0).tolist(), "variance": z.var(0, unbiased=False).tolist()}


def pick_images(x: torch.Tensor, y: torch.Tensor, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` images of every class, in a seeded order (the widget's training set)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:per_class]]
                      for c in sorted(set(y.tolist()))])
    keep = keep[torch.randperm(len(keep), generator=g)]
    return x[keep], y[keep]


def trainer(images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
            settings: TrainerSettings = TrainerSettings(), shown: int = 8, pause_at: int | None = None) -> Widget:
    """The training widget, with its images embedded as bytes (rounded to 1/255, as the run uses them).

    ``pause_at``: play pauses at that step (a box the reader can untick), so what the page says of step
    ``pause_at`` can be checked on the widget; play again goes on from there.
    """
    from aebook.plots import PALETTE

    _, _, h, w = images.shape
    return Widget("trainer", dict(
        pixels=b64_bytes(images), labels=b64_labels(labels),
        width=int(w), height=int(h),
        classes=list(class_names), colours=list(PALETTE), seed=settings.seed, hidden=settings.hidden,
        lr=settings.lr, batch=settings.batch, lrs=[1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0], batches=[8, 16, 32, 64, 128],
        shown=list(range(shown)), pause_at=pause_at), height=520)


def as_bytes(images: torch.Tensor) -> torch.Tensor:
    """Images rounded to the 256 grey levels the page carries, so the twin trains on the same numbers."""
    return torch.round(images.clamp(0, 1) * 255) / 255


@dataclass(frozen=True)
class Replay:
    """What the widget shows after a fixed-seed run: the loss at the start and the end, and its code cloud."""

    steps: int
    start_loss: float      # mean loss per image over the first 10 steps
    end_loss: float        # ... over the last 50 steps (the last step only, when it diverged)
    mean: list[float]      # per-axis mean of every image's code
    variance: list[float]  # per-axis variance of the codes
    kl: float              # mean KL per image over the last 50 steps (0 for the plain autoencoder)
    diverged_at: int | None
    start_knn: float       # leave-one-out 5-NN accuracy of the codes before training: classes apart?
    end_knn: float         # ... after it


def replay(images: torch.Tensor, labels: torch.Tensor, settings: TrainerSettings, steps: int) -> Replay:
    """Run the widget's training for ``steps`` updates in PyTorch, stopping where the widget would (a
    loss that is not a number or above 1e6); the result is cached (``memo``) with this module's code."""
    import dataclasses
    import sys

    from aebook import latent, losses
    from aebook.memo import cached

    inputs = (images, labels, settings, steps, sys.modules[__name__], losses, latent.knn_accuracy_loo)
    return Replay(**cached("replay", inputs, lambda: dataclasses.asdict(_replay(images, labels, settings, steps))))


def _replay(images: torch.Tensor, labels: torch.Tensor, settings: TrainerSettings, steps: int) -> Replay:
    """``replay`` itself, uncached."""
    from aebook.latent import knn_accuracy_loo

    run = Run(images, settings)
    start_knn = knn_accuracy_loo(run.codes(), labels)
    diverged = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and spinning threads cannot crowd other work
    try:
        for i in range(steps):
            out = run.step()
            if not math.isfinite(out["loss"]) or out["loss"] > 1e6:
                diverged = i + 1
                break
    finally:
        torch.set_num_threads(threads)
    h = run.history
    tail = h[-50:] if diverged is None else h[-1:]
    stats = code_stats(run.codes()) if diverged is None else {"mean": [math.nan] * 2, "variance": [math.nan] * 2}
    return Replay(len(h), sum(q["loss"] for q in h[:10]) / min(10, len(h)), sum(q["loss"] for q in tail) / len(tail),
                  stats["mean"], stats["variance"], sum(q["kl"] for q in tail) / len(tail), diverged,
                  start_knn, knn_accuracy_loo(run.codes(), labels) if diverged is None else math.nan)

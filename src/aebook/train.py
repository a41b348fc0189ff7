"""One plain training loop: ``fit`` trains a model and returns its ``History``.

It does no plotting and no file I/O. Data are tensors already in memory, batched
by index, so an epoch costs only the model's own arithmetic.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from aebook.data import iterate_batches
from aebook.losses import kl_weight, mse, mse_l1, negative_elbo
from aebook.runtime import get_device

Objective = Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, schedule, stopping rule and seed."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    early_stopping_patience: int | None = None  # epochs without validation gain before stopping
    lr_plateau_patience: int | None = None      # ReduceLROnPlateau patience (None: constant lr)
    lr_plateau_factor: float = 0.5
    restore_best: bool = True                   # end with the weights of the best validation epoch
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer; got {value!r}")
        if not self.lr >= 0:
            raise ValueError(f"TrainConfig.lr must be a number >= 0; got {self.lr!r}")
        if not 0 < self.lr_plateau_factor < 1:
            raise ValueError(f"TrainConfig.lr_plateau_factor must be between 0 and 1; got {self.lr_plateau_factor!r}")


@dataclass
class History:
    """Per-epoch record of a training run (epochs are numbered from 1)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)  # e.g. recon_loss, kl per epoch
    best_epoch: int = 0
    best_val: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        """Number of epochs actually trained."""
        return len(self.train_loss)

    def to_dict(self) -> dict:
        """Plain-Python form (lists, floats, ints) for safe saving."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Inverse of ``to_dict``."""
        return cls(**d)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; nothing from the run should be kept."""


def mse_objective(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reconstruct ``x`` and score it with ``losses.mse`` (the term named ``loss`` is minimised)."""
    x_hat, _ = model(x)
    return {"loss": mse(x_hat, x)}


def mse_l1_objective(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reconstruct ``x`` and score it with MSE + 0.05·L1 (``losses.mse_l1``), the emoji chapter's loss."""
    x_hat, _ = model(x)
    return {"loss": mse_l1(x_hat, x)}


@dataclass(frozen=True)
class AuxClassifierObjective:
    """MSE + 0.05·L1 reconstruction plus ``weight`` × cross-entropy of ``model.head`` on the code.

    Batches are ``(x, y)``; items with ``y < 0`` have no label and add no classification loss.
    """

    weight: float = 1.0

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Terms ``loss``, ``recon_loss`` and ``class_loss`` for one ``(x, y)`` batch."""
        x, y = batch
        x_hat, z = model(x)
        recon_loss = mse_l1(x_hat, x)
        labelled = y >= 0
        class_loss = (nn.functional.cross_entropy(model.head(z[labelled]), y[labelled])
                      if bool(labelled.any()) else z.sum() * 0.0)
        return {"loss": recon_loss + self.weight * class_loss, "recon_loss": recon_loss,
                "class_loss": class_loss}


@dataclass
class ELBOObjective:
    """The VAE objective for ``fit``: −ELBO with weight β, KL annealing and free bits.

    While training, β follows ``losses.kl_weight`` (a linear ramp over ``warmup_epochs``)
    and the KL is floored per dimension at ``free_bits`` nats. Validation always scores
    the plain target objective (full β, no floor), so the best epoch is chosen on it.
    ``fit`` tells the objective the epoch through ``set_epoch``.
    """

    beta: float = 1.0
    warmup_epochs: int = 0
    free_bits: float = 0.0
    epoch: int = field(default=1, repr=False, compare=False)

    def set_epoch(self, epoch: int) -> None:
        """Called by ``fit`` at the start of every epoch (numbered from 1)."""
        self.epoch = epoch

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms ``loss``, ``recon_loss`` and ``kl`` for a batch (see ``losses.negative_elbo``)."""
        x_hat, mu, logvar = model(x)
        if model.training:
            return negative_elbo(x_hat, x, mu, logvar, kl_weight(self.epoch, self.beta, self.warmup_epochs),
                                 self.free_bits)
        return negative_elbo(x_hat, x, mu, logvar, self.beta)


def fit(model: nn.Module, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
        config: TrainConfig = TrainConfig(), objective: Objective = mse_objective,
        device: torch.device | None = None, name: str | None = None,
        progress: bool | None = None) -> History:
    """Train ``model`` on ``train_x`` with Adam and return its ``History``.

    ``train_x`` (and ``val_x``) is a tensor of images, or a tuple of tensors indexed
    together, e.g. ``(images, labels)`` for an objective that also uses labels.

    ``objective(model, x)`` returns a dict of scalar terms; ``"loss"`` is minimised
    and every other term is logged per epoch (``terms``). Validation loss drives
    early stopping, the learning-rate schedule and the choice of the best state.
    """
    device = device or get_device()
    name = name or type(model).__name__
    model.to(device)
    train_x = _to(train_x, device)
    val_x = _to(val_x, device) if val_x is not None else None
    optimiser = make_optimiser(model, config)
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=config.lr_plateau_factor, patience=config.lr_plateau_patience)
        if config.lr_plateau_patience is not None else None)
    shuffler = torch.Generator().manual_seed(config.seed)
    history, best_state, waited = History(), None, 0
    started = time.perf_counter()
    with _progress_bar(name, config.epochs, progress) as advance:
        for epoch in range(1, config.epochs + 1):
            lr = optimiser.param_groups[0]["lr"]
            if hasattr(objective, "set_epoch"):  # e.g. KL annealing in ELBOObjective
                objective.set_epoch(epoch)
            train_terms = run_epoch(model, train_x, config.batch_size, objective, optimiser, shuffler)
            _check_finite(train_terms["loss"], name, epoch, lr)
            val_loss = (run_epoch(model, val_x, 1024, objective)["loss"]
                        if val_x is not None else train_terms["loss"])
            _check_finite(val_loss, name, epoch, lr)
            history.train_loss.append(train_terms.pop("loss"))
            history.val_loss.append(val_loss)
            history.lr.append(lr)
            for key, value in train_terms.items():
                history.terms.setdefault(key, []).append(value)
            if val_loss < history.best_val:
                history.best_val, history.best_epoch, waited = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict()) if config.restore_best else None
            else:
                waited += 1
            if scheduler is not None:
                scheduler.step(val_loss)
            advance(epoch, history.train_loss[-1], val_loss)
            if config.early_stopping_patience is not None and waited >= config.early_stopping_patience:
                history.stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - started
    model.eval()
    return history


def make_optimiser(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with the configured learning rate and weight decay; the fused kernel where available."""
    try:
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or an older torch without fused Adam
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def run_epoch(model: nn.Module, x: torch.Tensor, batch_size: int, objective: Objective,
               optimiser: torch.optim.Optimizer | None = None,
               shuffler: torch.Generator | None = None) -> dict[str, float]:
    """One pass over ``x`` (training when an optimiser is given); returns the sample-weighted mean of each term."""
    training = optimiser is not None
    model.train(training)
    sums: dict[str, float] = {}
    with torch.set_grad_enabled(training):
        n = len(x[0]) if isinstance(x, tuple) else len(x)
        for idx in iterate_batches(n, batch_size, shuffle=training, generator=shuffler):
            batch = tuple(t[idx.to(t.device)] for t in x) if isinstance(x, tuple) else x[idx.to(x.device)]
            terms = objective(model, batch)
            if training:
                optimiser.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimiser.step()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(idx)
    return {key: total / n for key, total in sums.items()}


def _to(x: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device):
    """Move a tensor, or each tensor of a tuple, to ``device``."""
    return tuple(t.to(device) for t in x) if isinstance(x, tuple) else x.to(device)


def _check_finite(loss: float, name: str, epoch: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` with the model, epoch and learning rate when ``loss`` is not finite."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{name} diverged at epoch {epoch} (learning rate {lr:g}): the loss became {loss}. "
            "Nothing from this run was kept. Lower the learning rate or check the inputs are in [0, 1].")


def progress_mode() -> str | None:
    """Where to draw the progress bar: ``"terminal"``, ``"jupyter"``, or None (never while Quarto renders)."""
    forced = os.environ.get("AEBOOK_PROGRESS", "").strip().lower()
    if forced in {"0", "false", "no"} or os.environ.get("QUARTO_DOCUMENT_PATH"):
        return None
    if _in_jupyter_kernel():
        return "jupyter"
    if forced in {"1", "true", "yes"} or sys.stderr.isatty():
        return "terminal"
    return None


def _in_jupyter_kernel() -> bool:
    """True inside a running Jupyter kernel (not merely when ipykernel has been imported)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


@contextmanager
def _progress_bar(name: str, epochs: int, enabled: bool | None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(epoch, train_loss, val_loss)``, drawing a transient ``rich`` bar when wanted."""
    if enabled is None:
        mode = progress_mode()
    else:
        mode = ("jupyter" if _in_jupyter_kernel() else "terminal") if enabled else None
    if mode is None:
        yield lambda *args: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"[bold]{name}"), BarColumn(), TextColumn("{task.description}"),
               TimeRemainingColumn())
    bar = Progress(*columns, transient=True, auto_refresh=mode == "terminal")
    task = bar.add_task("", total=epochs)
    show = _jupyter_line() if mode == "jupyter" else None

    def advance(epoch: int, train_loss: float, val_loss: float) -> None:
        bar.update(task, completed=epoch,
                   description=f"epoch {epoch}/{epochs}  train {train_loss:.4f}  val {val_loss:.4f}")
        if show is not None:
            show(bar)

    if show is None:
        with bar:  # transient: the terminal line is erased when training ends
            yield advance
    else:
        show(bar)
        try:
            yield advance
        finally:
            show(None)  # blank the line: nothing is left in the notebook


def _jupyter_line() -> Callable[[object], None]:
    """One updatable plain-text output line in Jupyter (no widgets, so nothing to load from a CDN)."""
    import io

    from IPython.display import display
    from rich.console import Console

    handle = display({"text/plain": ""}, raw=True, display_id=True)

    def show(renderable: object) -> None:
        text = ""
        if renderable is not None:
            console = Console(file=io.StringIO(), width=100, color_system=None, record=True,
                              force_jupyter=False)
            console.print(renderable.get_renderable())
            text = console.export_text().rstrip()
        handle.update({"text/plain": text}, raw=True)
    return show

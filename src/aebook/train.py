"""One plain training loop: ``fit`` trains a model and returns its ``History``.

It does no plotting and no file I/O. Data are tensors already in memory, batched
by index, so an epoch costs only the model's own arithmetic.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from aebook.data import Corruption, corrupt_mix, iterate_batches
from aebook.losses import kl_weight, mse, mse_l1, negative_elbo
from aebook.runtime import FALSE, TRUE, SaidPlainly, get_device, in_jupyter_kernel, quarto_rendering, switch

Objective = Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]


PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: a budget of optimiser updates, validation, stopping rule, schedule and seed.

    A recipe counts *updates*, not epochs, so a small data set is not silently
    undertrained: it gets as many updates as a large one, and early stopping on the
    validation loss ends the run when more would only overfit.
    """

    steps: int = 6_000                         # budget: optimiser updates at most
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_every: int | None = 100               # updates between validations (None: once per pass over the data)
    early_stopping_patience: int | None = None  # validations without a new best before stopping
    lr_plateau_patience: int | None = None      # ReduceLROnPlateau patience, in validations (None: constant lr)
    lr_plateau_factor: float = 0.5
    one_cycle: bool = False                     # lr is the peak of a one-cycle schedule over ``steps`` (one_cycle_schedule)
    restore_best: bool = True                   # end with the weights of the best validation
    seed: int = 0
    precision: str = "float32"                  # or "bfloat16": each update under autocast (mixed precision)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every"):
            value = getattr(self, name)
            if name == "eval_every" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer; got {value!r}")
        if not self.lr >= 0:
            raise ValueError(f"TrainConfig.lr must be a number >= 0; got {self.lr!r}")
        if self.one_cycle and self.lr_plateau_patience is not None:
            raise ValueError("TrainConfig: choose one schedule, one_cycle or lr_plateau_patience, not both")
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if not 0 < self.lr_plateau_factor < 1:
            raise ValueError(f"TrainConfig.lr_plateau_factor must be between 0 and 1; got {self.lr_plateau_factor!r}")

    def validation_interval(self, n_train: int) -> int:
        """Updates between two validations for ``n_train`` training items."""
        return self.eval_every or math.ceil(n_train / self.batch_size)


IMPROVING_WINDOW = 0.25    # the last quarter of the validations ...
IMPROVING_MIN_GAIN = 0.005  # ... still lowered the best validation loss by more than 0.5%


@dataclass
class History:
    """What a training run did, one entry per validation (``step``: updates made by then)."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean training loss since the last validation
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)  # e.g. recon_loss, kl per validation
    best_step: int = 0
    best_val: float = math.inf
    stopped_early: bool = False
    still_improving: bool = False  # the budget ran out while validation was still falling
    steps_per_epoch: float = 1.0   # updates in one pass over the training set
    seconds: float = 0.0

    @property
    def steps_run(self) -> int:
        """Optimiser updates actually made."""
        return self.step[-1] if self.step else 0

    @property
    def epochs_run(self) -> float:
        """Passes over the training set actually made (updates / updates per pass)."""
        return self.steps_run / self.steps_per_epoch

    @property
    def best_epoch(self) -> float:
        """Passes over the training set made when the kept weights were reached."""
        return self.best_step / self.steps_per_epoch

    @property
    def status(self) -> str:
        """``"stopped early"``, ``"still improving"`` or ``"converged"`` (budget spent, validation flat)."""
        if self.stopped_early:
            return "stopped early"
        return "still improving" if self.still_improving else "converged"

    def to_dict(self) -> dict:
        """Plain-Python form (lists, floats, ints) for safe saving."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Inverse of ``to_dict``."""
        return cls(**d)


def still_improving(val_loss: list[float]) -> bool:
    """True when the last quarter of the validations lowered the best loss by more than 0.5%."""
    if len(val_loss) < 4:
        return True  # too few validations to call it flat
    k = max(1, round(len(val_loss) * IMPROVING_WINDOW))
    before, after = min(val_loss[:-k]), min(val_loss[-k:])
    return after < before * (1 - IMPROVING_MIN_GAIN)


class TrainingDiverged(SaidPlainly, RuntimeError):
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
    The best weights are chosen on the validation *reconstruction* loss (``select_on``), as the
    plain autoencoder's are: no validation label decides which weights are kept, so the head can
    then be scored on the validation faces without having been picked for them.
    """

    weight: float = 1.0
    select_on: str = "recon_loss"

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

    While training, β follows ``losses.kl_weight`` (a linear ramp over ``warmup_steps``
    updates) and the KL is floored per dimension at ``free_bits`` nats. Validation
    scores the plain target objective (full β, no floor) with a *sampled* code, the
    same one-sample estimate of the −ELBO the book reports on the test set, so the best
    weights are chosen on what is reported. ``fit`` tells the objective the update count
    through ``set_step``.
    """

    beta: float = 1.0
    warmup_steps: int = 0
    free_bits: float = 0.0
    step: int = field(default=0, repr=False, compare=False)

    def set_step(self, step: int) -> None:
        """Called by ``fit`` before every update (``step`` updates made so far)."""
        self.step = step

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms ``loss``, ``recon_loss`` and ``kl`` for a batch (see ``losses.negative_elbo``)."""
        mu, logvar = model.encode(x)
        if model.training:
            x_hat = model.decode(model.reparameterize(mu, logvar))
            return negative_elbo(x_hat, x, mu, logvar, kl_weight(self.step, self.beta, self.warmup_steps),
                                 self.free_bits)
        noise = torch.Generator(device=mu.device).manual_seed(0)  # the same draws at every validation
        x_hat = model.decode(model.reparameterize(mu, logvar, noise))
        return negative_elbo(x_hat, x, mu, logvar, self.beta)


@dataclass(frozen=True)
class DenoisingObjective:
    """The denoising autoencoder's objective (Vincent et al. 2008): damage the input, score the clean image.

    Every image of a batch gets one of ``corruptions`` at random; the model sees only the
    damaged copy x̃ and is scored on how close its output is to the clean x. Validation
    draws the same damage every time (a seeded generator), so its loss is comparable
    from one validation to the next.
    """

    corruptions: tuple[Corruption, ...]

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Term ``loss``: the squared error between the reconstruction of x̃ and the clean x."""
        generator = None if model.training else torch.Generator().manual_seed(0)
        x_tilde = corrupt_mix(x, self.corruptions, generator)  # (B, 1, 28, 28), damaged
        x_hat, _ = model(x_tilde)
        return {"loss": mse(x_hat, x)}                         # compared with the clean images


@dataclass(frozen=True)
class ConditionalELBOObjective:
    """The conditional VAE's −ELBO (Sohn et al. 2015) on ``(x, y)`` batches: the class y goes to the
    encoder q(z|x, y) and to the decoder p(x|z, y); the prior stays N(0, I). Validation uses the
    same sampled codes every time, as ``ELBOObjective`` does."""

    beta: float = 1.0

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Terms ``loss``, ``recon_loss`` and ``kl`` for one ``(x, y)`` batch (``losses.negative_elbo``)."""
        x, y = batch
        mu, logvar = model.encode(x, y)
        noise = None if model.training else torch.Generator(device=mu.device).manual_seed(0)
        z = model.reparameterize(mu, logvar, noise)
        return negative_elbo(model.decode(z, y), x, mu, logvar, self.beta)


def fit(model: nn.Module, train_x: torch.Tensor, val_x: torch.Tensor | None = None,
        config: TrainConfig = TrainConfig(), objective: Objective = mse_objective,
        device: torch.device | None = None, name: str | None = None,
        progress: bool | None = None) -> History:
    """Train ``model`` on ``train_x`` with Adam for ``config.steps`` updates at most; return its ``History``.

    ``train_x`` (and ``val_x``) is a tensor of images, or a tuple of tensors indexed
    together, e.g. ``(images, labels)`` for an objective that also uses labels.

    ``objective(model, x)`` returns a dict of scalar terms; ``"loss"`` is minimised
    and every other term is logged at each validation (``terms``). The validation loss
    drives early stopping, the learning-rate schedule and the choice of the kept weights.
    """
    device = device or get_device()
    name = name or type(model).__name__
    model.to(device)
    train_x = _to(train_x, device)
    val_x = _to(val_x, device) if val_x is not None else None
    n_train = _count(train_x)
    interval = config.validation_interval(n_train)
    optimiser = make_optimiser(model, config)
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=config.lr_plateau_factor, patience=config.lr_plateau_patience)
        if config.lr_plateau_patience is not None else None)
    per_update = one_cycle_schedule(optimiser, config) if config.one_cycle else None
    batches = _endless_batches(n_train, config.batch_size, torch.Generator().manual_seed(config.seed))
    history = History(steps_per_epoch=n_train / config.batch_size)
    best_state, waited, step = None, 0, 0
    started = time.perf_counter()
    with _progress_bar(name, config.steps, progress) as advance:
        while step < config.steps:
            lr = optimiser.param_groups[0]["lr"]
            n_updates = min(interval, config.steps - step)
            train_terms = train_steps(model, train_x, batches, n_updates, objective, optimiser, first_step=step,
                                      schedule=per_update, precision=config.precision)
            step += n_updates
            _check_finite(train_terms["loss"], name, step, lr)
            select = getattr(objective, "select_on", "loss")  # the term that picks the best weights
            val_loss = (evaluate(model, val_x, 1024, objective)[select]
                        if val_x is not None else train_terms[select])
            _check_finite(val_loss, name, step, lr)
            history.step.append(step)
            history.train_loss.append(train_terms.pop("loss"))
            history.val_loss.append(val_loss)
            history.lr.append(lr)
            for key, value in train_terms.items():
                history.terms.setdefault(key, []).append(value)
            if val_loss < history.best_val:
                history.best_val, history.best_step, waited = val_loss, step, 0
                best_state = copy.deepcopy(model.state_dict()) if config.restore_best else None
            else:
                waited += 1
            if scheduler is not None:
                scheduler.step(val_loss)
            advance(step, history.train_loss[-1], val_loss)
            if config.early_stopping_patience is not None and waited >= config.early_stopping_patience:
                history.stopped_early = True
                break
    history.still_improving = not history.stopped_early and still_improving(history.val_loss)
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - started
    model.eval()
    return history


def one_cycle_schedule(optimiser: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.OneCycleLR:
    """PyTorch's one-cycle schedule (Smith and Topin 2019) over ``config.steps`` updates, peaking at ``config.lr``.

    The learning rate rises from ``lr / 25`` to ``lr`` over the first 30% of the updates, then
    falls to ``lr / 250,000`` by the last, both along half a cosine; Adam's β1 moves the other
    way, from 0.95 to 0.85 at the peak and back. Stepped once per update.
    """
    return torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps)


def learning_rates(config: TrainConfig) -> list[float]:
    """The learning rate of each of ``config.steps`` updates under ``config``'s schedule, before any
    plateau halving (which depends on the run): the one-cycle curve, or a constant.

    The curve is PyTorch's own, read from its scheduler and cached (``memo``): building a
    scheduler imports torch's compiler stack, about 1.5 s in a fresh kernel, for a list of numbers.
    """
    if not config.one_cycle:
        return [config.lr] * config.steps
    from importlib.metadata import version

    from aebook.memo import cached

    return cached("learning-rates", (config.lr, config.steps, version("torch"), one_cycle_schedule, _one_cycle_rates),
                  lambda: _one_cycle_rates(config))


def _one_cycle_rates(config: TrainConfig) -> list[float]:
    """``learning_rates`` of a one-cycle ``config``, uncached."""
    optimiser = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=config.lr)
    schedule = one_cycle_schedule(optimiser, config)
    rates = []
    for _ in range(config.steps):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()  # no gradient: nothing moves, but the schedule may step after it
        schedule.step()
    return rates


def make_optimiser(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with the configured learning rate and weight decay; the fused kernel where available."""
    try:
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or an older torch without fused Adam
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, x, batch_size: int, objective: Objective) -> dict[str, float]:
    """One pass over ``x`` in eval mode; the sample-weighted mean of each term of ``objective``."""
    model.eval()
    n, sums = _count(x), {}
    for idx in iterate_batches(n, batch_size):
        for key, value in objective(model, _take(x, idx)).items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(idx)
    return {key: total / n for key, total in sums.items()}


def train_steps(model: nn.Module, x, batches: Iterator[torch.Tensor], n_updates: int,
                objective: Objective, optimiser: torch.optim.Optimizer, first_step: int = 0,
                schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
                precision: str = "float32") -> dict[str, float]:
    """Make ``n_updates`` optimiser updates on batches drawn from ``batches``; return each term's sample-weighted mean.

    With ``precision="bfloat16"`` the objective runs under autocast (mixed precision): matrix
    products and convolutions compute in bfloat16, while the weights, their gradients, Adam's
    state and the losses (``aebook.losses`` computes in float32) stay in float32.
    """
    model.train(True)
    sums: dict[str, float] = {}
    seen = 0
    device_type = next(model.parameters()).device.type
    for k in range(n_updates):
        idx = next(batches)
        if hasattr(objective, "set_step"):  # e.g. KL annealing in ELBOObjective
            objective.set_step(first_step + k)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            terms = objective(model, _take(x, idx))
        optimiser.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(idx)
        seen += len(idx)
    return {key: total / seen for key, total in sums.items()}


def _count(x) -> int:
    """Number of items in a tensor, or in a tuple of tensors indexed together."""
    return len(x[0]) if isinstance(x, tuple) else len(x)


def _take(x, idx: torch.Tensor):
    """The items ``idx`` of a tensor, or of each tensor of a tuple."""
    return tuple(t[idx.to(t.device)] for t in x) if isinstance(x, tuple) else x[idx.to(x.device)]


def _endless_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches, one pass over ``range(n)`` after another, for as long as asked."""
    while True:
        yield from iterate_batches(n, batch_size, shuffle=True, generator=generator)


def _to(x: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device):
    """Move a tensor, or each tensor of a tuple, to ``device``."""
    return tuple(t.to(device) for t in x) if isinstance(x, tuple) else x.to(device)


def _check_finite(loss: float, name: str, step: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` with the model, update count and learning rate when ``loss`` is not finite."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{name} diverged by update {step:,} (learning rate {lr:g}): the loss became {loss}. "
            "Nothing from this run was kept. Lower the learning rate or check the inputs are in [0, 1].")


def progress_mode() -> str | None:
    """Where to draw the progress bar: ``"terminal"``, ``"jupyter"``, or None (never while Quarto renders)."""
    forced = switch("AEBOOK_PROGRESS", "")
    if forced in FALSE or quarto_rendering():
        return None
    if in_jupyter_kernel():
        return "jupyter"
    if forced in TRUE or sys.stderr.isatty():
        return "terminal"
    return None


@contextmanager
def _progress_bar(name: str, steps: int, enabled: bool | None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(step, train_loss, val_loss)``, drawing a transient ``rich`` bar when wanted."""
    if enabled is None:
        mode = progress_mode()
    else:
        mode = ("jupyter" if in_jupyter_kernel() else "terminal") if enabled else None
    if mode is None:
        yield lambda *args: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"[bold]{name}"), BarColumn(), TextColumn("{task.description}"),
               TimeRemainingColumn())
    bar = Progress(*columns, transient=True, auto_refresh=mode == "terminal")
    task = bar.add_task("", total=steps)
    show = _jupyter_line() if mode == "jupyter" else None

    def advance(step: int, train_loss: float, val_loss: float) -> None:
        bar.update(task, completed=step,
                   description=f"update {step:,}/{steps:,}  train {train_loss:.4f}  val {val_loss:.4f}")
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

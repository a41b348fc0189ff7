"""A cache of trained models, so re-rendering or a later chapter never retrains.

An entry is keyed by everything that decides the result: the model's class and
sizes, the training configuration, the objective, the data's fingerprint and the
seed. Writes are atomic (temporary file, then rename) and loads use
``weights_only=True``, so a cache file can never run code.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from aebook.memo import save_atomic
from aebook.runtime import cache_dir, get_device, log, seed_everything
from aebook.train import History, Objective, TrainConfig, fit, mse_objective

FORMAT = 1  # bump when the layout of a cache entry changes


class _Splits(Protocol):
    train: Any  # an ImageSet: .x and .fingerprint
    val: Any


@dataclass
class Trained:
    """A trained model with its history, and where it came from."""

    model: nn.Module
    history: History
    from_cache: bool
    path: Path | None  # the cache entry, or None when it could not be written
    note: str = ""     # the one line printed about this entry, if any


def load_or_train(name: str, build: Callable[[], nn.Module], data: _Splits,
                  config: TrainConfig = TrainConfig(), objective: Objective = mse_objective,
                  cache: Path | None = None, verbose: bool = True) -> Trained:
    """Return the cached model for this exact setup, or train it with ``fit`` and cache it."""
    seed_everything(config.seed)
    model = build()
    key = cache_key(model, data, config, objective)
    folder = Path(cache) if cache is not None else cache_dir() / "models"
    path = folder / f"{name}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.pt"
    entry, why = _read_entry(path, key)
    if entry is not None:
        try:
            model.load_state_dict(entry["state_dict"])
            history = History.from_dict(entry["history"])
        except (RuntimeError, TypeError, KeyError) as exc:  # readable, but not weights of this model
            why = f"cached file {path.name} holds unusable weights ({type(exc).__name__})"
            seed_everything(config.seed)
            model = build()
        else:
            model.to(get_device()).eval()
            return Trained(model, history, True, path)
    history = fit(model, data.train.x, data.val.x, config, objective, name=name)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    saved, note = _write_entry(path, {"format": FORMAT, "key": key, "state_dict": state,
                                      "history": history.to_dict()})
    note = (f"[cache] {name}: {why}; trained {history.steps_run:,} updates ({history.status}) "
            f"in {history.seconds:.0f} s"
            + (f", saved as {path.name}" if saved else note))
    if verbose:
        log(note)
    return Trained(model, history, False, path if saved else None, note)


def cache_key(model: nn.Module, data: _Splits, config: TrainConfig, objective: Objective) -> dict:
    """Everything that decides the trained weights, as plain JSON-able values."""
    return {
        "format": FORMAT,
        "model": type(model).__name__,
        "hparams": json.loads(json.dumps(getattr(model, "hparams", {}), default=list)),
        "shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
        "train": recipe_key(config),
        "objective": describe(objective),
        "data": [data.train.fingerprint, data.val.fingerprint],
    }


def recipe_key(config: TrainConfig) -> dict:
    """``config`` as a dict for the key. ``precision`` joined ``TrainConfig`` after models were cached,
    so at its default (float32) it is left out: models trained before it existed stay valid."""
    fields = asdict(config)
    if fields["precision"] == "float32":
        del fields["precision"]
    return fields


def describe(fn: Callable) -> str:
    """A stable text for a function or ``functools.partial`` (no memory addresses)."""
    if isinstance(fn, functools.partial):
        args = [repr(a) for a in fn.args] + [f"{k}={v!r}" for k, v in sorted(fn.keywords.items())]
        return f"{describe(fn.func)}({', '.join(args)})"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _read_entry(path: Path, key: dict) -> tuple[dict | None, str]:
    """Load a cache entry; return ``(None, reason)`` when it is missing, unreadable or stale."""
    if not path.exists():
        return None, "no cached model"
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, garbage, or not ours: all retrain
        return None, f"cached file {path.name} is unreadable ({type(exc).__name__})"
    if not isinstance(entry, dict) or entry.get("key") != key or "state_dict" not in entry:
        return None, f"cached file {path.name} belongs to another configuration"
    return entry, ""


def _write_entry(path: Path, entry: dict) -> tuple[bool, str]:
    """Save atomically next to ``path``; return ``(saved, note)`` where note explains a failure."""
    return save_atomic(path, entry)

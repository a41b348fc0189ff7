"""A cache of derived results (a fitted judge, a replayed run, a bound over the test set), so a
warm chapter reads what it measured before instead of computing it again.

``cached(name, inputs, compute)`` keys a result by a digest of everything it depends on: the
inputs themselves (tensors and arrays by their bytes, models by their weights, numbers and
strings by value), the source code of the functions named among them, and the source of this
package itself (``package_code``), so editing such a function, or any measure of the package it
calls, recomputes. Entries are written atomically (``aebook.files``) and read with
``weights_only=True``, so a cache file can never run code; an unreadable entry is computed
again, and an entry that cannot be written (a full disk) is just not kept, each with one line said.
The trained models have their own cache (``aebook.checkpoints``); both live under
``runtime.cache_dir()``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from aebook.files import SaveError, torch_bytes, write_atomic
from aebook.runtime import cache_dir, flag, log

T = TypeVar("T")
FORMAT = 1  # bump when the layout of an entry changes


def cached(name: str, inputs: tuple, compute: Callable[[], T], cache: Path | None = None) -> T:
    """``compute()``, or the result it gave before for the same ``inputs``.

    The result must be what ``torch.load(weights_only=True)`` reads back: tensors, numbers,
    strings, and lists, tuples or dicts of them. ``AEBOOK_MEMO=0`` turns the cache off.
    """
    if not flag("AEBOOK_MEMO", default=True):
        return compute()
    key = digest((package_code(), inputs))
    path = (Path(cache) if cache is not None else cache_dir() / "derived") / f"{name}-{key[:20]}.pt"
    if path.exists():
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(entry, dict) and entry.get("format") == FORMAT and "value" in entry:
                return entry["value"]
        except Exception as exc:  # noqa: BLE001 - truncated or garbage: compute it again
            log(f"[cache] {path.name} is unreadable ({type(exc).__name__}); computing {name} again")
    value = compute()
    saved, note = save_atomic(path, {"format": FORMAT, "value": value})
    if not saved:
        log(f"[cache] {name}: computed{note}")
    return value


@functools.cache
def package_code() -> str:
    """A SHA-256 over the source files of this package (``aebook``), part of every key.

    A result may depend on code the inputs do not name (a chapter's function calls a measure,
    which calls a helper), so any change to the package's code recomputes every result: one
    recomputed in vain costs seconds, one read back stale would be wrong.
    """
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"|")
        h.update(path.read_bytes())
    return h.hexdigest()


def digest(value: object) -> str:
    """A SHA-256 over ``value``: tensors and arrays by dtype, shape and bytes, ``nn.Module``s by
    their state, functions, classes and Python modules by their source code, dataclasses by
    their fields, containers item by item, anything else by its ``repr``."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h: hashlib._Hash, value: object) -> None:
    """Add one value to the running hash (see ``digest``)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        h.update(f"array|{value.dtype}|{value.shape}|".encode())
        h.update(np.ascontiguousarray(value).reshape(-1).view(np.uint8))  # its bytes, read in place, not copied
    elif isinstance(value, nn.Module):
        h.update(f"module|{type(value).__qualname__}|".encode())
        _feed(h, value.state_dict())
    elif isinstance(value, dict):
        h.update(b"dict|")
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}|{len(value)}|".encode())
        for item in value:
            _feed(h, item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(f"dataclass|{type(value).__qualname__}|".encode())
        _feed(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif inspect.isfunction(value) or inspect.ismethod(value) or inspect.isclass(value) or inspect.ismodule(value):
        try:
            source = inspect.getsource(value)
        except (OSError, TypeError):
            source = getattr(value, "__qualname__", value.__name__)
        h.update(f"code|{source}|".encode())
    else:
        h.update(f"{type(value).__name__}|{value!r}|".encode())


def save_atomic(path: Path, entry: object) -> tuple[bool, str]:
    """Save ``entry`` to ``path`` with ``files.write_atomic``: a reader never sees half a file.

    Returns ``(saved, note)``: the cache is an aid, not a must, so a full disk or a read-only
    folder is not an error; the note says what was not saved and why, for the caller's one line.
    """
    try:
        write_atomic(path, torch_bytes(entry))
    except SaveError as exc:
        why = f"{exc.cause}, {exc.detail}" if exc.detail else exc.cause
        return False, f" (not cached in {path.parent}: {why})"
    return True, ""

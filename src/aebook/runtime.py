"""Where the book runs: device choice, seeding, smoke mode and project paths."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # PyTorch and NumPy are imported where they are used: reading a switch or a path needs neither
    import torch

T = TypeVar("T")


class SaidPlainly:
    """Mixed into the errors that are about the reader's settings or data, not a bug in the code:
    IPython (a notebook, a Quarto render) shows them as their message alone, without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own rendering
        return [f"{type(self).__name__}: {self}"]


class SwitchError(SaidPlainly, ValueError):
    """An ``AEBOOK_*`` environment switch has a value the book does not accept; the message says which."""


TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
CHOICES = {  # every switch with a fixed set of values; AEBOOK_DATA_DIR must name a folder, AEBOOK_CACHE_DIR any
    "AEBOOK_SMOKE": TRUE + FALSE,
    "AEBOOK_PROGRESS": TRUE + FALSE,
    "AEBOOK_STATIC_FIGURES": TRUE + FALSE,
    "AEBOOK_MEMO": TRUE + FALSE,
    "AEBOOK_DATA": ("fashion-mnist", "standin"),
    "AEBOOK_EMOJI": ("auto", "hub", "font"),
    "AEBOOK_DEVICE": ("cpu", "cuda", "mps"),
    "AEBOOK_PRECISION": ("auto", "float32", "bfloat16"),
}


# Names the book reads that are not fixed-choice switches: folders, and where things are installed from
OTHER_NAMES = ("AEBOOK_DATA_DIR", "AEBOOK_CACHE_DIR", "AEBOOK_ROOT", "AEBOOK_INSTALL_FROM",
               "AEBOOK_SYSTEM_PACKAGES", "AEBOOK_QUARTO_INSTALLER")
KNOWN = tuple(CHOICES) + OTHER_NAMES


def unknown_names(environ: dict | None = None) -> list[str]:
    """Set ``AEBOOK_*`` variables the book does not know (typos such as ``AEBOOK_SMOK``), sorted."""
    environ = os.environ if environ is None else environ
    return sorted(name for name in environ if name.startswith("AEBOOK_") and name not in KNOWN)


def closest_name(name: str) -> str | None:
    """The known switch a mistyped ``name`` most likely meant, or None when none is close."""
    import difflib

    found = difflib.get_close_matches(name, KNOWN, n=1, cutoff=0.6)
    return found[0] if found else None


def switch(name: str, default: str | None = None) -> str | None:
    """The value of switch ``name`` (lower case, trimmed), checked against its accepted values.

    Every ``AEBOOK_*`` switch is read through here, so a wrong value always gets the same
    one-line ``SwitchError`` naming the variable, the value and what it accepts.
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if name in CHOICES and value not in CHOICES[name]:
        raise SwitchError(f"{name}={raw!r} is not a value the book knows; use one of: "
                          f"{', '.join(CHOICES[name])} (or unset it)")
    return value


def flag(name: str, default: bool = False) -> bool:
    """A yes/no switch (1/0, true/false, yes/no, on/off)."""
    value = switch(name)
    return default if value is None else value in TRUE


def check_switches() -> None:
    """Validate every switch now; called when the package is imported, so a typo stops the first cell.

    A set ``AEBOOK_*`` name the book does not read is an error too: a misspelt ``AEBOOK_SMOKE``
    would otherwise start an hour of full training in silence.
    """
    for name in unknown_names():
        near = closest_name(name)
        hint = f"did you mean {near}?" if near else f"the book reads {', '.join(KNOWN)}"
        raise SwitchError(f"{name} is not a switch the book knows ({hint}); rename or unset it")
    for name in CHOICES:
        switch(name)
    reader_data_dir()


def is_smoke() -> bool:
    """True when ``AEBOOK_SMOKE`` is on: every chapter shrinks its data and training budgets."""
    return flag("AEBOOK_SMOKE")


def pick(full: T, smoke: T) -> T:
    """Return ``smoke`` in smoke mode and ``full`` otherwise."""
    return smoke if is_smoke() else full


def in_jupyter_kernel() -> bool:
    """True inside a running Jupyter kernel (not merely when IPython has been imported)."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def quarto_rendering() -> bool:
    """True inside a kernel that Quarto started to render a page."""
    return bool(os.environ.get("QUARTO_FIG_WIDTH") or os.environ.get("QUARTO_DOCUMENT_PATH"))


def log(line: str) -> None:
    """Say what happened behind the scenes (a model trained or loaded, a damaged file removed).

    While Quarto renders, the line goes to the render log (the kernel's own standard error),
    so pages show results, not logs; in a terminal or a notebook it is printed as usual.
    """
    import sys

    print(line, file=sys.__stderr__ if quarto_rendering() else sys.stdout, flush=True)


def get_device() -> torch.device:
    """Pick CUDA, then Apple MPS, then the CPU (``AEBOOK_DEVICE`` overrides)."""
    import torch

    forced = switch("AEBOOK_DEVICE")
    if forced == "cuda" and not torch.cuda.is_available():
        raise SwitchError("AEBOOK_DEVICE=cuda, but PyTorch sees no CUDA GPU on this machine; "
                          "unset AEBOOK_DEVICE (or set it to cpu) to train on the CPU")
    if forced == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SwitchError("AEBOOK_DEVICE=mps, but PyTorch sees no Apple GPU (MPS) on this machine; "
                          "unset AEBOOK_DEVICE (or set it to cpu) to train on the CPU")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bfloat16_in_hardware(device: torch.device) -> bool:
    """True when ``device`` computes in bfloat16 natively: a CPU with AMX or AVX-512 BF16 instructions.

    Elsewhere PyTorch emulates bfloat16 on the CPU, and an update took 4 to 20 times as long
    as in float32 (measured on an AMD EPYC without them, 2026-12-06); GPUs and Apple's MPS are
    not tried, since the book has not been checked on them in bfloat16.
    """
    import torch

    if device.type != "cpu":
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, so each may be missing
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def training_precision(device: torch.device | None = None) -> str:
    """The arithmetic of the recipes that allow mixed precision (the emoji chapter's), as ``TrainConfig.precision``.

    ``AEBOOK_PRECISION``: ``auto`` (the default) picks ``"bfloat16"`` where the device has it in
    hardware (``bfloat16_in_hardware``) and ``"float32"`` elsewhere; ``float32`` or ``bfloat16``
    forces one. The choice is part of a model's cache key, so the two never mix.
    """
    chosen = switch("AEBOOK_PRECISION", "auto")
    if chosen != "auto":
        return chosen
    return "bfloat16" if bfloat16_in_hardware(device or get_device()) else "float32"


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator seeded the same way."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def project_root() -> Path:
    """The book's root folder: ``AEBOOK_ROOT``, else the checkout holding this package."""
    if os.environ.get("AEBOOK_ROOT"):
        return Path(os.environ["AEBOOK_ROOT"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "_quarto.yml").exists():
        return checkout
    return Path.cwd().resolve()


def data_dir() -> Path:
    """The book's own data folder, ``data/`` in the project: what it downloads or generates goes here."""
    return project_root() / "data"


def reader_data_dir() -> Path | None:
    """The reader's copy of Fashion-MNIST (``AEBOOK_DATA_DIR``), read and never changed; None when unset.

    A relative path is taken from the folder the command was run in (the command-line entry
    points make it absolute before they start a kernel). It must be an existing folder.
    """
    raw = os.environ.get("AEBOOK_DATA_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if not path.is_dir():
        where = "" if Path(raw).expanduser().is_absolute() else f" (a relative path, read from {Path.cwd()})"
        raise SwitchError(f"AEBOOK_DATA_DIR={raw!r} is not a folder{where}; point it at the folder holding "
                          "FashionMNIST/raw/ (an absolute path is safest), or unset it")
    return path


def cache_dir() -> Path:
    """Folder for trained models and t-SNE maps (``AEBOOK_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("AEBOOK_CACHE_DIR", project_root() / "_cache"))


check_switches()  # at import: a mistyped switch stops the first cell with one line

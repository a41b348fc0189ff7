"""Where the book runs: device choice, seeding, smoke mode and project paths."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def is_smoke() -> bool:
    """True when ``AEBOOK_SMOKE=1``: every chapter shrinks its data and training budgets."""
    return os.environ.get("AEBOOK_SMOKE", "0").strip().lower() in {"1", "true", "yes"}


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
    forced = os.environ.get("AEBOOK_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator seeded the same way."""
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
    """Folder for downloaded and generated data sets (``AEBOOK_DATA_DIR`` overrides)."""
    return Path(os.environ.get("AEBOOK_DATA_DIR", project_root() / "data"))


def cache_dir() -> Path:
    """Folder for trained models and t-SNE maps (``AEBOOK_CACHE_DIR`` overrides)."""
    return Path(os.environ.get("AEBOOK_CACHE_DIR", project_root() / "_cache"))

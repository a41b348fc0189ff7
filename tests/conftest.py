"""Shared fixtures: every test gets its own cache folder, and small synthetic data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from aebook.data import ImageSet


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the model/t-SNE cache at a fresh folder so tests never touch the real one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(cache))
    monkeypatch.delenv("AEBOOK_SMOKE", raising=False)
    monkeypatch.delenv("AEBOOK_DATA", raising=False)
    monkeypatch.setenv("AEBOOK_DEVICE", "cpu")
    return cache


@dataclass(frozen=True)
class Splits:
    train: ImageSet
    val: ImageSet


def make_set(n: int, seed: int, tag: str = "t") -> ImageSet:
    """``n`` random 28x28 images with a little structure (a bright square at a random spot)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.1
    for i, (r, c) in enumerate(torch.randint(0, 20, (n, 2), generator=g).tolist()):
        x[i, 0, r:r + 8, c:c + 8] = 0.9
    y = torch.randint(0, 10, (n,), generator=g)
    return ImageSet(x=x, y=y, fingerprint=f"{tag}-{n}-{seed}")


@pytest.fixture
def tiny_splits() -> Splits:
    """256 training and 64 validation images."""
    return Splits(train=make_set(256, 0, "train"), val=make_set(64, 1, "val"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    """Say where the browser checks left their screenshots, so a person can look at them."""
    folder = Path(__file__).resolve().parents[1] / "_build" / "screenshots"
    shots = sorted(folder.glob("*.png")) if folder.exists() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {folder}")

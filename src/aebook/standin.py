"""The generated stand-in for Fashion-MNIST: ten procedurally drawn clothing classes.

Used when asked for (``AEBOOK_DATA=standin``) or when a smoke run has no real data. It is
written in Fashion-MNIST's own IDX format, so it is read by the same code as the real data
set, and drawn from a seed, so every machine draws the same images.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aebook.data import CLASSES, IDX_FILES
from aebook.files import write_atomic


def idx_bytes(images: np.ndarray, labels: np.ndarray) -> tuple[bytes, bytes]:
    """uint8 images (N, 28, 28) and labels (N,) as the bytes of an IDX image file and label file."""
    n, h, w = images.shape
    return (struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes(),
            struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def write_idx(images: np.ndarray, labels: np.ndarray, raw: Path, split: str) -> None:
    """Write uint8 images (N, 28, 28) and labels (N,) as the IDX files of ``split`` (each atomically)."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, payload in zip(IDX_FILES[split], idx_bytes(images, labels)):
        write_atomic(raw / name, payload)


def draw(n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The stand-in's two splits, ``{"train": (images, labels), "test": ...}``, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % len(CLASSES)
        rng.shuffle(labels)
        splits[split] = (np.stack([draw_item(int(c), rng) for c in labels]), labels.astype(np.uint8))
    return splits


def make_standin(root: Path, n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> Path:
    """Draw the stand-in and write it as IDX files under ``root/FashionMNIST/raw`` (returned)."""
    raw = root / "FashionMNIST" / "raw"
    for split, (images, labels) in draw(n_train, n_test, seed).items():
        write_idx(images, labels, raw, split)
    return raw


_S = 112  # drawing canvas; images are drawn 4x larger, then shrunk to 28x28 (anti-aliasing)


def draw_item(label: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one 28x28 uint8 silhouette of class ``label`` with random size, shade and texture."""
    canvas = Image.new("L", (_S, _S), 0)
    pen = ImageDraw.Draw(canvas)
    scale, dx, dy = rng.uniform(0.85, 1.05), rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04)
    widen = rng.uniform(0.9, 1.12)

    def pt(u: float, v: float) -> tuple[float, float]:
        return (((u - 0.5) * widen * scale + 0.5 + dx) * _S, ((v - 0.5) * scale + 0.5 + dy) * _S)

    shade = int(rng.uniform(110, 255))
    for part in _SHAPES[label](rng):
        kind, points, fill = part[0], part[1], part[2]
        colour = int(shade * fill)
        if kind == "poly":
            pen.polygon([pt(u, v) for u, v in points], fill=colour)
        elif kind == "line":
            pen.line([pt(u, v) for u, v in points], fill=colour, width=max(2, int(part[3] * _S)))
        elif kind == "ellipse":
            (u0, v0), (u1, v1) = points
            pen.ellipse([pt(u0, v0), pt(u1, v1)], outline=colour, width=max(2, int(0.04 * _S)))
    img = np.asarray(canvas.resize((28, 28), Image.BOX), dtype=np.float32)
    img *= _texture(rng)
    img += rng.normal(0.0, 4.0, img.shape) * (img > 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def _texture(rng: np.random.Generator) -> np.ndarray:
    """A multiplicative pattern in [0.6, 1]: plain, stripes, or blotches."""
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    if kind == 0:
        return np.ones((28, 28), np.float32)
    if kind == 1:
        period = rng.uniform(2.5, 5.0)
        return 0.8 + 0.2 * np.cos(2 * math.pi * yy / period).astype(np.float32)
    bumps = rng.normal(size=(4, 4)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(bumps).resize((28, 28), Image.BICUBIC))
    return 0.8 + 0.2 * np.tanh(smooth)


def _top(rng: np.random.Generator, sleeve: float, length: float, collar: bool) -> list:
    """A garment torso with sleeves reaching down to ``sleeve`` and a hem at ``length``."""
    s = sleeve + rng.uniform(-0.03, 0.03)
    parts = [
        ("poly", [(0.32, 0.12), (0.68, 0.12), (0.7, length), (0.3, length)], 1.0),
        ("poly", [(0.32, 0.12), (0.1, s - 0.05), (0.2, s), (0.33, 0.35)], 0.9),
        ("poly", [(0.68, 0.12), (0.9, s - 0.05), (0.8, s), (0.67, 0.35)], 0.9),
    ]
    if collar:
        parts.append(("poly", [(0.42, 0.12), (0.5, 0.24), (0.58, 0.12)], 0.35))
    return parts


_SHAPES = {
    0: lambda r: _top(r, 0.36, 0.86, False) + [("poly", [(0.42, 0.12), (0.5, 0.17), (0.58, 0.12)], 0.2)],
    1: lambda r: [
        ("poly", [(0.33, 0.06), (0.67, 0.06), (0.69, 0.95), (0.53, 0.95), (0.5, 0.32),
                  (0.47, 0.95), (0.31, 0.95)], 1.0)],
    2: lambda r: _top(r, 0.8, 0.84, False),
    3: lambda r: [("poly", [(0.41, 0.06), (0.59, 0.06), (0.6, 0.35),
                            (0.8 + r.uniform(-0.05, 0.04), 0.95),
                            (0.2 + r.uniform(-0.04, 0.05), 0.95), (0.4, 0.35)], 1.0)],
    4: lambda r: _top(r, 0.88, 0.96, True) + [("line", [(0.5, 0.24), (0.5, 0.96)], 0.3, 0.03)],
    5: lambda r: [("line", [(0.06, 0.72), (0.94, 0.68)], 0.9, 0.06)]
    + [("line", [(0.15 + 0.17 * k, 0.7), (0.3 + 0.17 * k, 0.42 + r.uniform(-0.05, 0.05))], 0.8, 0.035)
       for k in range(4)],
    6: lambda r: _top(r, 0.82, 0.88, True) + [("line", [(0.5, 0.25 + 0.12 * k), (0.5, 0.27 + 0.12 * k)],
                                               0.3, 0.04) for k in range(5)],
    7: lambda r: [("poly", [(0.05, 0.74), (0.95, 0.74), (0.95, 0.62), (0.62, 0.52),
                            (0.38, 0.4 + r.uniform(-0.04, 0.04)), (0.1, 0.42)], 1.0),
                  ("line", [(0.05, 0.74), (0.95, 0.74)], 0.6, 0.05)],
    8: lambda r: [("poly", [(0.14, 0.36), (0.86, 0.36), (0.9, 0.9), (0.1, 0.9)], 1.0),
                  ("ellipse", [(0.3, 0.12 + r.uniform(-0.04, 0.04)), (0.7, 0.55)], 0.8)],
    9: lambda r: [("poly", [(0.42, 0.08), (0.78, 0.08), (0.8, 0.62), (0.95, 0.72), (0.95, 0.86),
                            (0.3, 0.86), (0.3, 0.62), (0.42, 0.55)], 1.0),
                  ("line", [(0.3, 0.86), (0.95, 0.86)], 0.55, 0.05)],
}

"""Images from outside Fashion-MNIST, for asking what a model trained on it makes of them.

Each set is 28 × 28 grey, light on a black background like Fashion-MNIST's items, so that
what differs is the content, not the format:

* ``grey_emoji``: the face emoji of chapter 5, drawn by the local colour-emoji font;
* ``drawn_digits``: the digits 0-9 written with Pillow's own font (always at hand), shifted,
  turned and resized at random: a home-made cousin of MNIST, not MNIST;
* ``mnist_digits``: MNIST's test digits (LeCun et al. 1998) through torchvision, when they are
  on disk or the network allows a download; otherwise ``None`` and the reason, in words.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tempfile
from pathlib import Path

import numpy as np
import torch

from aebook.runtime import data_dir, is_smoke

MNIST_HOST = "ossci-datasets.s3.amazonaws.com"  # where torchvision downloads MNIST from first


def to_fashion_format(rgb: torch.Tensor, size: int = 28) -> torch.Tensor:
    """Colour images (N, 3, H, W) on white -> grey (N, 1, size, size), inverted so the background is black."""
    grey = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)  # (N, 1, H, W), ITU-R 601
    small = torch.nn.functional.interpolate(grey, size=(size, size), mode="area")       # (N, 1, 28, 28)
    return (1.0 - small).clamp(0.0, 1.0)


def grey_emoji(font: str | Path) -> tuple[torch.Tensor, list[str]]:
    """The face emoji the font draws in colour (``emoji.faces_from_font``), as grey 28 × 28 images on black."""
    from aebook.emoji import faces_from_font

    faces, names = faces_from_font(font, size=64)
    return to_fashion_format(faces), names


def drawn_digits(n: int = 500, seed: int = 0) -> torch.Tensor:
    """``n`` digits 0-9 in Pillow's built-in font, white on black, 28 × 28 -> (n, 1, 28, 28).

    Each is drawn with a random stroke width and turned by up to 15°, then, as MNIST's digits
    were, fitted into a 20 × 20 box and centred in the 28 × 28 frame. The same seed gives the same set.
    """
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=72)
    images = []
    for i in range(n):
        canvas = Image.new("L", (128, 128), 0)
        ImageDraw.Draw(canvas).text((64, 64), str(i % 10), fill=255, font=font, anchor="mm",
                                    stroke_width=int(rng.integers(1, 6)), stroke_fill=255)
        canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
        digit = canvas.crop(canvas.getbbox())
        scale = 20 / max(digit.size)
        digit = digit.resize((max(1, round(digit.width * scale)), max(1, round(digit.height * scale))), Image.LANCZOS)
        frame = Image.new("L", (28, 28), 0)
        frame.paste(digit, ((28 - digit.width) // 2, (28 - digit.height) // 2))
        images.append(torch.from_numpy(np.asarray(frame, dtype=np.float32) / 255.0))
    return torch.stack(images).unsqueeze(1).clamp(0.0, 1.0)


def mnist_digits(n: int = 1000, root: Path | None = None) -> tuple[torch.Tensor | None, str]:
    """The first ``n`` MNIST test digits -> ``(images (n, 1, 28, 28), "")``, or ``(None, why not)``.

    Read from ``root/MNIST/raw`` (default: the book's data folder) when there; otherwise
    downloaded once by torchvision into a temporary folder and moved into place whole.
    A smoke run never downloads, and without a network the reason is given, not an error.
    """
    raw = (Path(root) if root is not None else data_dir()) / "MNIST" / "raw"
    names = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    if not all((raw / name).exists() for name in names):
        if is_smoke():
            return None, "MNIST is not on disk, and smoke runs do not download"
        try:
            socket.create_connection((MNIST_HOST, 443), timeout=3).close()
        except OSError:
            return None, "MNIST is not on disk and this machine could not reach its download server"
        try:
            _download_mnist(raw)
        except Exception as exc:  # noqa: BLE001 - any failure: said in words, the chapter goes on
            return None, f"the MNIST download failed ({type(exc).__name__})"
    from torchvision.datasets.mnist import read_image_file

    images = read_image_file(str(raw / names[0]))[:n]
    return images.float().div(255.0).unsqueeze(1), ""


def _download_mnist(raw: Path) -> None:
    """torchvision's MNIST test split, downloaded beside ``raw`` and moved in only when complete."""
    from torchvision.datasets import MNIST

    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=raw.parent) as scratch:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            MNIST(scratch, train=False, download=True)
        fetched = Path(scratch) / "MNIST" / "raw"
        for name in ("t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
            os.replace(fetched / name, raw / name)

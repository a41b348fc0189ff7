"""Fashion-MNIST, held in memory as tensors and batched by index.

The real data set comes through torchvision's ``FashionMNIST`` class. When it
cannot be had, a generated *stand-in* with the same on-disk IDX format and the
same ten classes can be used instead; every chapter says which one it ran on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from aebook.runtime import data_dir, is_smoke, log, switch

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SOURCES = ("fashion-mnist", "standin")
SMOKE_SIZES = {"train": 2_000, "val": 500, "test": 1_000}
OFFICIAL_SIZES = {"train": 60_000, "test": 10_000}  # Fashion-MNIST's published split
OFFICIAL_VAL_SIZE = 5_000  # the validation images carved out of a full training set
MIN_TRAIN_IMAGES = 1_000   # fewer than this is too few to train and validate a model on


class DataUnavailableError(RuntimeError):
    """A data set is neither on disk nor downloadable; the message says how to fix it."""


class DataTooSmallError(DataUnavailableError):
    """The data set on disk holds too few images to train on; the message says how many and what to do."""


@dataclass(frozen=True)
class ImageSet:
    """Images ``x`` (N, 1, 28, 28) as floats in [0, 1] and integer labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    fingerprint: str

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class FashionMNISTData:
    """The three splits, the class names, and which source they came from."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    source: str
    classes: tuple[str, ...] = CLASSES
    found: tuple[int, int] = (OFFICIAL_SIZES["train"], OFFICIAL_SIZES["test"])  # images in the files read

    @property
    def is_official(self) -> bool:
        """True when the files held the official 60,000 training and 10,000 test images."""
        return self.found == (OFFICIAL_SIZES["train"], OFFICIAL_SIZES["test"])

    @property
    def is_standin(self) -> bool:
        """True when the images are the generated stand-in, not Fashion-MNIST."""
        return self.source == "standin"

    def split_sentence(self) -> str:
        """One sentence saying which split this run used: the official one, or what was found instead."""
        n_train, n_test = self.found
        if self.is_official:
            return (f"This run uses the official split, {n_train:,} training and {n_test:,} test images, "
                    f"and carves {len(self.val):,} validation images out of the training set.")
        return (f"This run does not have the official split: the files it read hold {n_train:,} training "
                f"and {n_test:,} test images, and {len(self.val):,} of the training images, the same "
                "share as in the official split, are set aside for validation.")

    @property
    def source_name(self) -> str:
        """Human-readable name of the source, for prose and captions."""
        return ("the generated Fashion-MNIST stand-in (ten procedurally drawn clothing classes)"
                if self.is_standin else "Fashion-MNIST")


# --------------------------------------------------------------------------- loading


def default_val_size(n_train: int) -> int:
    """Validation images for ``n_train`` training images: 5,000 of the official 60,000, the same share otherwise."""
    return max(1, round(n_train * OFFICIAL_VAL_SIZE / OFFICIAL_SIZES["train"]))


def load_fashion_mnist(source: str | None = None, root: Path | None = None,
                       val_size: int | None = None, seed: int = 0,
                       min_train: int = MIN_TRAIN_IMAGES) -> FashionMNISTData:
    """Load train/validation/test splits into memory (smoke mode keeps small subsets).

    ``source`` is ``"fashion-mnist"`` (download when missing) or ``"standin"``;
    by default it is read from ``AEBOOK_DATA`` and falls back to ``"fashion-mnist"``.
    In smoke mode a missing real data set is replaced by the stand-in without a download.
    ``val_size`` defaults to ``default_val_size`` of the training images found, so a
    partial copy of the data set (e.g. a sample in ``AEBOOK_DATA_DIR``) works too;
    fewer than ``min_train`` training images raise ``DataTooSmallError``.
    """
    source = (source or switch("AEBOOK_DATA", "fashion-mnist")).strip().lower()
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    root = Path(root) if root is not None else data_dir()
    if source == "fashion-mnist":
        removed = remove_damaged(root / "FashionMNIST" / "raw")
        if not _has_idx(root / "FashionMNIST" / "raw") and is_smoke() and not removed:
            source = "standin"
        else:
            _ensure_fashion_mnist(root, removed)
    if source == "standin":
        root = root / "standin"
        remove_damaged(root / "FashionMNIST" / "raw")
        if not _has_idx(root / "FashionMNIST" / "raw"):
            make_standin(root)
    train_full = _read_split(root, train=True)
    test = _read_split(root, train=False)
    found = (len(train_full[1]), len(test[1]))
    if found[0] < min_train or found[1] < 1:
        raise DataTooSmallError(
            f"Only {found[0]:,} training and {found[1]:,} test images were found in "
            f"{root / 'FashionMNIST' / 'raw'} (the full data set has {OFFICIAL_SIZES['train']:,} and "
            f"{OFFICIAL_SIZES['test']:,}); the book needs at least {min_train:,} training images. "
            "Copy the complete IDX files there (or delete them to download again), point AEBOOK_DATA_DIR "
            "at a folder that has them, or set AEBOOK_DATA=standin.")
    val_size = default_val_size(found[0]) if val_size is None else val_size
    if not 0 < val_size < len(train_full[1]):
        raise ValueError(f"val_size={val_size} must be between 1 and the {len(train_full[1])} "
                         "training images minus one")
    perm = torch.randperm(len(train_full[1]), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    splits = {"train": (train_full[0][train_idx], train_full[1][train_idx]),
              "val": (train_full[0][val_idx], train_full[1][val_idx]),
              "test": test}
    if is_smoke():
        splits = {k: (x[: SMOKE_SIZES[k]], y[: SMOKE_SIZES[k]]) for k, (x, y) in splits.items()}
    sets = {k: _to_image_set(x, y, source) for k, (x, y) in splits.items()}
    return FashionMNISTData(train=sets["train"], val=sets["val"], test=sets["test"], source=source,
                            found=found)


def _read_split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split through torchvision's ``FashionMNIST`` class (uint8 images, labels)."""
    from torchvision.datasets import FashionMNIST

    ds = FashionMNIST(str(root), train=train, download=False)
    return ds.data, ds.targets


def _to_image_set(x_uint8: torch.Tensor, y: torch.Tensor, source: str) -> ImageSet:
    """Convert uint8 images to floats in [0, 1] with a channel axis, and fingerprint them."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(source.encode())
    digest.update(x_uint8.contiguous().numpy().tobytes())
    digest.update(y.to(torch.int64).numpy().tobytes())
    x = x_uint8.to(torch.float32).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return ImageSet(x=x, y=y.to(torch.int64), fingerprint=digest.hexdigest())


def _has_idx(raw: Path) -> bool:
    """True when all four uncompressed IDX files are in ``raw``."""
    return all((raw / name).is_file() for pair in IDX_FILES.values() for name in pair)


def remove_damaged(raw: Path) -> list[str]:
    """Delete damaged data files in ``raw`` (bad IDX header or size, archive with a wrong MD5).

    Returns one line per removed file; each is also printed, so a reader sees what happened.
    """
    from torchvision.datasets import FashionMNIST
    from torchvision.datasets.utils import check_integrity

    problems = {}
    for image_name, label_name in IDX_FILES.values():
        problems.update(_idx_problems(raw / image_name, raw / label_name))
    for archive, md5 in FashionMNIST.resources:
        if (raw / archive).exists() and not check_integrity(str(raw / archive), md5):
            problems[raw / archive] = "its MD5 checksum does not match the published one"
    lines = []
    for path, why in problems.items():
        path.unlink(missing_ok=True)
        lines.append(f"[data] removed damaged {path.name}: {why}")
        log(lines[-1])
    return lines


def _idx_problems(images: Path, labels: Path) -> dict[Path, str]:
    """What is wrong with an IDX image/label file pair, by file (empty when both are sound)."""
    if not (images.exists() and labels.exists()):
        return {}
    with images.open("rb") as fi, labels.open("rb") as fl:
        head_i, head_l = fi.read(16), fl.read(8)
    if len(head_i) < 16 or struct.unpack(">I", head_i[:4])[0] != 0x803:
        return {images: "not an IDX image file"}
    if len(head_l) < 8 or struct.unpack(">I", head_l[:4])[0] != 0x801:
        return {labels: "not an IDX label file"}
    n, h, w = struct.unpack(">III", head_i[4:16])
    problems = {}
    if images.stat().st_size != 16 + n * h * w:
        problems[images] = f"{images.stat().st_size:,} bytes where its header promises {16 + n * h * w:,}"
    if labels.stat().st_size != 8 + struct.unpack(">I", head_l[4:8])[0]:
        problems[labels] = "its size does not match its header"
    if not problems and struct.unpack(">I", head_l[4:8])[0] != n:
        problems = {images: "image and label counts differ", labels: "image and label counts differ"}
    return problems


def _ensure_fashion_mnist(root: Path, removed: list[str] = ()) -> None:
    """Download Fashion-MNIST into ``root`` when missing; explain clearly when that fails."""
    raw = root / "FashionMNIST" / "raw"
    if _has_idx(raw):
        return
    from torchvision.datasets import FashionMNIST

    before = set(raw.iterdir()) if raw.is_dir() else set()
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            for train in (True, False):
                FashionMNIST(str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        for leftover in (set(raw.iterdir()) if raw.is_dir() else set()) - before:
            leftover.unlink(missing_ok=True)
        raise DataUnavailableError(
            "".join(f"{line}\n" for line in removed)
            + f"Fashion-MNIST is not in {raw} and could not be downloaded "
            f"({type(exc).__name__}: {' '.join(str(exc).split()) or 'no detail'}).\n"
            "To fix it, do one of these:\n"
            "  * connect to the internet and run again (torchvision downloads about 30 MB);\n"
            f"  * copy the four Fashion-MNIST files (train-images-idx3-ubyte, ...) into {raw};\n"
            "  * or set AEBOOK_DATA=standin to run on the generated stand-in data set."
        ) from None


# --------------------------------------------------------------------------- batching


def iterate_batches(n: int, batch_size: int, shuffle: bool = False,
                    generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches (shuffled when asked)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    yield from order.split(batch_size)


def first_per_class(labels: torch.Tensor, n: int = 1, n_classes: int = len(CLASSES)) -> torch.Tensor:
    """Indices (n_classes, n) of the first ``n`` items of each class, in class order."""
    rows = [(labels == c).nonzero().flatten()[:n] for c in range(n_classes)]
    if any(len(r) < n for r in rows):
        raise ValueError(f"some class has fewer than n={n} items")
    return torch.stack(rows)


def high_frequency_energy(x: torch.Tensor) -> float:
    """Mean squared difference between images (N, C, H, W) and their 3x3 blur: the energy of fine detail."""
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    blurred = torch.nn.functional.avg_pool2d(padded, 3, stride=1)
    return float(((x - blurred) ** 2).mean())


def pixel_correlations(x: torch.Tensor, offsets: list[int]) -> list[float]:
    """Pearson correlation between each pixel and the one ``k`` columns to its right, per offset k.

    One pass over the images: the Gram matrix of image columns (W x W) holds every
    product a horizontal offset needs.
    """
    rows = x.reshape(-1, x.shape[-1]).double()  # (N * H, W): every image row
    gram, col_sum, n = rows.T @ rows, rows.sum(0), rows.shape[0]
    width, squares = rows.shape[1], torch.diagonal(gram)
    result = []
    for k in offsets:
        m = n * (width - k)  # number of (left, right) pixel pairs
        mean_l, mean_r = col_sum[: width - k].sum() / m, col_sum[k:].sum() / m
        cov = torch.diagonal(gram, k).sum() / m - mean_l * mean_r
        var_l = squares[: width - k].sum() / m - mean_l ** 2
        var_r = squares[k:].sum() / m - mean_r ** 2
        result.append(float(cov / (var_l * var_r).sqrt()))
    return result


def pixel_correlation(x: torch.Tensor, offset: int = 1) -> float:
    """Pearson correlation between each pixel and the one ``offset`` columns to its right."""
    return pixel_correlations(x, [offset])[0]


# --------------------------------------------------------------------------- the stand-in


def write_idx(images: np.ndarray, labels: np.ndarray, raw: Path, split: str) -> None:
    """Write uint8 images (N, 28, 28) and labels (N,) as the IDX files of ``split``."""
    raw.mkdir(parents=True, exist_ok=True)
    image_name, label_name = IDX_FILES[split]
    n, h, w = images.shape
    for name, header, payload in (
        (image_name, struct.pack(">IIII", 0x803, n, h, w), images.astype(np.uint8).tobytes()),
        (label_name, struct.pack(">II", 0x801, n), labels.astype(np.uint8).tobytes()),
    ):
        tmp = raw / f".{name}.tmp"
        tmp.write_bytes(header + payload)
        tmp.replace(raw / name)


def make_standin(root: Path, n_train: int = 60_000, n_test: int = 10_000, seed: int = 0) -> Path:
    """Draw a ten-class stand-in for Fashion-MNIST and write it as IDX files under ``root``."""
    rng = np.random.default_rng(seed)
    raw = root / "FashionMNIST" / "raw"
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % len(CLASSES)
        rng.shuffle(labels)
        images = np.stack([draw_item(int(c), rng) for c in labels])
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


def shuffle_pixels(data: FashionMNISTData, seed: int = 0) -> FashionMNISTData:
    """The same splits with every image's pixels moved by one fixed random permutation.

    A fully connected layer cannot tell the difference (permuting its inputs permutes its
    weights); a convolution, which relies on neighbours being neighbours, can.
    """
    n_pixels = data.train.x[0].numel()
    order = torch.randperm(n_pixels, generator=torch.Generator().manual_seed(seed))

    def moved(s: ImageSet) -> ImageSet:
        x = s.x.flatten(1)[:, order].view_as(s.x)
        return ImageSet(x=x, y=s.y, fingerprint=f"{s.fingerprint}|shuffled-{seed}")
    return FashionMNISTData(moved(data.train), moved(data.val), moved(data.test), data.source, data.classes,
                            data.found)

"""Fashion-MNIST, held in memory as tensors and batched by index.

The real data set is downloaded by torchvision's ``FashionMNIST`` class, checked, and read
from its IDX files (``_read_pair``), from the reader's copy (``AEBOOK_DATA_DIR``, read and never
changed) or from the book's own data folder. The generated *stand-in*
(``aebook.standin``), in the same IDX format with the same ten classes, is used when asked
for, or by a smoke run without the real data; every chapter says which one it ran on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from aebook.runtime import SaidPlainly, data_dir, is_smoke, log, reader_data_dir, switch

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


class DataUnavailableError(SaidPlainly, RuntimeError):
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
    folder: Path | None = None  # the folder the IDX files were read from
    why_standin: str = ""       # "asked" (AEBOOK_DATA=standin), or why the real data set could not be used

    @property
    def is_official(self) -> bool:
        """True when the files held the official 60,000 training and 10,000 test images."""
        return self.found == (OFFICIAL_SIZES["train"], OFFICIAL_SIZES["test"])

    @property
    def is_standin(self) -> bool:
        """True when the images are the generated stand-in, not Fashion-MNIST."""
        return self.source == "standin"

    @property
    def source_name(self) -> str:
        """Human-readable name of the source, for prose and captions."""
        return ("the generated Fashion-MNIST stand-in (ten procedurally drawn clothing classes)"
                if self.is_standin else "Fashion-MNIST")


# --------------------------------------------------------------------------- loading
#
# Two folders, two rules. A copy of Fashion-MNIST that the reader points at with
# AEBOOK_DATA_DIR is theirs: it is read and never changed (nothing deleted, repaired,
# downloaded or generated into it). The book's own folder, ``runtime.data_dir()``, holds
# what the book fetched or made itself: a download (made in a temporary folder and moved
# into place only when complete) and the stand-in. A damaged file there is kept, renamed
# ``….damaged``, never deleted.


def default_val_size(n_train: int) -> int:
    """Validation images for ``n_train`` training images: 5,000 of the official 60,000, the same share otherwise."""
    return max(1, round(n_train * OFFICIAL_VAL_SIZE / OFFICIAL_SIZES["train"]))


def load_fashion_mnist(source: str | None = None, root: Path | None = None, copy: Path | None = None,
                       val_size: int | None = None, seed: int = 0,
                       min_train: int = MIN_TRAIN_IMAGES) -> FashionMNISTData:
    """Load train/validation/test splits into memory (smoke mode keeps small subsets).

    ``source`` is ``"fashion-mnist"`` or ``"standin"`` (default: ``AEBOOK_DATA``, else the real
    data set). The real data set is read from the reader's ``copy`` (default: ``AEBOOK_DATA_DIR``)
    when one is given, else from the book's own folder ``root`` (default ``runtime.data_dir()``),
    downloading it there when it is missing. A smoke run never downloads: without the real data
    set on disk it uses the stand-in, and says so in one line and on the page. ``val_size``
    defaults to ``default_val_size`` of the training images found, so a partial copy works too;
    fewer than ``min_train`` training images raise ``DataTooSmallError``.
    """
    source = (source or switch("AEBOOK_DATA", "fashion-mnist")).strip().lower()
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
    root = Path(root) if root is not None else data_dir()
    copy = Path(copy) if copy is not None else reader_data_dir()
    why_standin = ""
    if source == "standin":
        why_standin = "asked"
        if copy is not None:
            log(f"[data] AEBOOK_DATA=standin: the copy of Fashion-MNIST in {copy} is not used")
    elif copy is not None:
        raw, files = read_copy(copy)
    elif (own := _sound_files(root / "FashionMNIST" / "raw")) is not None:
        raw, files = root / "FashionMNIST" / "raw", own
    elif is_smoke():
        why_standin = "Fashion-MNIST was not on disk when this page was executed, and smoke runs do not download it"
        log(f"[data] smoke run: Fashion-MNIST is not in {root / 'FashionMNIST' / 'raw'} and smoke runs do not "
            "download it; using the generated stand-in (AEBOOK_DATA=standin chooses it without this note)")
    else:
        raw, files = _download(root)
    if why_standin:
        raw, (train_full, test) = root / "standin" / "FashionMNIST" / "raw", _standin(root / "standin")
    else:
        train_full, test = (_read_pair(files, "train"), _read_pair(files, "test"))
    found = (len(train_full[1]), len(test[1]))
    if found[0] < min_train or found[1] < 1:
        raise DataTooSmallError(
            f"Only {found[0]:,} training and {found[1]:,} test images were found in {raw} (the full "
            f"data set has {OFFICIAL_SIZES['train']:,} and {OFFICIAL_SIZES['test']:,}); the book needs at "
            f"least {min_train:,} training images.\n"
            "To fix it, point AEBOOK_DATA_DIR at a complete copy, unset it to download the data set, "
            "or set AEBOOK_DATA=standin.")
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
    sets = {k: _to_image_set(x, y, "standin" if why_standin else source) for k, (x, y) in splits.items()}
    return FashionMNISTData(train=sets["train"], val=sets["val"], test=sets["test"],
                            source="standin" if why_standin else source, found=found, folder=raw,
                            why_standin=why_standin)


def real_data_on_disk(root: Path | None = None) -> bool:
    """True when Fashion-MNIST can be read without a download: a sound copy in ``AEBOOK_DATA_DIR``, or
    all four files sound in the book's own folder. Only looks; changes nothing."""
    if reader_data_dir() is not None:
        try:
            read_copy(reader_data_dir())
        except DataUnavailableError:
            return False
        return True
    present = _present((Path(root) if root is not None else data_dir()) / "FashionMNIST" / "raw")
    return len(present) == 4 and not _problems(present)


def read_copy(folder: Path) -> tuple[Path, dict[str, Path]]:
    """The folder holding the IDX files of a reader's copy, and the four files, checked; never changed.

    ``folder`` may be the one holding ``FashionMNIST/raw/``, the ``FashionMNIST`` folder or ``raw/``
    itself; each file may be plain or gzipped (``.gz``, as the official download ships them).
    A missing or damaged file raises ``DataUnavailableError`` saying which and what to do.
    """
    candidates = [folder / "FashionMNIST" / "raw", folder / "raw", folder]
    raw = max(candidates, key=lambda c: len(_present(c)))  # the layout that holds the most of the files
    present = _present(raw)
    if not present:
        raise DataUnavailableError(
            f"AEBOOK_DATA_DIR={folder} holds no Fashion-MNIST files (looked for "
            f"train-images-idx3-ubyte and the three others, plain or .gz, in {folder / 'FashionMNIST' / 'raw'}, "
            f"{folder / 'raw'} and {folder}).\n"
            "To fix it, point AEBOOK_DATA_DIR at the folder holding FashionMNIST/raw/, or unset it to download "
            "the data set into the book's own data folder.")
    missing = [name for pair in IDX_FILES.values() for name in pair if name not in present]
    if missing:
        raise DataUnavailableError(
            f"The copy of Fashion-MNIST in {raw} lacks {', '.join(missing)} (plain or .gz).\n"
            "To fix it, copy the missing files there, or unset AEBOOK_DATA_DIR to download the data set "
            "into the book's own data folder; the book does not change your folder.")
    problems = _problems(present)
    if problems:
        raise DataUnavailableError(
            f"The copy of Fashion-MNIST in {raw} is damaged: {'; '.join(problems)}.\n"
            "To fix it, replace that file with a sound copy, or unset AEBOOK_DATA_DIR to download the data "
            "set into the book's own data folder; the book left your files as they are.")
    return raw, present


def _present(raw: Path) -> dict[str, Path]:
    """The IDX files found in ``raw``, by name: the plain file, else its ``.gz``."""
    found = {}
    for name in (n for pair in IDX_FILES.values() for n in pair):
        for candidate in (raw / name, raw / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _sound_files(raw: Path) -> dict[str, Path] | None:
    """The four files of the book's own folder ``raw`` when all are there and sound, else None.

    A damaged one is renamed ``….damaged`` (kept, not deleted) and said in one line, so that a
    fresh download can take its place.
    """
    present = _present(raw)
    problems = _problems(present, by_file=True)
    for path, why in problems.items():
        kept = _free_name(path.with_name(path.name + ".damaged"))
        path.rename(kept)
        log(f"[data] {path} is damaged ({why}); kept it as {kept.name} and will fetch a fresh copy")
    if problems or len(present) < 4:
        return None
    return present


def _free_name(path: Path) -> Path:
    """``path``, or ``path.1``, ``path.2``… : the first name not taken."""
    n, candidate = 0, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _payload(path: Path) -> bytes:
    """The bytes of an IDX file, decompressed when it is gzipped (``OSError``/``EOFError`` when damaged)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _problems(files: dict[str, Path], by_file: bool = False) -> list[str] | dict[Path, str]:
    """What is wrong with the IDX files found, one phrase per damaged file (empty when all are sound).

    The contents are checked, not an archive's checksum: the IDX magic number, the size the
    header promises, equal image and label counts, labels 0-9. A gzipped file is read whole.
    """
    problems: dict[Path, str] = {}
    for image_name, label_name in IDX_FILES.values():
        heads = {}
        for name, magic, head_size in ((image_name, 0x803, 16), (label_name, 0x801, 8)):
            path = files.get(name)
            if path is None:
                continue
            try:
                payload = _payload(path)
            except (OSError, EOFError, zlib.error) as exc:
                problems[path] = f"{path.name} cannot be decompressed ({type(exc).__name__}: {exc})"
                continue
            if len(payload) < head_size or struct.unpack(">I", payload[:4])[0] != magic:
                kind = "image" if magic == 0x803 else "label"
                problems[path] = f"{path.name} is not an IDX {kind} file (wrong header)"
                continue
            dims = struct.unpack(f">{(head_size - 4) // 4}I", payload[4:head_size])
            expected = head_size + math.prod(dims)
            if len(payload) != expected:
                problems[path] = (f"{path.name} holds {len(payload):,} bytes where its header promises "
                                  f"{expected:,} ({'cut short' if len(payload) < expected else 'extra bytes'})")
                continue
            if magic == 0x801 and payload[8:] and max(payload[8:]) >= len(CLASSES):
                problems[path] = f"{path.name} has labels outside 0-{len(CLASSES) - 1}"
                continue
            heads[name] = dims[0]
        if len(heads) == 2 and heads[image_name] != heads[label_name]:
            problems[files[label_name]] = (f"{label_name} has {heads[label_name]:,} labels for the "
                                           f"{heads[image_name]:,} images of {image_name}")
    return problems if by_file else list(problems.values())


def _read_pair(files: dict[str, Path], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's uint8 images (N, 28, 28) and int64 labels, parsed from its two IDX files.

    Every caller has checked the files first (``_problems``: magic number, sizes, length, labels),
    so what is left is the layout itself: a big-endian header, then one unsigned byte per pixel
    or label, the same bytes torchvision's ``read_image_file`` and ``read_label_file`` return (a
    test holds the two readers equal). We parse them here rather than call those readers because
    importing ``torchvision.datasets`` costs about 2 s in every chapter's fresh kernel (it brings
    in ``torchvision.ops`` and ``torch._dynamo``), more than reading the 70,000 images themselves;
    torchvision still downloads the data set (``_download``).
    """
    image_name, label_name = IDX_FILES[split]
    images, labels = _payload(files[image_name]), _payload(files[label_name])
    n, rows, cols = struct.unpack(">3I", images[4:16])
    if len(images) != 16 + n * rows * cols or len(labels) != 8 + n:  # changed since it was checked
        raise DataUnavailableError(f"{files[image_name]} or {files[label_name]} changed while it was being read; "
                                   "run again")
    x = torch.frombuffer(bytearray(images[16:]), dtype=torch.uint8).view(n, rows, cols)
    y = torch.frombuffer(bytearray(labels[8:]), dtype=torch.uint8).long()
    return x, y


def _download(root: Path) -> tuple[Path, dict[str, Path]]:
    """Download Fashion-MNIST into the book's own folder ``root``; explain clearly when that fails.

    torchvision downloads into a temporary folder beside the target; the four files are checked
    and moved into ``root/FashionMNIST/raw`` only when all are complete, so an interrupted or
    failed download leaves nothing under their names.
    """
    from torchvision.datasets import FashionMNIST

    raw = root / "FashionMNIST" / "raw"
    chatter = io.StringIO()
    try:
        raw.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=raw.parent) as scratch:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                for train in (True, False):
                    FashionMNIST(scratch, train=train, download=True)
            fetched = _present(Path(scratch) / "FashionMNIST" / "raw")
            problems = _problems(fetched)
            if problems or len(fetched) < 4:
                raise OSError(f"the download is incomplete or damaged: {'; '.join(problems) or 'files missing'}")
            for name, path in fetched.items():
                os.replace(path, raw / name)
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        reason = " ".join(str(exc).split()) or "no detail"
        raise DataUnavailableError(
            f"Fashion-MNIST is not in {raw} and could not be downloaded ({type(exc).__name__}: "
            f"{reason[:300]}).\n"
            "To fix it, connect to the internet and run again (about 30 MB), point AEBOOK_DATA_DIR at a "
            "folder holding the four IDX files, or set AEBOOK_DATA=standin for the generated stand-in."
        ) from None
    return raw, _present(raw)


def _standin(root: Path) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The stand-in's training and test split, read from ``root`` or drawn (and saved there) when missing.

    The stand-in is the book's own file: a damaged copy is drawn again. When it cannot be saved
    (a full disk, a read-only folder) this run uses the images it drew and says so in one line.
    """
    from aebook import standin
    from aebook.files import SaveError

    raw = root / "FashionMNIST" / "raw"
    present = _present(raw)
    problems = _problems(present)
    if len(present) == 4 and not problems:
        return _read_pair(present, "train"), _read_pair(present, "test")
    if problems:
        log(f"[data] the stand-in in {raw} is damaged ({'; '.join(problems)}); drawing it again")
    drawn = standin.draw()
    try:
        for split, (images, labels) in drawn.items():
            standin.write_idx(images, labels, raw, split)
    except (SaveError, OSError) as exc:
        log(f"[data] the stand-in was drawn but not saved: {exc}; the next run draws it again")
    return tuple((torch.from_numpy(images), torch.from_numpy(labels).long())  # type: ignore[return-value]
                 for images, labels in (drawn["train"], drawn["test"]))


def _to_image_set(x_uint8: torch.Tensor, y: torch.Tensor, source: str) -> ImageSet:
    """Convert uint8 images to floats in [0, 1] with a channel axis, and fingerprint them."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(source.encode())
    digest.update(x_uint8.contiguous().numpy().tobytes())
    digest.update(y.to(torch.int64).numpy().tobytes())
    x = x_uint8.to(torch.float32).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return ImageSet(x=x, y=y.to(torch.int64), fingerprint=digest.hexdigest())


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


# --------------------------------------------------------------------------- variations


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
    return dataclasses.replace(data, train=moved(data.train), val=moved(data.val), test=moved(data.test))


def without_class(data: FashionMNISTData, held_out: int) -> FashionMNISTData:
    """The same splits with class ``held_out`` removed from training and validation; the test split keeps
    every class, so the held-out class is there to be detected (an anomaly the models never saw)."""
    def kept(s: ImageSet) -> ImageSet:
        keep = s.y != held_out
        return ImageSet(x=s.x[keep], y=s.y[keep], fingerprint=f"{s.fingerprint}|without-{held_out}")
    return dataclasses.replace(data, train=kept(data.train), val=kept(data.val))


# --------------------------------------------------------------------------- corruptions and filters


@dataclass(frozen=True)
class Corruption:
    """One way to damage images: ``"noise"`` (Gaussian, standard deviation ``level``) or ``"mask"``
    (each pixel set to black with probability ``level``)."""

    kind: str
    level: float

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Corrupted copies of images ``x`` (N, C, H, W), drawn with ``generator`` when given."""
        if self.kind == "noise":
            return add_gaussian_noise(x, self.level, generator)
        if self.kind == "mask":
            return mask_pixels(x, self.level, generator)
        raise ValueError(f"unknown corruption {self.kind!r}; use 'noise' or 'mask'")

    @property
    def name(self) -> str:
        """A short label: ``noise σ = 0.3``, ``mask 50%``."""
        return f"noise σ = {self.level:g}" if self.kind == "noise" else f"mask {self.level:.0%}"


def add_gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x̃ = clip(x + σ·ε, 0, 1) with ε ~ N(0, I): additive Gaussian noise, kept in the range of grey levels."""
    eps = torch.randn(x.shape, generator=generator).to(x.device)  # drawn on the CPU: the same on every device
    return (x + sigma * eps).clamp(0.0, 1.0)


def mask_pixels(x: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masking noise (Vincent et al. 2008): each pixel set to 0 with probability ``fraction``."""
    keep = (torch.rand(x.shape, generator=generator) >= fraction).to(x.device)
    return x * keep


def corrupt_mix(x: torch.Tensor, corruptions: tuple[Corruption, ...],
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image damaged by one of ``corruptions``, chosen at random per image."""
    choice = torch.randint(len(corruptions), (len(x),), generator=generator).to(x.device)  # (N,)
    out = x.clone()
    for i, corruption in enumerate(corruptions):
        picked = choice == i
        out[picked] = corruption(x[picked], generator)
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Images (N, C, H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels: a classical
    denoising filter, which averages each pixel with its neighbours (edges replicated)."""
    if sigma <= 0:
        return x.clone()
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()                                    # (2r + 1,), sums to 1
    c = x.shape[1]
    along_rows, along_columns = kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    parts = []
    for part in x.split(1_024):  # in parts: on 10,000 images at once oneDNN held ~600 MB more (it pads 1 channel to 16)
        padded = torch.nn.functional.pad(part, (radius,) * 4, mode="replicate")
        rows = torch.nn.functional.conv2d(padded, along_rows, groups=c)
        parts.append(torch.nn.functional.conv2d(rows, along_columns, groups=c))
    return torch.cat(parts)

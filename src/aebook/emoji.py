"""Emoji faces for the latent-arithmetic chapter: from the Hugging Face hub, or drawn from a local font.

``load_emoji`` returns every face emoji once (``faces``, with names) and the three
augmented splits the models train on. The hub data set and the font give different
pictures of the same emoji; names are normalised to lower case so that the same
lookups ("nerd face", "face with tongue") work on both.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aebook.runtime import SaidPlainly, pick, switch

HUB_ID = "valhalla/emoji-dataset"
SOURCES = ("auto", "hub", "font")
FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",        # Debian/Ubuntu fonts-noto-color-emoji
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",                 # Fedora, Arch
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/System/Library/Fonts/Apple Color Emoji.ttc",              # macOS
)
# Names that mean the same emoji: Unicode character names and the shorter CLDR names
SYNONYMS = (
    {"face with tongue", "face with stuck-out tongue"},
    {"smiling face with heart-eyes", "smiling face with heart-shaped eyes"},
    {"grinning cat", "grinning cat face", "smiling cat face with open mouth"},
    {"grinning face with big eyes", "smiling face with open mouth"},
)


class EmojiUnavailableError(SaidPlainly, RuntimeError):
    """Neither the hub data set nor a colour-emoji font could be used; the message says how to fix it."""


@dataclass(frozen=True)
class EmojiSet:
    """Augmented images ``x`` (N, 3, H, W) in [0, 1]; ``source`` (N,) indexes the face each came from."""

    x: torch.Tensor
    source: torch.Tensor
    fingerprint: str

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class EmojiData:
    """Every face once (``faces``, ``names``), the augmented splits, and where they came from."""

    faces: torch.Tensor
    names: list[str]
    train: EmojiSet
    val: EmojiSet
    test: EmojiSet
    source: str            # "hub" or "font"
    source_detail: str     # the data set id or the font file, and why, for the page

    def index(self, name: str) -> int:
        """Position of the emoji called ``name`` in ``faces`` (see ``find_emoji``)."""
        return find_emoji(self.names, name)

    def split_of(self, i: int) -> str:
        """Which split face ``i`` belongs to: "train", "val" or "test"."""
        return next(s for s in ("train", "val", "test") if bool((getattr(self, s).source == i).any()))


def load_emoji(source: str | None = None, size: int = 64, seed: int = 0,
               sizes: tuple[int, int, int] | None = None, hub_id: str = HUB_ID,
               font_path: str | Path | None = None) -> EmojiData:
    """Face emoji from ``source`` ("auto": the hub, else a local font; ``AEBOOK_EMOJI`` overrides)."""
    source = (source or switch("AEBOOK_EMOJI", "auto")).strip().lower()
    if source not in SOURCES:
        raise ValueError(f"unknown emoji source {source!r}; use one of {', '.join(SOURCES)}")
    sizes = sizes or pick((600, 200, 200), (120, 40, 40))
    hub_problem = font_problem = ""
    if source in ("auto", "hub"):
        try:
            faces, names = faces_from_hub(hub_id, size)
            return _assemble(faces, names, "hub", f"the Hugging Face data set {hub_id}", seed, sizes)
        except EmojiUnavailableError as exc:
            hub_problem = str(exc)
            if source == "hub":
                raise
    path = Path(font_path) if font_path else emoji_font()
    if path is None:
        font_problem = "no colour-emoji font found (looked for " + ", ".join(FONT_PATHS) + ")"
    else:
        try:
            faces, names = faces_from_font(path, size)
            why = f" ({hub_problem})" if hub_problem else ""
            return _assemble(faces, names, "font", f"emoji drawn from the font {path.name}{why}", seed, sizes)
        except (OSError, ValueError) as exc:
            font_problem = f"the font {path} could not be used: {exc}"
    tried = ([f"the hub: {hub_problem}"] if hub_problem else []) + [f"a local font: {font_problem}"]
    raise EmojiUnavailableError(
        "No emoji images available. Tried " + "; and ".join(tried) + ". To fix it: connect to the "
        f"network so `datasets` can download {hub_id}, or install a colour-emoji font "
        "(Debian/Ubuntu: apt-get install fonts-noto-color-emoji; macOS has Apple Color Emoji).")


def faces_from_hub(hub_id: str = HUB_ID, size: int = 64) -> tuple[torch.Tensor, list[str]]:
    """Images whose description contains "face", from a ``datasets`` repository (or a local folder)."""
    local = Path(hub_id).exists()
    if not local and not _hub_reachable():
        raise EmojiUnavailableError("huggingface.co cannot be reached (no network?)")
    import datasets

    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity_error()  # no retry chatter on the page
    try:
        table = datasets.load_dataset(hub_id, split="train")  # plain data files: never remote code
    except Exception as exc:  # noqa: BLE001 - offline, missing, or not a data set: all mean "not the hub"
        raise EmojiUnavailableError(f"datasets.load_dataset({hub_id!r}) failed: {type(exc).__name__}") from exc
    finally:
        datasets.logging.set_verbosity(verbosity)
    if not {"image", "text"} <= set(table.column_names):
        raise EmojiUnavailableError(f"{hub_id} has columns {table.column_names}, not image and text")
    keep = [i for i, text in enumerate(table["text"]) if "face" in str(text).lower()]
    images = [_to_rgb_tensor(table[i]["image"], size) for i in keep]
    names = [_normalise(table[i]["text"]) for i in keep]
    if not images:
        raise EmojiUnavailableError(f"{hub_id} has no image whose description contains 'face'")
    return torch.stack(images), names


def emoji_font() -> Path | None:
    """The first colour-emoji font installed in a known place, or None."""
    return next((Path(p) for p in FONT_PATHS if Path(p).exists()), None)


def face_emoji() -> list[tuple[str, str, str]]:
    """The face emoji of Unicode's "Smileys & Emotion" group: ``(characters, subgroup, unicode name)``.

    Read from ``emoji_faces.tsv``, which ``tools/emoji_faces.py`` derives from Unicode's
    emoji-test.txt: the face-smiling ... face-negative and cat-face subgroups, the
    expressive faces that the hub data set's "face" images are. Animals, moons and clocks
    whose names contain "face", and the costume faces (ghost, robot ...), are not in it.
    """
    from importlib.resources import files

    rows = []
    for line in files("aebook").joinpath("emoji_faces.tsv").read_text(encoding="utf-8").splitlines()[4:]:
        points, subgroup, _cldr, unicode_name = line.split("\t")
        rows.append(("".join(chr(int(p, 16)) for p in points.split()), subgroup, unicode_name))
    return rows


FACE_RULE = ("the face subgroups of Unicode's \"Smileys & Emotion\" group (face-smiling to face-negative, "
             "and cat-face)")


def faces_from_font(path: str | Path, size: int = 64) -> tuple[torch.Tensor, list[str]]:
    """Every face emoji of ``face_emoji()`` that the font draws in colour, named by Unicode.

    Drawing them takes seconds, so the result is cached (``memo``), keyed by the font file
    (its size and time of change), the face list and this code.
    """
    from aebook.memo import cached

    stat = Path(path).stat()
    inputs = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, size, face_emoji(), _draw_faces,
              _is_colour, _to_rgb_tensor, _normalise)
    faces, names = cached("emoji-font", inputs, lambda: _draw_faces(path, size))
    return faces, list(names)


def _draw_faces(path: str | Path, size: int) -> tuple[torch.Tensor, list[str]]:
    """``faces_from_font`` itself, uncached."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(path), 109 if "Noto" in Path(path).name else 96)  # bitmap strike size
    images, names = [], []
    for text, _subgroup, name in face_emoji():
        canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((10, 10), text, font=font, embedded_color=True)
        box = canvas.getbbox()
        if box is None or not _is_colour(canvas):
            continue  # not in the font, or drawn as a monochrome outline
        images.append(_to_rgb_tensor(canvas.crop(box), size))
        names.append(_normalise(name))
    if not images:
        raise ValueError("it draws no face emoji in colour")
    return torch.stack(images), names


def _is_colour(image) -> bool:
    arr = np.asarray(image)
    rgb = arr[..., :3][arr[..., 3] > 0].astype(int)
    return len(rgb) > 0 and float((rgb.max(1) - rgb.min(1)).mean()) > 10


def _to_rgb_tensor(image, size: int) -> torch.Tensor:
    """A PIL image composited on white, padded to a square and resized -> (3, size, size) in [0, 1]."""
    from PIL import Image

    image = image.convert("RGBA")
    side = max(image.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(image, ((side - image.width) // 2, (side - image.height) // 2))
    rgb = square.convert("RGB").resize((size, size), Image.LANCZOS)
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def _normalise(name: str) -> str:
    return " ".join(str(name).lower().replace("_", " ").split())


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def find_emoji(names: list[str], query: str) -> int:
    """Index of the emoji called ``query``: exact name, then a known synonym, then a unique partial match."""
    if not isinstance(query, str):
        raise TypeError(f"an emoji name must be a string; got {type(query).__name__}")
    q = _normalise(query)
    for candidate in [q, *sorted(next((g - {q} for g in SYNONYMS if q in g), set()))]:
        if candidate in names:
            return names.index(candidate)
    partial = [i for i, n in enumerate(names) if q in n]
    if len(partial) == 1:
        return partial[0]
    close = difflib.get_close_matches(q, names, n=3, cutoff=0.5)
    raise KeyError(f"no emoji named {query!r} among {len(names)} faces"
                   + (f"; did you mean {', '.join(map(repr, close))}?" if close else ""))


# --------------------------------------------------------------------------- splits


def _assemble(faces: torch.Tensor, names: list[str], source: str, detail: str, seed: int,
              sizes: tuple[int, int, int]) -> EmojiData:
    """Split the faces 60/20/20 first, then augment each split on its own (seeded)."""
    order = torch.randperm(len(faces), generator=torch.Generator().manual_seed(seed))
    n_train, n_val = round(0.6 * len(faces)), round(0.2 * len(faces))
    parts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    digest = hashlib.sha256(faces.numpy().tobytes() + "|".join(names).encode()).hexdigest()[:12]
    sets = [augment_split(faces, idx, n, seed + k, f"{source}-{digest}-{k}-{n}-{seed}")
            for k, (idx, n) in enumerate(zip(parts, sizes))]
    return EmojiData(faces, names, *sets, source=source, source_detail=detail)


def augment_split(faces: torch.Tensor, members: torch.Tensor, n: int, seed: int, tag: str) -> EmojiSet:
    """``n`` images from the faces ``members``: each once as is, then random augmented copies.

    The copies are cached (``memo``), keyed by the faces, the split, the seed, this code and
    the versions of torch and torchvision whose random draws and transforms made them: drawing
    them costs a second, and importing torchvision two more, in every run of the chapter.
    """
    from importlib.metadata import version

    from aebook.memo import cached

    inputs = (faces[members], members, n, seed, version("torch"), version("torchvision"), _augmented)
    x, source = cached("emoji-augmented", inputs, lambda: _augmented(faces, members, n, seed))
    return EmojiSet(x, source, tag)


def _augmented(faces: torch.Tensor, members: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``augment_split``'s images and the face each came from, uncached."""
    from torchvision.transforms import v2

    transform = v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomRotation(10, fill=1.0),
        v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        v2.RandomAffine(degrees=0, translate=(0.05, 0.05), scale=(0.9, 1.1), fill=1.0),
    ])
    g = torch.Generator().manual_seed(seed)
    extra = members[torch.randint(len(members), (max(0, n - len(members)),), generator=g)]
    source = torch.cat([members, extra])[:n]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        copies = [faces[i] if k < len(members) else transform(faces[i]).clamp(0, 1)
                  for k, i in enumerate(source.tolist())]
    return torch.stack(copies), source


@dataclass(frozen=True)
class LabelledSet:
    """A split whose ``x`` is ``(images, labels)``, for objectives that also use labels."""

    x: tuple[torch.Tensor, torch.Tensor]
    fingerprint: str


@dataclass(frozen=True)
class LabelledSplits:
    """Train and validation splits with a label per image (what ``load_or_train`` needs)."""

    train: LabelledSet
    val: LabelledSet


def with_labels(data: EmojiData, face_labels: list[int] | torch.Tensor) -> LabelledSplits:
    """Give every augmented image the label of the face it came from (-1: no label)."""
    labels = torch.as_tensor(face_labels, dtype=torch.long)
    tag = hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:8]
    return LabelledSplits(*(LabelledSet((s.x, labels[s.source]), f"{s.fingerprint}|labels-{tag}")
                            for s in (data.train, data.val)))

"""Shared fixtures: every test gets its own cache folder, and small synthetic data."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Under pytest-xdist each worker (and every kernel and render it starts, which inherit the environment)
# gets its share of the cores: two workers whose kernels each ran PyTorch on every core made every
# chapter several times slower than one at a time.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)
from pathlib import Path

import yaml

import pytest
import torch

from aebook.data import ImageSet


# The two files whose session fixtures take minutes (every chapter executed as a notebook; the site
# rendered by Quarto). make test runs them first, one per worker, so that they overlap each other rather
# than one of them starting after the other worker has worked through the quick files
# (with --no-loadscope-reorder, pytest-xdist hands out files in this order).
HEAVY_FILES = ("test_chapters.py", "test_site_render.py")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    items.sort(key=lambda item: item.path.name not in HEAVY_FILES)  # stable: the order within each kind is kept


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the model/t-SNE cache at a fresh folder so tests never touch the real one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(cache))
    monkeypatch.delenv("AEBOOK_SMOKE", raising=False)
    monkeypatch.delenv("AEBOOK_DATA", raising=False)
    monkeypatch.setenv("AEBOOK_DEVICE", "cpu")
    return cache


def mark_cached(path: Path, change) -> None:
    """Replace the value kept in the memo entry ``path`` by ``change(value)``: a later call that returns the
    changed value read it back from the cache instead of computing it again."""
    entry = torch.load(path, weights_only=True)
    entry["value"] = change(entry["value"])
    torch.save(entry, path)


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


ROOT = Path(__file__).resolve().parents[1]
# what a render needs: the configuration, the folders, and every page _quarto.yml lists at the top level
BOOK_FILES = ("_quarto.yml", "references.bib", "chapters", "assets", "tools",
              *sorted({p.split("/")[0] for p in yaml.safe_load((ROOT / "_quarto.yml").read_text())["book"]["chapters"]
                       if "/" not in p}))


def find_quarto() -> tuple[str | None, str]:
    """``quarto`` from PATH, else from the shared installer beside the checkout; or None and why not."""
    import shutil
    import subprocess

    if shutil.which("quarto"):
        return shutil.which("quarto"), ""
    installer = ROOT.parent / "shared" / "quarto" / "install-quarto.sh"
    if not installer.exists():
        return None, ("the site checks did not run: Quarto is not on PATH and there is no installer at "
                      f"{installer} (install Quarto from https://quarto.org/docs/get-started/)")
    done = subprocess.run(["bash", str(installer)], capture_output=True, text=True, timeout=900)
    folder = done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout.strip() else ""
    if folder and (Path(folder) / "quarto").exists():
        return str(Path(folder) / "quarto"), ""
    return None, f"the site checks did not run: {installer} failed ({done.stderr.strip()[-300:]})"


from bookkit import notebooks as N  # noqa: E402

CHAPTERS = [p for p in N.chapter_paths() if p.suffix == ".qmd"]


def made_once(tmp_path_factory, name: str) -> None:
    """Fail when a costly session fixture is being made a second time in one run of pytest-xdist.

    Each worker has its own session, so a fixture is made once per worker that runs a test needing it;
    make test keeps each test file on one worker (--dist loadfile) so that this is once per run. The
    workers share the parent of their temporary folders, where the first maker leaves a mark.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    mark = tmp_path_factory.getbasetemp().parent / f"made-{name}"
    try:
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        pytest.fail(f"the session fixture {name!r} was already made by another worker in this run: tests that need "
                    "it were spread over workers (run pytest with --dist loadfile, as make test does)", pytrace=False)


@dataclass
class Executed:
    runs: dict  # chapter stem -> notebooks.Run, executed in book order in one cache
    cache: str


def plain_run(path) -> N.Execution:
    """The chapter's notebook as ``make notebooks`` writes it, executed by plain nbclient in the project root."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(nbformat.writes(N.qmd_to_notebook(path)), as_version=4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(N.project_root())}}).execute()
    return N.Execution(nb, N.inline_values(nb))


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> Executed:
    """Every chapter executed once, in book order, sharing one fresh model cache (smoke settings)."""
    made_once(tmp_path_factory, "executed")
    cache = str(tmp_path_factory.mktemp("chapter-cache"))
    saved = {k: os.environ.get(k) for k in ("AEBOOK_SMOKE", "AEBOOK_CACHE_DIR", "AEBOOK_EMOJI", "AEBOOK_DATA")}
    os.environ.update(AEBOOK_SMOKE="1", AEBOOK_CACHE_DIR=cache, AEBOOK_EMOJI="font", AEBOOK_DATA="standin")
    try:
        runs = {p.stem: plain_run(p) for p in CHAPTERS}
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return Executed(runs, cache)


@dataclass(frozen=True)
class RenderedSite:
    out: Path      # the rendered _book folder
    log: str       # everything Quarto and the kernels printed
    seconds: float


@pytest.fixture(scope="session")
def rendered_site(tmp_path_factory) -> RenderedSite:
    """The whole book rendered once by the real Quarto, in smoke settings, in a copy of the project."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    quarto, why = find_quarto()
    if quarto is None:
        pytest.skip(why)
    made_once(tmp_path_factory, "rendered_site")
    work = tmp_path_factory.mktemp("book")
    for name in BOOK_FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, work / name)
    (ROOT / "data").mkdir(exist_ok=True)
    (work / "data").symlink_to(ROOT / "data")  # the checkout's stand-in, drawn once for every test
    env = dict(os.environ, AEBOOK_SMOKE="1", AEBOOK_DATA="standin", AEBOOK_EMOJI="font",
               AEBOOK_ROOT=str(work), AEBOOK_CACHE_DIR=str(work / "_cache"),
               VENV=str(Path(sys.executable).parents[1]),
               PATH=f"{Path(quarto).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("AEBOOK_DEVICE", None)
    env.pop("AEBOOK_DATA_DIR", None)
    started = time.perf_counter()
    done = subprocess.run(["bash", "tools/render.sh"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=1800)
    log = done.stdout + done.stderr
    (work / "render.log").write_text(log)
    assert done.returncode == 0, log[-3000:]
    return RenderedSite(work / "_book", log, time.perf_counter() - started)

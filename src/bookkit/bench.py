"""Measurements for ``make bench``: epoch time of our data path against a per-item DataLoader,
batched training of a model family against one model at a time, chapter execution times (cold
and warm, per cell), the models each cold run trained, t-SNE time, peak memory, page weight.

Each function measures one thing and returns plain numbers; ``tools/bench.py`` prints them.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from aebook.data import iterate_batches
from aebook.files import write_atomic
from aebook.losses import mse
from aebook.runtime import get_device
from bookkit.browser import NoBrowser, chromium_path, launch
from aebook.train import TrainConfig, make_optimiser, mse_objective, train_steps


def idx_images(root: Path, n: int) -> torch.Tensor:
    """The first ``n`` training images of the IDX files under ``root``, as floats (n, 1, 28, 28)."""
    from torchvision.datasets import FashionMNIST

    return FashionMNIST(str(root), train=True).data[:n].float().div(255).unsqueeze(1)


def tensor_epoch(build: Callable[[], nn.Module], x: torch.Tensor, batch_size: int = 256,
                 seed: int = 0) -> tuple[float, int]:
    """Seconds and samples for one training epoch through the book's path (in-memory tensor)."""
    torch.manual_seed(seed)
    device = get_device()
    model, x = build().to(device), x.to(device)
    optimiser = make_optimiser(model, TrainConfig(batch_size=batch_size))
    train_steps(model, x, iterate_batches(len(x), batch_size), 2, mse_objective, optimiser)  # warm-up
    _sync(device)
    start = time.perf_counter()
    epoch = iterate_batches(len(x), batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    train_steps(model, x, epoch, math.ceil(len(x) / batch_size), mse_objective, optimiser)
    _sync(device)
    return time.perf_counter() - start, len(x)


def dataloader_epoch(build: Callable[[], nn.Module], root: Path, n: int, batch_size: int = 256,
                     seed: int = 0) -> tuple[float, int]:
    """Seconds and samples for the same epoch the plain way: torchvision dataset, per-item
    ``ToTensor`` and a ``DataLoader`` that collates every batch from single items."""
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import FashionMNIST
    from torchvision.transforms import ToTensor

    torch.manual_seed(seed)
    device = get_device()
    model = build().to(device)
    optimiser = make_optimiser(model, TrainConfig(batch_size=batch_size))
    dataset = Subset(FashionMNIST(str(root), train=True, transform=ToTensor()), range(n))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    model.train()

    def step(x: torch.Tensor) -> None:
        x = x.to(device)
        x_hat, _ = model(x)
        optimiser.zero_grad(set_to_none=True)
        mse(x_hat, x).backward()
        optimiser.step()

    for i, (x, _) in enumerate(loader):  # warm-up, as for the tensor path
        step(x)
        if i == 1:
            break
    _sync(device)
    samples, start = 0, time.perf_counter()
    for x, _ in loader:
        step(x)
        samples += len(x)
    _sync(device)
    return time.perf_counter() - start, samples


def matmul_gflop_per_s(size: int = 2048, repeats: int = 5) -> float:
    """The arithmetic rate this machine reaches on large float32 matrix products (GFLOP/s)."""
    device = get_device()
    a, b = torch.rand(size, size, device=device), torch.rand(size, size, device=device)
    a @ b  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work so a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of a block (kernels started inside inherit them)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def chapter_seconds(path: Path, html_out: Path | None = None
                    ) -> tuple[float, list[tuple[str, float]], tuple[float, str] | None]:
    """Wall time to execute one chapter as a notebook in a fresh kernel, each code cell's time
    (``cell_seconds``), and the kernel's peak memory with the cell that reached it (``peak_cell``);
    optionally export the executed notebook's HTML to ``html_out``."""
    from bookkit import notebooks

    start = time.perf_counter()
    run = notebooks.execute(notebooks.qmd_to_notebook(path))  # AEBOOK_STATIC_FIGURES=0: as Quarto runs it
    seconds = time.perf_counter() - start
    if html_out is not None:
        write_atomic(html_out, notebooks.to_html(run.notebook))
    return seconds, cell_seconds(run.notebook), peak_cell(run)


def peak_cell(run) -> tuple[float, str] | None:
    """The kernel's peak resident memory over a run (MiB) and the first cell after which it was that
    high, so the cell that set it; None where the peaks were not measured (``notebooks.kernel_peak_mib``)."""
    if not run.peak_mib:
        return None
    top = max(run.peak_mib.values())
    index = min(i for i, mib in run.peak_mib.items() if mib == top)
    return top, cell_name(run.notebook.cells[index])


def cell_seconds(notebook) -> list[tuple[str, float]]:
    """Seconds each code cell of an executed notebook took (nbclient's timing metadata), named by
    ``cell_name``."""
    from datetime import datetime

    times = []
    for cell in notebook.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in timing:
            continue
        started = timing.get("iopub.execute_input") or timing.get("shell.execute_reply.started")
        seconds = (datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
                   - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds()
        times.append((cell_name(cell), seconds))
    return times


def cell_name(cell) -> str:
    """A code cell's ``#| label:``, or else its first line of code (cut at 60 characters)."""
    lines = cell.source.splitlines()
    label = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("#| label:")), None)
    code = next((line.strip() for line in lines if line.strip() and not line.startswith("#")), "")
    return label or (code[:60] + ("…" if len(code) > 60 else ""))


def tsne_seconds(z: torch.Tensor) -> float:
    """Seconds for one uncached t-SNE map of ``z``."""
    from aebook.latent import tsne

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        tsne(z, cache=Path(folder))
        return time.perf_counter() - start


def map_quality(z: torch.Tensor, xy) -> dict[str, float]:
    """How well a 2-D map ``xy`` keeps the neighbourhoods of the codes ``z`` it places (both n rows).

    ``kl``: t-SNE's own objective, KL(P ‖ Q), with P the perplexity-30 affinities of ``z`` (openTSNE's,
    the ones ``latent.tsne`` fits) and Q the map's Student-t similarities, normalised over all pairs
    (lower is better). ``trust``: scikit-learn's trustworthiness at 10 neighbours, the share of the
    map's close neighbours that are close in ``z`` too (1 is perfect). Two maps of the same points
    can be compared by both, whatever they were computed from.
    """
    import numpy as np
    from openTSNE.affinity import PerplexityBasedNN
    from sklearn.manifold import trustworthiness

    x, xy = np.asarray(z, dtype=np.float64), np.asarray(xy, dtype=np.float64)
    p = PerplexityBasedNN(x, perplexity=min(30.0, (len(x) - 1) / 3), n_jobs=os.cpu_count() or 1,
                          random_state=0, verbose=False).P.tocoo()
    p_ij = p.data / p.data.sum()
    w = 1.0 / (1.0 + ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))  # Student-t similarity of every pair
    np.fill_diagonal(w, 0.0)
    q_ij = w[p.row, p.col] / w.sum()
    keep = p_ij > 0
    return {"kl": float((p_ij[keep] * np.log(p_ij[keep] / q_ij[keep])).sum()),
            "trust": float(trustworthiness(x, xy, n_neighbors=10))}


def tsne_neighbour_seconds(z: torch.Tensor) -> float:
    """Seconds for the first step of a t-SNE map of ``z`` alone: the nearest neighbours and the
    perplexity-calibrated affinities, with the settings ``latent.tsne`` lets openTSNE choose."""
    import numpy as np
    from openTSNE.affinity import PerplexityBasedNN

    x = np.asarray(z, dtype=np.float64)
    start = time.perf_counter()
    PerplexityBasedNN(x, perplexity=min(30.0, (len(x) - 1) / 3), n_jobs=os.cpu_count() or 1, random_state=0,
                      verbose=False)
    return time.perf_counter() - start


# What a chapter's kernel imports, in the order it happens: every chapter the first four groups
# (nbformat comes with plotly's notebook renderer), and scikit-learn last, since only the chapters
# whose warm run still fits or rebuilds a scikit-learn model import it (the fitted numbers, the
# ROC curves and the learning-rate curve are cached, so most need none of it). torchvision is not
# among them: the data loader reads the IDX files itself, and only a download, or drawing chapter
# 5's augmented faces the first time, imports it: the drawn copies are cached.
CHAPTER_IMPORTS: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "plotly": ("plotly.graph_objects", "plotly.io"),
    "nbformat": ("nbformat",),
    "aebook": ("aebook.claims", "aebook.data", "aebook.latent", "aebook.models", "aebook.plots", "aebook.realism",
               "aebook.report", "aebook.widgets", "aebook.zoo", "aebook.arithmetic", "aebook.emoji"),
    "scikit-learn": ("sklearn.decomposition", "sklearn.linear_model", "sklearn.neighbors"),
}
SOME_CHAPTERS_IMPORT = frozenset({"scikit-learn"})  # the groups above that not every warm chapter loads


def import_seconds(groups: Mapping[str, Sequence[str]] = CHAPTER_IMPORTS) -> dict[str, float]:
    """Seconds a fresh Python process spends importing each group of modules, in order; a group
    counts only what the groups before it had not already loaded."""
    code = ("import importlib, json, sys, time\n"
            "out = {}\n"
            "for name, modules in json.loads(sys.argv[1]).items():\n"
            "    start = time.perf_counter()\n"
            "    for module in modules:\n"
            "        importlib.import_module(module)\n"
            "    out[name] = time.perf_counter() - start\n"
            "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-c", code, json.dumps({k: list(v) for k, v in groups.items()})],
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(run.stdout.strip().splitlines()[-1])


def peak_memory_mib(who: str = "all") -> float:
    """Largest resident memory, MiB, of this process (``who="self"``), of any finished child (``"children"``:
    a notebook kernel, the browser that timed the trainer, a process that timed imports) or of either ("all")."""
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self": self_kib, "children": children_kib, "all": max(self_kib, children_kib)}[who] / 1024


def page_weight_mb(html: Path, less: float = 0.0) -> float:
    """Size of an HTML page in MB, not counting one embedded copy of plotly.js (shared by a site),
    less ``less`` MB (e.g. the exporting template's own weight, ``html_template_mb``)."""
    import plotly

    text = html.read_bytes()
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    size = len(text)
    if bundle.exists() and bundle.read_bytes()[:2000] in text:
        size -= bundle.stat().st_size
    return size / 1e6 - less


def machine() -> dict[str, str]:
    """The machine and library versions a benchmark ran on."""
    import plotly
    import sklearn
    import torchvision

    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"CPU": cpu, "cores": str(os.cpu_count()), "GPU": gpu, "device used": str(get_device()),
            "Python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "scikit-learn": sklearn.__version__,
            "plotly": plotly.__version__}


def trainer_steps_per_second(data: object, batch: int = 32, steps: int = 300, play_seconds: float = 5.0) -> dict:
    """Training speed of the in-page trainer (web/trainer.js) in headless Chromium, on the chapter's images.

    ``compute``: ``steps`` updates back to back at ``batch`` images (no drawing); ``playing``: the
    rate the widget itself reports after ``play_seconds`` of play, with its views redrawn as on the page.
    """
    from aebook import playground

    if chromium_path() is None:  # before any work: a machine without a browser is told so at once
        raise NoBrowser("no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)")
    x, y = playground.pick_images(data.train.x, data.train.y, per_class=30)
    widget = playground.trainer(playground.as_bytes(x), y, data.classes,
                                playground.TrainerSettings(batch=batch))
    with tempfile.TemporaryDirectory() as folder, launch() as b:  # NoBrowser when there is no Chromium
        page_file = Path(folder) / "trainer.html"
        write_atomic(page_file, widget.page())
        page = b.new_page()
        page.goto(page_file.as_uri())
        compute = page.evaluate(f"""() => {{ const w = document.querySelector('.aebook-widget');
            w.train(20); const t = performance.now(); w.train({steps});
            const rate = {steps} / ((performance.now() - t) / 1000);
            w.querySelector('[data-act=reset]').click(); return rate; }}""")
        page.click("[data-act=play]")
        page.wait_for_timeout(int(play_seconds * 1000))
        playing = page.evaluate("() => document.querySelector('.aebook-widget').state().rate")
    return {"compute": compute, "playing": playing}


def trained_models(folder: Path, skip: set[str] = frozenset()) -> list[dict]:
    """The models a run trained into the cache ``folder`` (files not in ``skip``): name, updates made,
    status and training seconds, from each entry's history."""
    rows = []
    for path in sorted(Path(folder).glob("*.pt")):
        if path.name in skip:
            continue
        entry = torch.load(path, map_location="cpu", weights_only=True)
        history = entry["history"]
        rows.append({"model": path.stem.rsplit("-", 1)[0], "file": path.name,
                     "updates": history["step"][-1] if history["step"] else 0,
                     "status": "stopped early" if history["stopped_early"]
                     else "still improving" if history["still_improving"] else "converged",
                     "seconds": float(history["seconds"]),
                     "precision": entry["key"]["train"].get("precision", "float32")})  # absent: float32
    return rows


def precision_sentence(models: list[dict]) -> str:
    """The sentence under the models table that says which models trained in mixed precision."""
    mixed = [m["model"] for m in models if m.get("precision", "float32") != "float32"]
    if not mixed:
        return "Every model trained in float32."
    return (f"Trained in mixed precision (bfloat16 autocast, `TrainConfig.precision`): "
            f"{', '.join(f'`{name}`' for name in mixed)}; every other model in float32.")


def test_loss(path: Path, fashion, emoji=None) -> float | None:
    """The test loss of the model in cache entry ``path``: its own training objective, as validation
    computes it (``train.evaluate``: eval mode, the VAEs' sampled codes seeded), on the test images of
    the data it was trained on. ``fashion`` is the ``FashionMNISTData`` the run used, ``emoji`` its
    ``EmojiData`` (None: an emoji model gets no test loss). Pixel-shuffled models are scored on the
    test images shuffled the same way; a model trained without one class, on every test image.
    """
    import re

    from aebook import models, train
    from aebook.data import Corruption, shuffle_pixels

    entry = torch.load(path, map_location="cpu", weights_only=True)
    key = entry["key"]
    model = getattr(models, key["model"])(**key["hparams"])
    model.load_state_dict(entry["state_dict"])
    described = key["objective"].removeprefix("aebook.train.")  # checkpoints.describe's text
    if "(" not in described:  # a plain function, e.g. mse_objective
        objective = getattr(train, described)
    else:  # a dataclass's repr, e.g. ELBOObjective(beta=4.0, warmup_steps=1000, free_bits=0.0)
        names = {n: getattr(train, n) for n in dir(train) if n.endswith("Objective")} | {"Corruption": Corruption}
        objective = eval(described, {"__builtins__": {}}, names)  # noqa: S307 - our own cache key's text
    if key["model"].startswith("Emoji"):
        if emoji is None:
            return None
        x, y = emoji.test.x, torch.full((len(emoji.test.x),), -1)  # no labels: only the reconstruction counts
    else:
        data = fashion
        if (shuffled := re.search(r"\|shuffled-(\d+)", key["data"][0])) is not None:
            data = shuffle_pixels(fashion, int(shuffled.group(1)))
        x, y = data.test.x, data.test.y
    pairs = isinstance(objective, (train.AuxClassifierObjective, train.ConditionalELBOObjective))
    device = get_device()
    model.to(device)
    torch.manual_seed(0)
    return train.evaluate(model, (x.to(device), y.to(device)) if pairs else x.to(device), 1024, objective)["loss"]


def previous_models(text: str) -> dict[tuple[str, str], tuple[int, float, str, float | None]]:
    """The models table of an earlier BENCHMARKS.md: ``(chapter, model) -> (updates, seconds, status, test loss)``,
    the test loss None where that table had no such column (before 2026-12-06) or no value."""
    rows = {}
    if "## Models trained by the cold run" not in text:
        return rows
    section = text.split("## Models trained by the cold run", 1)[1].split("\n## ", 1)[0]
    test_column = None
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == ["chapter", "model"]:
            test_column = cells.index("test loss") if "test loss" in cells else None
        elif len(cells) >= 5 and cells[1].startswith("`") and cells[2].replace(",", "").isdigit():
            loss = cells[test_column] if test_column is not None and test_column < len(cells) else ""
            rows[cells[0], cells[1].strip("`")] = (int(cells[2].replace(",", "")), float(cells[4]), cells[3],
                                                   float(loss) if loss else None)
    return rows


def worse_than_before(models: list[dict], before: dict) -> list[tuple[str, float]]:
    """``(model, relative change)`` for each model whose test loss is higher than the same model's in
    ``before`` (``previous_models``), the largest change first. Both are compared as the table prints
    them (4 significant digits), so a model that came out the same is not named for a rounding."""
    worse = []
    for m in models:
        old = before.get((m["chapter"], m["model"]))
        if m.get("test_loss") is None or old is None or old[3] is None:
            continue
        now = float(f"{m['test_loss']:.4g}")
        if now > old[3]:
            worse.append((m["model"], now / old[3] - 1))
    return sorted(worse, key=lambda pair: -pair[1])


def family_step_seconds(build: Callable[[], nn.Module], k: int = 4, batch_size: int = 256,
                        steps: int = 10, seed: int = 0) -> tuple[float, float]:
    """Seconds per update for ``k`` models of one family: trained one after the other, and as one
    batched computation (``torch.func.stack_module_state`` + ``vmap``, one Adam over the stack).

    The book trains a chapter's family of models (a latent-size or a β sweep) one at a time; this
    measures what batching them would gain on this machine.
    """
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    torch.manual_seed(seed)
    device = get_device()
    models = [build().to(device) for _ in range(k)]
    x = torch.rand(batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).to(device)
    optimisers = [make_optimiser(m, TrainConfig()) for m in models]

    def one_at_a_time() -> None:
        for model, optimiser in zip(models, optimisers):
            optimiser.zero_grad(set_to_none=True)
            mse(model(x)[0], x).backward()
            optimiser.step()

    params, buffers = stack_module_state(models)
    params = {name: p.detach().requires_grad_() for name, p in params.items()}
    stacked = torch.optim.Adam(params.values(), lr=1e-3)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def loss(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return mse(functional_call(skeleton, (p, b), (x,))[0], x)

    def batched() -> None:
        stacked.zero_grad(set_to_none=True)
        vmap(loss, in_dims=(0, 0, None), randomness="different")(params, buffers, x).sum().backward()
        stacked.step()

    timings = []
    for step in (one_at_a_time, batched):
        for _ in range(2):  # warm-up
            step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        timings.append((time.perf_counter() - start) / steps)
    return timings[0], timings[1]


def html_template_mb() -> float:
    """Size in MB of nbconvert's export of an empty notebook: the template's own styles and scripts."""
    import nbformat

    from bookkit import notebooks

    return len(notebooks.to_html(nbformat.v4.new_notebook()).encode("utf-8")) / 1e6

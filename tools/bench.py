"""make bench: print one figure per line as `name: value unit` and write them to BENCHMARKS.md.

    python tools/bench.py                 # full settings (about an hour on a 2-core CPU)
    python tools/bench.py --smoke --out /tmp/B.md   # tiny version, for the test suite
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from aebook import plots, zoo
from bookkit import bench, site
from aebook.data import DataUnavailableError, load_fashion_mnist, real_data_on_disk
from aebook.files import SaveError, write_atomic
from aebook.latent import EARLY_EXAGGERATION_ITER, encode_all, tsne
from aebook.models import ConvAutoencoder, LinearAutoencoder, count_parameters
from bookkit.project import chapter_paths
from aebook.runtime import project_root

GOALS = {  # figure: (goal, unit) -- each at most the goal
    "book_cold_total": (1200, "s"), "book_warm_total": (30, "s"), "chapter_warm_max": (8, "s"),
    "tsne_seconds_per_map": (10, "s"), "page_weight_max": (1.5, "MB"), "plotly_bundle": (1.5, "MB"),
    "peak_memory": (2048, "MiB"), "fc_epoch_ratio": (0.2, "x")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, chapters in smoke mode")
    parser.add_argument("--out", type=Path, default=project_root() / "BENCHMARKS.md")
    parser.add_argument("--trainer", action="store_true",
                        help="time only the in-page trainer, and update its section of BENCHMARKS.md")
    parser.add_argument("--chapters", nargs="+", metavar="STEM", default=None,
                        help="time only these chapters (e.g. 01-fully-connected); default: all of them")
    parser.add_argument("--keep-cache", type=Path, default=None, metavar="DIR",
                        help="train into DIR (new or empty) instead of a throwaway folder, and keep it: "
                             "AEBOOK_CACHE_DIR=DIR then renders the book without training again")
    args = parser.parse_args(argv)
    if args.keep_cache is not None and args.keep_cache.exists() and any(args.keep_cache.iterdir()):
        print(f"--keep-cache {args.keep_cache} is not empty, so the run would not be cold: give a new or "
              "empty folder", file=sys.stderr)
        return 2
    figures: list[tuple[str, float, str]] = []

    def report(name: str, value: float, unit: str) -> None:
        figures.append((name, value, unit))
        print(f"{name}: {value:.3f} {unit}", flush=True)

    with bench.environment(AEBOOK_SMOKE="1" if args.smoke else "0", AEBOOK_STATIC_FIGURES="0"):  # as Quarto runs them
        try:
            if args.smoke and not real_data_on_disk():  # a smoke run would not download it either
                raise DataUnavailableError("Fashion-MNIST is not on disk and smoke runs do not download it.")
            data = load_fashion_mnist()
        except DataUnavailableError as exc:  # no real data here: measure on the stand-in, and say so
            print(f"note: {str(exc).splitlines()[0]} Measuring on the generated stand-in instead.")
            os.environ["AEBOOK_DATA"] = "standin"  # chapter kernels inherit it
            data = load_fashion_mnist()
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Benchmarks\n"
    trainer = trainer_section(data)
    if trainer is None:  # no browser: keep the last measured (and dated) section rather than erase it
        if args.trainer:
            return 1
        trainer = section_of(old) or "\n".join([TRAINER_TITLE, "", "Not measured: no Chromium on PATH.", ""])
    if args.trainer:
        try:
            write_atomic(args.out, with_section(old, trainer))
        except SaveError as exc:
            print(f"{exc}; the figures above were not kept", file=sys.stderr)
            return 1
        print(f"wrote the in-page trainer's section of {args.out}")
        return 0
    root = data.folder.parents[1]  # the folder holding FashionMNIST/raw/, as torchvision's class wants it
    n = 2_048 if args.smoke else 55_000
    x = bench.idx_images(root, n)
    report("matmul_gflop_per_s", bench.matmul_gflop_per_s(512 if args.smoke else 2048), "GFLOP/s")
    for name, build in (("fc", lambda: LinearAutoencoder(32)), ("conv", lambda: ConvAutoencoder(32))):
        ours, n_ours = bench.tensor_epoch(build, x)
        plain, n_plain = bench.dataloader_epoch(build, root, n)
        assert n_ours == n_plain == n, (n_ours, n_plain, n)
        report(f"{name}_epoch_seconds", ours, "s")
        report(f"{name}_epoch_seconds_dataloader", plain, "s")
        report(f"{name}_epoch_ratio", ours / plain, "x")
        if name == "fc":  # training costs about 6 FLOP per weight per sample (2 forward, 4 backward)
            report("fc_epoch_gflop_per_s", 6 * count_parameters(build()) * n / ours / 1e9, "GFLOP/s")

    for name, build in (("fc", lambda: LinearAutoencoder(32)), ("conv", lambda: ConvAutoencoder(32))):
        alone, batched = bench.family_step_seconds(build, k=4, steps=3 if args.smoke else 10)
        report(f"family_of_4_{name}_update_seconds_one_at_a_time", alone, "s")
        report(f"family_of_4_{name}_update_seconds_batched", batched, "s")
        report(f"family_of_4_{name}_batching_speedup", alone / batched, "x")

    chapters = [p for p in chapter_paths() if p.suffix == ".qmd" and (args.chapters is None or p.stem in args.chapters)]
    models, cells, peaks = [], {}, {}
    with (contextlib.nullcontext(str(args.keep_cache.resolve())) if args.keep_cache else tempfile.TemporaryDirectory()) as cache, \
            tempfile.TemporaryDirectory() as pages:
        with bench.environment(AEBOOK_SMOKE="1" if args.smoke else "0", AEBOOK_CACHE_DIR=cache):
            totals = {"cold": 0.0, "warm": 0.0}
            for path in chapters:
                stem = path.stem.replace("-", "_")
                for kind in ("cold", "warm"):  # the first run fills the empty cache, the second uses it
                    before = {f.name for f in (Path(cache) / "models").glob("*.pt")}
                    html = Path(pages) / f"{path.stem}.html" if kind == "cold" else None
                    with bench.environment(QUARTO_DOCUMENT_PATH=str(path), AEBOOK_STATIC_FIGURES="0"):  # as Quarto runs it
                        seconds, cells[path.stem, kind], peak = bench.chapter_seconds(path, html)
                    totals[kind] += seconds
                    report(f"chapter_{stem}_{kind}", seconds, "s")
                    if peak is not None:  # the kernel's own peak, and the cell that set it
                        peaks[path.stem, kind] = peak
                        report(f"chapter_{stem}_{kind}_peak_memory", peak[0], "MiB")
                    if kind == "cold":
                        models += [row | {"chapter": path.stem}
                                   for row in bench.trained_models(Path(cache) / "models", skip=before)]
            report("book_cold_total", totals["cold"], "s")
            report("book_warm_total", totals["warm"], "s")
            warm = dict(figures_of(figures))
            report("chapter_warm_max", max(warm[f"chapter_{p.stem.replace('-', '_')}_warm"] for p in chapters), "s")
            report("training_seconds_total", sum(m["seconds"] for m in models), "s")
            template = bench.html_template_mb()
            weights = [bench.page_weight_mb(Path(pages) / f"{p.stem}.html", less=template) for p in chapters]
            for path, weight in zip(chapters, weights):
                report(f"page_weight_{path.stem.replace('-', '_')}", weight, "MB")
            report("page_weight_max", max(weights), "MB")
            bundle, why = site.choose_plotly([(Path(pages) / f"{p.stem}.html").read_text(encoding="utf-8")
                                              for p in chapters])
            print(f"note: {why}")
            report("plotly_bundle", bundle.stat().st_size / 1e6, "MB")

            scored = test_data(data)
            for m in models:  # each model's own objective on its test images (bench.test_loss)
                m["test_loss"] = bench.test_loss(Path(cache) / "models" / m["file"], *scored)

            # the codes chapter 1 maps, from its model trained above (an untrained one when it did not run)
            map_model = (zoo.fully_connected(data).model if any(p.stem == "01-fully-connected" for p in chapters)
                         else LinearAutoencoder(32))

    # A map as the chapters compute it: t-SNE of the codes the figure draws (plots.map_subset), against
    # one of all the test codes, judged on the same drawn points (bench.map_quality)
    z = encode_all(map_model.eval(), data.test.x[: 1_000 if args.smoke else 10_000])
    drawn = plots.map_subset(len(z), most=plots.MAP_POINTS // 10 if args.smoke else plots.MAP_POINTS)
    print(f"note: t-SNE of the {len(drawn):,} codes a map draws, and of all {len(z):,}")
    report("tsne_map_points", len(drawn), "points")
    report("tsne_seconds_per_map", bench.tsne_seconds(z[drawn]), "s")
    report("tsne_neighbour_seconds", bench.tsne_neighbour_seconds(z[drawn]), "s")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        whole = tsne(z, cache=Path(folder))
        report("tsne_seconds_all_points", time.perf_counter() - start, "s")
        alone = tsne(z[drawn], cache=Path(folder))  # the map timed above, now from the cache
    for name, xy in (("drawn_only", alone), ("all_points", whole[drawn])):
        for measure, value in bench.map_quality(z[drawn], xy).items():
            report(f"tsne_{measure}_{name}", value, "nats" if measure == "kl" else "share")
    imports = bench.import_seconds()
    for name, seconds in imports.items():
        report(f"import_seconds_{name.replace('-', '_')}", seconds, "s")
    report("import_seconds_chapter", sum(v for k, v in imports.items() if k not in bench.SOME_CHAPTERS_IMPORT), "s")
    report("peak_memory_bench_process", bench.peak_memory_mib("self"), "MiB")
    report("peak_memory_children", bench.peak_memory_mib("children"), "MiB")
    report("peak_memory", bench.peak_memory_mib(), "MiB")
    values = dict(figures_of(figures))
    plain = plain_way(values, models)
    report("plain_way_cold_estimate", plain, "s")
    report("speedup_vs_plain_cold", plain / values["book_cold_total"], "x")
    report("speedup_vs_plain_rerun", plain / values["book_warm_total"], "x")
    kept = ""  # the baselines tables (make baselines) outlive a new benchmark run
    if "## Baselines" in old:
        kept = "\n" + old[old.index("## Baselines"):]
    previous = (bench.previous_models(old), previous_date(old), old)
    text = with_section(markdown(figures, data.is_standin, args.smoke, models, cells, peaks, previous) + kept, trainer)
    try:  # aebook.files: a full disk leaves the old BENCHMARKS.md whole, and this run's figures printed above
        write_atomic(args.out, text)
    except SaveError as exc:
        print(f"{exc}; the figures above were not kept", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


def test_data(data):
    """The data the chapters trained on, for scoring their models: Fashion-MNIST (or its stand-in) and
    the emoji faces (None where no emoji source is available)."""
    from aebook.emoji import EmojiUnavailableError, load_emoji

    try:
        return data, load_emoji()
    except EmojiUnavailableError:
        return data, None


def worse_sentence(worse: list[tuple[str, float]]) -> str:
    """The sentence under the models table naming every model whose test loss rose since the run before."""
    if not worse:
        return "No model's test loss is higher than in the run before."
    named = ", ".join(f"`{name}` (+{change:.1%})" for name, change in worse)
    return (f"Test loss higher than in the run before: {named}. A model's seed-to-seed spread is its noise band; "
            "`make precision` measures it for the emoji autoencoder (its table is under Baselines below).")


def previous_date(text: str) -> str | None:
    """The date of the run an earlier BENCHMARKS.md records (``Measured by `make bench` on DATE``)."""
    import re

    found = re.search(r"Measured by `make bench` on (\d{4}-\d{2}-\d{2})", text)
    return found.group(1) if found else None


def previous_columns_note(old: str, when: str | None, cpu: str) -> str:
    """The sentence that introduces the models table's two last columns: which run they come from, and
    whether its machine was this one (its seconds are comparable only then)."""
    import re

    found = re.search(r"^- CPU: (.+)$", old, re.M)
    then = found.group(1).strip() if found else None
    text = f"The last three columns are the same model in the run this file held before ({when})"
    if then is not None and then != cpu:
        return text + (f", on another machine ({then}; this run: {cpu}), so its seconds are not comparable "
                       "with this run's; its updates are.")
    return text + "."


def figures_of(figures: list[tuple[str, float, str]]) -> list[tuple[str, float]]:
    """``(name, value)`` pairs of the figures reported so far."""
    return [(name, value) for name, value, _ in figures]


def plain_way(values: dict[str, float], models: list[dict]) -> float:
    """Seconds the book would take rebuilt the plain way, estimated from this run's own measurements:
    every model's training slowed by the per-item DataLoader's measured factor for its kind (fc, else
    conv), the rest of the cold run as measured, and nothing cached, so every re-run costs as much."""
    factor = {kind: values[f"{kind}_epoch_seconds_dataloader"] / values[f"{kind}_epoch_seconds"] for kind in ("fc", "conv")}
    training = sum(m["seconds"] * factor["fc" if m["model"].startswith(("fc-", "linear-")) else "conv"] for m in models)
    return values["book_cold_total"] - sum(m["seconds"] for m in models) + training


TRAINER_TITLE = "## In-page trainer"


def trainer_section(data) -> str | None:
    """The in-page trainer's speed in headless Chromium, as a BENCHMARKS.md section (printed as figures too);
    None, with a line saying so, where there is no browser to time it in."""
    try:
        rates = bench.trainer_steps_per_second(data)
    except bench.NoBrowser as e:
        print(f"note: {e}; the in-page trainer is not timed in this run, and BENCHMARKS.md keeps its last "
              "measured section", flush=True)
        return None
    for kind, rate in rates.items():
        print(f"trainer_steps_per_second_{kind}: {rate:.3f} steps/s", flush=True)
    met = "yes" if rates["playing"] >= 50 else "no"
    return "\n".join([
        TRAINER_TITLE, "",
        f"The widget of chapter 4 (`web/trainer.js`: 784-64-2-64-784, batch 32, Adam, double precision) "
        f"in headless Chromium on this machine, measured {datetime.date.today().isoformat()} on "
        f"{'the stand-in' if data.is_standin else f'{len(data.train):,} Fashion-MNIST training images'}:", "",
        "| figure | steps per second |", "| --- | ---: |",
        f"| training only (`train(300)`, no drawing) | {rates['compute']:.0f} |",
        f"| playing, views redrawn 5 times a second (the rate the widget shows) | {rates['playing']:.0f} |", "",
        f"Goal: at least 50 steps per second while playing. Met: {met}.", ""])


def section_of(text: str) -> str | None:
    """The in-page trainer section of ``text`` (a BENCHMARKS.md), or None if it has none."""
    if TRAINER_TITLE not in text:
        return None
    start = text.index(TRAINER_TITLE)
    end = text.find("\n## ", start + len(TRAINER_TITLE))
    return text[start:] if end == -1 else text[start:end]


def with_section(text: str, section: str) -> str:
    """``text`` with its in-page trainer section replaced by ``section`` (inserted before the baselines if absent)."""
    if (old := section_of(text)) is not None:
        start = text.index(TRAINER_TITLE)
        return text[:start] + section + text[start + len(old):]
    if "## Baselines" in text:
        i = text.index("## Baselines")
        return text[:i] + section + "\n" + text[i:]
    return text.rstrip("\n") + "\n\n" + section


def markdown(figures: list[tuple[str, float, str]], standin: bool, smoke: bool, models: list[dict],
             cells: dict[tuple[str, str], list[tuple[str, float]]],
             peaks: dict[tuple[str, str], tuple[float, str]] | None = None,
             previous: tuple[dict, str | None, str] | None = None) -> str:
    """BENCHMARKS.md: the machine, every figure, the goals met or not, where the time goes; ``previous``:
    the models table of the run the file held before (``bench.previous_models``), its date and its text."""
    values = dict(figures_of(figures))
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` on {datetime.date.today().isoformat()}"
             + (" in **smoke** settings (tiny sizes; not meaningful)." if smoke else " in full settings, one run."),
             "Data: " + ("the generated Fashion-MNIST stand-in (the real data set could not be downloaded "
                         "here); same size and format as Fashion-MNIST." if standin else "Fashion-MNIST."), "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in bench.machine().items()]
    lines += ["", "## Goals", "", "| figure | goal | measured | met |", "| --- | --- | --- | --- |"]
    for name, (goal, unit) in GOALS.items():
        if name in values:
            lines.append(f"| {name} | ≤ {goal:g} {unit} | {values[name]:.3f} {unit} | "
                         f"{'yes' if values[name] <= goal else '**no**'} |")
    lines += ["", *misses(values, models, cells, peaks or {}), "", "## Figures", "", "```"]
    lines += [f"{n}: {v:.3f} {u}" for n, v, u in figures] + ["```", ""]
    before, when, previous_text = previous or ({}, None, "")
    lines += ["## Models trained by the cold run", "",
              "Every model a chapter trained into the empty cache, in the order trained; each later chapter "
              "loads the models of earlier ones from the cache. *Test loss*: the model's own training "
              "objective on its test images, as validation computes it (`bookkit.bench.test_loss`: mean "
              "squared error per pixel, MSE + 0.05·L1 for the emoji, −ELBO in nats for the VAEs). "
              + (previous_columns_note(previous_text, when, bench.machine()["CPU"]) if before else ""), "",
              "| chapter | model | updates | status | seconds | ms per update | test loss |"
              + (" updates before | seconds before | test loss before |" if before else ""),
              "| --- | --- | ---: | --- | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if before else "")]
    for m in models:
        loss = m.get("test_loss")
        row = (f"| {m['chapter']} | `{m['model']}` | {m['updates']:,} | {m['status']} | {m['seconds']:.0f} | "
               f"{1000 * m['seconds'] / max(1, m['updates']):.0f} | {'' if loss is None else f'{loss:.4g}'} |")
        if before:
            old = before.get((m["chapter"], m["model"]))
            row += (" | | |" if old is None else
                    f" {old[0]:,} | {old[1]:.0f} | {'' if old[3] is None else f'{old[3]:.4g}'} |")
        lines.append(row)
    lines.append(f"| all | {len(models)} models | {sum(m['updates'] for m in models):,} | | "
                 f"{sum(m['seconds'] for m in models):.0f} | | |"
                 + (f" {sum(b[0] for b in before.values()):,} | {sum(b[1] for b in before.values()):.0f} | |"
                    if before else ""))
    lines += ["", bench.precision_sentence(models)]
    if before:
        lines += ["", worse_sentence(bench.worse_than_before(models, before))]
    lines.append("")
    warm = sorted(((s, stem, cell) for (stem, kind), rows in cells.items() if kind == "warm" for cell, s in rows),
                  reverse=True)[:12]
    lines += ["## Slowest cells of the warm run", "", "| chapter | cell | seconds |", "| --- | --- | ---: |"]
    lines += [f"| {stem} | `{cell}` | {s:.2f} |" for s, stem, cell in warm] + [""]
    if peaks:
        lines += ["## Peak memory of each chapter's kernel", "",
                  "The most resident memory the chapter's kernel held (Linux's `VmHWM`, read after every cell), and the "
                  "first cell after which it was that high.", "",
                  "| chapter | run | MiB | cell that set it |", "| --- | --- | ---: | --- |"]
        lines += [f"| {stem} | {kind} | {mib:,.0f} | `{cell}` |" for (stem, kind), (mib, cell) in peaks.items()] + [""]
    lines += ["Notes: `*_epoch_seconds` is one training epoch through the book's in-memory tensor path;",
              "`*_dataloader` is the same epoch (same images, model, batch size, optimiser) through a",
              "torchvision dataset with a per-item `ToTensor` and a `DataLoader`. `family_of_4_*` times one",
              "update of four models of one architecture, one after the other and as one `vmap`-batched",
              "computation. Chapter times are notebook executions in a fresh kernel, cold (empty model and",
              "result cache) then warm (filled cache); a chapter's wall time includes starting its kernel.",
              "Page weight is the nbconvert export of the cold run, with figures embedded as the site embeds",
              "them, less the export template's own styles and less plotly.js, which the site loads once",
              "(`plotly_bundle`: the file it ships, chosen by `bookkit.site.choose_plotly`).",
              "`plain_way_cold_estimate`: the cold run with every model's training slowed by the measured",
              "DataLoader factor and no cache, so a re-run costs as much as a cold run.",
              "`tsne_*`: a map as the chapters make it, t-SNE of the codes the figure draws",
              "(`tsne_map_points`, chosen by `aebook.plots.map_subset`; chapter 1's model), beside a map of",
              "all the test codes, both judged on the drawn codes (`bookkit.bench.map_quality`): t-SNE's",
              "KL divergence (nats, lower is better) and trustworthiness at 10 neighbours (1 is perfect).", ""]
    return "\n".join(lines)


def misses(values: dict[str, float], models: list[dict], cells: dict,
           peaks: dict[tuple[str, str], tuple[float, str]] | None = None) -> list[str]:
    """One paragraph per missed goal, saying where the time (or weight) goes, from this run's measurements."""
    out = []
    if values["book_cold_total"] > GOALS["book_cold_total"][0]:
        out.append(cold_miss(values, models))
    if values["book_warm_total"] > GOALS["book_warm_total"][0] or values["chapter_warm_max"] > GOALS["chapter_warm_max"][0]:
        out.append(warm_miss(values, cells))
    if values["tsne_seconds_per_map"] > GOALS["tsne_seconds_per_map"][0]:
        out.append(f"`tsne_seconds_per_map` misses its goal: openTSNE (its own choice of gradient method, all cores) takes "
                   f"{values['tsne_seconds_per_map']:.1f} s for one map of {values['tsne_map_points']:,.0f} points on this machine, of which "
                   f"{values['tsne_neighbour_seconds']:.1f} s find the neighbours and affinities and the rest are "
                   f"the {EARLY_EXAGGERATION_ITER + 500} gradient iterations ({EARLY_EXAGGERATION_ITER} of early "
                   "exaggeration, then openTSNE's 500); the book computes each map once and caches it.")
    if values["fc_epoch_ratio"] > GOALS["fc_epoch_ratio"][0]:
        out.append(f"`fc_epoch_ratio` misses its goal ({values['fc_epoch_ratio']:.3f} against "
                   f"{GOALS['fc_epoch_ratio'][0]:g}): the per-item DataLoader adds "
                   f"{values['fc_epoch_seconds_dataloader'] - values['fc_epoch_seconds']:.1f} s to an epoch whose "
                   f"arithmetic takes {values['fc_epoch_seconds']:.1f} s at {values['fc_epoch_gflop_per_s']:.0f} GFLOP/s, "
                   "so the ratio is bounded by how fast the arithmetic itself can go.")
    for name in ("page_weight_max", "plotly_bundle"):
        if values.get(name, 0) > GOALS[name][0]:
            out.append(f"`{name}` misses its goal ({values[name]:.3f} against {GOALS[name][0]:g}).")
    if values.get("peak_memory", 0) > GOALS["peak_memory"][0]:
        out.append(memory_miss(values, peaks or {}))
    return out


def memory_miss(values: dict[str, float], peaks: dict[tuple[str, str], tuple[float, str]]) -> str:
    """Whose memory set the peak: this process, a chapter's kernel (and the cell that set it), or another child."""
    own, children = values["peak_memory_bench_process"], values["peak_memory_children"]
    text = (f"`peak_memory` misses its goal ({values['peak_memory']:,.0f} MiB against "
            f"{GOALS['peak_memory'][0]:,} MiB). ")
    kernel = ""
    if peaks:
        (stem, kind), (mib, cell) = max(peaks.items(), key=lambda item: item[1][0])
        kernel = f"{stem}'s {kind} kernel, {mib:,.0f} MiB, reached in its cell `{cell}`"
    if own >= children:
        return text + (f"The peak was this process itself ({own:,.0f} MiB: the data, the epoch timings, the t-SNE maps)"
                       + (f"; the largest chapter kernel was {kernel}." if kernel else "."))
    if kernel and mib >= 0.99 * children:  # the same process, measured two ways
        return text + f"The peak was {kernel}; this process peaked at {own:,.0f} MiB."
    return text + (f"The peak was a child process other than the chapters' kernels ({children:,.0f} MiB: the browser "
                   "that timed the trainer, or a process that timed imports)"
                   + (f"; the largest chapter kernel was {kernel}." if kernel else
                      "; the kernels were not measured one by one on this system."))


def cold_miss(values: dict[str, float], models: list[dict]) -> str:
    """Where the cold run's time goes: training, by model, against what the machine can compute."""
    training = sum(m["seconds"] for m in models)
    updates = sum(m["updates"] for m in models)
    top = sorted(models, key=lambda m: -m["seconds"])[:4]
    batching = max(values["family_of_4_fc_batching_speedup"], values["family_of_4_conv_batching_speedup"])
    return (f"`book_cold_total` misses its goal by {values['book_cold_total'] - GOALS['book_cold_total'][0]:.0f} s. "
            f"Training takes {training:.0f} s of the {values['book_cold_total']:.0f} s "
            f"({training / values['book_cold_total']:.0%}), {len(models)} models within their update budgets; the largest: "
            + ", ".join(f"`{m['model']}` {m['seconds']:.0f} s ({m['updates']:,} updates)" for m in top)
            + f". Batching a family of four models ran at {values['family_of_4_fc_batching_speedup']:.2f}× "
            f"(fully connected) and {values['family_of_4_conv_batching_speedup']:.2f}× (convolutional) the speed of "
            "training them one at a time on this machine, "
            + ("no faster, so the book trains them one at a time." if batching < 1.1
               else "a gain the book does not take yet: it trains them one at a time.")
            + f" The fully connected epoch runs its matrix products at {values['fc_epoch_gflop_per_s']:.0f} GFLOP/s "
            f"against {values['matmul_gflop_per_s']:.0f} GFLOP/s for one large product on the same machine, so the "
            f"same updates cannot get much faster here; at {1000 * training / max(1, updates):.0f} ms per update on "
            f"average, the {updates:,} updates alone take {training / GOALS['book_cold_total'][0]:.1f}× the goal.")


def warm_miss(values: dict[str, float], cells: dict) -> str:
    """Where the warm run's time goes: kernels, imports, set-up cells, the slowest cells."""
    warm = {stem: rows for (stem, kind), rows in cells.items() if kind == "warm"}
    kernel = sum(values[f"chapter_{stem.replace('-', '_')}_warm"] - sum(s for _, s in rows) for stem, rows in warm.items())
    setup = sum(next((s for name, s in rows if name.endswith("setup")), 0.0) for rows in warm.values())
    occasional = {name.replace("-", "_") for name in bench.SOME_CHAPTERS_IMPORT}
    groups = sorted(((v, k[len("import_seconds_"):]) for k, v in values.items()
                     if k.startswith("import_seconds_") and k != "import_seconds_chapter"
                     and k[len("import_seconds_"):] not in occasional), reverse=True)
    shown = [(v, name) for v, name in groups if v >= 0.05]
    missed = [f"`{name}` ({values[name]:.{digits}f} s against {GOALS[name][0]:g})"
              for name, digits in (("book_warm_total", 0), ("chapter_warm_max", 1))
              if values[name] > GOALS[name][0]]
    importing = sum(1 for rows in warm.values() if any(name.endswith("setup") for name, _ in rows))
    every = values["import_seconds_chapter"]  # what every chapter imports (bench.SOME_CHAPTERS_IMPORT left out)
    extra = [f"{name.replace('_', '-')} ({values['import_seconds_' + name]:.1f} s more)" for name in sorted(occasional)
             if f"import_seconds_{name}" in values]
    return (" and ".join(missed) + (" miss their goals. " if len(missed) > 1 else " misses its goal. ")
            + f"Outside the cells, starting the {len(warm)} "
            f"kernels and sending them the cells takes {kernel:.0f} s; the chapters' set-up cells take {setup:.0f} s "
            f"together. Importing what every chapter imports takes {every:.1f} s in a fresh "
            "process (" + ", ".join(f"{name.replace('_', '-')} {v:.1f} s" for v, name in shown)
            + ("; the rest already loaded by these" if len(shown) < len(groups) else "") + "), paid again by every chapter, since each runs in its own kernel: "
            f"{importing} × {every:.1f} s = {importing * every:.0f} s of the warm run"
            + (f"; {' and '.join(extra)} only in the chapters whose warm run still fits or rebuilds such a model. "
               if extra else ". ")
            + "The slowest cells are listed below.")


if __name__ == "__main__":
    raise SystemExit(main())

"""Mixed precision checked against float32 on the emoji autoencoder: ``python -m bookkit.precision``.

The emoji chapter trains its models in bfloat16 under autocast where the CPU has bfloat16
instructions (``runtime.training_precision``). This trains the chapter's autoencoder
(d = 128, the reference protocol ``zoo.emoji_config``) with the same seeds in float32 and in
bfloat16, and reports for each run its updates, seconds, milliseconds per update and test
loss (MSE + 0.05·L1, computed in float32 by ``train.evaluate``). The seed-to-seed spread of
float32 is the noise band that bfloat16's difference is judged against.

Models go through the cache like the book's own (seed 0 in the precision this machine picks
is the chapter's model), so a second run reads them back with the seconds they took.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

from aebook import zoo
from aebook.checkpoints import load_or_train
from aebook.emoji import load_emoji
from aebook.files import SaveError
from aebook.models import EmojiAutoencoder
from aebook.runtime import bfloat16_in_hardware, get_device
from aebook.train import PRECISIONS, evaluate, mse_l1_objective
from bookkit.baselines import update_benchmarks

LATENT_DIM = 128


def runs(seeds: tuple[int, ...], data=None) -> list[dict[str, object]]:
    """One row per (precision, seed): updates, status, seconds, ms per update and test loss."""
    data = data if data is not None else load_emoji()
    rows = []
    for precision in PRECISIONS:
        for seed in seeds:
            config = dataclasses.replace(zoo.emoji_config(), precision=precision, seed=seed)
            name = f"emoji-ae-d{LATENT_DIM}" + (f"-seed{seed}" if seed else "")
            trained = load_or_train(name, lambda: EmojiAutoencoder(LATENT_DIM), data, config, mse_l1_objective)
            history = trained.history
            test = evaluate(trained.model, data.test.x.to(get_device()), 1024, mse_l1_objective)["loss"]
            rows.append(dict(precision=precision, seed=seed, updates=history.steps_run, status=history.status,
                             seconds=history.seconds, ms=1000 * history.seconds / max(history.steps_run, 1),
                             test=test))
    return rows


def verdict(rows: list[dict[str, object]]) -> str:
    """A sentence comparing bfloat16's mean test loss with float32's, against float32's seed spread."""
    by = {p: [float(r["test"]) for r in rows if r["precision"] == p] for p in PRECISIONS}
    seconds = {p: sum(float(r["seconds"]) for r in rows if r["precision"] == p) for p in PRECISIONS}
    updates = {p: sum(int(r["updates"]) for r in rows if r["precision"] == p) for p in PRECISIONS}
    fp32, bf16 = statistics.fmean(by["float32"]), statistics.fmean(by["bfloat16"])
    band = max(by["float32"]) - min(by["float32"])
    speed = (seconds["float32"] / updates["float32"]) / (seconds["bfloat16"] / updates["bfloat16"])
    seeds = len(by["float32"])
    difference = f"{'lower' if bf16 < fp32 else 'higher'} by {abs(bf16 - fp32):.5f}"
    if seeds < 2:
        judged = f"{difference}; with one seed there is no noise band to judge it against"
    elif abs(bf16 - fp32) <= band:
        judged = f"{difference}, within float32's own spread across {seeds} seeds ({band:.5f})"
    elif bf16 < fp32:
        judged = f"{difference}, more than float32's own spread across {seeds} seeds ({band:.5f}): no worse"
    else:
        judged = f"**{difference}**, more than float32's own spread across {seeds} seeds ({band:.5f}): worse"
    return (f"bfloat16's mean test loss is {bf16:.5f} against float32's {fp32:.5f} ({judged}); "
            f"its updates ran {speed:.2f} times as fast.")


def markdown(rows: list[dict[str, object]], label: str) -> str:
    """The table and the verdict, as a Markdown section."""
    lines = [f"### {label}", "",
             "Written by `make precision` (`python -m bookkit.precision`): the emoji chapter's reference "
             "autoencoder and recipe (`zoo.emoji_config`) with the precision and seed replaced. A run already "
             "in the cache is read back with the seconds it took when it trained. Test loss: MSE + 0.05·L1 on "
             "the test faces, computed in float32.", "",
             "| precision | seed | updates | training | seconds | ms per update | test loss |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['precision']} | {r['seed']} | {r['updates']:,} | {r['status']} | {r['seconds']:.0f} "
                     f"| {r['ms']:.0f} | {r['test']:.5f} |")
    return "\n".join(lines + ["", verdict(rows), ""])


def main(argv: list[str] | None = None) -> int:
    """Train (or read back) the runs, print the table, and write it into BENCHMARKS.md with ``--write``."""
    import torch

    from bookkit.bench import machine

    parser = argparse.ArgumentParser(prog="python -m bookkit.precision", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per precision (default 2: 0 and 1)")
    parser.add_argument("--write", type=Path, metavar="BENCHMARKS.md", default=None,
                        help="replace this file's mixed-precision block with the result")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    device = get_device()
    if not bfloat16_in_hardware(device):
        print(f"bookkit.precision: this {device.type} has no bfloat16 instructions, so the book trains in float32 "
              "here and there is nothing to compare; run it on a CPU with AMX or AVX-512 BF16.", file=sys.stderr)
        return 2
    cpu = machine()["CPU"]
    label = (f"Emoji autoencoder (d = {LATENT_DIM}), float32 against bfloat16 autocast, "
             f"{torch.get_num_threads()} threads, {cpu}")
    section = markdown(runs(tuple(range(args.seeds))), label)
    print(section)
    if args.write is not None:
        try:
            update_benchmarks(args.write, "precision", section)
        except SaveError as exc:
            print(f"bookkit.precision: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The book's models beside classic baselines, on the same split: ``python -m bookkit.baselines``.

* the VAE of the PyTorch examples repository: 784-400-20, ReLU, Bernoulli cross-entropy
  summed over pixels plus the KL, Adam 1e-3, batches of 128, 10 epochs;
* a shallow fully connected autoencoder, 784-256-32-256-784, batches of 128, 20 epochs;
* PCA with 32 components;
* the book's three d = 32 models again, trained with the recipe ``zoo.fashion_config`` replaced
  (``REPLACED_RECIPE``: a constant learning rate of 1e-3, halved after 5 validations without
  progress, 6,000 updates), so the book's recipe is checked against it on every data set.

Each baseline is trained twice: with its own classic recipe, and with the book's recipe
(``zoo.fashion_config``: the same budget of updates and stopping rule as the book's
models), so a difference is not just a difference in training. Scores: test MSE per
pixel (decoded from the mean code for a VAE) and, for VAEs, the test −ELBO in nats per
image with one sampled code (``latent.negative_elbo_per_image``).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from aebook import zoo
from aebook.checkpoints import Trained, load_or_train
from aebook.data import FashionMNISTData, load_fashion_mnist
from aebook.files import SaveError, write_atomic
from aebook.latent import pca, pca_reconstruction_error
from aebook.measures import negative_elbo_per_image, reconstruction_error
from aebook.models import VAE, ConvAutoencoder, ConvVAE, ExampleVAE, LinearAutoencoder, count_parameters
from aebook.runtime import pick
from aebook.train import ELBOObjective, TrainConfig
from aebook.zoo import classic_config


def replaced_recipe() -> TrainConfig:
    """The Fashion-MNIST recipe before the one-cycle schedule (until 2026-12-06): Adam at a constant 1e-3,
    halved after 5 validations without a new best, up to 6,000 updates, the same batches, validation
    and early stopping as ``zoo.fashion_config``."""
    return dataclasses.replace(zoo.fashion_config(), steps=pick(6_000, 40), lr=1e-3, one_cycle=False,
                               lr_plateau_patience=5)


def rows(data: FashionMNISTData) -> dict[str, dict[str, object]]:
    """Every model of the comparison, trained (or loaded from the cache) and scored on the test set."""
    n = len(data.train)
    runs: dict[str, tuple[str, Trained]] = {
        "book: fully connected AE (d = 32)": ("book", zoo.fully_connected(data, 32)),
        "book: convolutional AE (d = 32)": ("book", zoo.convolutional(data, 32)),
        "book: convolutional VAE (d = 32)": ("book", zoo.variational(data, 32)),
    }
    replaced = replaced_recipe()
    runs["book: fully connected AE (d = 32), replaced recipe"] = ("replaced", load_or_train(
        "fc-d32-replaced", lambda: LinearAutoencoder(latent_dim=32), data, replaced))
    runs["book: convolutional AE (d = 32), replaced recipe"] = ("replaced", load_or_train(
        "conv-d32-replaced", lambda: ConvAutoencoder(latent_dim=32), data, replaced))
    runs["book: convolutional VAE (d = 32), replaced recipe"] = ("replaced", load_or_train(
        "vae-d32-beta1-replaced", lambda: ConvVAE(latent_dim=32), data, replaced, ELBOObjective(beta=1.0)))
    shallow = lambda: LinearAutoencoder(32, hidden=(256,))  # noqa: E731 - 784-256-32-256-784
    runs["shallow FC AE, 20 epochs at batch 128"] = ("classic", load_or_train(
        "baseline-shallow-classic", shallow, data, classic_config(n, 20)))
    runs["shallow FC AE, book's recipe"] = ("book's recipe", load_or_train(
        "baseline-shallow-book", shallow, data, zoo.fashion_config()))
    runs["examples VAE (784-400-20), 10 epochs at batch 128"] = ("classic", load_or_train(
        "baseline-examples-vae-classic", ExampleVAE, data, classic_config(n, 10), ELBOObjective()))
    runs["examples VAE (784-400-20), book's recipe"] = ("book's recipe", load_or_train(
        "baseline-examples-vae-book", ExampleVAE, data, zoo.fashion_config(), ELBOObjective()))
    out = {}
    for name, (recipe, run) in runs.items():
        row = {"recipe": recipe, "parameters": count_parameters(run.model),
               "updates": run.history.steps_run, "training": run.history.status,
               "seconds": round(run.history.seconds),
               "test MSE": reconstruction_error(run.model, data.test.x)}
        if isinstance(run.model, VAE):
            row["test −ELBO (nats)"] = float(negative_elbo_per_image(run.model, data.test.x).mean())
        out[name] = row
    mean, basis, _ = pca(data.train.x, 32)
    out["PCA, 32 components"] = {"recipe": "exact", "parameters": int(mean.numel() + basis.numel()),
                                 "test MSE": pca_reconstruction_error(data.test.x, mean, basis)}
    return out


def markdown(table: dict[str, dict[str, object]], label: str) -> str:
    """The comparison as a Markdown table, headed by the data it was computed on."""
    columns = ["recipe", "parameters", "updates", "training", "seconds", "test MSE", "test −ELBO (nats)"]
    lines = [f"### {label}", "", "| model | " + " | ".join(columns) + " |",
             "|:---|" + "|".join(":---" if c in ("recipe", "training") else "---:" for c in columns) + "|"]
    for name, row in table.items():
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:,}" if isinstance(v, int) else f"{v:.4f}" if c == "test MSE" and v != ""
                         else f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def update_benchmarks(path: Path, key: str, section: str) -> None:
    """Put ``section`` into BENCHMARKS.md between markers named ``key``, replacing an older copy."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    begin, end = f"<!-- baselines:{key} -->", f"<!-- /baselines:{key} -->"
    block = f"{begin}\n{section}{end}\n"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", lambda _: block, text, flags=re.S)
    else:
        if "## Baselines" not in text:
            text = text.rstrip("\n") + "\n\n## Baselines\n\nWritten by `make baselines` (`python -m bookkit.baselines`): " \
                   "the book's models beside classic baselines, trained on the same split and scored on the " \
                   "same test images.\n\n"
        text = text.rstrip("\n") + "\n\n" + block
    write_atomic(path, text)  # aebook.files: a full disk leaves the old BENCHMARKS.md whole


def main(argv: list[str] | None = None) -> int:
    """Train the baselines on the data the environment selects, print the table, optionally keep it."""
    parser = argparse.ArgumentParser(
        prog="python -m bookkit.baselines",
        description="Train classic baselines on the book's split and print them beside the book's models "
                    "(data chosen as for the book: AEBOOK_DATA, AEBOOK_DATA_DIR).")
    parser.add_argument("--write", type=Path, metavar="BENCHMARKS.md", default=None,
                        help="also keep the table in this file (replacing the table for the same data)")
    args = parser.parse_args(argv)
    data = load_fashion_mnist()
    n_train, n_test = data.found
    label = (f"{'Stand-in' if data.is_standin else 'Fashion-MNIST'}: {n_train:,} training "
             f"({len(data.train):,} used, {len(data.val):,} for validation) and {n_test:,} test images")
    table = markdown(rows(data), label)
    print(table)
    if args.write is not None:
        key = ("standin" if data.is_standin else "fashion-mnist") + ("" if data.is_official else f"-{n_train}")
        try:
            update_benchmarks(args.write, key, table)
        except SaveError as exc:
            print(f"{exc}; the table above was not kept", file=sys.stderr)
            return 1
        print(f"kept in {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

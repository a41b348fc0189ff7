"""The worked arithmetic of the emoji chapter, checked against the code it describes.

Chapter 5 counts the emoji autoencoder's 2,132,515 parameters by hand, layer by layer, says
how many numbers one image becomes after each block, and derives how far the L1 term of its
loss moves the best output. Each of those is recomputed here from ``aebook.models`` (and the
hand count also from the chapter's own text), so the page cannot drift from the model.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from aebook.models import EmojiAutoencoder, EmojiVAE, count_parameters, receptive_fields

CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "05-emoji.qmd"


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


def batchnorm(c: int) -> int:
    return 2 * c


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# The layer list of the book's spec, block by block, by the chapter's formulas.
ENCODER = [conv(3, 32, 4) + batchnorm(32), conv(32, 64, 4) + batchnorm(64), conv(64, 128, 4) + batchnorm(128),
           conv(128, 256, 4) + batchnorm(256), linear(4096, 128)]
DECODER = [linear(128, 4096), conv(256, 128, 3) + batchnorm(128), conv(128, 64, 3) + batchnorm(64),
           conv(64, 32, 3) + batchnorm(32), conv(32, 3, 3)]


def blocks(layers: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """(numbers per image, parameters) after each block: a block ends at an activation, an Unflatten or the end."""
    out, params = [], 0
    for k, layer in enumerate(layers):
        x = layer(x)
        params += sum(p.numel() for p in layer.parameters())
        if isinstance(layer, (nn.LeakyReLU, nn.Sigmoid, nn.Unflatten)) or k == len(layers) - 1:
            out.append((x[0].numel(), params))
            params = 0
    return x, out


@torch.no_grad()
def test_parameters_layer_by_layer_match_the_hand_count():
    model = EmojiAutoencoder(latent_dim=128).eval()
    code, encoder = blocks(model.encoder, torch.zeros(1, 3, 64, 64))
    _, decoder = blocks(model.decoder, code)
    assert [p for _, p in encoder] == ENCODER == [1_632, 32_960, 131_456, 525_056, 524_416]
    assert [p for _, p in decoder] == DECODER == [528_384, 295_296, 73_920, 18_528, 867]
    assert sum(ENCODER) == 1_215_520 and sum(DECODER) == 916_995
    assert count_parameters(model) == sum(ENCODER) + sum(DECODER) == 2_132_515


@torch.no_grad()
def test_the_representation_halves_at_every_encoder_block():
    model = EmojiAutoencoder(latent_dim=128).eval()
    image = torch.zeros(1, 3, 64, 64)
    code, encoder = blocks(model.encoder, image)
    x_hat, decoder = blocks(model.decoder, code)
    sizes = [n for n, _ in encoder]
    assert image[0].numel() == 12_288
    assert sizes == [32 * 32 * 32, 64 * 16 * 16, 128 * 8 * 8, 256 * 4 * 4, 128] == [32_768, 16_384, 8_192, 4_096, 128]
    assert all(b * 2 == a for a, b in zip(sizes[:3], sizes[1:4]))  # space / 4, channels x 2: half per block
    assert [n for n, _ in decoder] == [4_096, 8_192, 16_384, 32_768, 12_288] and x_hat.shape == (1, 3, 64, 64)
    assert receptive_fields(model) == [4, 10, 22, 46]  # the patch one position sees after each block


def test_the_vae_shares_the_blocks_and_doubles_the_code_layer():
    ae, vae = EmojiAutoencoder(latent_dim=128), EmojiVAE(latent_dim=128)
    assert count_parameters(vae) - count_parameters(ae) == linear(4096, 256) - linear(4096, 128)


def test_the_chapter_writes_the_same_hand_count():
    """Every line of the chapter's "Counting the parameters by hand" callout is the code's, in order."""
    text = CHAPTER.read_text(encoding="utf-8")
    callout = text.split("## Counting the parameters by hand", 1)[1].split("\n:::", 1)[0]
    terms = re.findall(r"^([\d \\cdot+]+) &= \\text\{([\d,]+)\}[,.] *(?:\\\\)?$", callout, flags=re.M)
    assert len(terms) == len(ENCODER + DECODER)
    for (formula, result), expected in zip(terms, ENCODER + DECODER):
        assert eval(formula.replace("\\cdot", "*")) == int(result.replace(",", "")) == expected  # noqa: S307
    assert "{python}" in callout.split("add up to", 1)[1]  # the sums themselves are computed on the page


@pytest.mark.parametrize("lam", [0.05, 0.2])
def test_the_l1_term_moves_the_best_output_at_most_half_its_weight(lam):
    """argmin_c E[(v - c)^2] + λ E|v - c| lies within λ/2 of the mean; for an edge, at q - λ(1 - 2q)/2."""
    rng = np.random.default_rng(0)
    c = np.linspace(-0.5, 1.5, 200_001)
    for _ in range(20):
        v = rng.random(7)
        w = rng.dirichlet(np.ones(7))
        loss = sum(wi * ((vi - c) ** 2 + lam * np.abs(vi - c)) for vi, wi in zip(v, w))
        best = c[np.argmin(loss)]
        assert abs(best - float(w @ v)) <= lam / 2 + 1e-4
    for q in (0.1, 0.3, 0.45):
        loss = (1 - q) * (c ** 2 + lam * np.abs(c)) + q * ((1 - c) ** 2 + lam * np.abs(1 - c))
        assert c[np.argmin(loss)] == pytest.approx(q - lam / 2 * (1 - 2 * q), abs=1e-4)

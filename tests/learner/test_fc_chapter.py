"""Chapter 1's worked examples, checked against the code: the parameter count and compression it
derives, where the ReLUs are (and are not), and the PCA derivation (Eckart–Young, the basis freedom,
a linear autoencoder finding the principal subspace)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from aebook.latent import pca, pca_reconstruction_error, principal_angles
from aebook.models import LinearAutoencoder, count_parameters
from aebook.train import TrainConfig, fit

CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "01-fully-connected.qmd"


def chapter_widths() -> list[int]:
    """The layer widths the chapter's parameter formula uses: "the widths $n_0, \\dots, n_6$ = 784, ..."."""
    m = re.search(r"\$n_0, \\dots, n_6\$ = ((?:\d+,\s+)+\d+)", CHAPTER.read_text(encoding="utf-8"))
    assert m, "the chapter no longer states the widths n_0, ..., n_6"
    return [int(n) for n in m.group(1).split(",")]


def test_the_widths_the_chapter_lists_are_the_models():
    model = LinearAutoencoder(latent_dim=32)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert chapter_widths() == [linears[0].in_features] + [m.out_features for m in linears]


def test_the_parameter_formula_gives_count_parameters():
    """P = sum over layers of (n_in * n_out + n_out): the sum the chapter derives, 439,728 for d = 32."""
    widths = chapter_widths()
    formula = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    model = LinearAutoencoder(latent_dim=32)
    assert formula == count_parameters(model) == 439_728
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert count_parameters(linears[0]) == 784 * 256 + 256 == 200_960   # "the first has"
    assert count_parameters(linears[-1]) == 256 * 784 + 784 == 201_488  # "and the last"
    assert count_parameters(linears[0]) + count_parameters(linears[-1]) > 0.9 * formula  # "almost all"


def test_the_compression_ratio():
    assert 784 / LinearAutoencoder(latent_dim=32).hparams["latent_dim"] == 24.5


def test_the_code_layer_has_no_activation_and_the_output_a_sigmoid():
    """Not "every layer but the last is followed by a ReLU": the encoder's last layer has nothing after it."""
    model = LinearAutoencoder(latent_dim=32)
    assert isinstance(model.encoder[-1], torch.nn.Linear)  # the code z: no activation
    assert isinstance(model.decoder[-2], torch.nn.Linear) and isinstance(model.decoder[-1], torch.nn.Sigmoid)
    layers = list(model.encoder) + list(model.decoder)
    linears = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Linear)]
    relus = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.ReLU)]
    assert len(linears) == 6 and len(relus) == 4  # "most are followed by a ReLU", two are not
    assert all(isinstance(layers[i - 1], torch.nn.Linear) for i in relus)
    z = model.encode(torch.rand(64, 1, 28, 28))
    assert (z < 0).any()  # a code can be negative: nothing clips it


def test_the_linear_variant_is_one_affine_map_each_way():
    model = LinearAutoencoder(latent_dim=32, hidden=(), nonlinear=False)
    assert [type(m) for m in model.encoder] == [torch.nn.Linear]
    assert [type(m) for m in model.decoder] == [torch.nn.Linear]
    assert count_parameters(model) == 784 * 32 + 32 + 32 * 784 + 784
    x, y = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        mixed, _ = model(0.3 * x + 0.7 * y)
        apart = 0.3 * model(x)[0] + 0.7 * model(y)[0]
    assert torch.allclose(mixed, apart, atol=1e-5)  # affine: it maps mixtures to mixtures


def correlated_images(n: int, side: int, spectrum: list[float], seed: int = 0) -> torch.Tensor:
    """``n`` images of side x side pixels whose covariance has the given leading variances (and a little noise)."""
    g = torch.Generator().manual_seed(seed)
    d = side * side
    directions, _ = torch.linalg.qr(torch.randn(d, len(spectrum), generator=g))
    scores = torch.randn(n, len(spectrum), generator=g) * torch.tensor(spectrum).sqrt()
    x = 0.5 + scores @ directions.T + 0.01 * torch.randn(n, d, generator=g)
    return x.view(n, 1, side, side)


def test_eckart_young_pca_training_error_is_the_variance_left_out():
    """The chapter's check: PCA's training MSE = (N-1)/N * (sum of the variances left out) / D."""
    x = correlated_images(500, 8, [0.05, 0.03, 0.02, 0.01, 0.005])
    n, d, k = len(x), 64, 3
    mean, basis, variances = pca(x, k)
    total = float(x.flatten(1).double().var(dim=0).sum())
    predicted = (n - 1) / n * (total - float(variances.double().sum())) / d
    measured = pca_reconstruction_error(x, mean, basis)
    assert abs(measured - predicted) <= 1e-3 * predicted


def test_any_basis_of_the_subspace_gives_the_same_product_and_zero_angles():
    """W_d A with A^{-1} W_e: the same reconstruction, the same subspace (all principal angles 0)."""
    g = torch.Generator().manual_seed(1)
    w_d, w_e = torch.randn(784, 8, generator=g).double(), torch.randn(8, 784, generator=g).double()
    a = torch.randn(8, 8, generator=g).double() + 3 * torch.eye(8, dtype=torch.float64)
    assert torch.allclose((w_d @ a) @ (torch.linalg.inv(a) @ w_e), w_d @ w_e, atol=1e-8)
    assert float(principal_angles(w_d @ a, w_d).max()) < 1e-3
    random = torch.randn(784, 8, generator=g)
    assert float(principal_angles(random, w_d.float()).median()) > 60  # random subspaces are far apart


def test_a_trained_linear_autoencoder_spans_the_principal_subspace():
    """The derivation, run: on centred data with a clear gap after the 3rd eigenvalue, the decoder's
    columns end up spanning PCA's top-3 subspace (not necessarily its basis)."""
    x = correlated_images(1_000, 6, [0.08, 0.05, 0.03, 0.001]) - 0.5
    model = LinearAutoencoder(latent_dim=3, hidden=(), nonlinear=False, image_shape=(1, 6, 6))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and fair to a busy machine
    try:
        torch.manual_seed(0)
        fit(model, x[:900], x[900:], TrainConfig(steps=1_500, batch_size=900, lr=1e-2, eval_every=100),
            device=torch.device("cpu"), progress=False)
    finally:
        torch.set_num_threads(threads)
    _, basis, _ = pca(x[:900], 3)
    columns = model.decoder[0].weight.detach()  # (36, 3): the columns of W_d
    assert float(principal_angles(columns, basis).max()) < 5

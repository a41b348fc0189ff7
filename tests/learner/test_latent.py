import numpy as np
import pytest
import torch

import aebook.latent as L
from aebook.measures import reconstruction_error
from aebook.models import LinearAutoencoder
from conftest import mark_cached


def test_principal_angles_zero_for_same_subspace_any_basis():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 4, generator=g)
    mix = torch.randn(4, 4, generator=g) + 3 * torch.eye(4)
    assert L.principal_angles(a, a @ mix).max() < 1e-2


def test_principal_angles_ninety_for_orthogonal_subspaces():
    eye = torch.eye(6)
    angles = L.principal_angles(eye[:, :2], eye[:, 2:4])
    assert torch.allclose(angles, torch.full((2,), 90.0))
    tilted = torch.stack([torch.tensor([1.0, 1.0, 0, 0, 0, 0])], 1)
    assert L.principal_angles(tilted, eye[:, :1]).item() == pytest.approx(45.0, abs=1e-4)
    assert L.angles_to_subspace(tilted, eye[:, :1]).item() == pytest.approx(45.0, abs=1e-4)


def test_pca_recovers_a_planted_subspace():
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(784, 3, generator=g))
    coeffs = torch.randn(500, 3, generator=g) * torch.tensor([5.0, 3.0, 2.0])
    x = (coeffs @ basis.T + 0.01 * torch.randn(500, 784, generator=g)).view(500, 1, 28, 28)
    mean, found, var = L.pca(x, 3)
    assert L.principal_angles(found, basis).max() < 2.0
    assert var[0] > var[1] > var[2]
    errors = [L.pca_reconstruction_error(x, mean, L.pca(x, k)[1]) for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_pca_summed_in_chunks_is_the_covariances_eigendecomposition():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(9_000, 1, 4, 4, generator=g) * torch.linspace(0.2, 1.0, 16).view(1, 1, 4, 4)  # over two chunks
    mean, basis, variances = L.pca(x, 5)
    flat = x.flatten(1).double()
    expected, vectors = torch.linalg.eigh(torch.cov(flat.T))
    assert torch.allclose(mean.double(), flat.mean(0), atol=1e-6)
    assert torch.allclose(variances.double(), expected.flip(0)[:5], rtol=1e-5)
    assert L.principal_angles(basis, vectors.flip(1)[:, :5].float()).max() < 0.1  # the same directions


def test_pca_errors_by_size_are_the_errors_of_each_projection():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(300, 1, 28, 28, generator=g) ** 3  # skewed, like clothing pixels
    mean, basis, _ = L.pca(x[:200], 12)  # fitted on some images, measured on others, as the chapters do
    by_size = L.pca_errors_by_size(x[200:], mean, basis)
    one_by_one = torch.tensor([L.pca_reconstruction_error(x[200:], mean, basis[:, :d]) for d in range(1, 13)])
    assert by_size.shape == (12,) and torch.allclose(by_size, one_by_one, rtol=1e-4)
    assert (by_size.diff() < 0).all()  # each added direction leaves less out


def test_encode_all_matches_model_in_batches():
    model = LinearAutoencoder(6).eval()
    x = torch.rand(50, 1, 28, 28)
    z = L.encode_all(model, x, batch_size=7)
    assert torch.allclose(z, model.encode(x), atol=1e-6)
    assert L.reconstruct_all(model, x, batch_size=9).shape == x.shape
    expected = float(((model(x)[0] - x) ** 2).mean().detach())
    assert reconstruction_error(model, x) == pytest.approx(expected, rel=1e-5)


def test_tsne_is_cached(tmp_path, monkeypatch):
    z = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    first = L.tsne(z, cache=tmp_path)
    assert first.shape == (60, 2) and len(list(tmp_path.iterdir())) == 1

    import sklearn.manifold

    def refuse(*args, **kwargs):
        raise AssertionError("t-SNE recomputed although it was cached")

    monkeypatch.setattr(sklearn.manifold, "TSNE", refuse)
    assert np.array_equal(L.tsne(z, cache=tmp_path), first)
    # a corrupt cache file is recomputed, not loaded
    next(tmp_path.iterdir()).write_bytes(b"junk")
    monkeypatch.undo()
    assert np.allclose(L.tsne(z, cache=tmp_path), first, atol=1e-3)


def test_knn_accuracy_on_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    feats = torch.nn.functional.one_hot(y, 4).float() * 10 + torch.randn(200, 4, generator=g)
    assert L.knn_accuracy(feats[:150], y[:150], feats[150:], y[150:]) == 1.0
    shuffled = y[torch.randperm(200, generator=g)]
    assert L.knn_accuracy(feats[:150], shuffled[:150], feats[150:], shuffled[150:]) < 0.6


def test_per_class_accuracy():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    assert L.per_class_accuracy(predicted, labels, ["a", "b", "c", "d"]) == \
        pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1.0})


# --- traversal and interpolation (latent-space chapter)

def conv_model(latent_dim=6):
    from aebook.models import ConvAutoencoder
    torch.manual_seed(0)
    return ConvAutoencoder(latent_dim=latent_dim).eval()


def test_traverse_shapes_and_centre_column_is_the_reconstruction():
    model = conv_model()
    z = torch.randn(6)
    offsets = torch.arange(-4, 5) * 0.5
    grid = L.traverse(model, z, dim=2, offsets=offsets)
    assert grid.shape == (9, 1, 28, 28)
    with torch.no_grad():
        plain = model.decode(z[None])
    assert torch.allclose(grid[4], plain[0], atol=1e-6)
    assert not torch.allclose(grid[0], grid[8])  # the offsets change the image


def test_traverse_moves_only_the_chosen_dimension():
    class Echo(torch.nn.Module):  # a "decoder" that shows its input code
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def decode(self, z):
            return z[:, None, None, :]
    z = torch.tensor([1.0, 2.0, 3.0])
    out = L.traverse(Echo(), z, dim=1, offsets=torch.tensor([-1.0, 0.0, 2.0]))[:, 0, 0]
    assert torch.equal(out, torch.tensor([[1.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.0, 4.0, 3.0]]))


def test_top_variance_dims():
    z = torch.randn(500, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 5.0, 0.1, 2.0])
    assert L.top_variance_dims(z, 3) == [1, 3, 0]


def test_lerp_endpoints_and_midpoint():
    z0, z1 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([-1.0, 4.0, 0.0])
    path = L.lerp(z0, z1, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(path[0], z0) and torch.equal(path[2], z1)
    assert torch.allclose(path[1], (z0 + z1) / 2)


def test_slerp_endpoints_norm_and_great_circle():
    g = torch.Generator().manual_seed(3)
    z0, z1 = torch.randn(32, generator=g) * 2, torch.randn(32, generator=g)
    ts = torch.linspace(0, 1, 11)
    path = L.slerp(z0, z1, ts)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    norms = path.norm(dim=1)
    lo, hi = min(z0.norm(), z1.norm()), max(z0.norm(), z1.norm())
    assert bool(((norms >= lo - 1e-4) & (norms <= hi + 1e-4)).all())  # keeps the norm between the ends
    assert torch.allclose(norms, (1 - ts) * z0.norm() + ts * z1.norm(), atol=1e-4)
    # it stays in the plane of z0 and z1, turning at a constant rate
    basis, _ = torch.linalg.qr(torch.stack([z0, z1], dim=1))
    assert torch.allclose(path @ basis @ basis.T, path, atol=1e-4)
    cos = torch.nn.functional.cosine_similarity(path[:-1], path[1:], dim=1)
    assert torch.allclose(cos, cos[0].expand_as(cos), atol=1e-5)
    lin = L.lerp(z0, z1, ts)
    assert lin.norm(dim=1)[5] < path.norm(dim=1)[5]  # lerp's midpoint is shorter


def test_slerp_of_parallel_codes_is_a_line():
    z0 = torch.tensor([1.0, 2.0])
    assert torch.allclose(L.slerp(z0, 3 * z0, torch.tensor([0.5])), 2 * z0[None])


def test_neighbour_overlap():
    z = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert L.neighbour_overlap(z, z * 3 + 1, k=5) == 1.0  # same distances up to scale
    assert L.neighbour_overlap(z, torch.randn(200, 5), k=5) < 0.2


def test_decode_all_matches_decode():
    model = conv_model()
    z = torch.randn(5000, 6)
    with torch.no_grad():
        assert torch.allclose(L.decode_all(model, z, batch_size=1024)[:3], model.decode(z[:3]), atol=1e-6)


def test_a_cached_map_is_read_without_importing_opentsne(tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32))
    code = ("import sys, numpy as np; from aebook.latent import tsne; "
            f"xy = tsne(np.load(r'{tmp_path / 'z.npy'}'), cache=r'{tmp_path}'); print('openTSNE' in sys.modules, xy.shape)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr[-1500:]
    assert runs[0].stdout.split()[0] == "True"  # computed: openTSNE needed
    assert runs[1].stdout.strip() == "False (60, 2)"  # from the cache: about 2 s of imports saved


def test_codes_and_errors_are_cached_with_the_model_that_made_them(isolated_cache):
    from aebook.measures import per_image_errors

    torch.manual_seed(0)
    model, x = LinearAutoencoder(4), torch.rand(50, 1, 28, 28)
    codes, errors = L.encode_all(model, x), per_image_errors(model, x)
    assert torch.equal(codes, L._encode_distribution_all(model, x, 2048)[0])  # the same as computing them
    assert torch.equal(errors, ((L.reconstruct_all(model, x) - x) ** 2).flatten(1).mean(1))
    for name in ("codes", "errors"):  # mark each entry: a second call must read it back
        [path] = (isolated_cache / "derived").glob(f"{name}-*.pt")
        mark_cached(path, lambda _: (torch.zeros_like(codes), None) if name == "codes" else torch.zeros_like(errors))
    assert not L.encode_all(model, x).any() and not per_image_errors(model, x).any()
    with torch.no_grad():
        next(model.parameters()).add_(0.1)  # other weights: computed again, not read back
    assert L.encode_all(model, x).any() and per_image_errors(model, x).any()

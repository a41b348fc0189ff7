"""The lengths along interpolation paths that chapter 3 derives, checked against the package's functions.

The chapter states: a lerp midpoint is at most the mean of the two lengths (equal only for codes
pointing the same way), and for codes of equal length it is shorter by cos(θ/2); the book's slerp
keeps the length linear; the standard slerp formula (White 2016) keeps equal lengths and puts the
midpoint of unequal ones at least at their mean length. Its worked example is z0 = (1, 0),
z1 = (0, 10): lerp ≈ 5.02, the book's slerp 5.50, the standard formula ≈ 7.11.
"""

import math

import torch

from aebook.latent import lerp, slerp, slerp_standard

HALF = torch.tensor([0.5])


def midpoint_length(method, z0, z1) -> float:
    return float(method(z0, z1, HALF)[0].norm())


def test_worked_example():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 10.0])
    assert math.isclose(midpoint_length(lerp, z0, z1), math.sqrt(0.25 + 25), rel_tol=1e-6)   # 5.02
    assert round(midpoint_length(lerp, z0, z1), 2) == 5.02
    assert midpoint_length(lerp, z0, z1) > 1.0                                                 # longer than |z0|
    assert math.isclose(midpoint_length(slerp, z0, z1), 5.5, rel_tol=1e-6)
    assert math.isclose(midpoint_length(slerp_standard, z0, z1), math.sqrt(101) / math.sqrt(2), rel_tol=1e-6)
    assert round(midpoint_length(slerp_standard, z0, z1), 2) == 7.11


def test_midpoint_lengths_against_the_mean_length():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        z0, z1 = torch.randn(8, generator=g, dtype=torch.float64), 3 * torch.randn(8, generator=g, dtype=torch.float64)
        mean = float(z0.norm() + z1.norm()) / 2
        assert midpoint_length(lerp, z0, z1) <= mean + 1e-9
        assert math.isclose(midpoint_length(slerp, z0, z1), mean, rel_tol=1e-9)
        assert midpoint_length(slerp_standard, z0, z1) >= mean - 1e-9
        # the closed form of the standard formula's midpoint: (a² + b² + 2ab·c) / (2(1 + c))
        a, b = float(z0.norm()), float(z1.norm())
        c = float(z0 @ z1) / (a * b)
        assert math.isclose(midpoint_length(slerp_standard, z0, z1) ** 2, (a * a + b * b + 2 * a * b * c) / (2 * (1 + c)),
                            rel_tol=1e-9)


def test_equal_lengths():
    g = torch.Generator().manual_seed(1)
    ts = torch.linspace(0, 1, 9)
    for _ in range(50):
        z0, z1 = torch.randn(16, generator=g, dtype=torch.float64), torch.randn(16, generator=g, dtype=torch.float64)
        z1 = z1 * z0.norm() / z1.norm()
        r, theta = float(z0.norm()), math.acos(float(z0 @ z1) / float(z0.norm() * z1.norm()))
        assert torch.allclose(slerp(z0, z1, ts), slerp_standard(z0, z1, ts), atol=1e-9)
        assert torch.allclose(slerp_standard(z0, z1, ts).norm(dim=1), torch.full((9,), r, dtype=torch.float64))
        assert math.isclose(midpoint_length(lerp, z0, z1), r * math.cos(theta / 2), rel_tol=1e-9)


def test_endpoints_and_parallel_codes():
    z0, z1 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([-1.0, 0.5, 2.0])
    path = slerp_standard(z0, z1, torch.tensor([0.0, 1.0]))
    assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[1], z1, atol=1e-6)
    assert torch.allclose(slerp_standard(z0, 3 * z0, HALF), 2 * z0[None])

"""The results chapter 3's Think exercises derive, checked on the package's own functions.

Exercise 1: the Fréchet distance of copies of one image y from real images is |φ(y) − m_r|² + tr C_r,
smallest (tr C_r) for the mean image. Exercise 4: the lerp midpoint m of codes of lengths a <= b lies
between (b − a)/2 and (a + b)/2; it is shorter than both codes exactly when cos θ < (3a² − b²)/(2ab),
which no angle satisfies once b >= 3a.
"""

import math

import numpy as np
import torch

from aebook.latent import lerp
from aebook.realism import FrechetSpace

HALF = torch.tensor([0.5])


def test_frechet_distance_of_copies_of_one_image():
    g = torch.Generator().manual_seed(0)
    reference = torch.rand(400, 1, 28, 28, generator=g)
    real = torch.rand(300, 1, 28, 28, generator=g)
    space = FrechetSpace.fit(reference, k=8)
    features = space.features(real)
    floor = float(np.trace(np.cov(features, rowvar=False)))
    for y in (reference.mean(0), real[0], torch.zeros(1, 28, 28)):
        by_hand = float(((space.features(y[None])[0] - features.mean(0)) ** 2).sum()) + floor
        assert math.isclose(space.distance(y[None].repeat(50, 1, 1, 1), real), by_hand, rel_tol=1e-6)
        assert by_hand >= floor
    mean_image = real.mean(0)  # its coordinates are the real images' mean coordinates: the floor exactly
    assert math.isclose(space.distance(mean_image[None].repeat(50, 1, 1, 1), real), floor, rel_tol=1e-5)


def test_lerp_midpoint_bounds_and_shorter_than_both():
    g = torch.Generator().manual_seed(1)
    for _ in range(500):
        z0 = torch.randn(6, generator=g, dtype=torch.float64)
        z1 = torch.randn(6, generator=g, dtype=torch.float64) * float(torch.rand(1, generator=g) * 5)
        m = float(lerp(z0, z1, HALF)[0].norm())
        a, b = sorted([float(z0.norm()), float(z1.norm())])
        cos = float(z0 @ z1) / (a * b)
        assert (b - a) / 2 - 1e-12 <= m <= (a + b) / 2 + 1e-12
        assert (m < a) == (cos < (3 * a * a - b * b) / (2 * a * b))
        if b >= 3 * a:
            assert m >= a


def test_worked_cases_of_exercise_4():
    z0, z1 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 10.0], dtype=torch.float64)
    assert math.isclose(float(lerp(z0, z1, HALF)[0].norm()), math.sqrt(25.25))
    assert math.isclose(math.degrees(math.acos(-0.25)), 104.4775, rel_tol=1e-5)  # b = 2a needs θ > 104.5°
    for theta in (100.0, 110.0):  # b = 2a: shorter than both only beyond arccos(-1/4)
        t = math.radians(theta)
        za = torch.tensor([1.0, 0.0], dtype=torch.float64)
        zb = 2 * torch.tensor([math.cos(t), math.sin(t)], dtype=torch.float64)
        assert (float(lerp(za, zb, HALF)[0].norm()) < 1.0) == (theta > 104.4775)

"""Chapter 6's package code: damage and filters, the denoising and conditional objectives, the conditional
VAE, anomaly scores, retrieval, and the images from outside Fashion-MNIST. Tiny tensors, a few seconds."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from aebook import zoo
from aebook.data import (Corruption, FashionMNISTData, ImageSet, add_gaussian_noise, corrupt_mix, gaussian_blur,
                         mask_pixels, without_class)
from aebook.latent import nearest_neighbours
from aebook.losses import bernoulli_recon_loss
from aebook.measures import (auc_se, bernoulli_floor, precision_at_k, psnr, roc, threshold_at_false_alarm_rate)
from aebook.models import ConditionalVAE, count_parameters
from aebook.ood import drawn_digits, mnist_digits, to_fashion_format
from aebook.train import ConditionalELBOObjective, DenoisingObjective, TrainConfig, fit


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- damage and filters


def test_gaussian_noise_has_its_level_stays_in_range_and_repeats_with_a_seed():
    x = torch.full((200, 1, 28, 28), 0.5)
    noisy = add_gaussian_noise(x, 0.1, seeded())
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert abs(float((noisy - x).std()) - 0.1) < 0.005
    assert torch.equal(noisy, add_gaussian_noise(x, 0.1, seeded()))
    assert not torch.equal(noisy, add_gaussian_noise(x, 0.1, seeded(1)))
    clipped = add_gaussian_noise(torch.zeros(10, 1, 28, 28), 0.5, seeded())
    assert clipped.min() == 0 and float((clipped == 0).float().mean()) > 0.4  # half the draws are negative


def test_masking_blacks_out_the_asked_share_and_keeps_the_rest():
    x = torch.rand(50, 1, 28, 28) * 0.5 + 0.5  # no pixel is black before masking
    masked = mask_pixels(x, 0.3, seeded())
    blacked = masked == 0
    assert abs(float(blacked.float().mean()) - 0.3) < 0.02
    assert torch.equal(masked[~blacked], x[~blacked])


def test_corruption_dispatches_names_itself_and_rejects_unknown_kinds():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(Corruption("noise", 0.2)(x, seeded()), add_gaussian_noise(x, 0.2, seeded()))
    assert torch.equal(Corruption("mask", 0.2)(x, seeded()), mask_pixels(x, 0.2, seeded()))
    assert Corruption("noise", 0.3).name == "noise σ = 0.3" and Corruption("mask", 0.5).name == "mask 50%"
    with pytest.raises(ValueError, match="unknown corruption"):
        Corruption("blur", 1.0)(x)


def test_corrupt_mix_gives_each_image_one_of_the_damages():
    x = torch.rand(64, 1, 28, 28) * 0.5 + 0.5
    mixed = corrupt_mix(x, (Corruption("mask", 1.0), Corruption("noise", 0.0)), seeded())
    wiped = (mixed.flatten(1) == 0).all(dim=1)
    untouched = (mixed == x).flatten(1).all(dim=1)
    assert bool((wiped ^ untouched).all())  # every image got exactly one of the two
    assert 10 < int(wiped.sum()) < 54       # and both were used


def test_gaussian_blur_averages_neighbours_and_keeps_constants():
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(gaussian_blur(x, 0.0), x)
    flat = torch.full((1, 1, 28, 28), 0.7)
    assert torch.allclose(gaussian_blur(flat, 1.5), flat, atol=1e-6)
    impulse = torch.zeros(1, 1, 28, 28)
    impulse[0, 0, 14, 14] = 1.0
    spread = gaussian_blur(impulse, 1.0)
    assert math.isclose(float(spread.sum()), 1.0, rel_tol=1e-5)            # an average: weights sum to 1
    assert torch.allclose(spread, spread.flip(-1).roll(1, -1), atol=1e-7)   # symmetric about the impulse
    assert float(spread[0, 0, 14, 14]) < 0.2 and float(spread[0, 0, 14, 15]) > 0.05
    wider = gaussian_blur(impulse, 2.0)
    assert float(wider[0, 0, 14, 14]) < float(spread[0, 0, 14, 14])
    many = torch.rand(2_100, 1, 28, 28)  # blurred in parts of 1,024: each image as if blurred alone
    blurred = gaussian_blur(many, 1.0)
    assert blurred.shape == many.shape
    assert all(torch.allclose(blurred[i], gaussian_blur(many[i:i + 1], 1.0)[0], atol=1e-6) for i in (0, 1_023, 1_024, 2_099))


def test_without_class_drops_a_class_from_training_and_validation_only():
    def image_set(n, tag):
        return ImageSet(x=torch.rand(n, 1, 28, 28), y=torch.arange(n) % 10, fingerprint=tag)
    data = FashionMNISTData(train=image_set(50, "tr"), val=image_set(20, "va"), test=image_set(30, "te"),
                            source="standin")
    nine = without_class(data, 8)
    assert 8 not in nine.train.y.tolist() and 8 not in nine.val.y.tolist()
    assert len(nine.train) == 45 and len(nine.val) == 18
    assert nine.test is data.test
    assert nine.train.fingerprint != data.train.fingerprint  # a model trained on it gets its own cache entry


# --------------------------------------------------------------------------- objectives and the conditional VAE


class Echo(torch.nn.Module):
    """Returns its input: a 'model' that removes no damage at all."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.w, x


@torch.no_grad()
def test_denoising_objective_scores_the_damaged_input_against_the_clean_image():
    x = torch.rand(16, 1, 28, 28) * 0.5 + 0.25
    objective = DenoisingObjective((Corruption("noise", 0.2),))
    model = Echo().eval()
    loss = float(objective(model, x)["loss"])
    assert 0.02 < loss < 0.06  # about σ² = 0.04: the echo keeps all the noise
    assert loss == float(objective(model, x)["loss"])  # validation draws the same damage every time
    clean = DenoisingObjective((Corruption("noise", 0.0),))
    assert float(clean(model, x)["loss"]) == 0.0


def test_conditional_vae_shapes_parameters_and_use_of_the_class():
    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=8, n_classes=10).eval()
    x, y = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 4, 5])
    x_hat, mu, logvar = model(x, y)
    assert x_hat.shape == (6, 1, 28, 28) and mu.shape == (6, 8) and logvar.shape == (6, 8)
    # conv blocks 4,896 + head (1568 + 10) -> 16: 25,264 + decoder linear 18 -> 1568: 29,792 + 4,624 + 32 + 145
    assert count_parameters(model) == 4_896 + (1568 + 10) * 16 + 16 + 18 * 1568 + 1568 + 4_624 + 32 + 145
    z = torch.zeros(6, 8)
    assert not torch.allclose(model.decode(z, y), model.decode(z, (y + 1) % 10))  # the class changes the image
    assert not torch.allclose(model.encode(x, y)[0], model.encode(x, (y + 1) % 10)[0])
    samples = model.sample(torch.tensor([7, 7, 3]), seeded())
    assert samples.shape == (3, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples, model.sample(torch.tensor([7, 7, 3]), seeded()))
    with pytest.raises(ValueError, match="expects a batch of images"):
        model.encode(torch.rand(2, 28, 28), torch.tensor([0, 1]))


def test_conditional_elbo_trains_a_conditional_vae_on_image_class_pairs():
    torch.manual_seed(0)
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    model = ConditionalVAE(latent_dim=4)
    objective = ConditionalELBOObjective()
    with torch.no_grad():
        terms = objective(model.eval(), (x, y))
        before = float(terms["loss"])
    assert set(terms) == {"loss", "recon_loss", "kl"}
    assert math.isclose(before, float(terms["recon_loss"] + terms["kl"]), rel_tol=1e-5)
    history = fit(model, (x, y), (x, y), TrainConfig(steps=20, batch_size=16, eval_every=10), objective,
                  progress=False)
    assert history.steps_run == 20 and history.best_val < before


# --------------------------------------------------------------------------- measures


def test_psnr_in_decibels():
    x = torch.zeros(2, 1, 4, 4)
    assert torch.allclose(psnr(x + 0.1, x), torch.full((2,), 20.0), atol=1e-4)  # MSE 0.01 -> 20 dB
    assert torch.allclose(psnr(x, x), torch.full((2,), 100.0))                  # floored at 1e-10
    half = psnr(x + 0.1 / 2 ** 0.5, x)  # half the squared error: about 3 dB more
    assert torch.allclose(half - psnr(x + 0.1, x), torch.full((2,), 3.0103), atol=1e-3)


def test_roc_auc_is_the_chance_an_anomaly_scores_higher():
    assert roc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0]))["auc"] == 1.0
    assert roc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0]))["auc"] == 0.0
    curve = roc(np.array([0.0, 1.0, 2.0]), np.array([1.5, 3.0]))
    assert math.isclose(curve["auc"], 5 / 6)  # 1.5 beats two of three normal scores, 3.0 beats all
    assert curve["fpr"][0] == 0 and curve["tpr"][-1] == 1 and curve["fpr"][-1] == 1
    again = roc(np.array([0.0, 1.0, 2.0]), np.array([1.5, 3.0]))  # read back from the cache, the same curve
    assert all(isinstance(again[k], np.ndarray) and np.array_equal(again[k], curve[k])
               for k in ("fpr", "tpr", "thresholds")) and again["auc"] == curve["auc"]
    assert len(list(Path(os.environ["AEBOOK_CACHE_DIR"], "derived").glob("roc-*.pt"))) == 3  # one per curve asked
    assert 0 < auc_se(0.8, 1000, 100) < auc_se(0.8, 100, 10)  # more items, a surer AUC
    assert auc_se(0.5, 200, 200) == pytest.approx(0.0289, abs=1e-3)  # the formula, worked by hand


def test_threshold_from_normal_items_flags_the_asked_share():
    normal = np.arange(1000, dtype=float)
    t = threshold_at_false_alarm_rate(normal, 0.05)
    assert float((normal > t).mean()) == pytest.approx(0.05, abs=0.002)


def test_bernoulli_floor_is_the_least_cross_entropy():
    black, grey = torch.zeros(1, 1, 28, 28), torch.full((1, 1, 28, 28), 0.5)
    assert float(bernoulli_floor(black)) == pytest.approx(0.0, abs=1e-6)
    assert float(bernoulli_floor(grey)) == pytest.approx(784 * math.log(2), rel=1e-5)
    x = torch.rand(1, 1, 28, 28)
    at_x = float(bernoulli_recon_loss(x, x))
    assert at_x == pytest.approx(float(bernoulli_floor(x)), rel=1e-3)
    assert float(bernoulli_recon_loss((x + 0.1).clamp(0, 1), x)) > at_x


def test_precision_at_k_and_nearest_neighbours():
    labels = torch.tensor([[1, 1, 0], [2, 0, 0]])
    assert torch.allclose(precision_at_k(labels, torch.tensor([1, 0])), torch.tensor([2 / 3, 2 / 3]))
    gallery = torch.tensor([[0.0], [1.0], [5.0], [2.5]])
    idx = nearest_neighbours(torch.tensor([[0.9], [4.0]]), gallery, k=2, chunk=1)
    assert idx.tolist() == [[1, 0], [2, 3]]
    points = torch.randn(30, 5, generator=seeded())
    brute = torch.cdist(points, points).argsort(dim=1)[:, :3]
    assert torch.equal(nearest_neighbours(points, points, k=3, chunk=7), brute)  # nearest first, itself included


# --------------------------------------------------------------------------- images from outside Fashion-MNIST


def test_to_fashion_format_makes_grey_28x28_light_on_black():
    white_with_red = torch.ones(2, 3, 64, 64)
    white_with_red[:, 1:, 16:48, 16:48] = 0  # a red square on white
    out = to_fashion_format(white_with_red)
    assert out.shape == (2, 1, 28, 28)
    assert float(out[0, 0, 0, 0]) == pytest.approx(0.0, abs=1e-6)        # white background -> black
    assert float(out[0, 0, 14, 14]) == pytest.approx(1 - 0.299, abs=1e-4)  # red -> its grey, inverted


def test_drawn_digits_are_mnist_like_and_repeatable():
    digits = drawn_digits(20, seed=3)
    assert digits.shape == (20, 1, 28, 28) and digits.min() >= 0 and digits.max() <= 1
    assert torch.equal(digits, drawn_digits(20, seed=3))
    border = torch.cat([digits[..., :3, :].flatten(1), digits[..., -3:, :].flatten(1)], dim=1)
    assert float(border.max()) < 0.05                      # fitted into the middle 20 x 20, on black
    assert float(digits[..., 8:20, 8:20].mean()) > 0.15    # with white strokes in the middle


def test_mnist_is_read_from_disk_or_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    images, why = mnist_digits(5, root=tmp_path)
    assert images is None and "smoke runs do not download" in why
    from aebook import standin
    pixels = (np.arange(3 * 28 * 28) % 256).astype(np.uint8).reshape(3, 28, 28)
    standin.write_idx(pixels, np.array([1, 2, 3], dtype=np.uint8), tmp_path / "MNIST" / "raw", "test")
    images, why = mnist_digits(2, root=tmp_path)
    assert why == "" and images.shape == (2, 1, 28, 28)
    assert torch.allclose(images[1, 0], torch.from_numpy(pixels[1]).float() / 255)


def test_chapter_six_budget_is_half_the_book_recipe():
    full, at_work = zoo.fashion_config(), zoo.at_work_config()
    assert at_work.steps * 2 == full.steps
    assert {**at_work.__dict__, "steps": full.steps} == full.__dict__


def test_high_frequency_energy_is_the_squared_difference_from_a_3x3_box_blur():
    from aebook.measures import high_frequency_energy

    x = torch.rand(30, 1, 28, 28)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    blurred = torch.nn.functional.avg_pool2d(padded, 3, stride=1)  # the definition, done by PyTorch's pooling
    assert high_frequency_energy(x) == pytest.approx(float(((x - blurred) ** 2).mean()), rel=1e-5)
    assert high_frequency_energy(torch.full((2, 1, 28, 28), 0.3)) == pytest.approx(0.0, abs=1e-12)  # flat: no detail
    stripes = torch.arange(28.0).remainder(2).expand(1, 1, 28, 28)  # columns alternating 0 and 1
    assert high_frequency_energy(stripes) > high_frequency_energy(x)

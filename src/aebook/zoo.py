"""The book's Fashion-MNIST models, trained one way everywhere.

A chapter that reuses a model from an earlier chapter calls the same function here,
so both ask the cache for the same entry and the later chapter never retrains.
"""

from __future__ import annotations

import dataclasses
import math

from aebook.checkpoints import Trained, load_or_train
from aebook.data import Corruption, without_class
from aebook.emoji import LabelledSet, LabelledSplits
from aebook.models import ConditionalVAE, ConvAutoencoder, ConvVAE, EmojiAutoencoder, EmojiVAE, LinearAutoencoder
from aebook.runtime import pick, training_precision
from aebook.train import (AuxClassifierObjective, ConditionalELBOObjective, DenoisingObjective, ELBOObjective,
                          TrainConfig, mse_l1_objective)


FASHION_STEPS = 3_000  # about 14 passes over the full training set; far more over a small sample
FASHION_PEAK_LR = 1e-2


def fashion_config() -> TrainConfig:
    """The recipe of chapters 1 and 2: Adam on batches of 256 for up to 3,000 updates, with a one-cycle
    learning rate peaking at 1e-2 (``train.one_cycle_schedule``).

    Validation every 100 updates; training stops after 15 validations without a new best
    (1,500 updates), keeping the best weights. On the full data set the budget is the deciding
    limit; on a small one, early stopping ends the run before the model only memorises its
    training images. ``make baselines`` sets it beside the recipe it replaced (a constant 1e-3,
    halved after 5 validations without progress, 6,000 updates) in BENCHMARKS.md.
    """
    return TrainConfig(steps=pick(FASHION_STEPS, 40), batch_size=256, lr=FASHION_PEAK_LR, eval_every=pick(100, 10),
                       early_stopping_patience=15, one_cycle=True)


def classic_config(n_train: int, epochs: int, batch_size: int = 128) -> TrainConfig:
    """A fixed number of epochs at batch 128 with Adam 1e-3, last weights kept: the classic scripts' recipe."""
    return TrainConfig(steps=epochs * math.ceil(n_train / batch_size), batch_size=batch_size, lr=1e-3,
                       eval_every=None, restore_best=False)


def fully_connected(data, latent_dim: int = 32) -> Trained:
    """The fully connected autoencoder 784-256-64-d-64-256-784 (chapter 1), from the cache."""
    return load_or_train(f"fc-d{latent_dim}", lambda: LinearAutoencoder(latent_dim=latent_dim),
                         data, fashion_config())


def convolutional(data, latent_dim: int = 32) -> Trained:
    """The convolutional autoencoder 1x28x28 -> 16x14x14 -> 32x7x7 -> d (chapter 2), from the cache."""
    return load_or_train(f"conv-d{latent_dim}", lambda: ConvAutoencoder(latent_dim=latent_dim),
                         data, fashion_config())


def vae_config() -> TrainConfig:
    """The VAE recipe: the same optimiser, budget and stopping rule as ``fashion_config``."""
    return fashion_config()


def variational(data, latent_dim: int = 32, beta: float = 1.0, warmup_steps: int = 0,
                free_bits: float = 0.0) -> Trained:
    """A ``ConvVAE`` trained on the −ELBO (chapter 4), from the cache."""
    objective = ELBOObjective(beta=beta, warmup_steps=warmup_steps, free_bits=free_bits)
    name = f"vae-d{latent_dim}-beta{beta:g}" + (f"-warmup{warmup_steps}" if warmup_steps else "") \
        + (f"-free{free_bits:g}" if free_bits else "")
    return load_or_train(name, lambda: ConvVAE(latent_dim=latent_dim), data, vae_config(), objective)


EMOJI_STEPS_PER_PASS = 19  # 600 augmented training faces in batches of 32


def emoji_config() -> TrainConfig:
    """The reference emoji recipe: Adam 1e-3, weight decay 1e-5, batch 32, up to 3,800 updates
    (200 passes over 600 faces), validated once per pass, stopping after 25 validations
    without progress, learning rate halved after 10. Mixed precision (bfloat16) where the
    hardware has it (``runtime.training_precision``): these are the book's costliest updates."""
    return TrainConfig(steps=pick(200 * EMOJI_STEPS_PER_PASS, 8), batch_size=32, lr=1e-3, weight_decay=1e-5,
                       eval_every=None, early_stopping_patience=25, lr_plateau_patience=10,
                       lr_plateau_factor=0.5, precision=training_precision())


def emoji_autoencoder(data, latent_dim: int = 128) -> Trained:
    """``EmojiAutoencoder`` trained on MSE + 0.05·L1 with the reference protocol (``emoji_config``)."""
    return load_or_train(f"emoji-ae-d{latent_dim}", lambda: EmojiAutoencoder(latent_dim), data, emoji_config(),
                         mse_l1_objective)


def emoji_vae(data, latent_dim: int = 128, beta: float = 1.0) -> Trained:
    """``EmojiVAE`` on the −ELBO with the reference protocol, like the autoencoder it is compared with."""
    return load_or_train(f"emoji-vae-d{latent_dim}-beta{beta:g}", lambda: EmojiVAE(latent_dim), data,
                         emoji_config(), ELBOObjective(beta=beta))


def emoji_with_classifier(labelled, n_classes: int, latent_dim: int = 128, weight: float = 1.0) -> Trained:
    """``EmojiAutoencoder`` with a class head on the code, trained jointly with the reference protocol;
    the best weights are those of the lowest validation reconstruction loss."""
    return load_or_train(f"emoji-aux-d{latent_dim}", lambda: EmojiAutoencoder(latent_dim, n_classes),
                         labelled, emoji_config(), AuxClassifierObjective(weight))


# --------------------------------------------------------------------------- chapter 6: autoencoders at work

AT_WORK_STEPS = 1_500  # half of FASHION_STEPS: the chapter's four new models train in minutes on a CPU
DENOISING_CORRUPTIONS = (Corruption("noise", 0.1), Corruption("noise", 0.3), Corruption("noise", 0.5),
                         Corruption("mask", 0.5))


def at_work_config() -> TrainConfig:
    """``fashion_config`` with half its updates (1,500): the same optimiser, one-cycle schedule (compressed
    into the shorter run), batches, validation and stopping rule, on a budget that keeps chapter 6
    within minutes. A model that was still improving when the budget ran out is said to be so on the page."""
    return dataclasses.replace(fashion_config(), steps=pick(AT_WORK_STEPS, 40))


def denoising(data, latent_dim: int = 32) -> Trained:
    """``ConvAutoencoder`` trained to undo ``DENOISING_CORRUPTIONS`` (one per image, at random), from the cache."""
    return load_or_train(f"denoise-d{latent_dim}", lambda: ConvAutoencoder(latent_dim=latent_dim), data,
                         at_work_config(), DenoisingObjective(DENOISING_CORRUPTIONS))


def convolutional_without(data, held_out: int, latent_dim: int = 32) -> Trained:
    """``ConvAutoencoder`` trained on every class but ``held_out`` (``data.without_class``), from the cache."""
    return load_or_train(f"conv-d{latent_dim}-without{held_out}", lambda: ConvAutoencoder(latent_dim=latent_dim),
                         without_class(data, held_out), at_work_config())


def variational_without(data, held_out: int, latent_dim: int = 32) -> Trained:
    """``ConvVAE`` (β = 1) trained on every class but ``held_out``, from the cache."""
    return load_or_train(f"vae-d{latent_dim}-without{held_out}", lambda: ConvVAE(latent_dim=latent_dim),
                         without_class(data, held_out), at_work_config(), ELBOObjective(beta=1.0))


def conditional_variational(data, latent_dim: int = 32) -> Trained:
    """``ConditionalVAE`` trained on ``(image, class)`` pairs with ``ConditionalELBOObjective``, from the cache."""
    labelled = LabelledSplits(*(LabelledSet((s.x, s.y), f"{s.fingerprint}|with-classes")
                                for s in (data.train, data.val)))  # batches of (images, classes)
    return load_or_train(f"cvae-d{latent_dim}", lambda: ConditionalVAE(latent_dim, n_classes=len(data.classes)),
                         labelled, at_work_config(), ConditionalELBOObjective(beta=1.0))

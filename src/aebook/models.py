"""The book's autoencoders: plain ``nn.Module``s with ``encode``, ``decode`` and ``forward``.

Every model's ``forward(x)`` returns ``(x_hat, z)``: the reconstruction and the code.
Sizes are constructor arguments, recorded in ``self.hparams`` so the model cache can
tell two configurations apart.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearAutoencoder(nn.Module):
    """Fully connected autoencoder 784 -> 256 -> 64 -> latent_dim -> 64 -> 256 -> 784.

    With ``nonlinear=False`` every ReLU and the output sigmoid are dropped, which
    leaves a purely linear (affine) map in and out: the model PCA is compared with.
    """

    def __init__(self, latent_dim: int = 32, hidden: tuple[int, ...] = (256, 64),
                 nonlinear: bool = True, image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, hidden=tuple(hidden),
                            nonlinear=nonlinear, image_shape=tuple(image_shape))
        self.image_shape = tuple(image_shape)
        n_pixels = int(torch.tensor(image_shape).prod())
        widths = [n_pixels, *hidden, latent_dim]  # e.g. 784, 256, 64, 32
        self.encoder = _mlp(widths, nonlinear, final_activation=None)
        self.decoder = _mlp(widths[::-1], nonlinear,
                            final_activation=nn.Sigmoid() if nonlinear else None)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) -> codes z (B, latent_dim)."""
        check_images(x, self.image_shape, type(self).__name__)
        return self.encoder(x.flatten(1))  # (B, 784) -> (B, latent_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, 1, 28, 28)."""
        return self.decoder(z).view(-1, *self.image_shape)  # (B, 784) -> (B, 1, 28, 28)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


def _mlp(widths: list[int], nonlinear: bool, final_activation: nn.Module | None) -> nn.Sequential:
    """Linear layers through ``widths`` with ReLU between them (when ``nonlinear``)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))  # (B, n_in) -> (B, n_out)
        if nonlinear and i < len(widths) - 2:
            layers.append(nn.ReLU())
    if final_activation is not None:
        layers.append(final_activation)
    return nn.Sequential(*layers)


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder to ``latent_dim``; transposed-conv decoder back to 1x28x28."""

    def __init__(self, latent_dim: int = 32, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, channels=tuple(channels))
        self.encoder = conv_encoder(latent_dim, channels)
        self.decoder = conv_decoder(latent_dim, channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) -> codes z (B, latent_dim)."""
        check_images(x, (1, 28, 28), type(self).__name__)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, 1, 28, 28)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


def conv_encoder(out_features: int, channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """1x28x28 -> two stride-2 conv blocks (conv, BatchNorm, ReLU) -> linear to ``out_features``."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=2, padding=1),   # (B, 1, 28, 28) -> (B, 16, 14, 14)
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=2, padding=1),  # -> (B, 32, 7, 7)
        nn.BatchNorm2d(c2),
        nn.ReLU(),
        nn.Flatten(),                               # -> (B, 1568)
        nn.Linear(c2 * 7 * 7, out_features),        # -> (B, out_features)
    )


def conv_decoder(latent_dim: int, channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """Mirror of ``conv_encoder``: linear to 32x7x7, two stride-2 transposed convs, sigmoid."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Linear(latent_dim, c2 * 7 * 7),          # (B, latent_dim) -> (B, 1568)
        nn.Unflatten(1, (c2, 7, 7)),                # -> (B, 32, 7, 7)
        nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),  # -> (B, 16, 14, 14)
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1),   # -> (B, 1, 28, 28)
        nn.Sigmoid(),
    )


class VAE(nn.Module):
    """What every VAE of the book shares; subclasses build ``encoder`` (to 2·latent_dim) and ``decoder``.

    The encoder outputs ``(mu, logvar)`` of a diagonal Gaussian q(z|x); training samples
    z = mu + sigma * eps (the reparameterisation trick); ``forward`` returns
    ``(x_hat, mu, logvar)``.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, *image_shape) -> ``(mu, logvar)``, each (B, latent_dim)."""
        check_images(x, self.image_shape, type(self).__name__)
        mu, logvar = self.encoder(self.prepare(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Hook for a memory layout the encoder prefers; the identity by default."""
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, *image_shape)."""
        return self.decoder(z)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): random, yet differentiable in mu and logvar."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, mu, logvar)``; z is sampled in training and is ``mu`` in eval mode."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar


class ConvVAE(VAE):
    """Variational autoencoder with the conv encoder/decoder of ``ConvAutoencoder`` (1x28x28 images)."""

    def __init__(self, latent_dim: int = 32, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, channels=tuple(channels))
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, channels)  # -> (B, 2 * latent_dim): mu, logvar
        self.decoder = conv_decoder(latent_dim, channels)


def check_images(x: torch.Tensor, shape: tuple[int, ...], model: str) -> None:
    """Raise a ValueError naming the bad shape when ``x`` is not a batch of ``shape`` images."""
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{model} expects a batch of images shaped (batch, {', '.join(map(str, shape))}); "
                         f"got a tensor of shape {tuple(x.shape)}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def receptive_fields(model: nn.Module) -> list[int]:
    """Side, in input pixels, of the patch seen by one unit after each ``Conv2d`` of ``model.encoder``."""
    side, jump, out = 1, 1, []
    for layer in model.encoder:
        if isinstance(layer, nn.Conv2d):
            side += (layer.kernel_size[0] - 1) * jump
            jump *= layer.stride[0]
            out.append(side)
    return out


def _down(c_in: int, c_out: int) -> list[nn.Module]:
    """Halve the resolution: 4x4 conv with stride 2, BatchNorm, LeakyReLU(0.2)."""
    return [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


def _up(c_in: int, c_out: int, last: bool = False) -> list[nn.Module]:
    """Double the resolution: nearest upsampling, 3x3 conv, then BN + LeakyReLU (sigmoid for the last)."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]
    return layers + ([nn.Sigmoid()] if last else [nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)])


def emoji_encoder(out_features: int) -> nn.Sequential:
    """DCGAN-style encoder for 3x64x64 images: four stride-2 blocks, then linear to ``out_features``."""
    return nn.Sequential(
        *_down(3, 32),      # (B, 3, 64, 64) -> (B, 32, 32, 32)
        *_down(32, 64),     # -> (B, 64, 16, 16)
        *_down(64, 128),    # -> (B, 128, 8, 8)
        *_down(128, 256),   # -> (B, 256, 4, 4)
        nn.Flatten(),       # -> (B, 4096)
        nn.Linear(256 * 4 * 4, out_features),  # -> (B, out_features)
    )


def emoji_decoder(latent_dim: int) -> nn.Sequential:
    """Linear to 256x4x4, then four upsample+conv blocks to 3x64x64 (no checkerboard artifacts)."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256 * 4 * 4),  # (B, latent_dim) -> (B, 4096)
        nn.Unflatten(1, (256, 4, 4)),        # -> (B, 256, 4, 4)
        *_up(256, 128),                      # -> (B, 128, 8, 8)
        *_up(128, 64),                       # -> (B, 64, 16, 16)
        *_up(64, 32),                        # -> (B, 32, 32, 32)
        *_up(32, 3, last=True),              # -> (B, 3, 64, 64), in [0, 1]
    )


class EmojiAutoencoder(nn.Module):
    """The emoji autoencoder: DCGAN-style encoder, upsample+conv decoder (2,132,515 parameters at d=128).

    With ``n_classes > 0`` a linear head reads the code and predicts a class (the
    auxiliary classifier, trained jointly); it is not part of ``forward``.
    """

    def __init__(self, latent_dim: int = 128, n_classes: int = 0):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, n_classes=n_classes)
        self.encoder = emoji_encoder(latent_dim)
        self.decoder = emoji_decoder(latent_dim)
        self.head = nn.Linear(latent_dim, n_classes) if n_classes else None  # (B, d) -> (B, n_classes)
        self.to(memory_format=torch.channels_last)  # about 2x faster convolutions on a CPU

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, 64, 64) -> codes z (B, latent_dim)."""
        check_images(x, (3, 64, 64), type(self).__name__)
        return self.encoder(x.contiguous(memory_format=torch.channels_last))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, 3, 64, 64)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


class EmojiVAE(VAE):
    """A VAE with the emoji autoencoder's backbone (3x64x64 images)."""

    image_shape = (3, 64, 64)

    def __init__(self, latent_dim: int = 128):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim)
        self.latent_dim = latent_dim
        self.encoder = emoji_encoder(2 * latent_dim)  # -> (B, 2 * latent_dim): mu, logvar
        self.decoder = emoji_decoder(latent_dim)
        self.to(memory_format=torch.channels_last)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last input, as the model's weights (about 2x faster convolutions on a CPU)."""
        return x.contiguous(memory_format=torch.channels_last)

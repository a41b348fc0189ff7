"""The book's autoencoders: plain ``nn.Module``s with ``encode``, ``decode`` and ``forward``.

An autoencoder's ``forward(x)`` returns ``(x_hat, z)``: the reconstruction and the code. A
VAE's returns ``(x_hat, mu, logvar)``: the reconstruction and the mean and log-variance of
q(z|x), from which its code is sampled. Sizes are constructor arguments, recorded in ``self.hparams`` so the model cache can
tell two configurations apart.
"""

from __future__ import annotations

import torch
from torch import nn

LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0  # every VAE clamps logvar to this range: exp(logvar) stays finite


class LinearAutoencoder(nn.Module):
    """Fully connected autoencoder, with ReLUs between its layers:
    784 -> 256 -> 64 -> latent_dim -> 64 -> 256 -> 784.

    With ``nonlinear=False`` every ReLU and the output sigmoid are
    dropped, which leaves one affine map in and one out: the model
    PCA is compared with.
    """

    def __init__(self, latent_dim: int = 32,
                 hidden: tuple[int, ...] = (256, 64),
                 nonlinear: bool = True,
                 image_shape: tuple[int, int, int] = (1, 28, 28)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, hidden=tuple(hidden),
                            nonlinear=nonlinear, image_shape=tuple(image_shape))
        self.image_shape = tuple(image_shape)
        n_pixels = int(torch.tensor(image_shape).prod())  # 784
        widths = [n_pixels, *hidden, latent_dim]  # 784, 256, 64, 32
        # encoder: (B, 784) -> (B, latent_dim). Its last layer has
        # no activation: the code z can be any real numbers.
        self.encoder = _mlp(widths, nonlinear, None)
        # decoder: (B, latent_dim) -> (B, 784). A sigmoid at the
        # end puts every pixel in (0, 1), like the input's.
        final = nn.Sigmoid() if nonlinear else None
        self.decoder = _mlp(widths[::-1], nonlinear, final)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) -> codes z (B, latent_dim)."""
        check_images(x, self.image_shape, type(self).__name__)
        # (B, 1, 28, 28) -> (B, 784) -> (B, latent_dim)
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, 1, 28, 28)."""
        # (B, latent_dim) -> (B, 784) -> (B, 1, 28, 28)
        return self.decoder(z).view(-1, *self.image_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


def _mlp(widths: list[int], nonlinear: bool,
         final_activation: nn.Module | None) -> nn.Sequential:
    """Linear layers through ``widths``; when ``nonlinear``, a ReLU
    after every one but the last; then ``final_activation``."""
    layers: list[nn.Module] = []
    pairs = zip(widths[:-1], widths[1:])  # (784, 256), (256, 64), ...
    for i, (n_in, n_out) in enumerate(pairs):
        # (B, n_in) -> (B, n_out)
        layers.append(nn.Linear(n_in, n_out))
        if nonlinear and i < len(widths) - 2:  # not after the last
            # (B, n_out) -> (B, n_out), negatives set to 0
            layers.append(nn.ReLU())
    if final_activation is not None:
        # (B, n_out) -> (B, n_out)
        layers.append(final_activation)
    return nn.Sequential(*layers)


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder to ``latent_dim``; transposed-conv decoder
    back to 1x28x28."""

    def __init__(self, latent_dim: int = 32,
                 channels: tuple[int, int] = (16, 32)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, channels=tuple(channels))
        # (B, 1, 28, 28) -> (B, latent_dim)
        self.encoder = conv_encoder(latent_dim, channels)
        # (B, latent_dim) -> (B, 1, 28, 28)
        self.decoder = conv_decoder(latent_dim, channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 28, 28) -> codes z (B, latent_dim)."""
        check_images(x, (1, 28, 28), type(self).__name__)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) -> images (B, 1, 28, 28)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, z)``."""
        z = self.encode(x)
        return self.decode(z), z


def conv_encoder(out_features: int,
                 channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """1x28x28 -> two stride-2 blocks (conv, BatchNorm, ReLU)
    -> linear to ``out_features``."""
    c1, c2 = channels
    return nn.Sequential(
        # (B, 1, 28, 28) -> (B, 16, 14, 14)
        nn.Conv2d(1, c1, 3, stride=2, padding=1),
        nn.BatchNorm2d(c1),  # same shape: each channel normalised
        nn.ReLU(),
        # -> (B, 32, 7, 7)
        nn.Conv2d(c1, c2, 3, stride=2, padding=1),
        nn.BatchNorm2d(c2),  # same shape
        nn.ReLU(),
        nn.Flatten(),                          # -> (B, 1568)
        nn.Linear(c2 * 7 * 7, out_features),   # -> (B, out_features)
    )


def conv_decoder(latent_dim: int,
                 channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """Mirror of ``conv_encoder``: linear to 32x7x7, two stride-2
    transposed convs, sigmoid."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Linear(latent_dim, c2 * 7 * 7),  # (B, latent_dim) -> (B, 1568)
        nn.Unflatten(1, (c2, 7, 7)),        # -> (B, 32, 7, 7)
        # -> (B, 16, 14, 14)
        nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1,
                           output_padding=1),
        nn.BatchNorm2d(c1),  # same shape
        nn.ReLU(),
        # -> (B, 1, 28, 28)
        nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1,
                           output_padding=1),
        nn.Sigmoid(),  # every pixel in (0, 1)
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
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)  # keeps exp(logvar) finite early in training

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


class ExampleVAE(VAE):
    """The PyTorch examples VAE: 784 -> 400 -> (mu, logvar) of 20 -> 400 -> 784, ReLU, sigmoid output."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, hidden=hidden)
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Flatten(),                          # (B, 1, 28, 28) -> (B, 784)
            nn.Linear(784, hidden), nn.ReLU(),     # -> (B, 400)
            nn.Linear(hidden, 2 * latent_dim),     # -> (B, 40): mu, logvar
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),  # (B, 20) -> (B, 400)
            nn.Linear(hidden, 784), nn.Sigmoid(),      # -> (B, 784)
            nn.Unflatten(1, (1, 28, 28)),              # -> (B, 1, 28, 28)
        )


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
    """Halve the resolution: 4x4 conv, stride 2, BatchNorm, LeakyReLU(0.2)."""
    conv = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
    # (B, c_in, H, W) -> (B, c_out, H/2, W/2); the other two keep the shape
    return [conv, nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


def _up(c_in: int, c_out: int, last: bool = False) -> list[nn.Module]:
    """Double the resolution: upsample, 3x3 conv, BatchNorm, LeakyReLU."""
    up = nn.Upsample(scale_factor=2, mode="nearest")  # -> (B, c_in, 2H, 2W)
    conv = nn.Conv2d(c_in, c_out, 3, padding=1)       # -> (B, c_out, 2H, 2W)
    if last:
        return [up, conv, nn.Sigmoid()]               # values in [0, 1]
    return [up, conv, nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


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


class ConditionalVAE(VAE):
    """A conditional VAE (Sohn et al. 2015): ``ConvVAE``'s layers, with the class y given to both halves.

    The encoder reads the image and the class, q(z|x, y); the decoder draws from a code and
    the class, p(x|z, y). The class travels as a one-hot vector concatenated to the
    encoder's features and to the code, so z is free to hold what the class does not say.
    """

    def __init__(self, latent_dim: int = 32, n_classes: int = 10, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        self.hparams = dict(latent_dim=latent_dim, n_classes=n_classes, channels=tuple(channels))
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.features = conv_encoder(1, channels)[:-1]       # conv blocks + flatten: (B, 1, 28, 28) -> (B, 1568)
        self.head = nn.Linear(channels[1] * 7 * 7 + n_classes, 2 * latent_dim)  # (B, 1568 + 10) -> (B, 2d)
        self.decoder = conv_decoder(latent_dim + n_classes, channels)            # (B, d + 10) -> (B, 1, 28, 28)

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        """Class indices (B,) -> one-hot rows (B, n_classes)."""
        return nn.functional.one_hot(y, self.n_classes).to(self.head.weight.dtype)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 28, 28) and classes (B,) -> ``(mu, logvar)`` of q(z|x, y), each (B, latent_dim)."""
        check_images(x, self.image_shape, type(self).__name__)
        h = torch.cat([self.features(x), self.one_hot(y)], dim=1)  # (B, 1568 + n_classes)
        mu, logvar = self.head(h).chunk(2, dim=1)                  # (B, latent_dim) each
        return mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes z (B, latent_dim) and classes (B,) -> images (B, 1, 28, 28)."""
        return self.decoder(torch.cat([z, self.one_hot(y)], dim=1))  # (B, latent_dim + n_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, mu, logvar)``; z is sampled in training and is ``mu`` in eval mode."""
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z, y), mu, logvar

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """New images of the requested classes y (B,): z ~ N(0, I) from the prior, decoded with y."""
        self.eval()
        z = torch.randn(len(y), self.latent_dim, generator=generator).to(self.head.weight.device)
        return self.decode(z, y.to(z.device)).cpu()

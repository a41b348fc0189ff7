"""The worked answers of chapter 2's exercises, checked against PyTorch without the chapter's models."""
import torch
from torch import nn

from aebook.models import ConvAutoencoder, count_parameters


def _stamps(layer: nn.ConvTranspose2d, n_in: int) -> set[int]:
    counts = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, n_in, n_in), torch.ones(1, 1, *layer.kernel_size),
                                                  stride=layer.stride, padding=layer.padding,
                                                  output_padding=layer.output_padding)[0, 0]
    return set(counts[2:-2, 2:-2].int().flatten().tolist())


def test_exercise_1_sizes_and_stamp_counts():
    for k, p, p_out, stamps in [(3, 1, 1, {1, 2, 4}), (4, 1, 0, {4}), (5, 2, 1, {4, 6, 9})]:
        layer = nn.ConvTranspose2d(1, 1, k, stride=2, padding=p, output_padding=p_out)
        assert layer(torch.zeros(1, 1, 7, 7)).shape[-1] == 14
        assert _stamps(layer, 7) == stamps
    assert nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)(torch.zeros(1, 1, 7, 7)).shape[-1] == 13
    # kernel 5: padding 2 with output_padding 1 is the only choice (output_padding < stride)
    fits = [(p, q) for p in range(4) for q in range(2) if (7 - 1) * 2 - 2 * p + 5 + q == 14]
    assert fits == [(2, 1)]


def test_exercise_2_parameter_counts():
    conv = ConvAutoencoder(latent_dim=32).encoder[3]
    assert count_parameters(conv) == 32 * (16 * 9 + 1) == 4_640
    assert count_parameters(nn.Linear(16 * 14 * 14, 32 * 7 * 7)) == 4_918_816
    local = 32 * 7 * 7 * (16 * 9 + 1)
    assert local == 227_360 and local // 4_640 == 49
    assert abs(4_918_816 / local - 3_137 / 145) < 1e-12


def test_exercise_4_kernel_4_tile_and_resize_convolution_on_a_flat_input():
    torch.manual_seed(1)
    k4 = nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1)
    resize = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 1, 3, padding=1))
    with torch.no_grad():
        y = k4(torch.ones(1, 16, 14, 14))[0, 0]
        taps = {0: [1, 3], 1: [0, 2]}
        tile = torch.tensor([[float(k4.weight[:, 0][:, taps[r]][:, :, taps[q]].sum() + k4.bias) for q in (0, 1)]
                             for r in (0, 1)])
        assert torch.allclose(y[2:26, 2:26], tile.repeat(12, 12), atol=1e-5)
        flat = resize(torch.ones(1, 16, 14, 14))[0, 0, 1:-1, 1:-1]
        assert float(flat.max() - flat.min()) < 1e-5


def test_exercise_5_batch_norm_makes_a_batch_of_one_differ_in_train_mode_only():
    torch.manual_seed(0)
    model = ConvAutoencoder(latent_dim=8)
    x = torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        model.train()
        alone, inside = model(x[:1])[0], model(x)[0][:1]
        assert float((alone - inside).abs().max()) > 1e-4
        model.eval()
        assert torch.allclose(model(x[:1])[0], model(x)[0][:1], atol=1e-5)

"""The worked arithmetic of chapter 2, checked against the code: sizes, stamps, parameters, parity gap."""

import inspect

import numpy as np
import torch
from torch import nn

from aebook import plots
from aebook.measures import neighbour_contrast, parity_gap
from aebook.models import ConvAutoencoder, LinearAutoencoder, conv_decoder, conv_encoder, count_parameters, \
    receptive_fields
from aebook.report import listing


def transposed_size(n_in: int, s: int, p: int, k: int, p_out: int) -> int:
    return (n_in - 1) * s - 2 * p + k + p_out


def test_the_decoder_grows_7_to_14_to_28_as_the_formula_says():
    model = ConvAutoencoder(32).eval()
    ups = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.kernel_size[0], m.stride[0], m.padding[0], m.output_padding[0]) for m in ups] == [(3, 2, 1, 1)] * 2
    assert transposed_size(7, 2, 1, 3, 1) == 14 and transposed_size(14, 2, 1, 3, 1) == 28
    h, sides = torch.zeros(2, 32), []
    with torch.no_grad():
        for layer in model.decoder:
            h = layer(h)
            if isinstance(layer, nn.ConvTranspose2d):
                sides.append(h.shape[-1])
    assert sides == [14, 28]


def test_a_stride_2_convolution_maps_27_and_28_to_14_and_output_padding_picks_28():
    down = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    assert down(torch.zeros(1, 1, 27, 27)).shape[-1] == down(torch.zeros(1, 1, 28, 28)).shape[-1] == 14
    assert nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)(torch.zeros(1, 1, 14, 14)).shape[-1] == 27
    assert nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)(torch.zeros(1, 1, 14, 14)).shape[-1] == 28


def test_stamps_overlap_one_two_or_four_times_and_the_taps_are_as_the_page_writes():
    stamps = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, 14, 14), torch.ones(1, 1, 3, 3), stride=2,
                                                  padding=1, output_padding=1)[0, 0]
    assert stamps.shape == (28, 28)
    inner = stamps[:26, :26]  # away from the last row and column
    assert (inner[0::2, 0::2] == 1).all() and (inner[1::2, 1::2] == 4).all()
    assert (inner[0::2, 1::2] == 2).all() and (inner[1::2, 0::2] == 2).all()
    # y_{2m} = w1 x_m and y_{2m+1} = w2 x_m + w0 x_{m+1}, in one dimension
    x, w = torch.randn(1, 1, 7), torch.randn(1, 1, 3)
    y = torch.nn.functional.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1)[0, 0]
    x, w = x[0, 0], w[0, 0]
    for m in range(6):
        assert torch.isclose(y[2 * m], w[1] * x[m])
        assert torch.isclose(y[2 * m + 1], w[2] * x[m] + w[0] * x[m + 1])


def test_parameter_counts_and_receptive_fields_quoted_in_chapter_2():
    conv, fc = ConvAutoencoder(32), LinearAutoencoder(32)
    assert count_parameters(conv.encoder[3]) == 16 * 32 * 9 + 32 == 4_640
    assert count_parameters(conv) == 111_649 and count_parameters(fc) == 439_728
    assert round(count_parameters(fc) / count_parameters(conv), 1) == 3.9
    linear = sum(count_parameters(m) for m in conv.modules() if isinstance(m, nn.Linear))
    assert linear == (32 * 7 * 7 * 32 + 32) + (32 * 32 * 7 * 7 + 32 * 7 * 7) and round(linear / 111_649, 2) == 0.91
    assert receptive_fields(conv) == [3, 7]


def test_parity_gap_is_zero_for_smooth_images_and_not_for_a_checkerboard():
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    ramp = (rows + 2 * cols)[None, None] / 100  # contrast 0 everywhere
    assert neighbour_contrast(ramp).shape == (1, 1, 26, 26)
    assert torch.allclose(parity_gap(ramp), torch.zeros(1), atol=1e-6)
    stripes = ramp + 0.1 * (cols % 2)[None, None]  # odd columns brighter by 0.1
    # contrast +0.05 in odd columns, -0.05 in even ones: a column gap of 0.1, a row gap of 0, averaged
    assert torch.isclose(parity_gap(stripes), torch.tensor([0.05]), atol=1e-6).all()
    shifted = ramp + 0.1 * ((cols + 1) % 2)[None, None]
    assert torch.isclose(parity_gap(shifted), -parity_gap(stripes)).all()


def test_heatmaps_draws_one_heatmap_per_panel_in_rows():
    fig = plots.heatmaps({"a": torch.zeros(4, 4), "b": np.ones((4, 4)), "c": torch.rand(4, 4)},
                         ["count", "contrast", "contrast"], ["Greys", "RdBu_r", "RdBu_r"], zmid=[None, 0.0, 0.0],
                         columns=2)
    assert len(fig.data) == 3 and all(t.type == "heatmap" for t in fig.data)
    assert fig.data[1].zmid == 0.0 and fig.data[0].zmid is None
    assert "contrast" in fig.data[2].hovertemplate
    assert fig.data[2].xaxis == "x3" and fig.data[2].yaxis == "y3"


def test_listings_of_chapter_2_are_the_source_with_its_file_and_lines():
    for obj in (ConvAutoencoder, conv_encoder, conv_decoder):
        text = listing(obj).data
        lines, start = inspect.getsourcelines(obj)
        assert f"*`aebook/models.py`, lines {start}–{start + len(lines) - 1}*" in text
        assert "".join(lines).rstrip("\n") in text
    assert "# -> (B, 16, 14, 14)\n        nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1,\n" in listing(conv_decoder).data

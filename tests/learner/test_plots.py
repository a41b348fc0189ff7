from pathlib import Path

import numpy as np
import pytest
import plotly.graph_objects as go
import torch

from aebook import plots
from aebook.train import History


def test_image_grid_is_one_heatmap_with_the_pixels():
    a, b = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    fig = plots.image_grid([a, b], col_titles=["x", "y", "z"], row_titles=["top", "bottom"], gap=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    assert np.allclose(z[:28, :28], a[0, 0].numpy(), atol=1e-3)
    assert np.allclose(z[30:, 60:], b[2, 0].numpy(), atol=1e-3)
    assert np.isnan(z[28:30]).all()  # the gap between rows
    assert list(fig.layout.xaxis.ticktext) == ["x", "y", "z"]
    assert list(fig.layout.yaxis.ticktext) == ["top", "bottom"]
    assert "pixel value" in fig.data[0].hovertemplate


def test_loss_curves_carry_the_history():
    h = History(step=[100, 200, 300], train_loss=[0.3, 0.2, 0.1], val_loss=[0.35, 0.25, 0.3],
                lr=[1e-3] * 3, best_step=200, best_val=0.25)
    fig = plots.loss_curves({"fc": h})
    train, val, best = fig.data
    assert list(train.y) == h.train_loss and list(val.y) == h.val_loss
    assert list(train.x) == [100, 200, 300] and fig.layout.xaxis.title.text == "optimiser updates"
    assert list(best.x) == [200] and list(best.y) == [0.25]


def test_latent_scatter_one_trace_per_class():
    xy = np.random.default_rng(0).normal(size=(100, 2))
    labels = np.arange(100) % 4
    fig = plots.latent_scatter(xy, labels, ["a", "b", "c", "d"])
    assert [t.name for t in fig.data] == ["a", "b", "c", "d"]
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert sum(len(t.x) for t in fig.data) == 100
    assert list(fig.data[1].customdata) == list(range(1, 100, 4))
    assert np.allclose(fig.data[1].x, xy[1::4, 0], atol=1e-6)
    assert "<b>b</b>" in fig.data[1].hovertemplate
    assert not fig.layout.annotations  # every point drawn: nothing to say


def test_a_large_map_draws_a_random_subset_and_says_so():
    n = plots.MAP_POINTS * 3
    xy, labels = np.random.default_rng(1).normal(size=(n, 2)), np.arange(n) % 10
    fig = plots.latent_maps({"left": xy, "right": -xy}, labels, [str(c) for c in range(10)])
    left, right = fig.data[:10], fig.data[10:]
    assert sum(len(t.x) for t in left) == plots.MAP_POINTS
    for a, b in zip(left, right):  # the same items in both panels, at their own places
        assert list(a.customdata) == list(b.customdata)
        idx = np.asarray(a.customdata)
        assert (labels[idx] == int(a.name)).all() and np.allclose(b.y, -xy[idx, 1], atol=1e-6)
    shares = np.array([len(t.x) for t in left]) / plots.MAP_POINTS
    assert np.all(np.abs(shares - 0.1) < 0.03)  # drawn at random: every class keeps about its share
    assert fig.layout.annotations[-1].text == f"{plots.MAP_POINTS:,} of the {n:,} points drawn, chosen at random"
    single = plots.latent_scatter(xy, labels, [str(c) for c in range(10)])
    note = single.layout.annotations[0]
    assert note.text.replace("<br>", " ") == f"{plots.MAP_POINTS:,} of the {n:,} points drawn, chosen at random"
    assert note.x > 1 and note.xanchor == "left"  # under the legend, clear of the axis title
    assert sorted(np.concatenate([t.customdata for t in single.data])) == sorted(np.concatenate([t.customdata for t in left]))



def test_a_map_computed_on_the_drawn_items_alone_draws_the_same_figure():
    n = plots.MAP_POINTS * 2
    xy, labels = np.random.default_rng(2).normal(size=(n, 2)), np.arange(n) % 10
    shown = plots.map_subset(n)
    whole = plots.latent_maps({"a": xy}, labels, [str(c) for c in range(10)])
    drawn = plots.latent_maps({"a": xy[shown]}, labels, [str(c) for c in range(10)])
    for a, b in zip(whole.data, drawn.data):  # same points, same hover indices into the full set
        assert list(a.customdata) == list(b.customdata) and np.allclose(a.x, b.x) and np.allclose(a.y, b.y)
    single = plots.latent_scatter(xy[shown], labels, [str(c) for c in range(10)])
    assert sorted(np.concatenate([t.customdata for t in single.data])) == list(shown)
    with pytest.raises(ValueError, match="needs 6,000 rows, or 3,000"):
        plots.latent_scatter(xy[:100], labels, [str(c) for c in range(10)])

def test_a_large_image_grid_is_one_png_with_transparent_gaps():
    import base64
    import io

    from PIL import Image

    rows = [torch.rand(20, 1, 28, 28) for _ in range(3)]
    fig = plots.image_grid(rows, col_titles=[str(i) for i in range(20)], gap=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    png = Image.open(io.BytesIO(base64.b64decode(fig.data[0].source.split(",", 1)[1])))
    assert png.mode == "LA" and png.size == (20 * 30 - 2, 3 * 30 - 2)
    pixels = np.asarray(png)
    assert np.abs(pixels[:28, 30:58, 0] / 255 - rows[0][1, 0].numpy()).max() <= 0.5 / 255 + 1e-6
    assert (pixels[28:30, :, 1] == 0).all() and (pixels[:28, :28, 1] == 255).all()  # gaps transparent
    assert list(fig.layout.xaxis.tickvals)[1] == 30 + 13.5  # titles centred on the tiles, as for the heatmap
    assert isinstance(plots.image_grid(rows, hover=True).data[0], go.Heatmap)


def test_figures_use_only_the_bundled_trace_types_and_the_slim_template():
    import plotly.io as pio

    figs = [plots.image_grid([torch.rand(2, 1, 28, 28)]), plots.image_grid([torch.rand(60, 1, 28, 28)]),
            plots.latent_scatter(np.zeros((3, 2)), [0, 1, 2], "abc"), plots.box_plot({"a": [1, 2]}, "d"),
            plots.rgb_grid([torch.rand(2, 3, 8, 8)]), plots.line_chart({"a": ([1, 2], [3, 4])}, "x", "y")]
    assert {t.type for f in figs for t in f.data} == set(plots.TRACE_TYPES)
    assert pio.templates.default == "aebook"
    assert set(pio.templates["aebook"].data.to_plotly_json()) <= set(plots.TRACE_TYPES)
    assert len(pio.templates["aebook"].to_plotly_json().__repr__()) < 0.6 * len(pio.templates["plotly"].to_plotly_json().__repr__())


def test_line_chart_series_keep_their_own_x():
    fig = plots.line_chart({"ae": ([2, 8, 32], [0.03, 0.02, 0.01]), "pca": (list(range(1, 33)), [0.1] * 32)},
                           x_title="d", y_title="mse", log_x=True)
    assert list(fig.data[0].x) == [2, 8, 32] and len(fig.data[1].x) == 32
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [1, 2, 4, 8, 16, 32]



def test_image_slider_swaps_only_the_right_hand_image():
    import torch

    from aebook.plots import image_slider
    frames = torch.stack([torch.full((1, 28, 28), v) for v in (0.1, 0.5, 0.9)])
    ref = torch.zeros(1, 28, 28)
    import base64
    import io

    from PIL import Image

    def pixels(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))[..., 0] / 255

    fig = image_slider(frames, ["a", "b", "c"], reference=ref)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["a", "b", "c"]
    for step, v in zip(steps, (0.1, 0.5, 0.9)):
        z = pixels(step.args[0]["source"][0])
        assert np.allclose(z[:28, :28], 0.0)             # the reference stays
        assert np.allclose(z[:28, 30:58], v, atol=1 / 255)  # the frame changes
    assert np.allclose(pixels(fig.data[0].source)[:28, 30:58], 0.1, atol=1 / 255)


def test_latent_maps_share_one_legend_and_keep_small_scales():
    from aebook.plots import latent_maps
    xy = np.random.default_rng(0).normal(size=(30, 2)) * 0.01  # a 2-D code on a tiny scale
    fig = latent_maps({"a": xy, "b": xy * 1000}, np.arange(30) % 3, ["x", "y", "z"])
    assert len(fig.data) == 6 and sum(t.showlegend for t in fig.data) == 3
    assert len({tuple(np.round(t.x, 6)) for t in fig.data[:3]}) == 3
    assert len(set(np.concatenate([t.x for t in fig.data[:3]]))) == 30  # no points merged by rounding


def test_box_plot_one_box_per_group():
    from aebook.plots import box_plot
    fig = box_plot({"g1": [1, 2, 3], "g2": [4, 5]}, y_title="d")
    assert [t.name for t in fig.data] == ["g1", "g2"] and list(fig.data[1].y) == [4, 5]


def test_an_image_grid_says_its_aspect_so_the_site_can_fit_its_height_to_a_narrow_screen():
    import torch

    from aebook import plots

    fig = plots.image_grid([torch.rand(11, 1, 28, 28) for _ in range(6)], row_titles=list("abcdef"), gap=2)
    assert fig.layout.meta["aebook_aspect"] == (6 * 30 - 2) / (11 * 30 - 2)
    assert fig.layout.yaxis.automargin and fig.layout.margin.l == 10  # row titles take only the room they need
    theme = (Path(__file__).resolve().parents[2] / "assets" / "plotly-theme.html").read_text()
    assert "aebook_aspect" in theme  # the page script that uses it


def test_learning_rate_curve_puts_each_recorded_rate_on_the_update_it_was_used_for():
    from aebook.train import History, TrainConfig, learning_rates

    config = TrainConfig(steps=50, lr=1e-2, one_cycle=True)
    rates = learning_rates(config)
    history = History(step=[10, 20, 30], lr=[rates[0], rates[10], rates[20]])
    fig = plots.learning_rate_curve(rates, history)
    line, dots = fig.data
    assert list(line.x) == list(range(1, 51)) and list(line.y) == rates
    assert list(dots.x) == [1, 11, 21]  # the first update after each validation
    assert [rates[x - 1] for x in dots.x] == list(dots.y)
    assert len(plots.learning_rate_curve(rates).data) == 1

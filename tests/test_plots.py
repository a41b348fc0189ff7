import numpy as np
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


def test_latent_scatter_one_webgl_trace_per_class():
    xy = np.random.default_rng(0).normal(size=(100, 2))
    labels = np.arange(100) % 4
    fig = plots.latent_scatter(xy, labels, ["a", "b", "c", "d"])
    assert [t.name for t in fig.data] == ["a", "b", "c", "d"]
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    assert sum(len(t.x) for t in fig.data) == 100
    assert list(fig.data[1].customdata) == list(range(1, 100, 4))
    assert "<b>b</b>" in fig.data[1].hovertemplate


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
    fig = image_slider(frames, ["a", "b", "c"], reference=ref)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["a", "b", "c"]
    for step, v in zip(steps, (0.1, 0.5, 0.9)):
        z = np.array(step.args[0]["z"][0], dtype=float)
        assert np.allclose(z[:28, :28], 0.0)            # the reference stays
        assert np.allclose(z[:28, 30:58], v, atol=1e-3)  # the frame changes
    assert np.allclose(np.array(fig.data[0].z, dtype=float)[:28, 30:58], 0.1, atol=1e-3)


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

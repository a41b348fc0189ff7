"""Plotly figure builders. They only build and return figures: no training, saving or showing.

How a figure is then shown (on the page, in a notebook) is set up by ``aebook.display``,
imported here so that importing the builders is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch

from aebook import display  # noqa: F401 - registers the page and notebook renderers
from aebook.train import History


# What keeps a page light; tests/test_plots.py and the site check (bookkit.site) hold the book to these.
HOVER_PIXELS = 30_000  # a grid up to this size (about 36 tiles of 28 × 28) stays a heatmap a reader can hover
MAP_POINTS = 3_000     # a map draws at most this many points: a random subset, the same in every panel
TRACE_TYPES = ("scatter", "heatmap", "image", "box")  # every trace type the book draws (its plotly.js bundle)

# Plotly's default template, less the styles of the trace types the book never draws: every
# figure carries its template, and the full one adds ~7 KB to each.
pio.templates["aebook"] = go.layout.Template(
    layout=pio.templates["plotly"].layout,
    data={t: pio.templates["plotly"].data[t] for t in TRACE_TYPES if t in pio.templates["plotly"].data})
pio.templates.default = "aebook"

SLIDER_BOX = dict(x=0.06, len=0.88, pad=dict(t=10))  # inset, so the end labels are not cut off
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def image_grid(rows: Sequence[torch.Tensor], col_titles: Sequence[str] | None = None,
               row_titles: Sequence[str] | None = None, gap: int = 2, tile_px: int = 64,
               title: str | None = None, hover: bool | None = None) -> go.Figure:
    """Grayscale images laid out in rows, as one trace: a heatmap that reads a pixel's value on
    hover, or one PNG (``hover=False``; by default for grids of more than ``HOVER_PIXELS`` pixels).

    ``rows`` is a list of tensors (n, 1, H, W) or (n, H, W) with values in [0, 1]; gaps
    between the tiles are NaN in the heatmap and transparent in the PNG.
    """
    canvas, h, w, n_cols = _gray_canvas(rows, gap)
    if hover is None:
        hover = canvas.size <= HOVER_PIXELS
    if hover:
        trace = go.Heatmap(z=np.round(canvas, 3), colorscale="gray", zmin=0.0, zmax=1.0, showscale=False,
                           hoverongaps=False, hovertemplate="pixel value %{z:.2f}<extra></extra>")
    else:
        trace = go.Image(source=_png_uri(_gray_rgba(canvas)), hoverinfo="skip")
    fig = go.Figure(trace)
    centres = [j * (w + gap) + (w - 1) / 2 for j in range(n_cols)]
    middles = [i * (h + gap) + (h - 1) / 2 for i in range(len(rows))]
    fig.update_xaxes(showgrid=False, zeroline=False, side="top", tickvals=centres if col_titles else [],
                     ticktext=list(col_titles or []), tickangle=0, constrain="domain")
    # automargin: the row titles take the room they need and no more, which leaves the images more of a phone's width
    fig.update_yaxes(showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x", automargin=True,
                     tickvals=middles if row_titles else [], ticktext=list(row_titles or []))
    top = 60 if title else 40
    # meta: the grid's height over its width, so that the site can shrink the figure's height with its
    # width (assets/plotly-theme.html): on a phone the images fill the width with no empty band above or below
    fig.update_layout(title=title, height=len(rows) * tile_px + top + 20,
                      meta={"aebook_aspect": canvas.shape[0] / canvas.shape[1]},
                      margin=dict(l=10, r=10, t=top, b=10),
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


def _gray_canvas(rows: Sequence[torch.Tensor], gap: int) -> tuple[np.ndarray, int, int, int]:
    """Grey images in rows on a NaN canvas -> (canvas float32, H, W, n_cols)."""
    tiles = [torch.as_tensor(r).detach().cpu().float().reshape(len(r), *r.shape[-2:]) for r in rows]
    h, w = tiles[0].shape[-2:]
    n_cols = max(len(t) for t in tiles)
    canvas = np.full((len(tiles) * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan, np.float32)
    for i, row in enumerate(tiles):
        for j, img in enumerate(row):
            canvas[i * (h + gap): i * (h + gap) + h, j * (w + gap): j * (w + gap) + w] = img.numpy()
    return canvas, h, w, n_cols


def _gray_rgba(canvas: np.ndarray) -> np.ndarray:
    """A [0, 1] canvas with NaN gaps as (H, W, 2) uint8, grey and alpha: the gaps are transparent."""
    grey = (np.nan_to_num(np.clip(canvas, 0, 1)) * 255).round().astype(np.uint8)
    alpha = np.where(np.isnan(canvas), 0, 255).astype(np.uint8)
    return np.stack([grey, alpha], axis=-1)


def log_ticks(values: Sequence[float], most: int = 8) -> dict:
    """Tick values for a log axis over ``values``: 1-2-5 steps, or powers of ten when that is too many.

    Plotly labels every minor tick of a short log axis, and the labels overlap.
    """
    positive = [float(v) for v in values if v > 0 and np.isfinite(v)]
    if not positive:
        return {}
    lo, hi = np.floor(np.log10(min(positive))), np.ceil(np.log10(max(positive)))
    for steps in ((1, 2, 5), (1,)):
        ticks = [m * 10.0 ** k for k in range(int(lo), int(hi) + 1) for m in steps
                 if min(positive) / 1.5 <= m * 10.0 ** k <= max(positive) * 1.5]
        if len(ticks) <= most:
            break
    return dict(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def loss_curves(histories: Mapping[str, History], title: str | None = None,
                log_y: bool = True, mark_best: bool = True,
                y_title: str = "loss (MSE per pixel)") -> go.Figure:
    """Training (solid) and validation (dashed) loss against optimiser updates, for one or more runs.

    The training loss at a point is its mean over the updates since the previous validation.
    """
    fig = go.Figure()
    for i, (name, h) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=h.step, y=h.train_loss, name=f"{name} · train", mode="lines",
                                 line=dict(color=colour),
                                 hovertemplate="update %{x:,}<br>train loss %{y:.5f}<extra>" + name + "</extra>"))
        fig.add_trace(go.Scatter(x=h.step, y=h.val_loss, name=f"{name} · validation", mode="lines",
                                 line=dict(color=colour, dash="dash"),
                                 hovertemplate="update %{x:,}<br>validation loss %{y:.5f}<extra>" + name + "</extra>"))
        if mark_best and h.best_step:
            fig.add_trace(go.Scatter(x=[h.best_step], y=[h.best_val], mode="markers", showlegend=False,
                                     marker=dict(color=colour, size=12, symbol="star"),
                                     hovertemplate="best: update %{x:,}<br>validation %{y:.5f}<extra>" + name + "</extra>"))
    if log_y:
        fig.update_yaxes(**log_ticks([v for h in histories.values() for v in h.train_loss + h.val_loss]))
    fig.update_layout(title=title, xaxis_title="optimiser updates", yaxis_title=y_title,
                      yaxis_type="log" if log_y else "linear", hovermode="closest",
                      xaxis_tickformat=",", legend=dict(orientation="h", y=-0.2), height=420,
                      margin=dict(t=40 if title else 20))
    return fig


def learning_rate_curve(rates: Sequence[float], history: History | None = None) -> go.Figure:
    """The learning rate of every update (``train.learning_rates``), with the rate a run recorded at
    each validation drawn as dots on it when ``history`` is given."""
    fig = go.Figure(go.Scatter(x=np.arange(1, len(rates) + 1), y=list(rates), mode="lines", name="schedule",
                               line=dict(color=PALETTE[0]),
                               hovertemplate="update %{x:,}<br>learning rate %{y:.2e}<extra></extra>"))
    if history is not None:  # history.lr[i]: the rate of the first update after validation i - 1
        firsts = [previous + 1 for previous in [0] + history.step[:-1]]
        fig.add_trace(go.Scatter(x=firsts, y=history.lr, mode="markers", name="this run",
                                 marker=dict(color=PALETTE[1], size=6),
                                 hovertemplate="update %{x:,}<br>learning rate %{y:.2e}<extra>this run</extra>"))
    fig.update_layout(xaxis_title="optimiser update", yaxis_title="learning rate", xaxis_tickformat=",",
                      yaxis_exponentformat="power", height=300, margin=dict(t=20),
                      legend=dict(orientation="h", y=-0.3), hovermode="closest")
    return fig


def latent_scatter(xy: np.ndarray, labels: Sequence[int] | np.ndarray, class_names: Sequence[str],
                   title: str | None = None, marker_size: int = 4) -> go.Figure:
    """2-D map of codes, one trace per class; hover shows the class and the item's index.

    At most ``MAP_POINTS`` points are drawn (``map_subset``), and the figure says so when it drops some.
    ``xy`` holds a row for every item, or only for the drawn ones (``drawn_rows``).
    """
    labels, shown = np.asarray(labels), map_subset(len(labels))
    xy = drawn_rows(xy, len(labels))
    fig = go.Figure()
    for c, name in enumerate(class_names):
        rows = np.flatnonzero(labels[shown] == c)
        fig.add_trace(go.Scatter(
            x=xy[rows, 0].astype(np.float32), y=xy[rows, 1].astype(np.float32), mode="markers", name=name,
            customdata=shown[rows].astype(np.int32),
            marker=dict(size=marker_size, color=PALETTE[c % len(PALETTE)], opacity=0.7),
            hovertemplate=f"<b>{name}</b><br>test image #%{{customdata}}<extra></extra>"))
    fig.update_layout(title=title, height=560, legend=dict(itemsizing="constant", title="class"),
                      xaxis=dict(showticklabels=False, title="t-SNE 1", zeroline=False),
                      yaxis=dict(showticklabels=False, title="t-SNE 2", zeroline=False),
                      margin=dict(t=40 if title else 20))
    _note_subset(fig, len(shown), len(labels), beside_legend=True)
    return fig


def map_subset(n: int, most: int = MAP_POINTS, seed: int = 0) -> np.ndarray:
    """Sorted indices of the items a map draws: all ``n``, or ``most`` of them drawn at random (fixed seed).

    Thousands of overlapping markers look the same as a few thousand, but each one adds to
    the page's weight and to the browser's drawing time. The chapters compute their t-SNE maps on
    these items only: an embedding's cost grows with its points, and a point not drawn is wasted.
    """
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def drawn_rows(xy: np.ndarray, n: int) -> np.ndarray:
    """The rows of a map ``xy`` of ``n`` items that a map draws, in ``map_subset(n)``'s order.

    ``xy`` has a row per item (the drawn ones are picked), or a row per drawn item already
    (a map computed on ``map_subset(n)`` alone, as the chapters' t-SNE maps are).
    """
    xy, shown = np.asarray(xy), map_subset(n)
    if len(xy) == n:
        return xy[shown]
    if len(xy) == len(shown):
        return xy
    raise ValueError(f"a map of {n:,} items needs {n:,} rows, or {len(shown):,} (the drawn ones); it has {len(xy):,}")


def _note_subset(fig: go.Figure, shown: int, n: int, beside_legend: bool = False) -> None:
    """Say how many of a map's points are drawn, when not all are: under the plot's right corner,
    or (``beside_legend``, for a legend at the right) under the legend, clear of the axis title."""
    if shown >= n:
        return
    if beside_legend:
        fig.add_annotation(text=f"{shown:,} of the {n:,}<br>points drawn,<br>chosen at random", align="left",
                           xref="paper", yref="paper", x=1.02, y=0, xanchor="left", yanchor="bottom",
                           showarrow=False, font=dict(size=11), opacity=0.8)
    else:
        fig.add_annotation(text=f"{shown:,} of the {n:,} points drawn, chosen at random", showarrow=False,
                           xref="paper", yref="paper", x=1, y=0, xanchor="right", yanchor="top", yshift=-4,
                           font=dict(size=11), opacity=0.8)


def line_chart(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], x_title: str,
               y_title: str, title: str | None = None, log_x: bool = False,
               log_y: bool = False) -> go.Figure:
    """Named ``(xs, ys)`` series on shared axes (for sweeps), markers at the measured points."""
    fig = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), name=name,
                                 mode="lines+markers" if len(xs) <= 16 else "lines",
                                 line=dict(color=PALETTE[i % len(PALETTE)]), marker=dict(size=7),
                                 hovertemplate=f"{x_title} %{{x}}<br>{y_title} %{{y:.5f}}<extra>{name}</extra>"))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=420,
                      xaxis_type="log" if log_x else "linear", yaxis_type="log" if log_y else "linear",
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=40 if title else 20))
    if log_y:
        fig.update_yaxes(**log_ticks([y for _, ys in series.values() for y in ys]))
    if log_x:
        top = max(max(xs) for xs, _ in series.values())
        ticks = [2 ** k for k in range(int(np.log2(top)) + 1)]
        fig.update_xaxes(tickvals=ticks, ticktext=[str(t) for t in ticks])
    return fig


def heatmaps(panels: Mapping[str, torch.Tensor | np.ndarray], value_names: Sequence[str],
             colorscales: Sequence[str] | None = None, zmid: Sequence[float | None] | None = None,
             columns: int | None = None, tile_px: int = 240) -> go.Figure:
    """Named 2-D arrays side by side (``columns`` per row), each with its own colour scale; hover reads
    row, column and value.

    For maps that are not images (a count, an error, a contrast): ``value_names[i]`` says in the
    hover what panel i's numbers are, and ``zmid[i]`` (e.g. 0 for a diverging scale) pins the
    middle of its colour scale. Rows run downwards, as in an image.
    """
    from plotly.subplots import make_subplots

    names = list(panels)
    scales = list(colorscales or ["gray"] * len(names))
    mids = list(zmid or [None] * len(names))
    n_cols = min(columns or len(names), len(names))
    n_rows = -(-len(names) // n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=names, horizontal_spacing=0.03,
                        vertical_spacing=0.08)
    for i, (name, values) in enumerate(panels.items()):
        row, col = i // n_cols + 1, i % n_cols + 1
        z = np.asarray(torch.as_tensor(values).detach().cpu().float().squeeze(), dtype=np.float32)
        fig.add_trace(go.Heatmap(z=np.round(z, 4), colorscale=scales[i], zmid=mids[i], showscale=False,
                                 hovertemplate=f"row %{{y}}, column %{{x}}<br>{value_names[i]} "
                                               "%{z:.3g}<extra>" + name + "</extra>"), row=row, col=col)
        axis = "" if i == 0 else str(i + 1)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                         row=row, col=col)
        fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                         scaleanchor=f"x{axis}", constrain="domain", row=row, col=col)
    fig.update_annotations(font_size=13)  # panel titles that fit a phone's width
    fig.update_layout(height=n_rows * tile_px + 60, margin=dict(l=10, r=10, t=40, b=10),
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


def latent_maps(maps: Mapping[str, np.ndarray], labels: Sequence[int] | np.ndarray,
                class_names: Sequence[str], marker_size: int = 3) -> go.Figure:
    """Several 2-D maps of the same items side by side, one shared legend (click a class to hide it).

    Every panel draws the same ``map_subset`` of the items; a map holds a row for every item, or
    only for the drawn ones (``drawn_rows``).
    """
    from plotly.subplots import make_subplots

    labels, shown = np.asarray(labels), map_subset(len(labels))
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=list(maps), horizontal_spacing=0.04)
    for col, xy in enumerate(maps.values(), start=1):
        xy = drawn_rows(xy, len(labels))
        for c, name in enumerate(class_names):
            rows = np.flatnonzero(labels[shown] == c)
            fig.add_trace(go.Scatter(
                x=xy[rows, 0].astype(np.float32), y=xy[rows, 1].astype(np.float32), mode="markers", name=name,
                legendgroup=name, showlegend=col == 1, customdata=shown[rows].astype(np.int32),
                marker=dict(size=marker_size, color=PALETTE[c % len(PALETTE)], opacity=0.7),
                hovertemplate=f"<b>{name}</b><br>test image #%{{customdata}}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_layout(height=520, legend=dict(itemsizing="constant", orientation="h", y=-0.05),
                      margin=dict(t=40, l=10, r=10))
    _note_subset(fig, len(shown), len(labels))
    return fig


def box_plot(groups: Mapping[str, Sequence[float]], y_title: str, title: str | None = None) -> go.Figure:
    """One box per named group of values (median, quartiles, outliers); hover shows the numbers."""
    fig = go.Figure()
    for i, (name, values) in enumerate(groups.items()):
        fig.add_trace(go.Box(y=np.round(np.asarray(values, dtype=float), 4), name=name,
                             marker_color=PALETTE[i % len(PALETTE)], boxpoints="outliers"))
    fig.update_layout(title=title, yaxis_title=y_title, showlegend=False, height=420,
                      margin=dict(t=40 if title else 20))
    return fig


def image_slider(frames: torch.Tensor, step_labels: Sequence[str], reference: torch.Tensor | None = None,
                 reference_title: str = "original", frame_title: str = "decoded", slider_title: str = "",
                 tile_px: int = 220) -> go.Figure:
    """Grey images (n, 1, H, W) behind a slider: moving it swaps the image shown on the right.

    With ``reference``, that image stays on the left for comparison. Each step swaps in one
    small PNG of the pair, so the page carries n compressed images and no JavaScript of its own.
    """
    frames = torch.as_tensor(frames).detach().cpu().float().reshape(len(frames), 1, *frames.shape[-2:])
    pair = [reference.reshape(frames.shape[1:])] if reference is not None else []

    def uri(i: int) -> str:
        return _png_uri(_gray_rgba(_gray_canvas([torch.stack([*pair, frames[i]])], gap=2)[0]))
    fig = image_grid([torch.stack([*pair, frames[0]])], hover=False, tile_px=tile_px,
                     col_titles=[reference_title, frame_title] if pair else [frame_title])
    steps = [dict(method="restyle", label=label, args=[{"source": [uri(i)]}]) for i, label in enumerate(step_labels)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=slider_title), **SLIDER_BOX)],
                      height=tile_px + 150, margin=dict(b=90))
    return fig


def grid_slider(grids: Sequence[Sequence[torch.Tensor]], step_labels: Sequence[str],
                row_titles: Sequence[str] | None = None, col_titles: Sequence[str] | None = None,
                slider_title: str = "", tile_px: int = 64, gap: int = 2) -> go.Figure:
    """Several grids of grey images behind a slider: each step shows one grid (rows as ``image_grid`` takes
    them, every grid the same shape), e.g. noisy / cleaned / clean rows, one grid per kind of damage.

    Each step swaps in one PNG, so the page carries one compressed image per step and no script of its own.
    """
    def uri(rows: Sequence[torch.Tensor]) -> str:
        return _png_uri(_gray_rgba(_gray_canvas(rows, gap)[0]))
    fig = image_grid(grids[0], col_titles=col_titles, row_titles=row_titles, gap=gap, tile_px=tile_px, hover=False)
    steps = [dict(method="restyle", label=label, args=[{"source": [uri(rows)]}])
             for label, rows in zip(step_labels, grids)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=slider_title), **SLIDER_BOX)],
                      height=fig.layout.height + 110, margin=dict(b=90))
    return fig


def _png_uri(rgb: np.ndarray) -> str:
    """An (H, W, 2 | 3 | 4) uint8 array (grey-alpha, RGB, RGBA) as a PNG data URI (compressed, so a grid of images stays light)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _rgb_canvas(rows: Sequence[torch.Tensor], gap: int) -> tuple[np.ndarray, int, int, int]:
    """Colour images (n, 3, H, W) in rows on a white canvas -> (canvas uint8, H, W, n_cols)."""
    tiles = [torch.as_tensor(r).detach().cpu().float().clamp(0, 1) for r in rows]
    h, w = tiles[0].shape[-2:]
    n_cols = max(len(t) for t in tiles)
    canvas = np.full((len(tiles) * (h + gap) - gap, n_cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(tiles):
        for j, img in enumerate(row):
            canvas[i * (h + gap): i * (h + gap) + h, j * (w + gap): j * (w + gap) + w] = \
                (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return canvas, h, w, n_cols


def rgb_grid(rows: Sequence[torch.Tensor], col_titles: Sequence[str] | None = None,
             row_titles: Sequence[str] | None = None, gap: int = 4, tile_px: int = 96) -> go.Figure:
    """Colour images (n, 3, H, W) in rows, drawn as one compressed PNG with titles on the axes."""
    canvas, h, w, n_cols = _rgb_canvas(rows, gap)
    fig = go.Figure(go.Image(source=_png_uri(canvas), hoverinfo="skip"))
    fig.update_xaxes(showgrid=False, zeroline=False, side="top", tickangle=0,
                     tickvals=[j * (w + gap) + w / 2 for j in range(n_cols)] if col_titles else [],
                     ticktext=list(col_titles or []))
    fig.update_yaxes(showgrid=False, zeroline=False,
                     tickvals=[i * (h + gap) + h / 2 for i in range(len(rows))] if row_titles else [],
                     ticktext=list(row_titles or []))
    top = 60 if col_titles else 10
    fig.update_layout(height=len(rows) * tile_px + top + 10, plot_bgcolor="rgba(0,0,0,0)",
                      margin=dict(l=10 if not row_titles else 150, r=10, t=top, b=10))
    return fig


def rgb_slider(frames: torch.Tensor, step_labels: Sequence[str], left: torch.Tensor | None = None,
               titles: Sequence[str] = ("", ""), slider_title: str = "", tile_px: int = 200) -> go.Figure:
    """Colour images behind a slider (each step swaps in one PNG); ``left`` stays beside them."""
    def uri(i: int) -> str:
        row = [left, frames[i]] if left is not None else [frames[i]]
        return _png_uri(_rgb_canvas([torch.stack(row)], gap=6)[0])
    fig = rgb_grid([torch.stack([left, frames[0]]) if left is not None else frames[:1]],
                   col_titles=list(titles) if left is not None else list(titles[-1:]), tile_px=tile_px)
    fig.data[0].source = uri(0)
    steps = [dict(method="restyle", label=label, args=[{"source": [uri(i)]}]) for i, label in enumerate(step_labels)]
    fig.update_layout(sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=slider_title), **SLIDER_BOX)],
                      height=tile_px + 160, margin=dict(b=90))
    return fig


def named_scatter(xy: np.ndarray, names: Sequence[str], groups: Sequence[str],
                  title: str | None = None) -> go.Figure:
    """A 2-D map with one point per named item, coloured by group; hover shows the name."""
    groups = np.asarray(groups)
    fig = go.Figure()
    for i, g in enumerate(dict.fromkeys(groups.tolist())):
        idx = np.flatnonzero(groups == g)
        fig.add_trace(go.Scatter(x=np.round(xy[idx, 0], 3), y=np.round(xy[idx, 1], 3), mode="markers",
                                 name=g, text=[names[k] for k in idx],
                                 marker=dict(size=9, color=PALETTE[i % len(PALETTE)], opacity=0.8),
                                 hovertemplate="%{text}<extra>" + g + "</extra>"))
    fig.update_layout(title=title, height=520, legend=dict(title="group"), margin=dict(t=40 if title else 20),
                      xaxis=dict(showticklabels=False, title="t-SNE 1", zeroline=False),
                      yaxis=dict(showticklabels=False, title="t-SNE 2", zeroline=False))
    return fig

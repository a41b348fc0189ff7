"""Interactive figures written in plain JavaScript (``aebook/web/``), fed with real data.

Each builder is named after its script: ``flatten`` (web/flatten.js), ``traverse``,
``bottleneck``, ``latent2d``; the in-page trainer is ``aebook.playground.trainer``. A widget
is shown by a notebook cell as one HTML output: a ``<div>``, its data as JSON, and the
widget's scripts inlined from ``aebook/web``. Nothing is fetched from the
network, so it works the same in a Quarto page, an nbconvert export and Jupyter.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn


SHARED = ("common.js",)


def assets_dir() -> Path:
    """The folder holding the widgets' JavaScript and CSS."""
    return Path(__file__).resolve().parent / "web"  # package data: found in a clone and in an install


def widget_names() -> list[str]:
    """Every widget shipped in ``aebook/web`` (one ``<name>.js`` each, besides ``common.js``)."""
    return sorted(p.stem for p in assets_dir().glob("*.js") if p.name not in SHARED)


def b64_floats(values: torch.Tensor | np.ndarray) -> str:
    """Base64 of the values as little-endian float32 (what ``AEBook.floats`` reads)."""
    array = np.ascontiguousarray(np.asarray(torch.as_tensor(values).detach().cpu(), dtype="<f4"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def b64_halves(values: torch.Tensor | np.ndarray) -> str:
    """Base64 of the values as little-endian float16 (what ``AEBook.halves`` reads): half the bytes of float32."""
    array = np.ascontiguousarray(np.asarray(torch.as_tensor(values).detach().cpu(), dtype="<f2"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def b64_bytes(images: torch.Tensor | np.ndarray) -> str:
    """Base64 of values in [0, 1] rounded to bytes 0..255 (what ``AEBook.bytes`` reads)."""
    array = np.asarray(torch.as_tensor(images).detach().cpu().float())
    return base64.b64encode(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8).tobytes()).decode("ascii")


def b64_labels(labels: torch.Tensor | np.ndarray) -> str:
    """Base64 of class labels 0..255, one byte each (what ``AEBook.bytes`` reads)."""
    return base64.b64encode(np.asarray(torch.as_tensor(labels).cpu(), dtype=np.uint8).tobytes()).decode("ascii")


HALF_PRECISION_TOLERANCE = 1 / 255  # float16 weights may change a decoded pixel by less than one grey level


@torch.no_grad()
def export_decoder(model: nn.Module, image_shape: tuple[int, int, int] = (1, 28, 28),
                   precision: str = "auto", codes: torch.Tensor | None = None) -> dict:
    """The model's ``decoder`` (an ``nn.Sequential``) as JSON layers that ``AEBook.Decoder`` evaluates.

    ``precision="auto"`` ships the weights as float16 (half the page weight) when, at the
    ``codes`` the widget will decode, ``half_precision_error`` finds no pixel moved by
    ``HALF_PRECISION_TOLERANCE``; else float32.
    """
    if precision == "auto":
        error = half_precision_error(model, codes)
        precision = "float16" if error < HALF_PRECISION_TOLERANCE else "float32"
    if precision not in ("float16", "float32"):
        raise ValueError(f"export_decoder: precision must be 'auto', 'float16' or 'float32'; got {precision!r}")
    pack = b64_halves if precision == "float16" else b64_floats
    layers = []
    for layer in model.decoder:
        if isinstance(layer, nn.Linear):
            layers.append(dict(type="linear", **{"in": layer.in_features}, out=layer.out_features,
                               W=pack(layer.weight), b=pack(layer.bias)))
        elif isinstance(layer, nn.Unflatten):
            layers.append(dict(type="unflatten", shape=list(layer.unflattened_size)))
        elif isinstance(layer, nn.ConvTranspose2d) and layer.dilation == (1, 1) and layer.groups == 1:
            layers.append(dict(type="conv_transpose", cout=layer.out_channels, k=layer.kernel_size[0],
                               stride=layer.stride[0], padding=layer.padding[0],
                               output_padding=layer.output_padding[0],
                               W=pack(layer.weight), b=pack(layer.bias)))
        elif isinstance(layer, nn.BatchNorm2d):  # eval mode: fold into scale * x + shift
            scale, shift = _folded_batchnorm(layer)
            layers.append(dict(type="batchnorm", scale=pack(scale), shift=pack(shift)))
        elif isinstance(layer, nn.ReLU):
            layers.append(dict(type="relu"))
        elif isinstance(layer, nn.LeakyReLU):
            layers.append(dict(type="leaky_relu", slope=layer.negative_slope))
        elif isinstance(layer, nn.Sigmoid):
            layers.append(dict(type="sigmoid"))
        else:
            raise ValueError(f"export_decoder cannot translate a {type(layer).__name__} layer to JavaScript")
    latent_dim = next(p for p in model.decoder.parameters()).shape[1]
    return dict(latent_dim=int(latent_dim), image_shape=list(image_shape), layers=layers, dtype=precision)


def _folded_batchnorm(layer: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as ``scale * x + shift`` per channel."""
    scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
    return scale, layer.bias - layer.running_mean * scale


@torch.no_grad()
def half_precision_decoder(model: nn.Module) -> nn.Sequential:
    """A copy of the model's decoder computing what the page computes from float16 weights."""
    import copy

    rounded = copy.deepcopy(model.decoder).cpu().eval()
    for layer in rounded:
        if isinstance(layer, nn.BatchNorm2d):  # round what the page gets: the folded scale and shift
            scale, shift = _folded_batchnorm(layer)
            layer.weight.copy_(scale.half().float())
            layer.bias.copy_(shift.half().float())
            layer.running_mean.zero_()
            layer.running_var.fill_(1 - layer.eps)
        else:
            for param in layer.parameters():
                param.copy_(param.half().float())
    return rounded


@torch.no_grad()
def half_precision_error(model: nn.Module, codes: torch.Tensor | None = None) -> float:
    """Largest change of a decoded pixel when the exported numbers are rounded to float16, over
    ``codes`` (by default 256 codes drawn from N(0, 9·I))."""
    import copy

    rounded, decoder = half_precision_decoder(model), copy.deepcopy(model.decoder).cpu().eval()
    latent_dim = next(p for p in decoder.parameters()).shape[1]
    z = (torch.as_tensor(codes).detach().cpu().float() if codes is not None
         else torch.randn(256, latent_dim, generator=torch.Generator().manual_seed(0)) * 3)
    return float((rounded(z) - decoder(z)).abs().max())


class Widget:
    """One widget with its data; Jupyter (and Quarto) display it through ``_repr_html_``."""

    def __init__(self, name: str, data: dict, height: int | None = None) -> None:
        if name not in widget_names():
            raise ValueError(f"no widget named {name!r}; aebook/web has {', '.join(widget_names())}")
        self.name, self.data, self.height = name, data, height

    def _repr_html_(self) -> str:
        payload = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
        uid = "aew-" + hashlib.sha256((self.name + payload).encode()).hexdigest()[:10]
        scripts = "\n".join((assets_dir() / f).read_text() for f in (*SHARED, f"{self.name}.js"))
        style = (assets_dir() / "widgets.css").read_text()
        size = f' style="min-height:{self.height}px"' if self.height else ""
        return (f'<style>{style}</style>\n'
                f'<div class="aebook-widget" id="{uid}" data-widget="{self.name}"{size}></div>\n'
                f'<script type="application/json" id="{uid}-data">{_safe(payload)}</script>\n'
                f'<script>\n{scripts}\n(function () {{ const root = document.getElementById("{uid}");\n'
                f'  AEBook.{self.name}(root, JSON.parse(document.getElementById("{uid}-data").textContent));\n'
                f'}})();\n</script>')

    def page(self, title: str = "aebook widget") -> str:
        """A complete standalone HTML page holding only this widget (for tests and previews)."""
        return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
                f'</head><body>\n{self._repr_html_()}\n</body></html>')


def _safe(text: str) -> str:
    """JSON made safe inside a ``<script>`` element (no early ``</script>``)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def traverse(model: nn.Module, images: torch.Tensor, labels: list[str], dims: list[int],
              sds: torch.Tensor, max_sd: float = 4.0) -> Widget:
    """The traversal widget: the model's decoder, the images' codes, and the dimensions to offer."""
    from aebook.latent import encode_all

    z = encode_all(model, images)
    ends = [z + sign * max_sd * float(sds[d]) * torch.eye(z.shape[1])[d] for d in dims for sign in (-1, 1)]
    return Widget("traverse", dict(
        decoder=export_decoder(model, codes=torch.cat([z, *ends])), max_sd=max_sd,
        dims=[dict(index=int(d), sd=round(float(sds[d]), 4)) for d in dims],
        images=[dict(label=lab, z=[round(float(v), 6) for v in code], pixels=b64_bytes(img))
                for lab, code, img in zip(labels, z, images)]))


def flatten(image: torch.Tensor, corr_1: float, start: tuple[int, int] = (14, 14)) -> Widget:
    """The flattening widget: one real image; hovering a pixel shows where its neighbours go."""
    _, h, w = image.shape
    return Widget("flatten", dict(pixels=b64_bytes(image), height=int(h), width=int(w),
                                  start=int(start[0] * w + start[1]), corr_1=round(float(corr_1), 4)))


@torch.no_grad()
def layer_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """The input, then each activation's output, the code, and each unflattened map, for images ``x``."""
    model.eval()
    device = next(model.parameters()).device
    stages: list[tuple[str, torch.Tensor]] = [("input", x.cpu())]
    last_encoder = list(model.encoder)[-1]
    hooks = []
    for part in ("encoder", "decoder"):
        for layer in getattr(model, part):
            if isinstance(layer, (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Unflatten)) or layer is last_encoder:
                label = "code z" if layer is last_encoder else f"{part} {type(layer).__name__}"
                hooks.append(layer.register_forward_hook(
                    lambda _m, _i, out, label=label: stages.append((label, out.detach().cpu()))))
    try:
        model(x.to(device))
    finally:
        for h in hooks:
            h.remove()
    stages[-1] = ("output x_hat", stages[-1][1])
    return stages


def bottleneck(models: dict[str, nn.Module], images: torch.Tensor, labels: list[str]) -> Widget:
    """The bottleneck widget: every layer's output for a few real images, for each model."""
    shipped = []
    for name, model in models.items():
        stages = []
        for label, out in layer_outputs(model, images):
            lo, hi = float(out.min()), float(out.max())
            scaled = (out - lo) / (hi - lo) if hi > lo else torch.zeros_like(out)
            stages.append(dict(label=label, shape=list(out.shape[1:]),
                               activations=[b64_bytes(a) for a in scaled]))
        shipped.append(dict(name=name, stages=stages))
    return Widget("bottleneck", dict(models=shipped, images=[
        dict(label=lab, pixels=b64_bytes(img)) for lab, img in zip(labels, images)]))


def latent2d(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                 class_names: list[str] | tuple[str, ...], n_points: int = 2000) -> Widget:
    """The live-decoder widget: 2-D-latent models' decoders over the codes of real images."""
    from aebook.latent import encode_all
    from aebook.plots import PALETTE

    shipped = []
    for name, model in models.items():
        z = encode_all(model, x[:n_points])
        if z.shape[1] != 2:
            raise ValueError(f"latent2d needs 2-D codes; {name} has {z.shape[1]}")
        lo, hi = torch.quantile(z, 0.005, dim=0), torch.quantile(z, 0.995, dim=0)
        pad = (hi - lo) * 0.15
        lo, hi = lo - pad, hi + pad
        grid = torch.stack(torch.meshgrid(*(torch.linspace(float(lo[i]), float(hi[i]), 24) for i in (0, 1)),
                                          indexing="ij"), -1).reshape(-1, 2)  # the plane the ring can visit
        shipped.append(dict(name=name, decoder=export_decoder(model, codes=grid), points=b64_floats(z),
                            labels=b64_labels(y[:n_points]),
                            box=dict(x=[round(float(lo[0]), 4), round(float(hi[0]), 4)],
                                     y=[round(float(lo[1]), 4), round(float(hi[1]), 4)],
                                     start=[round(float(v), 4) for v in z.median(dim=0).values])))
    return Widget("latent2d", dict(models=shipped, classes=list(class_names), colours=list(PALETTE)))

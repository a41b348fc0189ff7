"""How the book's Plotly figures are shown: on a rendered page, and in a Jupyter notebook.

Importing it registers two renderers and makes one the default: while Quarto executes a
chapter, ``PageRenderer``, so that every figure cell has exactly one output; in any other
Jupyter kernel, ``NotebookFigureRenderer``, so that a figure also shows where Plotly's
JavaScript does not run (nbconvert's HTML, GitHub). ``aebook.plots`` imports it.
"""

from __future__ import annotations

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer, NotebookRenderer

from aebook.runtime import flag, in_jupyter_kernel, log, quarto_rendering


class PageRenderer(NotebookRenderer):
    """Plotly's notebook renderer without the set-up output it adds to the first figure cell.

    Quarto makes ``notebook`` the renderer when ``plotly-connected: false``; on the first
    figure it emits a second output (plotly.js itself), so Quarto lays that cell out as
    two sub-figures. The rendered site loads plotly.js once per page instead (``bookkit.site``),
    so the figures need nothing but their own ``<div>`` and ``Plotly.newPlot`` call.
    """

    def activate(self) -> None:
        """Nothing to set up: the page loads plotly.js itself."""


class NotebookFigureRenderer(MimetypeRenderer):
    """A figure as Plotly's own JSON, for the front ends that draw it (JupyterLab, VS Code),
    plus a PNG copy for those that cannot run Plotly (nbconvert's HTML, GitHub's viewer).

    Each front end picks the richest type it knows; nbconvert ranks ``text/html`` above
    ``image/png``, so there is deliberately no HTML. The PNG is drawn by kaleido in the
    system's Chrome or Chromium; without them a figure has only its JSON (said once).
    """

    def to_mimebundle(self, fig_dict: dict) -> dict:
        """Plotly JSON, plain text, and a PNG when one can be drawn."""
        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig_dict)
        png = static_png(fig_dict)
        if png is not None:
            import base64

            bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle.setdefault("text/plain", f"<figure: {(fig_dict.get('layout', {}).get('title') or {}).get('text') or 'Plotly'}>")
        return bundle


_STATIC: dict[str, object] = {}  # kaleido's browser, started once per kernel, or why it could not be


def static_png(fig_dict: dict, width: int = 760, height: int = 450) -> bytes | None:
    """A PNG of the figure at its own size (else ``width`` × ``height``), or None when none can be drawn
    or ``AEBOOK_STATIC_FIGURES`` is off."""
    import warnings

    if not flag("AEBOOK_STATIC_FIGURES", default=True):
        return None
    try:
        import kaleido

        if "server" not in _STATIC:
            _STATIC["server"] = kaleido.start_sync_server(silence_warnings=True) or True
            import atexit

            atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        layout = fig_dict.get("layout", {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "kopts is ignored when using a server": we start it ourselves
            return pio.to_image(fig_dict, format="png", width=layout.get("width") or width,
                                height=layout.get("height") or height)
    except Exception as exc:  # noqa: BLE001 - no static copy is a lesser figure, not a failure
        if "failed" not in _STATIC:
            _STATIC["failed"] = exc
            log(f"figures have no PNG copy for nbconvert or GitHub ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); install kaleido and Chrome or Chromium for one")
        return None


pio.renderers["aebook-page"] = PageRenderer()
pio.renderers["aebook-notebook"] = NotebookFigureRenderer()
if quarto_rendering():
    pio.renderers.default = "aebook-page"
elif in_jupyter_kernel() and pio.renderers.default != "colab":  # Colab draws with its own renderer
    pio.renderers.default = "aebook-notebook"

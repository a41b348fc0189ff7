"""The site's configuration and its post-render step (the rendered site itself: test_site_render.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from bookkit import notebooks as N
from bookkit import site as S

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_quarto.yml").read_text())
QUARTO_PAGE = """<html><head>
<script src="https://cdn.jsdelivr.net/npm/requirejs@2.3.6/require.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/jquery@3.5.1/dist/jquery.min.js" integrity="sha384-y" crossorigin="anonymous" data-relocate-top="true"></script>
<script type="application/javascript">define('jquery', [],function() {return window.jQuery;})</script>
<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>
<script type="text/javascript">/**
* plotly.js v3.0.1
* Copyright 2012-2025, Plotly, Inc.
* All rights reserved.
* Licensed under the MIT license
*/ window.Plotly = {};</script>
</head><body><div id="fig"></div><script>Plotly.newPlot</script><a href="https://quarto.org">x</a></body></html>"""


def test_book_configuration_is_complete_and_offline():
    project, html = CONFIG["project"], CONFIG["format"]["html"]
    assert project["type"] == "book" and project["execute-dir"] == "project"
    assert project["pre-render"].endswith("prerender.py") and project["post-render"].endswith("postrender.py")
    assert "notebooks/*.ipynb" in project["resources"]
    assert CONFIG["execute"] == {"freeze": "auto", "warning": False}
    assert html["html-math-method"] == "mathml"          # no MathJax from a CDN
    assert html["plotly-connected"] is False              # no plotly.js from a CDN
    for mode in ("light", "dark"):
        assert "assets/offline.scss" in html["theme"][mode]
    assert "$web-font-path: false" in (ROOT / "assets" / "offline.scss").read_text()
    for key in ("number-sections", "toc", "code-fold", "code-tools", "code-copy"):
        assert html[key] is True
    assert CONFIG["book"]["search"] is True and CONFIG["bibliography"] == "references.bib"
    for script in (project["pre-render"], project["post-render"]):
        assert (ROOT / script).exists()


def test_render_list_covers_every_chapter():
    listed = {str(p.relative_to(ROOT)) for p in N.chapter_paths()}
    rendered = {str(p.relative_to(ROOT)) for pattern in CONFIG["project"]["render"] for p in ROOT.glob(pattern)}
    assert listed == rendered


def test_every_chapter_links_its_own_notebook():
    for path in (ROOT / "chapters").glob("*.qmd"):
        assert f"(../notebooks/{path.stem}.ipynb)" in path.read_text(), path.name


def test_every_include_exists():
    for path in ROOT.rglob("*.qmd"):
        if ".venv" in path.parts:
            continue
        for target in re.findall(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}", path.read_text()):
            assert (path.parent / target).exists() or (ROOT / target).exists(), f"{path.name}: {target}"


def test_offline_page_loads_plotly_once_from_the_site(tmp_path):
    out = tmp_path / "_book"
    (out / "chapters").mkdir(parents=True)
    (out / "index.html").write_text(QUARTO_PAGE)
    (out / "chapters" / "01.html").write_text(QUARTO_PAGE.replace("</head>", QUARTO_PAGE.split("<head>")[1]))
    assert len(S.remote_requests(QUARTO_PAGE)) == 2
    changed = S.offline_site(out)
    assert len(changed) == 2 and (out / "site_libs" / "aebook" / "plotly.min.js").stat().st_size > 1_000_000
    top, sub = (out / "index.html").read_text(), (out / "chapters" / "01.html").read_text()
    assert '<script src="site_libs/aebook/plotly.min.js"></script>' in top
    assert sub.count('<script src="../site_libs/aebook/plotly.min.js"></script>') == 1  # once, path adjusted
    for page in (top, sub):
        assert S.remote_requests(page) == [] and "plotly.js v" not in page and "define('jquery'" not in page
        assert '<a href="https://quarto.org">' in page  # links are not requests
        assert "Plotly.newPlot" in page


def test_page_whose_figures_carry_no_library_gets_it_in_the_head():
    import plotly.graph_objects as go

    from aebook.display import PageRenderer

    figure = PageRenderer().to_mimebundle(go.Figure(go.Scatter(y=[1, 2])).to_dict())["text/html"]
    assert "plotly.js v" not in figure and "Plotly.newPlot" in figure
    page = f"<html><head><title>t</title></head><body>{figure}{figure}</body></html>"
    out = S.offline_page(page, "../site_libs/aebook/plotly.min.js")
    head, body = out.split("</head>")
    assert head.count('<script src="../site_libs/aebook/plotly.min.js"></script>') == 1
    assert "site_libs" not in body and S.remote_requests(out) == []  # MathJax's CDN loader dropped too
    assert S.offline_page("<html><head></head><body>no figure</body></html>", "x.js").count("x.js") == 0


def test_the_page_renderer_adds_no_setup_output(monkeypatch):
    import plotly.io as pio

    from aebook.display import PageRenderer

    shown = []
    monkeypatch.setattr("IPython.display.display_html", lambda *a, **k: shown.append(a))
    PageRenderer().activate()
    assert shown == [] and isinstance(pio.renderers["aebook-page"], PageRenderer)


def test_prerender_writes_one_notebook_per_chapter(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bookkit.notebooks", "--all", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written = {p.stem for p in tmp_path.glob("*.ipynb")}
    assert {p.stem for p in N.chapter_paths() if p.parent.name == "chapters"} <= written


def test_colab_link_follows_each_notebook_download_link():
    page = ('<p><a href="../notebooks/02-convolutional.ipynb" download="02-convolutional.ipynb">'
            'Download this chapter as a Jupyter notebook</a> (it runs…)</p>')
    linked = S.colab_links(page, "https://github.com/someone/the-book")
    assert ('Jupyter notebook</a> or <a href="https://colab.research.google.com/github/someone/the-book/blob/'
            'main/notebooks/02-convolutional.ipynb">open it in Colab</a> (it runs…)') in linked
    assert S.colab_links(linked, "https://github.com/someone/the-book") == linked  # once only
    assert S.colab_links(page, None) == page  # no repository configured: the page is left as it is
    assert S.colab_links(page, "https://gitlab.com/a/b") == page  # Colab opens GitHub notebooks only


def _figure_page(*figures) -> str:
    from aebook.display import PageRenderer

    divs = "".join(PageRenderer().to_mimebundle(f.to_dict())["text/html"] for f in figures)
    return f"<html><head></head><body>{divs}</body></html>"


def test_the_site_ships_the_partial_plotly_bundle_when_it_has_every_trace_the_pages_draw():
    import numpy as np
    import plotly.graph_objects as go
    import torch

    from aebook import plots

    page = _figure_page(plots.image_grid([torch.rand(2, 1, 8, 8)]), plots.box_plot({"a": [1, 2]}, "y"),
                        plots.latent_scatter(np.zeros((2, 2)), [0, 1], "ab"))
    assert S.page_trace_types(page) == {"heatmap", "box", "scatter"}  # the template's many types not counted
    bundle = S.partial_bundle()
    assert bundle.exists() and bundle.stat().st_size <= 1.5e6  # the goal for the library a reader loads
    assert S.js_version(bundle) == S.js_version(S.plotly_js())  # built for the installed plotly package
    chosen, why = S.choose_plotly([page])
    assert chosen == bundle and why.startswith("partial plotly.js"), why
    # a trace type the bundle lacks: the full library, and the line says which type and what to do
    chosen, why = S.choose_plotly([page, _figure_page(go.Figure(go.Scattergl(y=[1, 2])))])
    assert chosen == S.plotly_js() and "scattergl" in why and "make plotly-bundle" in why


def test_the_partial_bundle_draws_every_trace_type_in_a_browser(tmp_path):
    """The bundle, loaded in Chromium, draws one figure of each type in plots.TRACE_TYPES."""
    import numpy as np
    import torch
    from browser import browser

    from aebook import plots

    figures = [plots.image_grid([torch.rand(2, 1, 8, 8)]), plots.image_grid([torch.rand(60, 1, 28, 28)]),
               plots.box_plot({"a": [1, 2, 3]}, "y"), plots.latent_scatter(np.eye(2), [0, 1], "ab")]
    assert {t.type for f in figures for t in f.data} == set(plots.TRACE_TYPES)
    page = S.offline_page(_figure_page(*figures), S.partial_bundle().as_uri())  # no CDN loader left
    (tmp_path / "page.html").write_text(page)
    with browser() as b:
        tab = b.new_page()
        errors = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        tab.goto((tmp_path / "page.html").as_uri())
        tab.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 4")
        drawn = tab.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(gd =>
            gd.querySelectorAll('.heatmaplayer image, .imagelayer image, .boxlayer path, .scatterlayer .point').length)""")
    assert errors == [] and all(n > 0 for n in drawn), (errors, drawn)

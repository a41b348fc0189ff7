"""The site's configuration and its post-render step (the rendered site itself: test_site_render.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
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


@pytest.mark.slow
@pytest.mark.parametrize("repo, colab", [
    ("https://github.com/someone/the-book", "https://colab.research.google.com/github/someone/the-book/blob/"
                                            "v1.2/notebooks/02-convolutional.ipynb"),
    (None, None),                       # no repository configured: no link to an address that is not there
    ("https://gitlab.com/a/b", None),   # Colab opens notebooks from GitHub only
])
def test_colab_link_follows_each_notebook_download_link_only_when_a_repository_is_set(tmp_path, repo, colab):
    """tools/notebook-links.lua, in a real Quarto render of a one-page book."""
    from conftest import find_quarto

    quarto, why = find_quarto()
    if quarto is None:
        pytest.skip(why)
    book = {"title": "T", "chapters": ["index.qmd"], **({"repo-url": repo, "repo-branch": "v1.2"} if repo else {})}
    (tmp_path / "_quarto.yml").write_text(yaml.safe_dump({
        "project": {"type": "book"}, "book": book,
        "filters": [str(ROOT / "tools" / "notebook-links.lua")]}))
    (tmp_path / "index.qmd").write_text("# Start\n\n[Download this chapter as a Jupyter notebook]"
                                        "(../notebooks/02-convolutional.ipynb){download=\"02-convolutional.ipynb\"}\n")
    done = subprocess.run([quarto, "render"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"QUARTO_PYTHON": sys.executable, "PATH": __import__("os").environ["PATH"]})
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "_book" / "index.html").read_text()
    assert "Download this chapter as a Jupyter notebook</a>" in page
    if colab:
        assert f'Jupyter notebook</a> or <a href="{colab}">open it in Colab</a>' in page
    else:
        assert "colab" not in page.lower()


def test_no_page_or_notebook_names_a_repository_that_is_not_configured():
    """The address of the book's repository is a setting, empty by default: nothing may invent one."""
    from bookkit.project import repository

    configured = repository()
    texts = [ROOT / "_quarto.yml", *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("chapters/*.qmd"), ROOT / "README.md"]
    for path in texts:
        for address in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", path.read_text(encoding="utf-8")):
            assert address == configured or address.startswith(("https://github.com/quarto-dev/",
                                                                 "https://github.com/pytorch/")), (path, address)


def test_the_site_carries_the_package_as_a_wheel(tmp_path):
    import zipfile

    wheel = S.add_wheel(tmp_path)
    assert wheel == tmp_path / "python" / N.wheel_name()
    names = zipfile.ZipFile(wheel).namelist()
    assert "aebook/models.py" in names and "aebook/web/trainer.js" in names and "aebook/emoji_faces.tsv" in names
    assert not (ROOT / "build").exists(), "building the wheel wrote into the checkout"


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


def test_a_partial_render_writes_only_its_own_notebooks(tmp_path):
    """``quarto render chapters/X.qmd`` (and each save in ``make preview``) runs the pre-render with the
    pages it renders: only their notebooks are rewritten; a whole-book render writes them all."""
    import os
    import shutil

    for name in ("_quarto.yml", "references.bib", "chapters", "glossary.qmd", "index.qmd", "references.qmd"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    env = {**os.environ, "AEBOOK_ROOT": str(tmp_path), "QUARTO_PROJECT_INPUT_FILES": "chapters/02-convolutional.qmd"}
    env.pop("QUARTO_PROJECT_RENDER_ALL", None)
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "prerender.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == ["02-convolutional.ipynb"]
    env["QUARTO_PROJECT_RENDER_ALL"] = "1"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "prerender.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "notebooks").iterdir())) == len(N.chapter_paths())


def test_rendering_without_the_books_environment_says_what_to_run(tmp_path):
    """Plain ``quarto render`` with a Python that lacks the book's packages: one line naming the command."""
    import os
    import shutil

    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or subprocess.run([python, "-c", "import bookkit"], capture_output=True).returncode == 0:
        pytest.skip("no Python without the book's packages on this machine")
    for step in ("prerender.py", "postrender.py"):
        done = subprocess.run([python, str(ROOT / "tools" / step)], cwd=tmp_path, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}, timeout=60)
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1 and "`make book`" in done.stderr, done.stderr

"""Every chapter of the book, executed top to bottom in a fresh kernel, in smoke settings."""

import re

import nbformat
import pytest

from aebook import claims
from aebook import notebooks as N
from aebook.site import remote_requests
from browser import browser, screenshot_dir, visit

CHAPTERS = [p for p in N.chapter_paths() if p.suffix == ".qmd"]


def plotly_outputs(cell):
    return [o for o in cell.get("outputs", [])
            if "application/vnd.plotly.v1+json" in o.get("data", {})
            or "Plotly.newPlot" in str(o.get("data", {}).get("text/html", ""))]


def widget_outputs(cell):
    return [o for o in cell.get("outputs", [])
            if 'class="aebook-widget"' in str(o.get("data", {}).get("text/html", ""))]


def run_chapter(path, monkeypatch):
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    return N.execute(N.qmd_to_notebook(path), timeout=600)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes_with_its_figures(path, monkeypatch, tmp_path, capsys):
    source = path.read_text()
    run = run_chapter(path, monkeypatch)
    cells = [c for c in run.notebook.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    stderr = [o.text for c in cells for o in c.outputs if o.get("name") == "stderr"]
    assert not stderr, f"a cell wrote to stderr (warnings reach the page): {stderr[0][:300]}"
    assert run.inline_errors == {}
    assert run.inline == {e: run.inline[e] for e in N.inline_expressions(source)}
    assert not [c for c in run.notebook.cells if "`{python}" in c.source and c.cell_type == "markdown"]
    # Quarto escapes Markdown in an inline string, so a reference inside one would never resolve
    assert not [e for e, text in run.inline.items() if "@" in text], "cross-reference inside an inline result"
    # every figure cell shows exactly one figure (Plotly, or one of the book's widgets), no other cell does
    figure_cells = [c for c in cells if N.cell_options(c.source).get("label", "").startswith("fig-")]
    assert len(figure_cells) == len(re.findall(r"^#\| label: fig-", source, re.M))
    for cell in cells:
        expected = 1 if cell in figure_cells else 0
        shown = len(plotly_outputs(cell)) + len(widget_outputs(cell))
        assert shown == expected, N.cell_options(cell.source).get("label")
    n_plotly = sum(len(plotly_outputs(c)) for c in cells)
    n_widgets = sum(len(widget_outputs(c)) for c in cells)
    if path.parent.name == "chapters":
        check_ledger(run.notebook, tmp_path / f"{path.stem}.ipynb", capsys)
    check_page_in_browser(N.to_html(run.notebook), path.stem, n_plotly, n_widgets)


def check_ledger(notebook, saved, capsys):
    """The chapter ends with its claims ledger, and the ledger command finds no contradiction in it."""
    nbformat.write(notebook, saved)
    assert "What held on this run" in "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    findings = claims.check_page(saved)
    assert findings, "the chapter shows no claims ledger"
    assert claims.main([str(saved)]) == 0, [f.problems for f in findings if f.problems]
    printed = capsys.readouterr().out
    assert f"{len(findings)} claims on 1 pages: {len(findings)} hold, 0 contradicted" in printed


def check_page_in_browser(html, name, n_plotly, n_widgets):
    """Open the exported page in Chromium: every figure draws, no errors, nothing loaded from outside."""
    assert remote_requests(html) == []
    page_file = screenshot_dir() / f"chapter-{name}.html"
    page_file.write_text(html, encoding="utf-8")
    with browser() as b, visit(b, page_file) as v:
        page = v.page
        page.wait_for_timeout(500)
        drawn = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
            const box = p.getBoundingClientRect();
            const marks = p.querySelectorAll('.trace, .hm, image, .point, .scatterlayer path, .gl-container canvas').length;
            return box.width > 50 && box.height > 50 && marks > 0; })""")
        assert len(drawn) == n_plotly and all(drawn), f"{name}: figures drawn {drawn}"
        widgets = page.evaluate("() => Array.from(document.querySelectorAll('.aebook-widget')).map(w => w.querySelectorAll('canvas').length)")
        assert len(widgets) == n_widgets and all(widgets), f"{name}: widgets {widgets}"
        page.screenshot(path=str(screenshot_dir() / f"chapter-{name}.png"), full_page=True)
        assert v.errors == [], v.errors[:3]
        assert v.outside == [], v.outside[:3]


def test_first_chapter_trains_once_loads_from_cache_and_is_deterministic(monkeypatch, tmp_path):
    path = next(p for p in CHAPTERS if "fully-connected" in p.name)
    cold = run_chapter(path, monkeypatch)
    warm = run_chapter(path, monkeypatch)
    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(tmp_path / "second-cache"))
    cold_again = run_chapter(path, monkeypatch)

    def printed(run):
        return "".join(o.get("text", "") for c in run.notebook.cells if c.cell_type == "code"
                       for o in c.outputs if o.output_type == "stream")

    def numbers(run):  # every inline result but where the model came from and how long it took
        return {e: v for e, v in run.inline.items() if "from_cache" not in e and "seconds" not in e}

    assert "[cache] fc-d32: no cached model; trained" in printed(cold)
    assert "[cache]" not in printed(warm)  # nothing retrained
    assert "loaded the result from the cache" in "".join(c.source for c in warm.notebook.cells)
    assert numbers(warm) == numbers(cold)  # the cached models give the same numbers
    assert "[cache] fc-d32: no cached model; trained" in printed(cold_again)
    assert numbers(cold_again) == numbers(cold)  # two cold CPU runs print identical metrics


def test_later_chapters_reuse_earlier_models_from_the_cache(monkeypatch):
    """Chapters 2-4 load the models of earlier chapters from the cache: nothing is trained twice."""
    def printed(run):
        return "".join(o.get("text", "") for c in run.notebook.cells if c.cell_type == "code"
                       for o in c.outputs if o.output_type == "stream")

    by_name = {p.stem: p for p in CHAPTERS}
    first = run_chapter(by_name["01-fully-connected"], monkeypatch)
    assert "[cache] fc-d32: no cached model; trained" in printed(first)
    second = run_chapter(by_name["02-convolutional"], monkeypatch)
    assert "[cache] fc-d" not in printed(second)  # the cache reports no training of the FC model
    assert "[cache] conv-d32: no cached model; trained" in printed(second)
    assert "and this run found it there" in "".join(c.source for c in second.notebook.cells)
    third = run_chapter(by_name["03-latent-space"], monkeypatch)
    assert "[cache]" not in printed(third)  # the conv model came from the cache
    fourth = run_chapter(by_name["04-variational"], monkeypatch)
    assert "[cache] fc-d32:" not in printed(fourth) and "[cache] conv-d32:" not in printed(fourth)
    assert "[cache] vae-d32-beta1: no cached model; trained" in printed(fourth)
    assert printed(fourth).count("[cache] vae-d32-beta1:") == 1  # the β sweep reuses the β = 1 model

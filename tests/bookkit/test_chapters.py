"""Every chapter of the book as a notebook, executed top to bottom in a fresh kernel, in smoke settings.

The chapters run once per test session, in order, in one shared cache (``executed``): the
notebooks that ``make notebooks`` writes, executed by plain nbclient as any Jupyter tool
would, and every test below reads those runs. The notebook route is checked here (nbconvert's
HTML included), the rendered site in test_site_render.py.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest

from bookkit import claims
from bookkit import notebooks as N
from bookkit.project import cell_labels
from aebook.quarto_md import inline_expressions

from conftest import CHAPTERS, Executed, plain_run  # noqa: F401 - the session's executed chapters
pytestmark = pytest.mark.slow  # make test's --dist loadfile keeps this file on one worker: the fixture is made once


def printed(run) -> str:
    """Everything the chapter's cells printed (the cache says there what it trained or loaded)."""
    return "".join(o.get("text", "") for c in run.notebook.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")


def plotly_outputs(cell):
    return [o for o in cell.get("outputs", [])
            if "application/vnd.plotly.v1+json" in o.get("data", {})
            or "Plotly.newPlot" in str(o.get("data", {}).get("text/html", ""))]


def widget_outputs(cell):
    return [o for o in cell.get("outputs", [])
            if 'class="aebook-widget"' in str(o.get("data", {}).get("text/html", ""))]


def run_chapter(path, monkeypatch):
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    monkeypatch.setenv("AEBOOK_EMOJI", "font")
    return N.execute(N.qmd_to_notebook(path), timeout=600)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes_with_its_figures(path, executed, tmp_path, capsys):
    source = path.read_text()
    run = executed.runs[path.stem]
    cells = [c for c in run.notebook.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    stderr = [o.text for c in cells for o in c.outputs if o.get("name") == "stderr"]
    assert not stderr, f"a cell wrote to stderr (warnings reach the page): {stderr[0][:300]}"
    assert set(run.inline) == set(inline_expressions(source))  # every inline value was shown
    assert "" not in run.inline.values(), "an inline expression gave an empty string (Quarto shows its code)"
    assert not [c for c in run.notebook.cells if "`{python}" in c.source and c.cell_type == "markdown"]
    assert "{python}" not in N.shown_text(run.notebook)
    # Quarto escapes Markdown in an inline string, so a reference inside one would never resolve
    assert not [e for e, text in run.inline.items() if "@" in text], "cross-reference inside an inline result"
    # every figure cell shows exactly one figure (Plotly, or one of the book's widgets), no other cell does
    figure_cells = [c for c in cells if N.cell_options(c.source).get("label", "").startswith("fig-")]
    assert len(figure_cells) == len([label for label in cell_labels(source) if label.startswith("fig-")])
    for cell in cells:
        expected = 1 if cell in figure_cells else 0
        shown = len(plotly_outputs(cell)) + len(widget_outputs(cell))
        assert shown == expected, N.cell_options(cell.source).get("label")
    if path.parent.name == "chapters":
        check_ledger(run.notebook, tmp_path / f"{path.stem}.ipynb", capsys)


def check_ledger(notebook, saved, capsys):
    """The chapter ends with its claims ledger, and the ledger command finds no contradiction in it."""
    nbformat.write(notebook, saved)
    assert "What held on this run" in N.shown_text(notebook)
    findings = claims.check_page(saved)
    assert findings, "the chapter shows no claims ledger"
    assert claims.main([str(saved)]) == 0, [f.problems for f in findings if f.problems]
    out = capsys.readouterr().out
    assert f"{len(findings)} claims on 1 pages: {len(findings)} hold, 0 contradicted" in out


def outcomes(run) -> dict[str, str]:
    """Each claim of an executed chapter and its outcome, from the ledger its last cell embeds."""
    import json

    from bookkit.claims import _ClaimsAndLedgers

    parser = _ClaimsAndLedgers()
    parser.feed(N.shown_text(run.notebook))
    parser.close()
    return {c["id"]: c["outcome"] for c in json.loads(parser.ledgers[-1].replace("<\\/", "</"))["claims"]}


def test_first_chapter_trains_once_loads_from_cache_and_is_deterministic(executed, monkeypatch, tmp_path):
    path = next(p for p in CHAPTERS if "fully-connected" in p.name)
    cold = executed.runs[path.stem]
    monkeypatch.setenv("AEBOOK_CACHE_DIR", executed.cache)
    warm = run_chapter(path, monkeypatch)
    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(tmp_path / "second-cache"))
    cold_again = run_chapter(path, monkeypatch)

    def numbers(run):  # every inline result but where the model came from and how long it took
        return {e: v for e, v in run.inline.items()
                if not any(word in e for word in ("from_cache", "seconds", "fc-cached"))}

    assert "[cache] fc-d32: no cached model; trained" in printed(cold)
    assert "[cache]" not in printed(warm)  # nothing retrained
    assert outcomes(warm)["fc-cached"] == "yes" and outcomes(cold)["fc-cached"] == "no"  # the ledger says where it came from
    assert numbers(warm) == numbers(cold)  # the cached models give the same numbers
    assert "[cache] fc-d32: no cached model; trained" in printed(cold_again)
    assert numbers(cold_again) == numbers(cold)  # two cold CPU runs print identical metrics


def test_later_chapters_reuse_earlier_models_from_the_cache(executed):
    """Chapters 2-4 load the models of earlier chapters from the cache: nothing is trained twice."""
    first, second = executed.runs["01-fully-connected"], executed.runs["02-convolutional"]
    third, fourth = executed.runs["03-latent-space"], executed.runs["04-variational"]
    assert "[cache] fc-d32: no cached model; trained" in printed(first)
    assert "[cache] fc-d" not in printed(second)  # the cache reports no training of the FC model
    assert "[cache] conv-d32: no cached model; trained" in printed(second)
    assert outcomes(second)["fc-reused"] == "yes"  # and the ledger of its page says so
    assert "[cache]" not in printed(third)  # the conv model came from the cache
    assert "[cache] fc-d32:" not in printed(fourth) and "[cache] conv-d32:" not in printed(fourth)
    assert "[cache] vae-d32-beta1: no cached model; trained" in printed(fourth)
    assert printed(fourth).count("[cache] vae-d32-beta1:") == 1  # the β sweep reuses the β = 1 model


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_executed_notebook_reads_like_the_page_in_nbconvert(path, executed):
    """nbconvert's HTML of the executed notebook: every value filled in, every figure drawn as an image."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    run = executed.runs[path.stem]
    config = Config({"TagRemovePreprocessor": {"remove_input_tags": [N.PROSE_TAG]}})  # as README says
    body, _ = HTMLExporter(template_name="lab", config=config).from_notebook_node(run.notebook)
    assert "{python}" not in body
    shown = N.shown_text(run.notebook)  # the prose this run chose (a claim's other outcomes are dropped)
    for value in list(run.inline.values())[:40]:  # the values appear as text (Markdown rendered)
        plain = re.sub(r"\\(.)", r"\1", value)
        if plain.replace(".", "").replace(",", "").isdigit() and plain in shown:
            assert plain in body, plain
    figures = [c for c in run.notebook.cells if c.cell_type == "code" and plotly_outputs(c)]
    pngs = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', body)
    assert len(pngs) == len(figures)  # each Plotly figure, as its PNG copy
    if path.parent.name == "chapters":
        assert len(figures) >= 3 and min(len(b) for b in pngs) > 4000  # drawn charts, not empty canvases
    weight = sum(len(o.get("data", {}).get("image/png", "")) for c in figures for o in c.outputs)
    assert weight < 6_000_000, f"PNG copies weigh {weight / 1e6:.1f} MB in one notebook"


LISTING = re.compile(r"^\*`(aebook/[\w/]+\.py)`, lines (\d+)–(\d+)\*\n\n(`{3,})[^\n]*\n(.*?)\n\4$", re.M | re.S)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_listings_are_the_package_source_as_it_is_now(path, executed):
    """Every code listing a chapter shows is, line for line, the package's source file at those lines."""
    src = Path(__file__).resolve().parents[2] / "src"
    shown = [o["data"]["text/markdown"] for c in executed.runs[path.stem].notebook.cells if c.cell_type == "code"
             for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    listings = [m for text in shown for m in LISTING.finditer(text)]
    if "listing(" in path.read_text():
        assert listings, "the chapter calls listing() but shows no listing"
    for m in listings:
        file, first, last, code = src / m.group(1), int(m.group(2)), int(m.group(3)), m.group(5)
        lines = file.read_text(encoding="utf-8").splitlines()[first - 1:last]
        assert code.splitlines() == lines, f"{m.group(1)} lines {first}-{last} differ from what the page shows"

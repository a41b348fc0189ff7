"""The site checker fails on each defect the site once had (planted in small hand-written pages)."""

import pytest

from browser import chromium_path
from site_checks import chromium, opened, page_problems, served

GOOD_FIGURE = """<figure class="quarto-float" id="fig-a"><div class="js-plotly-plot" style="height:200px">
<svg class="main-svg" width="300" height="200"></svg></div>
<figcaption>Figure 1.1: A figure with its own caption.</figcaption></figure>"""
SUBFIGURES = """<figure class="quarto-float" id="fig-b"><div class="quarto-subfloat">
<figcaption class="quarto-subfloat-caption">(a) The caption, shown above the plot.</figcaption></div>
<div class="js-plotly-plot" style="height:200px"><svg class="main-svg" width="300" height="200"></svg></div>
<figcaption>Figure 1.2</figcaption></figure>"""
RAW_INLINE = "<p>The error is `{python} f'{mse:.4f}'` here.</p>"
WIDE_TEXT = "<div class='cell-output cell-output-stdout'><pre><code>" + "x" * 400 + "</code></pre></div>"
MISSING = "<img src='missing.png' alt=''>"
ERROR = "<script>throw new Error('boom')</script>"
OUTSIDE = "<script src='https://cdn.example.org/x.js'></script>"


def page(*parts):
    return ("<!doctype html><html><head><meta charset='utf-8'></head><body>"
            "<main style='width:600px'>" + "".join(parts) + "</main></body></html>")


@pytest.fixture
def check(tmp_path):
    if chromium_path() is None:
        pytest.skip("browser checks did not run: no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)")

    def run(html):
        (tmp_path / "p.html").write_text(html)
        with chromium() as b, served(tmp_path) as base, opened(b, base + "p.html", 1280, base) as (pg, problems):
            return problems + page_problems(pg)
    return run


def test_a_clean_page_passes(check):
    assert check(page(GOOD_FIGURE, "<p>Plain prose.</p>")) == []


def test_a_wide_table_in_its_own_scrolling_box_passes(check):
    table = "<table>" + "<tr>" + "<td>wide cell</td>" * 60 + "</tr></table>"
    assert check(page(GOOD_FIGURE, f"<div class='table-responsive' style='overflow-x:auto'>{table}</div>")) == []


@pytest.mark.parametrize("defect, expected", [
    (SUBFIGURES, "sub-figure"),
    (RAW_INLINE, "raw inline code"),
    (WIDE_TEXT, "text block cut off"),
    (MISSING, "HTTP 404"),
    (ERROR, "page error"),
    (OUTSIDE, "request leaves the site"),
    ("<table><tr>" + "<td>wide cell</td>" * 60 + "</tr></table>", "wider than its column"),
    ("<p><a class='x' style='white-space:nowrap'>" + "a long unbreakable link " * 12 + "</a></p>", "page wider than the screen"),
])
def test_each_planted_defect_is_caught(check, defect, expected):
    problems = check(page(GOOD_FIGURE, defect))
    assert any(expected in p for p in problems), problems

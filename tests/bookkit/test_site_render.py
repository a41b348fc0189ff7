"""The rendered site, as a reader meets it: the real Quarto render (smoke settings) opened in Chromium.

Every page is opened served on 127.0.0.1 and from disk (file://), at 1280 px and at 390 px
(a phone): no console error, no failed or outside request, every figure drawn with its own
caption and number, no raw inline code, nothing wider than its column. Search finds
results both ways, each widget responds to input, and the render log has no warning.
"""

import re

import pytest

from bookkit import claims
from browser import chromium_path, screenshot_dir
from site_checks import chromium, opened, page_problems, search_hits, served, widgets_respond

pytestmark = pytest.mark.slow  # make test's --dist loadfile keeps this file on one worker: the fixture is made once

WIDTHS = (1280, 390)


def pages(site):
    return sorted(p.relative_to(site.out).as_posix() for p in site.out.rglob("*.html")
                  if "site_libs" not in p.parts)


def need_browser():
    if chromium_path() is None:
        pytest.skip("browser checks did not run: no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)")


def test_render_log_has_no_warning(rendered_site):
    warnings = [line for line in rendered_site.log.splitlines() if re.search(r"\bWARN(ING)?\b", line)]
    assert warnings == [], warnings[:5]
    pages = "".join(p.read_text() for p in rendered_site.out.rglob("*.html"))
    # a log line names a model ("[cache] fc-d32: ..."); the listing of load_or_train shows only its f-string
    assert not re.search(r"\[cache\] [a-z][\w.-]*:", pages), "a training log line reached a page"


def test_every_chapter_shows_its_ledger_and_none_is_contradicted(rendered_site, capsys):
    assert claims.main([str(rendered_site.out)]) == 0
    out = capsys.readouterr().out
    n_pages = int(re.search(r"claims on (\d+) pages", out).group(1))
    assert n_pages == len(list((rendered_site.out / "chapters").glob("*.html")))


@pytest.mark.parametrize("how", ["served", "file"])
def test_every_page_at_both_widths(rendered_site, how):
    need_browser()
    found = {}
    with chromium() as b, served(rendered_site.out) as base:
        for name in pages(rendered_site):
            for width in WIDTHS:
                url = base + name if how == "served" else (rendered_site.out / name).resolve().as_uri()
                allowed = base if how == "served" else "file://"
                with opened(b, url, width, allowed) as (page, problems):
                    problems += page_problems(page)
                    if how == "served" or problems:  # to look at; from disk the pages draw the same
                        page.screenshot(full_page=True,
                                        path=str(screenshot_dir() / f"site-{how}-{width}-{name.replace('/', '-')}.png"))
                if problems:
                    found[f"{name} at {width} px"] = problems[:4]
    assert found == {}


@pytest.mark.parametrize("how", ["served", "file"])
def test_search_finds_results(rendered_site, how):
    need_browser()
    with chromium() as b, served(rendered_site.out) as base:
        url = base + "index.html" if how == "served" else (rendered_site.out / "index.html").resolve().as_uri()
        with opened(b, url, 1280, base if how == "served" else "file://") as (page, problems):
            assert search_hits(page, "posterior collapse") > 0
            assert problems == []


def test_every_widget_responds(rendered_site):
    need_browser()
    with chromium() as b, served(rendered_site.out) as base:
        for name in pages(rendered_site):
            with opened(b, base + name, 1280, base) as (page, problems):
                assert widgets_respond(page) == [], name
                assert problems == [], (name, problems[:3])

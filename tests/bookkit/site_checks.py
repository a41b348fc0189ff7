"""Checks of a rendered page as a reader meets it, in Chromium: each returns the problems it found.

Used on the real Quarto render (tests/test_site_render.py) and, with planted defects, on
small hand-written pages (tests/test_site_checks.py), so each check is shown to fail.
"""

from __future__ import annotations

import functools
import http.server
import threading
from contextlib import contextmanager
from pathlib import Path

from bookkit.browser import launch

# Everything below runs in the page. It returns a list of problems, each one line.
PAGE_PROBLEMS_JS = r"""
() => {
  const problems = [];
  const main = document.querySelector('main') || document.body;
  const column = main.getBoundingClientRect();
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const label = el => (el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + [...el.classList].join('.')).slice(0, 80);

  // 1. raw inline code where prose should be
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('pre, script, style, .sourceCode, details.code-fold')) continue;
    if (/\{python\}/.test(n.textContent)) problems.push('raw inline code in the text: ' + n.textContent.trim().slice(0, 80));
  }
  // 2. every Plotly figure drawn, in a figure of its own with its own caption and number
  for (const plot of main.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    if (box.height < 50 || !plot.querySelector('.main-svg')) problems.push('a Plotly figure is not drawn: ' + label(plot));
    const figure = plot.closest('figure, .quarto-float');
    if (!figure) { problems.push('a Plotly figure outside any figure: ' + label(plot)); continue; }
    if (figure.querySelector('.quarto-subfloat, .quarto-subfloat-caption') || figure.closest('.quarto-subfloat'))
      problems.push('a figure laid out as sub-figures: ' + (figure.id || label(figure)));
    const caption = figure.querySelector(':scope figcaption, :scope .figure-caption');
    const text = caption ? caption.textContent.trim() : '';
    if (!/^Figure\s+\d+(\.\d+)*:\s*\S/.test(text)) problems.push('a figure without its own numbered caption: ' + (text.slice(0, 60) || label(figure)));
  }
  for (const sub of main.querySelectorAll('figcaption')) {
    if (/^\([a-z]\)\s/.test(sub.textContent.trim())) problems.push('a sub-figure caption: ' + sub.textContent.trim().slice(0, 60));
  }
  // 3. nothing wider than the text column: console text, tables, widgets, figures, equations
  const wide = 'main .cell-output pre, main .cell-output-stdout pre, main .aebook-widget, main table, main .js-plotly-plot, main math[display="block"], main img';
  for (const el of document.querySelectorAll(wide)) {
    if (!visible(el) || el.closest('details:not([open]), .callout.collapsed, .collapse:not(.show)')) continue;
    // a data table may scroll sideways inside its own responsive box, which must fit the column
    const r = (el.tagName === 'TABLE' && el.closest('.table-responsive') ? el.closest('.table-responsive') : el).getBoundingClientRect();
    if (r.right > column.right + 2 || r.left < column.left - 2) problems.push('wider than its column: ' + label(el) + ` (${Math.round(r.width)} px in ${Math.round(column.width)} px)`);
    else if (el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 2) problems.push('text block cut off (scrolls sideways): ' + el.textContent.trim().slice(0, 60));
  }
  // 4. nothing makes the page itself wider than the screen
  const screen = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > screen + 1) {
    const culprits = [...document.querySelectorAll('main *')].filter(el => !el.closest('pre, .table-responsive, .aebook-widget')
      && el.getBoundingClientRect().right > screen + 1 && el.getBoundingClientRect().width > 0).slice(0, 3).map(label);
    problems.push(`page wider than the screen (${document.documentElement.scrollWidth} px in ${screen} px): ` + culprits.join(', '));
  }
  return problems;
}
"""


@contextmanager
def served(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) for the duration; yield the base address."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


chromium = launch  # a headless Chromium (callers skip when bookkit.browser.chromium_path() is None)


@contextmanager
def opened(b, url: str, width: int, allowed: str):
    """Open ``url`` at ``width`` px; yield ``(page, problems)``, where problems collects errors and bad requests.

    ``allowed`` is the address prefix the page may load from (the server, or ``file://``).
    """
    context = b.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text[:160]}") if m.type == "error" else None)
    page.on("dialog", lambda d: (problems.append(f"a dialog opened: {d.message[:120]}"), d.dismiss()))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[-100:]}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url[-100:]}") if r.status >= 400 else None)

    def route(r):
        if r.request.url.startswith((allowed, "data:", "blob:", "about:")):
            r.continue_()
        else:
            problems.append(f"request leaves the site: {r.request.url[:120]}")
            r.abort()
    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(400)
    try:
        yield page, problems
    finally:
        context.close()


def page_problems(page) -> list[str]:
    """Everything wrong with the page as laid out now (see ``PAGE_PROBLEMS_JS``)."""
    return page.evaluate(PAGE_PROBLEMS_JS)


def search_hits(page, query: str) -> int:
    """How many results the site's search box lists for ``query``."""
    page.click("#quarto-search")
    page.keyboard.type(query)
    page.wait_for_timeout(1200)
    return page.evaluate("() => document.querySelectorAll('.aa-Item').length")


def widgets_respond(page) -> list[str]:
    """Poke every widget (the control its ``data-poke`` names, else its first slider, else its second button)
    and report those whose drawing did not change, or that then hide part of themselves in a sideways scroll."""
    return page.evaluate(r"""async () => {
      const stale = [];
      const snapshot = w => [...w.querySelectorAll('canvas')].map(c => { try { return c.toDataURL(); } catch (e) { return ''; } }).join('|') + (w.dataset.state || '');
      for (const w of document.querySelectorAll('.aebook-widget')) {
        w.scrollIntoView();
        await new Promise(r => setTimeout(r, 150));
        const before = snapshot(w);
        const slider = w.querySelector('input[type=range]');
        const buttons = w.querySelectorAll('button, canvas.aew-thumb');
        const poke = w.dataset.poke && w.querySelector(w.dataset.poke);  // a widget may name its own control
        if (poke) poke.click();
        else if (slider) { slider.value = slider.max; slider.dispatchEvent(new Event('input', {bubbles: true})); }
        else if (buttons.length > 1) buttons[1].click();
        else { const c = w.querySelector('canvas'); const r = c.getBoundingClientRect();
               for (const t of ['pointerdown', 'pointermove', 'pointerup', 'mousemove', 'click'])
                 c.dispatchEvent(new PointerEvent(t, {bubbles: true, clientX: r.left + r.width * 0.7, clientY: r.top + r.height * 0.3, pointerId: 1})); }
        await new Promise(r => setTimeout(r, 700));
        if (snapshot(w) === before) stale.push(w.dataset.widget || w.id || 'a widget');
        // after the poke (the bottleneck's wider model, say): nothing inside scrolls sideways out of view
        const hidden = [w, ...w.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 2
          && ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX));
        if (hidden.length) stale.push((w.dataset.widget || w.id || 'a widget') + ': part of it scrolls sideways out of view');
      }
      return stale;
    }""")

"""Open pages in the system's Chromium through Playwright, recording errors and outside requests."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bookkit.browser import NoBrowser, chromium_path, launch  # noqa: F401 - chromium_path: the tests' skip test


@dataclass
class Visit:
    page: object
    errors: list[str] = field(default_factory=list)    # uncaught exceptions and console errors
    outside: list[str] = field(default_factory=list)   # requests that left the page's own files


@contextmanager
def browser():
    """A headless Chromium (``bookkit.browser.launch``), or a pytest skip that says plainly why there is none."""
    if chromium_path() is None:
        pytest.skip("browser checks did not run: no Chromium on PATH "
                    "(Debian/Ubuntu: apt-get install chromium)")
    with launch() as b:
        yield b


@contextmanager
def visit(b, html_file: Path, width: int = 1200, height: int = 900):
    """Open a local HTML file; block and record every request that is not a local file."""
    context = b.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    v = Visit(page)
    page.on("pageerror", lambda exc: v.errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: v.errors.append(f"console: {msg.text}") if msg.type == "error" else None)

    def route(r):
        url = r.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            r.continue_()
        else:
            v.outside.append(url)
            r.abort()
    page.route("**/*", route)
    page.goto(Path(html_file).resolve().as_uri())
    page.wait_for_load_state("load")
    try:
        yield v
    finally:
        context.close()


def screenshot_dir() -> Path:
    """Where browser tests leave their screenshots for a person to look at."""
    folder = Path(__file__).resolve().parents[1] / "_build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

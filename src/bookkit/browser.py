"""The one way the book's tools start a browser: the system's Chromium, headless, through Playwright.

No browser is ever downloaded: ``chromium_path`` finds Debian's Chromium (or any Chrome on
PATH), and ``launch`` starts it with the flags a closed network needs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

BROWSER_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # headless, and quiet on a closed network


class NoBrowser(RuntimeError):
    """No Chromium or Chrome on PATH; the message says how to install one."""


def chromium_path() -> str | None:
    """The Debian/Ubuntu Chromium, or any chromium/chrome on PATH (None when there is none)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@contextmanager
def launch() -> Iterator[object]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards; ``NoBrowser`` when there is none."""
    path = chromium_path()
    if path is None:
        raise NoBrowser("no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=BROWSER_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()

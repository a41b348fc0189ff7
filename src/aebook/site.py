"""Make rendered pages self-contained: plotly.js from the site's own files, no CDN scripts.

Quarto, told ``plotly-connected: false``, inlines the whole of plotly.js into every page
that has a figure, and adds require.js and jQuery from a public CDN to any page whose
cells print HTML. ``offline_page`` replaces the inlined library with one shared file
(``site_libs/aebook/plotly.min.js``, linked with a path relative to the page) and drops
the CDN loaders, which nothing in this book needs. ``python -m aebook.site`` does this
to every page of ``_book/`` and is the project's post-render step.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

PLOTLY_DIR = Path("site_libs") / "aebook"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_REMOTE_SRC = re.compile(r"""<script\b[^>]*\bsrc=["']https?://[^"']*["'][^>]*>\s*</script>""", re.I)
_REQUIRE_SHIM = "define('jquery', [],function() {return window.jQuery;})"
_PLOTLY_HEADER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")


def plotly_js() -> Path:
    """The plotly.js bundled with the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def strip_remote_scripts(html: str) -> str:
    """The page without ``<script src="https://…">`` loaders (require.js, jQuery, MathJax) or the jQuery shim."""
    html = _REMOTE_SRC.sub("", html)
    return _SCRIPT.sub(lambda m: "" if _REQUIRE_SHIM in m.group(0) else m.group(0), html)


def offline_page(html: str, plotly_src: str) -> str:
    """The page with inlined plotly.js replaced by ``plotly_src`` (loaded once) and CDN loaders removed."""
    html = strip_remote_scripts(html)
    loaded = False

    def replace(match: re.Match) -> str:
        nonlocal loaded
        block = match.group(0)
        if _PLOTLY_HEADER.search(block[:2000]):
            if loaded:
                return ""
            loaded = True
            return f'<script src="{plotly_src}"></script>'
        return block
    return _SCRIPT.sub(replace, html)


def remote_requests(html: str) -> list[str]:
    """Addresses off the site that the page would load: scripts, styles, images, frames, CSS imports.

    Links a reader may click (``<a href>``) are not requests and are not listed.
    """
    loaded = []
    for tag in re.findall(r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*>", html, re.I):
        loaded += re.findall(r"""\b(?:src|href)=["']((?:https?:)?//[^"']+)["']""", tag, re.I)
    loaded += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s;]+)""", html)
    return loaded


def offline_site(out_dir: Path, pages: list[Path] | None = None) -> list[Path]:
    """Rewrite every page of a rendered site in place; copy plotly.js once into ``site_libs``."""
    out_dir = Path(out_dir)
    target = out_dir / PLOTLY_DIR / "plotly.min.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js(), target)
    changed = []
    for page in pages or sorted(out_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        rel = os.path.relpath(target, page.parent).replace(os.sep, "/")
        new = offline_page(text, rel)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Post-render entry point: the output folder is ``_book`` (or the first argument)."""
    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0]) if args else Path(os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_book"))
    if not out.is_dir():
        print(f"[site] no rendered site in {out}; nothing to make offline", file=sys.stderr)
        return 1
    changed = offline_site(out)
    print(f"[site] {len(changed)} page(s) now load plotly.js from {PLOTLY_DIR}/ and nothing from a CDN")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

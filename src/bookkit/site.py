"""Make rendered pages self-contained: plotly.js from the site's own files, no CDN scripts.

Quarto, told ``plotly-connected: false``, inlines the whole of plotly.js into every page
that has a figure, and adds require.js and jQuery from a public CDN to any page whose
cells print HTML. ``offline_page`` replaces the inlined library with one shared file
(``site_libs/aebook/plotly.min.js``, linked with a path relative to the page) and drops
the CDN loaders, which nothing in this book needs. That file is the book's own partial
bundle (``assets/plotly/``, built by ``make plotly-bundle``: the trace types of
``plots.TRACE_TYPES`` only, a third of the full library) whenever it fits the pages
(``choose_plotly``), else the full plotly.js of the installed plotly package. ``python -m bookkit.site`` does this
to every page of ``_book/`` and is the project's post-render step.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from aebook.files import SaveError, write_atomic
from aebook.runtime import project_root

PLOTLY_DIR = Path("site_libs") / "aebook"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_REMOTE_SRC = re.compile(r"""<script\b[^>]*\bsrc=["']https?://[^"']*["'][^>]*>\s*</script>""", re.I)
_REQUIRE_SHIM = "define('jquery', [],function() {return window.jQuery;})"
_PLOTLY_HEADER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")


def plotly_js() -> Path:
    """The plotly.js bundled with the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


_BUNDLE_BANNER = re.compile(r"plotly\.js v(\d+\.\d+\.\d+) \| partial bundle for aebook, traces: ([a-z0-9, ]+) \|")
_NEW_PLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]*\",\s*")


def partial_bundle() -> Path:
    """The book's plotly.js with only the trace types it draws (``make plotly-bundle``)."""
    return project_root() / "assets" / "plotly" / "plotly-aebook.min.js"


def js_version(path: Path) -> str | None:
    """The plotly.js version in a bundle's header comment."""
    match = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", path.read_text(encoding="utf-8", errors="replace")[:600])
    return match.group(1) if match else None


def page_trace_types(html: str) -> set[str]:
    """The trace types the page's figures draw (the data of each ``Plotly.newPlot`` call, not its template)."""
    import json

    decoder, types = json.JSONDecoder(), set()
    for match in _NEW_PLOT.finditer(html):
        try:
            traces, _ = decoder.raw_decode(html, match.end())
        except ValueError:
            continue
        types |= {t.get("type", "scatter") for t in traces if isinstance(t, dict)}
    return types


def choose_plotly(pages: list[str]) -> tuple[Path, str]:
    """The plotly.js to ship with ``pages`` (their HTML), and why: the partial bundle when it exists,
    is the version the installed plotly package writes figures for, and has every trace type
    the pages draw; otherwise the full library."""
    full, bundle = plotly_js(), partial_bundle()
    if not bundle.exists():
        return full, f"full plotly.js: no partial bundle at {bundle} (make plotly-bundle builds it)"
    match = _BUNDLE_BANNER.search(bundle.read_text(encoding="utf-8", errors="replace")[:600])
    if match is None:
        return full, f"full plotly.js: {bundle.name} has no header naming its version and traces"
    version, traces = match.group(1), {t.strip() for t in match.group(2).split(",")}
    if version != js_version(full):
        return full, (f"full plotly.js: the partial bundle is v{version}, the installed plotly package "
                      f"draws for v{js_version(full)} (make plotly-bundle rebuilds it)")
    missing = set().union(*(page_trace_types(html) for html in pages)) - traces
    if missing:
        return full, (f"full plotly.js: the pages draw {', '.join(sorted(missing))}, which the partial bundle "
                      "lacks (add it to plots.TRACE_TYPES and run make plotly-bundle)")
    return bundle, f"partial plotly.js v{version} ({', '.join(sorted(traces))}), {bundle.stat().st_size / 1e6:.2f} MB"


def strip_remote_scripts(html: str) -> str:
    """The page without ``<script src="https://…">`` loaders (require.js, jQuery, MathJax) or the jQuery shim."""
    html = _REMOTE_SRC.sub("", html)
    return _SCRIPT.sub(lambda m: "" if _REQUIRE_SHIM in m.group(0) else m.group(0), html)


def offline_page(html: str, plotly_src: str) -> str:
    """The page with plotly.js loaded once from ``plotly_src`` and CDN loaders removed.

    An inlined copy of plotly.js is replaced by the link; a page whose figures carry no copy
    gets the link in its ``<head>``.
    """
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
    html = _SCRIPT.sub(replace, html)
    if not loaded and 'class="plotly-graph-div"' in html and plotly_src not in html:
        # figures rendered without a copy of the library (aebook.display.PageRenderer): load it in <head>,
        # before the inline scripts that call Plotly.newPlot
        html = html.replace("</head>", f'<script src="{plotly_src}"></script>\n</head>', 1)
    return html


def remote_requests(html: str) -> list[str]:
    """Addresses off the site that the page would load: scripts, styles, images, frames, CSS imports.

    Links a reader may click (``<a href>``) are not requests and are not listed.
    """
    loaded = []
    for tag in re.findall(r"<(?:script|link|img|iframe|source|video|audio)\b[^>]*>", html, re.I):
        loaded += re.findall(r"""\b(?:src|href)=["']((?:https?:)?//[^"']+)["']""", tag, re.I)
    loaded += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s;]+)""", html)
    return loaded


_MODULE_TAG = re.compile(r'<script src="([^"]*?)quarto-html/(quarto|tabsets/tabsets)\.js" type="module"></script>\n?')
_SEARCH_TAG = re.compile(r'<script src="([^"]*?)quarto-search/quarto-search\.js"></script>')
_SEARCH_PATCHES = (  # (Quarto 1.7's text, the same with the embedded index used first)
    ('if (window.location.protocol === "file:" && !shownWarning) {',
     'if (window.location.protocol === "file:" && !window.aebookSearchIndex && !shownWarning) {'),
    ('const response = await fetch(offsetURL("search.json"));',
     'if (window.aebookSearchIndex) {\n      window.aebookSearchIndex.forEach((d) => fuse.add(d));\n'
     '      fuseIndex = fuse;\n      return fuseIndex;\n    }\n'
     '    const response = await fetch(offsetURL("search.json"));'),
)


def file_friendly(out_dir: Path) -> list[str]:
    """Make a rendered site work opened from disk (``file://``) as well as served; return what was done.

    Browsers refuse ES modules and ``fetch`` on ``file://``. Quarto 1.6+ loads ``quarto.js``
    (table of contents, code tools) and ``tabsets.js`` as modules, and search fetches
    ``search.json``. So: the two modules become one ordinary deferred script (same run time,
    after parsing), and the search index is also written as a script that sets
    ``window.aebookSearchIndex``, which the search code reads before trying ``fetch``.
    Each change is made only where Quarto's files read as expected; otherwise it says so.
    """
    out_dir = Path(out_dir)
    libs, done = out_dir / "site_libs", []
    quarto_js, tabsets_js = libs / "quarto-html" / "quarto.js", libs / "quarto-html" / "tabsets" / "tabsets.js"
    if quarto_js.exists() and tabsets_js.exists():
        quarto, tabsets = quarto_js.read_text(encoding="utf-8"), tabsets_js.read_text(encoding="utf-8")
        if quarto.startswith('import * as tabsets from "./tabsets/tabsets.js";') and "export function init" in tabsets \
                and "export " not in quarto:
            classic = ("(function () {\nconst tabsets = (function () {\n"
                       + tabsets.replace("export function init", "function init") + "\nreturn { init };\n})();\n"
                       + quarto.split("\n", 1)[1] + "\n})();\n")
            write_atomic(libs / "aebook" / "quarto-classic.js", classic)
            done.append("quarto.js and tabsets.js joined into site_libs/aebook/quarto-classic.js (no ES module)")
        else:
            raise UnknownQuarto("quarto.js is not laid out as Quarto 1.7's is, so the site cannot be made to work "
                                "from disk; render with Quarto 1.7 (quarto-required in _quarto.yml)")
    search_js, index = libs / "quarto-search" / "quarto-search.js", out_dir / "search.json"
    if search_js.exists() and index.exists():
        code = search_js.read_text(encoding="utf-8")
        if all(old in code for old, _ in _SEARCH_PATCHES):
            for old, new in _SEARCH_PATCHES:
                code = code.replace(old, new)
            write_atomic(search_js, code)
            data = index.read_text(encoding="utf-8").replace("</", "<\\/")
            write_atomic(libs / "aebook" / "search-index.js", f"window.aebookSearchIndex = {data};\n")
            done.append("search index embedded as site_libs/aebook/search-index.js")
        elif "aebookSearchIndex" not in code:
            raise UnknownQuarto("quarto-search.js is not Quarto 1.7's, so search cannot be made to work from "
                                "disk; render with Quarto 1.7 (quarto-required in _quarto.yml)")
    return done


def file_friendly_page(html: str) -> str:
    """A page that loads the classic quarto script and the embedded search index (see ``file_friendly``)."""
    def module(match: re.Match) -> str:
        prefix, name = match.group(1), match.group(2)
        return f'<script src="{prefix}aebook/quarto-classic.js" defer></script>\n' if name == "quarto" else ""
    html = _MODULE_TAG.sub(module, html)
    return _SEARCH_TAG.sub(lambda m: f'<script src="{m.group(1)}aebook/search-index.js"></script>\n'
                                     f'{m.group(0)}', html)


class UnknownQuarto(RuntimeError):
    """Quarto's scripts are not the ones ``file_friendly`` knows how to patch (another Quarto version)."""


def add_wheel(out_dir: Path) -> Path:
    """Build the book's package as a wheel into the site (``python/aebook-<version>-py3-none-any.whl``).

    A chapter notebook downloaded from the site installs the package from there (its set-up cell
    names the wheel's address when ``book: site-url`` is configured), so it gets the code the
    pages were computed with, not whatever a repository holds later. Built offline, from this
    checkout, with the setuptools already installed (no build isolation, no download).
    """
    import shutil
    import subprocess
    import tempfile

    from bookkit.notebooks import WHEEL_DIR, wheel_name

    import aebook

    target = Path(out_dir) / WHEEL_DIR / wheel_name()
    # the checkout of the package that computed the pages (an editable install: src/aebook's grandparent),
    # else the project being rendered
    checkout = Path(aebook.__file__).resolve().parents[2]
    root = checkout if (checkout / "pyproject.toml").is_file() else project_root()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"  # a copy: building writes build/ and *.egg-info beside the sources
        source.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE", "src"):
            if not (root / name).exists():
                raise SaveError(f"could not build the package's wheel for the site: {root} has no {name}")
            if (root / name).is_dir():
                shutil.copytree(root / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                shutil.copy2(root / name, source / name)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                               "--wheel-dir", tmp, str(source)], capture_output=True, text=True)
        built = Path(tmp) / wheel_name()
        if done.returncode != 0 or not built.exists():
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise SaveError(f"could not build the package's wheel for the site ({why})")
        write_atomic(target, built.read_bytes())
    return target


def offline_site(out_dir: Path, pages: list[Path] | None = None, steps: list[str] | None = None) -> list[Path]:
    """Rewrite every page of a rendered site in place; copy plotly.js once into ``site_libs``.

    What was done besides plotly.js (``file_friendly``) is appended to ``steps`` when given.
    """
    out_dir = Path(out_dir)
    pages = pages or sorted(out_dir.rglob("*.html"))
    target = out_dir / PLOTLY_DIR / "plotly.min.js"
    source, why = choose_plotly([page.read_text(encoding="utf-8") for page in pages])
    write_atomic(target, source.read_bytes())
    changed = []
    done = [why] + file_friendly(out_dir)
    if steps is not None:
        steps.extend(done)
    classic = (out_dir / PLOTLY_DIR / "quarto-classic.js").exists()
    searchable = (out_dir / PLOTLY_DIR / "search-index.js").exists()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        rel = os.path.relpath(target, page.parent).replace(os.sep, "/")
        new = offline_page(text, rel)
        if classic and searchable:
            new = file_friendly_page(new)
        if new != text:
            write_atomic(page, new)
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Post-render entry point: the output folder is ``_book`` (or the first argument)."""
    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0]) if args else Path(os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_book"))
    if not out.is_dir():
        print(f"[site] no rendered site in {out}; nothing to make offline", file=sys.stderr)
        return 1
    steps: list[str] = []
    try:
        changed = offline_site(out, steps=steps)
        wheel = add_wheel(out)
    except UnknownQuarto as exc:
        print(f"[site] {exc}", file=sys.stderr)
        return 1
    except SaveError as exc:  # a full disk, say: each page is whole, either rewritten or as Quarto wrote it
        print(f"[site] {exc}; the pages not rewritten yet are left as Quarto wrote them", file=sys.stderr)
        return 1
    print(f"[site] {len(changed)} page(s) now load plotly.js from {PLOTLY_DIR}/ and nothing from a CDN")
    for step in steps:
        print(f"[site] {step}")
    print(f"[site] the book's package, for notebooks opened outside a clone: {wheel.relative_to(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

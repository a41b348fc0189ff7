"""Chapters as notebooks: convert a Quarto ``.qmd`` to ``.ipynb`` and execute it top to bottom.

    python -m aebook.notebooks chapters/01-fully-connected.qmd            # write notebooks/…ipynb
    python -m aebook.notebooks --all                                       # every chapter of the book
    python -m aebook.notebooks --execute --html chapters/01-fully-connected.qmd

Conversion uses jupytext's R Markdown reader, which understands ```` ```{python} ````
chunks without needing Quarto. Execution runs a fresh Jupyter kernel (nbclient) in the
project root, as Quarto does with ``execute-dir: project``, and evaluates every inline
`` `{python} expr` `` where it stands in the text, the way Quarto does, substituting the result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from aebook.runtime import project_root

INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`")
_MARK = "AEBOOK-INLINE:"
_TAG = "aebook-inline"
# What Quarto's Jupyter setup does before the first cell when ``plotly-connected: false``.
_QUARTO_SETUP = """\
import plotly.io as pio
pio.renderers.default = "notebook"
for _t in pio.templates.keys():
    pio.templates[_t].layout.margin = dict(t=30, r=0, b=0, l=0)
"""


@dataclass
class Execution:
    """An executed notebook and what happened to its inline expressions."""

    notebook: nbformat.NotebookNode
    inline: dict[str, str] = field(default_factory=dict)          # expression -> rendered text
    inline_errors: dict[str, str] = field(default_factory=dict)   # expression -> error


def chapter_paths() -> list[Path]:
    """The book's chapters in order, read from ``_quarto.yml``."""
    import yaml

    config = yaml.safe_load((project_root() / "_quarto.yml").read_text())
    return [project_root() / p for p in _flatten(config["book"]["chapters"])]


def _flatten(entries: list) -> list[str]:
    """Chapter files from a Quarto chapter list, descending into ``part:`` entries."""
    files: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            files.append(entry)
        elif isinstance(entry, dict):
            if str(entry.get("part", "")).endswith(".qmd"):
                files.append(entry["part"])
            files.extend(_flatten(entry.get("chapters", [])))
    return files


def cell_options(source: str) -> dict:
    """The Quarto ``#| key: value`` options at the top of a code cell."""
    import yaml

    lines = [line[3:] for line in source.splitlines() if line.startswith("#| ")]
    return (yaml.safe_load("\n".join(lines)) or {}) if lines else {}


def qmd_to_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a chapter and return an unexecuted notebook of it, in plain Jupyter Markdown."""
    import jupytext
    import yaml

    from aebook.quarto_md import bib_entries, plain_markdown, section_titles

    path = Path(path).resolve()
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="Rmd")
    title = None
    if nb.cells and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("---"):
        title = (yaml.safe_load(nb.cells[0].source.strip().strip("-")) or {}).get("title")
        nb.cells.pop(0)
    book = [p for p in _book_files() if p.exists() and p != path] + [path]
    sections = section_titles([p.read_text(encoding="utf-8") for p in book])
    bib_path = project_root() / "references.bib"
    bib = bib_entries(bib_path) if bib_path.exists() else {}
    labels = [cell_options(c.source) for c in nb.cells if c.cell_type == "code"]
    numbered = [o.get("label", "") for o in labels]
    figures = {lab: i + 1 for i, lab in enumerate(x for x in numbered if x.startswith("fig-"))}
    tables = {lab: i + 1 for i, lab in enumerate(x for x in numbered if x.startswith("tbl-"))}
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, figures, tables, sections, bib)
        cells.append(cell)
        options = cell_options(cell.source) if cell.cell_type == "code" else {}
        label = options.get("label", "")
        if label in figures and options.get("fig-cap"):
            cells.append(nbformat.v4.new_markdown_cell(f"**Figure {figures[label]}.** {options['fig-cap']}"))
        if label in tables and options.get("tbl-cap"):
            cells.append(nbformat.v4.new_markdown_cell(f"**Table {tables[label]}.** {options['tbl-cap']}"))
    rel = path.relative_to(project_root()) if path.is_relative_to(project_root()) else path.name
    note = (f"*This notebook is generated from `{rel}` of the book's repository. "
            "Run it from a clone of that repository after `pip install -r requirements.txt`.*")
    check = nbformat.v4.new_code_cell(
        "import importlib.util\n"
        "if importlib.util.find_spec('aebook') is None:\n"
        "    raise ModuleNotFoundError(\"This chapter needs the book's package 'aebook': in a clone of \"\n"
        "                              \"the book's repository run `pip install -r requirements.txt`, \"\n"
        "                              \"then restart the kernel.\")")
    if not title and cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# "):
        title, _, rest = cells[0].source.partition("\n")  # the chapter's own first heading
        title = title[2:].strip()
        cells[0].source = rest.strip()
        if not cells[0].source:
            cells.pop(0)
    head = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{note}" if title else note)]
    if any(c.cell_type == "code" for c in cells):
        head.append(check)
    nb.cells = head + cells
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        cell.metadata = {}
        cell["id"] = f"cell-{i}"
    return nb


def _book_files() -> list[Path]:
    """Chapter files of the book, or none when there is no ``_quarto.yml``."""
    try:
        return chapter_paths()
    except (OSError, KeyError, TypeError):
        return []


def inline_expressions(source: str) -> list[str]:
    """The inline `` `{python} expr` `` expressions of a markdown text, in order."""
    return [m.group(2).strip() for m in INLINE.finditer(source)]


def execute(nb: nbformat.NotebookNode, cwd: Path | None = None, timeout: int = 1800,
            kernel_name: str = "python3") -> Execution:
    """Run ``nb`` top to bottom in a fresh kernel and resolve its inline expressions."""
    from nbclient import NotebookClient

    work = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = [nbformat.v4.new_code_cell(_QUARTO_SETUP, metadata={"tags": [_TAG]})]
    for cell in work.cells:
        cells.append(cell)
        exprs = inline_expressions(cell.source) if cell.cell_type == "markdown" else []
        if exprs:
            probe = ("import json as _j\n"
                     f"print({_MARK!r} + _j.dumps(get_ipython().user_expressions({dict(enumerate(exprs))!r})))")
            cells.append(nbformat.v4.new_code_cell(probe, metadata={"tags": [_TAG]}))
    work.cells = cells
    client = NotebookClient(work, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd or project_root())}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no start-up chatter
    _run_interruptibly(client, {**os.environ, "AEBOOK_PROGRESS": os.environ.get("AEBOOK_PROGRESS", "0")})
    return _resolve_inline(work)


def _run_interruptibly(client, env: dict) -> None:
    """``client.execute`` in a worker thread, so that Ctrl-C stops it cleanly.

    On the main thread nbclient installs its own SIGINT handler, which shuts the kernel down
    mid-cell (the kernel then prints a traceback) and ends in an unrelated error. Off the
    main thread it installs none, so Ctrl-C reaches us: we kill the kernel at once and raise
    ``KeyboardInterrupt``. Nothing half-done is kept: the model cache only writes finished
    models, and the notebook is written only after a complete run.
    """
    if threading.current_thread() is not threading.main_thread():
        client.execute(env=env)
        return
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            client.execute(env=env)
        except BaseException as exc:  # noqa: BLE001 - handed back to the main thread below
            outcome["error"] = exc
    worker = threading.Thread(target=work, name="aebook-notebook", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()
        worker.join(30)
        raise KeyboardInterrupt from None
    if "error" in outcome:
        raise outcome["error"]


def _resolve_inline(nb: nbformat.NotebookNode) -> Execution:
    """Substitute inline results into the markdown cells and drop the probe cells."""
    result = Execution(nb)
    kept = []
    for cell in nb.cells:
        if _TAG not in cell.get("metadata", {}).get("tags", []):
            kept.append(cell)
            continue
        if _MARK not in cell.source:
            continue  # the setup cell: nothing to resolve
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        answers = json.loads(text.split(_MARK, 1)[1]) if _MARK in text else {}
        markdown = kept[-1]
        exprs = inline_expressions(markdown.source)
        rendered: dict[str, str] = {}
        for i, expr in enumerate(exprs):
            answer = answers.get(str(i), {"status": "error", "ename": "NoResult", "evalue": text})
            if answer.get("status") != "ok":
                result.inline_errors[expr] = f"{answer.get('ename')}: {answer.get('evalue')}"
                continue
            rendered[expr] = _as_markdown(answer["data"])
        result.inline.update(rendered)
        markdown.source = INLINE.sub(
            lambda m: m.group(1) + rendered.get(m.group(2).strip(), m.group(0)[len(m.group(1)):]),
            markdown.source)
    nb.cells = kept
    return result


def _as_markdown(data: dict) -> str:
    """Quarto's rule for an inline result: text/markdown as is; a quoted text/plain string
    loses its quotes and has Markdown characters escaped (so it can carry no formatting,
    cross-reference or citation); any other text/plain is used as is."""
    if "text/markdown" in data:
        return data["text/markdown"]
    text = data.get("text/plain", "")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].replace("\\", "\\\\")
        text = re.sub(r"([\\`*_{}\[\]()>#+,\-.!])", r"\\\1", text)
    return text


def to_html(nb: nbformat.NotebookNode) -> str:
    """HTML of an executed notebook (nbconvert's lab template), for checking in a browser.

    The template's CDN loaders (require.js, MathJax) are removed, so the page loads nothing
    from outside (plotly.js is inlined by the executed notebook; TeX shows as source).
    """
    from nbconvert import HTMLExporter

    from aebook.site import strip_remote_scripts

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return strip_remote_scripts(body)


CLI_HELP = """Write each chapter as a Jupyter notebook, and optionally execute it.

Conversion reads the chapter's .qmd with jupytext; execution runs the notebook top to
bottom in a fresh Jupyter kernel in the project root and fills in every inline value,
as Quarto does. Ctrl-C stops the whole run. A failing chapter prints the cell, the
error's last line and where the full traceback was written (--verbose prints it)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_report(path: Path, exc: BaseException, log: Path, verbose: bool) -> str:
    """What to print for a chapter that failed: the cell, the error's last line, the log (no colour codes)."""
    text = _ANSI.sub("", str(exc))
    log.write_text(text, encoding="utf-8")
    label = re.search(r"#\| label: (\S+)", text)
    last = next((line.strip() for line in reversed(text.strip().splitlines())
                 if line.strip() and not line.startswith(("---", "  "))), type(exc).__name__)
    where = f"cell {label.group(1)!r}" if label else "a cell"
    lines = [f"FAILED {path}: {where} raised {last}", f"  full traceback: {log}"]
    if verbose:
        lines.append(text)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: convert (and optionally execute) chapters into ``notebooks/``."""
    parser = argparse.ArgumentParser(prog="python -m aebook.notebooks", description=CLI_HELP,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter .qmd files")
    parser.add_argument("--all", action="store_true", help="every chapter listed in _quarto.yml")
    parser.add_argument("--execute", action="store_true", help="run each notebook in a fresh kernel")
    parser.add_argument("--html", action="store_true", help="with --execute, also write an HTML export")
    parser.add_argument("--out", type=Path, default=project_root() / "notebooks", help="output folder")
    parser.add_argument("--verbose", action="store_true", help="print a failing chapter's whole traceback")
    args = parser.parse_args(argv)
    paths = chapter_paths() if args.all else args.chapters
    if not paths:
        parser.error("name at least one chapter, or pass --all")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.execute:  # Ctrl-C stops the run even when it was started with SIGINT ignored (a background job)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = 0
    for number, path in enumerate(paths, 1):
        nb = qmd_to_notebook(path)
        target = args.out / (Path(path).stem + ".ipynb")
        if args.execute:
            try:
                run = execute(nb)
            except KeyboardInterrupt:
                print(f"interrupted while executing chapter {number} of {len(paths)} ({path}); its notebook was "
                      "not written, and nothing was cached for a model still in training", file=sys.stderr)
                return 130
            except Exception as exc:  # noqa: BLE001 - report every chapter, then fail
                print(failure_report(Path(path), exc, target.with_suffix(".log"), args.verbose), file=sys.stderr)
                failed += 1
                continue
            nb = run.notebook
            for expr, err in run.inline_errors.items():
                print(f"FAILED {path}: inline `{{python}} {expr}` -> {err}", file=sys.stderr)
                failed += 1
            if args.html:
                target.with_suffix(".html").write_text(to_html(nb), encoding="utf-8")
        nbformat.write(nb, target)
        print(f"wrote {target}" + (" (executed)" if args.execute else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

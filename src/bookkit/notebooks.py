"""Chapters as notebooks: convert a Quarto ``.qmd`` to ``.ipynb`` and execute it top to bottom.

    python -m bookkit.notebooks chapters/01-fully-connected.qmd            # write notebooks/…ipynb
    python -m bookkit.notebooks --all                                       # every chapter of the book
    python -m bookkit.notebooks --all --execute                             # …with every output filled in

Conversion uses jupytext's R Markdown reader, which understands ```` ```{python} ````
chunks without needing Quarto, then rewrites Quarto-only Markdown (``aebook.quarto_md``).
A paragraph with inline values becomes a hidden-source cell that calls ``prose``, so a
notebook shows the numbers of its own run in any Jupyter front end. Execution is plain
nbclient: a fresh kernel in the project root, as Quarto runs chapters with
``execute-dir: project``.
"""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED_AT_START = "interrupted before any chapter ran; nothing was written"


def _interrupted_at_start(signum: int, frame: object) -> None:
    """Ctrl-C while ``python -m bookkit.notebooks`` is still starting (importing): one line, exit 130."""
    os.write(2, (INTERRUPTED_AT_START + "\n").encode())
    os._exit(130)  # nothing has been written or started yet, so there is nothing to clean up


def bad_switch() -> str | None:
    """The one-line message of an ``AEBOOK_*`` switch with a wrong value, or None when all are fine."""
    try:
        from aebook import runtime  # validates every switch when first imported

        runtime.check_switches()  # and again now, for a caller whose environment changed since
    except ValueError as exc:  # runtime.SwitchError (a failed import leaves no module to name it by)
        if type(exc).__name__ != "SwitchError":
            raise
        return str(exc)
    return None


if __name__ == "__main__":  # the command: from its first instant, Ctrl-C or a bad switch is one line
    signal.signal(signal.SIGINT, _interrupted_at_start)  # until ``main`` takes over (SIGINT ignored too)
    if (_bad := bad_switch()) is not None:
        print(_bad, file=sys.stderr)
        raise SystemExit(2)

import argparse  # noqa: E402 - below the guard, so that it covers these imports too
import atexit  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402

from aebook.files import SaveError, try_save, write_atomic  # noqa: E402
from aebook.quarto_md import CLAIM_ATTRS, CLAIM_DIV, INLINE  # noqa: E402
from aebook.runtime import project_root  # noqa: E402
from bookkit.project import (book_files, cell_labels, cell_options, chapter_paths, repository,  # noqa: E402,F401
                             repository_ref, site_url)

PROSE_TAG = "aebook-prose"  # a paragraph with inline values, shown by ``prose``
HIDDEN = {"jupyter": {"source_hidden": True}, "cellView": "form"}  # JupyterLab/VS Code, Colab


@dataclass
class Execution:
    """An executed notebook and the values its inline expressions showed."""

    notebook: nbformat.NotebookNode
    inline: dict[str, str] = field(default_factory=dict)  # expression -> rendered Markdown
    # cell index -> the kernel's peak resident memory (MiB) when that cell had run; empty where the
    # operating system does not say (``kernel_peak_mib``)
    peak_mib: dict[int, float] = field(default_factory=dict)


SETUP = """\
# Set-up. The chapter imports the book's package, aebook. Where it is missing (a downloaded
# notebook, Colab), this cell installs it from the first of these that works:
# AEBOOK_INSTALL_FROM (a clone's folder, a wheel or any pip requirement); the clone of the
# book this notebook sits in; {origins}.
import importlib, importlib.util, os, pathlib, subprocess, sys
if importlib.util.find_spec("aebook") is None:
    _here = pathlib.Path.cwd()
    _clone = [str(p) for p in (_here, *_here.parents) if (p / "src" / "aebook" / "__init__.py").is_file()]
    _sources = [s for s in [os.environ.get("AEBOOK_INSTALL_FROM"), *_clone[:1],{sources}] if s]
    if not _sources:
        raise ModuleNotFoundError("aebook is not installed, and this notebook does not know where the book is "
                                  "published: set AEBOOK_INSTALL_FROM to a clone's folder or to the book's wheel "
                                  "(python/aebook-{version}-py3-none-any.whl on its site), then run this cell again")
    for _source in _sources:
        print(f"installing the book's package from {{_source}} (a few minutes the first time)")
        _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _source],
                              capture_output=True, text=True)
        if _pip.returncode == 0:
            break
        print("  that did not work:", (_pip.stderr.strip().splitlines() or ["no message"])[-1])
    else:
        raise ModuleNotFoundError("could not install aebook (tried: " + ", ".join(_sources) + "); install it "
                                  "by hand (pip install -r requirements.txt in a clone), then restart the kernel")
    importlib.invalidate_caches()
from aebook.quarto_md import prose  # shows the text cells that carry this run's numbers
"""

WHEEL_DIR = "python"  # where a rendered site carries the package's wheel (``bookkit.site.add_wheel``)


def wheel_name() -> str:
    """The file name of the package's wheel (pure Python, any platform)."""
    from aebook import __version__

    return f"aebook-{__version__}-py3-none-any.whl"


def install_sources() -> list[str]:
    """Where a notebook outside a clone installs the package from, as configured in ``_quarto.yml``:
    the published site's own wheel (``book: site-url``), then the repository (``book: repo-url`` at
    ``repo-branch``). Empty when neither is configured: nothing is guessed."""
    sources = []
    if site := site_url():
        sources.append(f"{site}{WHEEL_DIR}/{wheel_name()}")
    if repo := repository():
        sources.append(f"aebook @ git+{repo.removesuffix('/')}@{repository_ref()}")
    return sources


def setup_source() -> str:
    """The set-up cell of every chapter notebook, with this configuration's install sources."""
    from aebook import __version__

    sources = install_sources()
    named = ([f"the book's site, which carries the package it was built with"] if site_url() else []) \
        + (["the book's repository"] if repository() else [])
    origins = "; ".join(named) or "no published site or repository is configured for this copy of the book"
    return SETUP.format(origins=origins, version=__version__,
                        sources="".join(f"\n                            {json.dumps(s)}," for s in sources))


def qmd_to_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a chapter and return an unexecuted notebook of it, in plain Jupyter Markdown."""
    import jupytext
    import yaml

    from bookkit.markdown import bib_entries, cited_keys, plain_markdown, reference_list, section_titles

    path = Path(path).resolve()
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="Rmd")
    title = None
    if nb.cells and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("---"):
        title = (yaml.safe_load(nb.cells[0].source.strip().strip("-")) or {}).get("title")
        nb.cells.pop(0)
    nb.cells = fold_solutions(nb.cells)
    book = [p for p in book_files() if p.exists() and p != path] + [path]
    texts = [p.read_text(encoding="utf-8") for p in book]
    sections = section_titles(texts)
    bib_path = project_root() / "references.bib"
    bib = bib_entries(bib_path) if bib_path.exists() else {}
    labels = [cell_options(c.source) for c in nb.cells if c.cell_type == "code"]
    numbered = [o.get("label", "") for o in labels]
    figures = {lab: i + 1 for i, lab in enumerate(x for x in numbered if x.startswith("fig-"))}
    tables = {lab: i + 1 for i, lab in enumerate(x for x in numbered if x.startswith("tbl-"))}
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = plain_markdown(cell.source, figures, tables, sections, bib)
            if REFS_DIV.search(text):  # the book's reference list, which Quarto builds from the citations
                text = REFS_DIV.sub(lambda _: reference_list(bib_path, cited_keys(texts, bib)), text)
            made = markdown_cells(text)
            if SOLUTION_TAG in cell.metadata.get("tags", []):
                for one in made:
                    one.metadata.setdefault("tags", []).append(SOLUTION_TAG)
            cells.extend(made)
            continue
        cells.append(cell)
        options = cell_options(cell.source)
        label = options.get("label", "")
        if label in figures and options.get("fig-cap"):
            cells.append(nbformat.v4.new_markdown_cell(f"**Figure {figures[label]}.** {options['fig-cap']}"))
        if label in tables and options.get("tbl-cap"):
            cells.append(nbformat.v4.new_markdown_cell(f"**Table {tables[label]}.** {options['tbl-cap']}"))
    if not title and cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# "):
        title, _, rest = cells[0].source.partition("\n")  # the chapter's own first heading
        title = title[2:].strip()
        cells[0].source = rest.strip()
        if not cells[0].source:
            cells.pop(0)
    has_code = any(c.cell_type == "code" for c in cells)
    about = _about(path, has_code)
    head = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{about}" if title else about)]
    if has_code:
        head.append(nbformat.v4.new_code_cell(setup_source()))
    nb.cells = head + cells
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        tags = [t for t in (PROSE_TAG, SOLUTION_TAG) if t in cell.metadata.get("tags", [])]
        cell.metadata = {"tags": tags, **HIDDEN} if PROSE_TAG in tags else ({"tags": tags} if tags else {})
        if SOLUTION_TAG in tags:  # folded, as on the page: JupyterLab and VS Code collapse it, Colab hides the code
            cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            cell.metadata["cellView"] = "form"
        cell["id"] = f"cell-{i}"
    return nb


SOLUTION_TAG = "aebook-solution"  # a cell of an exercise's folded solution
FOLDED = re.compile(r"^(:{3,})[ \t]*\{\.callout-\w+[^}\n]*collapse=[\"']?true[\"']?[^}\n]*\}[ \t]*$", re.M)


def fold_solutions(cells: list) -> list:
    """Folded callouts that hold code cells (an exercise's solution, which runs), as notebook cells.

    jupytext splits such a callout around its code cells, so its fences would show as text. Here
    the callout's title becomes a visible line, and every cell inside it is tagged
    ``aebook-solution`` and collapsed, so a reader opens it on purpose, as on the page.
    """
    out, inside = [], False
    for cell in cells:
        if cell.cell_type != "markdown":
            if inside:
                cell.metadata.setdefault("tags", []).append(SOLUTION_TAG)
            out.append(cell)
            continue
        text = cell.source
        while text:
            if not inside:
                m = FOLDED.search(text)
                if m is None or _closes(text[m.end():]) is not None:  # none, or a callout that closes here
                    out.append(nbformat.v4.new_markdown_cell(text))
                    break
                if text[:m.start()].strip():
                    out.append(nbformat.v4.new_markdown_cell(text[:m.start()].rstrip("\n")))
                title = re.search(r"""title=["']([^"']*)["']""", m.group(0))
                text = text[m.end():].lstrip("\n")
                heading = None if title else re.match(r"#+ ([^\n]+)\n?", text)  # a callout titled by its heading
                if heading:
                    text = text[heading.end():].lstrip("\n")
                name = title.group(1) if title else heading.group(1).strip() if heading else "Solution"
                out.append(nbformat.v4.new_markdown_cell(f"**{name}** (folded: expand the cells below to read it)"))
                inside = True
                continue
            end = _closes(text)
            body, text = (text, "") if end is None else (text[:end[0]], text[end[1]:].lstrip("\n"))
            if body.strip():
                folded = nbformat.v4.new_markdown_cell(body.strip("\n"))
                folded.metadata["tags"] = [SOLUTION_TAG]
                out.append(folded)
            inside = end is None
    return out


def _closes(text: str) -> tuple[int, int] | None:
    """Where the div that ``text`` is inside closes (start and end of its ``:::`` line), counting nested
    divs; None when it does not close in ``text``."""
    depth = 1
    for m in re.finditer(r"^:{3,}[ \t]*(\{[^}\n]*\}|[\w-]+)?[ \t]*$", text, re.M):
        depth += 1 if m.group(1) else -1
        if depth == 0:
            return m.start(), m.end()
    return None


REFS_DIV = re.compile(r"^:::+[ \t]*\{#refs\}[ \t]*\n:::+[ \t]*$", re.M)
FENCE = re.compile(r"^(```|~~~|\$\$)", re.M)


def markdown_cells(text: str) -> list[nbformat.NotebookNode]:
    """A Markdown text as notebook cells: blocks with inline values or claims become ``prose`` cells.

    Blocks are split at blank lines outside fenced code, display math and claim divs
    (``::: {claim=…}``, which stay whole); consecutive blocks of the same kind stay in one
    cell, and headings stay Markdown, so a front end's table of contents still sees them.
    """
    blocks, current, fenced, depth = [], [], False, 0
    for line in text.split("\n"):
        stripped = line.strip()
        if FENCE.match(stripped):
            fenced = not fenced if not (stripped.startswith("$$") and stripped.endswith("$$")
                                        and len(stripped) > 2) else fenced
        if not fenced and (CLAIM_DIV.match(stripped) or (depth and DIV_OPEN.match(stripped))):
            depth += 1
        elif not fenced and depth and DIV_CLOSE.match(stripped):
            depth -= 1
            current.append(line)
            continue
        if not stripped and not fenced and not depth:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    groups: list[tuple[bool, list[str]]] = []  # (has inline values or claims, blocks)
    for block in blocks:
        dynamic = bool(INLINE.search(block) or CLAIM_ATTRS.search(block))
        if groups and groups[-1][0] == dynamic and not block.startswith("#"):
            groups[-1][1].append(block)
        else:
            groups.append((dynamic, [block]))
    return [prose_cell("\n\n".join(b)) if dynamic else nbformat.v4.new_markdown_cell("\n\n".join(b))
            for dynamic, b in groups]


DIV_OPEN = re.compile(r"^:{3,}[ \t]*(\{[^}]*\}|[\w-]+)[ \t]*$")
DIV_CLOSE = re.compile(r"^:{3,}[ \t]*$")


def prose_cell(text: str) -> nbformat.NotebookNode:
    """A hidden-source code cell that shows ``text`` with its inline values (``quarto_md.prose``)."""
    literal = f'r"""\n{text}\n"""' if '"""' not in text and not text.endswith("\\") else json.dumps(text)
    return nbformat.v4.new_code_cell(f"prose({literal})", metadata={"tags": [PROSE_TAG]})


def _about(path: Path, has_code: bool) -> str:
    """The note under a notebook's title: where it comes from and, for a chapter, how it runs."""
    rel = path.relative_to(project_root()) if path.is_relative_to(project_root()) else path.name
    note = f"*Generated from `{rel}` of the book's repository."
    if has_code:
        note += (" Run it top to bottom: the first code cell installs the book's package when it is "
                 "missing, and the text that quotes this run's numbers is shown by cells whose code is "
                 "hidden, so it appears once they have run.")
    return note + "*"


def execute(nb: nbformat.NotebookNode, cwd: Path | None = None, timeout: int = 1800,
            kernel_name: str = "python3") -> Execution:
    """Run ``nb`` top to bottom in a fresh kernel (plain nbclient) and collect its inline values.

    An error it raises carries ``aebook_where`` (a ``Where``): the cell that was running and, when the
    kernel died, the kernel's exit status, so that ``failure_report`` can name both.
    """
    from nbclient import NotebookClient

    work = nbformat.from_dict(json.loads(json.dumps(nb)))
    running: dict = {}
    peaks: dict[int, float] = {}

    def started(cell, cell_index, **_) -> None:
        running["index"] = cell_index

    def measured(cell_index, **_) -> None:
        if (peak := kernel_peak_mib(getattr(getattr(client.km, "provisioner", None), "process", None))) is not None:
            peaks[cell_index] = peak

    def failed(**_) -> None:  # a dead kernel (a RuntimeError), before nbclient cleans the process up
        process = getattr(getattr(client.km, "provisioner", None), "process", None)
        running["exit"] = process.poll() if process is not None else None

    client = NotebookClient(work, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd or project_root())}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no start-up chatter
                            on_cell_execute=started, on_cell_executed=measured, on_notebook_error=failed)
    # The kernel's own standard error (what C libraries print as a kernel dies, say libzmq's
    # assertions) goes to a file, not to our terminal: a failure is then said in our one line,
    # and what the kernel printed is kept in the chapter's log.
    kernel_stderr = tempfile.TemporaryFile()
    try:
        _run_interruptibly(client, {**os.environ, "AEBOOK_PROGRESS": os.environ.get("AEBOOK_PROGRESS", "0")},
                           stderr=kernel_stderr)
    except Exception as exc:
        index = running.get("index")
        kernel_stderr.seek(0)
        printed = kernel_stderr.read()[-20_000:].decode("utf-8", "replace")
        with contextlib.suppress(AttributeError, TypeError):  # an exception type that takes no attributes
            exc.aebook_where = Where(describe_cell(work, index) if index is not None else None,
                                     work.cells[index].source if index is not None else "", running.get("exit"),
                                     printed)
        raise
    finally:
        kernel_stderr.close()
    return Execution(work, inline_values(work), peaks)


def kernel_peak_mib(process) -> float | None:
    """The largest resident memory a running kernel process has had so far (Linux's ``VmHWM``), in
    MiB; None where that cannot be read (another operating system, a kernel already gone).

    Read after each cell, it says which cell of a chapter set the chapter's peak, which the
    peak over all finished children (``getrusage``) cannot."""
    pid = getattr(process, "pid", None)
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line is not None else None


@dataclass
class Where:
    """Where an execution stopped: the cell that was running (None: before the first) and its source,
    and the kernel's exit status when it died (negative: killed by that signal)."""

    cell: str | None
    source: str = ""
    kernel_exit: int | None = None
    kernel_stderr: str = ""  # what the kernel process printed on its own standard error (for the log)


def describe_cell(nb: nbformat.NotebookNode, index: int) -> str:
    """A notebook cell named for a reader of the chapter: its ``#| label:``, else the number of the
    chapter's code cell (in the .qmd's order) and its first line; the set-up and text cells by what they are."""
    cell = nb.cells[index]
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    if PROSE_TAG in cell.get("metadata", {}).get("tags", []):
        text = lines[1] if len(lines) > 1 and lines[0].endswith('"""') else cell.source[len("prose("):]
        return f"the paragraph that starts {_short(text)!r}"
    if cell.source.startswith(SETUP.partition("\n")[0]):
        return "the set-up cell (it imports the book's package)"
    try:
        label = cell_options(cell.source).get("label")
    except Exception:  # noqa: BLE001 - options that are not YAML: name the cell by its number
        label = None
    if label:
        return f"cell {label!r}"
    number = sum(1 for c in nb.cells[:index + 1] if c.cell_type == "code"
                 and PROSE_TAG not in c.get("metadata", {}).get("tags", [])
                 and not c.source.startswith(SETUP.partition("\n")[0]))
    first = next((line for line in lines if not line.startswith("#|")), "")
    return f"code cell {number}" + (f" ({_short(first)!r})" if first else "")


def _short(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def inline_values(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Every inline expression of an executed notebook -> the Markdown its ``prose`` cell showed."""
    values: dict[str, str] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if PROSE_TAG in cell.get("metadata", {}).get("tags", []) else []:
            values.update(out.get("metadata", {}).get("aebook", {}).get("inline", {}))
    return values


def shown_text(nb: nbformat.NotebookNode) -> str:
    """The text a reader sees: Markdown cells and the Markdown that ``prose`` cells displayed."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        parts += [o["data"]["text/markdown"] for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})]
    return "\n\n".join(parts)


def _run_interruptibly(client, env: dict, **launch) -> None:
    """``client.execute`` in a worker thread, so that Ctrl-C stops it cleanly.

    On the main thread nbclient installs its own SIGINT handler, which shuts the kernel down
    mid-cell (the kernel then prints a traceback) and ends in an unrelated error. Off the
    main thread it installs none, so Ctrl-C reaches us: we kill the kernel at once and raise
    ``KeyboardInterrupt``. Nothing half-done is kept: the model cache only writes finished
    models, and the notebook is written only after a complete run.
    """
    if threading.current_thread() is not threading.main_thread():
        client.execute(env=env, **launch)
        return
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            client.execute(env=env, **launch)
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
            try:
                process.wait(timeout=10)  # reap it: a killed child left unreaped stays in the process table
            except Exception:  # noqa: BLE001 - it was killed; nothing more to do
                pass
        worker.join(30)
        # the kernel is gone: nbclient's exit hook would try to shut it down again, noisily
        atexit.unregister(client._cleanup_kernel)
        raise KeyboardInterrupt from None
    if "error" in outcome:
        raise outcome["error"]


def to_html(nb: nbformat.NotebookNode) -> str:
    """HTML of an executed notebook (nbconvert's lab template), for checking in a browser.

    The sources of ``prose`` cells are left out, as JupyterLab hides them (from the command
    line: ``--TagRemovePreprocessor.remove_input_tags=aebook-prose``); figures show as the
    PNG beside each Plotly figure. The template's CDN loaders (require.js, MathJax) are
    removed, so the page loads nothing from outside (TeX shows as source).
    """
    from nbconvert import HTMLExporter

    from bookkit.site import strip_remote_scripts

    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(_hide_prose_sources(), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return strip_remote_scripts(body)


def _hide_prose_sources():
    """nbconvert's tag filter, set to drop the source of every ``prose`` cell."""
    from nbconvert.preprocessors import TagRemovePreprocessor

    return TagRemovePreprocessor(remove_input_tags={PROSE_TAG})


CLI_HELP = """Write each chapter as a Jupyter notebook, and optionally execute it.

Conversion reads the chapter's .qmd with jupytext; execution runs the notebook top to
bottom in a fresh Jupyter kernel in the project root and fills in every inline value,
as Quarto does. Ctrl-C stops the whole run. A failing chapter prints the cell, the
error's type and whole message, and where the full traceback was written (--verbose
prints it); a kernel that died is named with the cell it was running.

Exit status: 0 done; 1 a chapter failed or a file could not be written; 2 a usage
error, no such chapter, or an AEBOOK_* switch with a wrong value; 130 interrupted
(Ctrl-C). Nothing is left half-written in any case."""


class _HelpFormat(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` with each option's default, and the description's paragraphs as written."""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_report(path: Path, exc: BaseException, log: Path, verbose: bool) -> str:
    """What to print for a chapter that failed (no colour codes), and the full traceback saved to ``log``.

    The first line names the cell and the error's type and message; a message of several lines (a
    cause, then the fixes it lists) follows in full, indented. A kernel that died is said to have
    died, in which cell, and what to do. The last line says where the full traceback is.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    text = _ANSI.sub("", str(exc))
    where = getattr(exc, "aebook_where", None) or Where(None)
    cell = where.cell
    if cell is None and (labels := cell_labels(text)):
        cell = f"cell {labels[0]!r}"
    if isinstance(exc, DeadKernelError):
        died, fix = _kernel_death(where.kernel_exit)
        running = f"while running {cell}" if cell else "before its first cell ran"
        text = f"The kernel died {running}{died}.\n" + (f"\nThe cell:\n{where.source}\n" if where.source else "")
        lines = [f"FAILED {path}: the kernel died {running}{died}", f"  {fix}"]
        detail = "what it was running"
    else:
        if isinstance(exc, CellExecutionError):
            kind, message = exc.ename, _ANSI.sub("", exc.evalue or "")
        else:
            kind, message = type(exc).__name__, text
            if isinstance(exc, CellTimeoutError):  # the rest of its message is a preview of the cell
                message = message.strip().partition("\n")[0]
        body = [line.rstrip() for line in message.strip().splitlines() if line.strip()]
        head = f"{kind}: {body[0]}" if body else kind
        lines = [f"FAILED {path}: " + (f"{cell} raised {head}" if cell else head)]
        lines += [f"    {line}" for line in body[1:]]
        detail = "full traceback"
    if where.kernel_stderr.strip():
        text += "\n\nThe kernel's own standard error:\n" + where.kernel_stderr
    unsaved = try_save(log, text)  # aebook.files: atomic; on a full disk, "" -> one line why not
    lines.append(f"  {detail}: {log}" if not unsaved else f"  {detail} not saved: {unsaved}")
    if verbose:
        lines.append(text)
    return "\n".join(lines)


def _kernel_death(status: int | None) -> tuple[str, str]:
    """How a kernel died, from its exit status ("; it was killed by SIGKILL"), and what to do about it."""
    if status is not None and status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        died = f"; it was killed by {name}"
    else:
        died, name = (f"; it exited with status {status}" if status is not None else ""), ""
    if name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGABRT", "SIGFPE"):
        return died, ("a crash inside compiled code (PyTorch, NumPy): run the chapter again, and if it dies in "
                      "the same cell, run that cell in Jupyter to see what it prints")
    return died, ("most often the machine ran out of memory and the system killed the kernel: close other "
                  "programs or set AEBOOK_SMOKE=1 (smaller budgets), then run the chapter again")


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (``aebook.files.write_atomic``), so a stopped run or a full
    disk leaves no half-written file; a failure raises ``SaveError``, whose message is one line."""
    write_atomic(path, text)


def main(argv: list[str] | None = None) -> int:
    """Command line: convert (and optionally execute) chapters into ``notebooks/``.

    Every way it ends says why in a line, never with a traceback: the exit statuses are in
    ``CLI_HELP``. Ctrl-C at any moment gives one line saying how far the run got.
    """
    progress = _Progress()
    try:
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C stops the run even when it was started with SIGINT ignored (a background job)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if (bad := bad_switch()) is not None:
            print(bad, file=sys.stderr)
            return 2
        copy = os.environ.get("AEBOOK_DATA_DIR", "").strip()
        if copy and not os.path.isabs(os.path.expanduser(copy)):  # the kernels run in the project root
            os.environ["AEBOOK_DATA_DIR"] = os.path.abspath(os.path.expanduser(copy))
        return _main(argv, progress)
    except KeyboardInterrupt:
        print(progress.interrupted(), file=sys.stderr)
        return 130


@dataclass
class _Progress:
    """How far a command-line run got, for the line Ctrl-C prints."""

    total: int = 0
    number: int = 0  # the chapter being converted, executed or written (1-based)
    path: Path | None = None  # None between chapters
    written: int = 0

    def interrupted(self) -> str:
        if self.path is None and not self.written:
            return INTERRUPTED_AT_START
        if self.path is None:
            return f"interrupted after {self.written} of {self.total} notebooks were written; the others were not"
        before = f"; the {self.written} written before it are complete" if self.written else ""
        return (f"interrupted at chapter {self.number} of {self.total} ({self.path}); its notebook was not "
                f"written{before}")


def _main(argv: list[str] | None, progress: _Progress) -> int:
    """The command itself (``main`` guards it), reporting how far it got in ``progress``."""
    parser = argparse.ArgumentParser(prog="python -m bookkit.notebooks", description=CLI_HELP,
                                     formatter_class=_HelpFormat)
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
    if missing := [str(p) for p in paths if not Path(p).is_file()]:
        parser.error(f"no such chapter file: {', '.join(missing)}")
    progress.total = len(paths)
    failed = 0
    for number, path in enumerate(paths, 1):
        progress.number, progress.path = number, path
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
        try:  # a full disk or read-only --out: one line, no traceback, nothing half-written (aebook.files)
            if args.execute and args.html:
                _write_whole(target.with_suffix(".html"), to_html(nb))
            _write_whole(target, nbformat.writes(nb) + "\n")
        except SaveError as exc:
            print(f"{exc}; nothing was written under that name", file=sys.stderr)
            return 1
        progress.path, progress.written = None, progress.written + 1
        print(f"wrote {target}" + (" (executed)" if args.execute else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    if (_status := main()) == 130:  # interrupted, and said so: leave now, before a second Ctrl-C could land
        sys.stdout.flush()  # in the shutdown (and before Python, having seen the interrupt inside code a
        sys.stderr.flush()  # library ran through exec, re-raises SIGINT at exit and loses our status)
        os._exit(130)
    raise SystemExit(_status)

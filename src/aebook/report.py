"""Summaries built as ``rich`` tables: architectures and metrics.

``show`` prints them as plain text in a terminal, and displays them as real HTML tables
in a notebook or a rendered page (with the text as the plain fallback), so a page never
shows a console block wider than its column.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence

import torch
from rich import box
from rich.console import Console
from rich.table import Table
from torch import nn

from aebook.models import count_parameters
from aebook.runtime import in_jupyter_kernel


def show(*renderables: object, width: int = 96) -> None:
    """Show ``rich`` renderables: HTML tables in Jupyter and Quarto, plain text in a terminal."""
    console = Console(width=width, force_jupyter=False, force_terminal=False, color_system=None,
                      highlight=False)
    for item in renderables:
        if in_jupyter_kernel() and isinstance(item, Table):
            from IPython.display import display

            display({"text/html": table_html(item), "text/plain": plain_text(item, width)}, raw=True)
        else:
            console.print(item)


def plain_text(renderable: object, width: int = 96) -> str:
    """A ``rich`` renderable as the plain text a terminal would show."""
    console = Console(width=width, record=True, force_jupyter=False, force_terminal=False,
                      color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text().rstrip()


def table_html(table: Table) -> str:
    """A ``rich`` table as an HTML ``<table>`` (Bootstrap's ``table`` class, as Quarto styles them).

    Written here rather than taken from ``rich``, whose HTML export is a styled ``<pre>``
    block of console text, not a table a page can reflow.
    """
    def cell(text: object, tag: str, right: bool) -> str:
        align = ' class="text-end"' if right else ""
        return f"<{tag}{align}>{html.escape(str(text))}</{tag}>"
    right = [c.justify == "right" for c in table.columns]
    head = "".join(cell(c.header, "th", r) for c, r in zip(table.columns, right))
    columns = [list(c.cells) for c in table.columns]
    body = "".join("<tr>" + "".join(cell(col[i], "td", r) for col, r in zip(columns, right)) + "</tr>"
                   for i in range(table.row_count))
    caption = f"<caption>{html.escape(str(table.title))}</caption>" if table.title else ""
    return (f'<div class="table-responsive aebook-table"><table class="table table-sm table-striped">'
            f"{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


@torch.no_grad()
def architecture_table(model: nn.Module, input_shape: Sequence[int] = (1, 1, 28, 28),
                       title: str | None = None) -> Table:
    """One row per layer: name, type, output shape for one input, and parameter count."""
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if len(list(module.children())) == 0:
            def record(mod: nn.Module, _inp, out, name: str = name) -> None:
                shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else "?"
                rows.append((name, type(mod).__name__, "×".join(map(str, shape)),
                             sum(p.numel() for p in mod.parameters())))
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        model(torch.zeros(*input_shape, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    table = Table(title=title or type(model).__name__, box=box.SIMPLE_HEAD, title_justify="left")
    for header, justify in (("layer", "left"), ("type", "left"), ("output shape", "right"),
                            ("parameters", "right")):
        table.add_column(header, justify=justify)
    for name, kind, shape, n in rows:
        table.add_row(name, kind, shape, f"{n:,}" if n else "–")
    table.add_section()
    table.add_row("total", "", "", f"{count_parameters(model):,}")
    return table


def metrics_table(rows: Mapping[str, Mapping[str, object]], title: str | None = None,
                  row_label: str = "model") -> Table:
    """A table with one row per model (or ``row_label``) and one column per metric (floats to 5 digits)."""
    columns = list(dict.fromkeys(k for metrics in rows.values() for k in metrics))
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(row_label)
    for col in columns:
        table.add_column(col, justify="right")
    for name, metrics in rows.items():  # "β = 0" stays on one line in a narrow first column
        table.add_row(name.replace(" = ", "\u00a0=\u00a0"), *(_fmt(metrics.get(col, "")) for col in columns))
    return table


def _fmt(value: object) -> str:
    """Format a metric: ints with thousands separators, floats with 5 significant digits."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]):
    """A Markdown table as a displayable object (Quarto numbers it when the cell has a ``tbl-`` label)."""
    from IPython.display import Markdown

    numeric = [bool(rows) and isinstance(rows[0][i], (int, float)) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def listed(items: Iterable[object]) -> str:
    """Items named in a sentence: 'a', 'a and b', 'a, b and c'; 'none' for none.

    (A sentence that quotes it is chosen by a claim only when there are some.)
    """
    items = [str(i) for i in items]
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else (items[0] if items else "none")


def run_notice(data: object) -> object:
    """A visible note for the top of a chapter when it ran on stand-in data or in smoke mode."""
    from IPython.display import Markdown

    from aebook.runtime import is_smoke

    notes = []
    if not getattr(data, "is_official", True):
        n_train, n_test = data.found
        held_out = len(data.val) if hasattr(data, "val") else 0
        split = (f" ({n_train - held_out:,} to train on and {held_out:,} held out for validation)"
                 if held_out else "")
        notes.append(f"**Partial data set.** The files this page read hold {n_train:,} training{split} and "
                     f"{n_test:,} test images, not the official 60,000 and 10,000 of "
                     f"{'the data set' if data.is_standin else 'Fashion-MNIST'}. Every number below "
                     "comes from this smaller set, and can differ on the full one.")
    if getattr(data, "is_standin", False):
        why = getattr(data, "why_standin", "")
        if why == "asked":
            notes.append(f"**Stand-in data.** This page was computed on {data.source_name}, as asked for "
                         "with `AEBOOK_DATA=standin`, not on Fashion-MNIST. Every number and figure below "
                         "comes from it; run without that switch for the real results.")
        else:
            notes.append(f"**Stand-in data.** {why or 'The real data set could not be used'}, so every "
                         f"number and figure below comes from {data.source_name}, not from Fashion-MNIST.")
    if is_smoke():
        notes.append("**Smoke mode** (`AEBOOK_SMOKE=1`): small subsets and very few updates, "
                     "for checking that the chapter runs. The numbers are not meaningful.")
    return Markdown("\n\n".join(f"> {n}" for n in notes)) if notes else None


def listing(*objects: object, note: str = ""):
    """The package's own source of ``objects`` (classes, functions), shown as numbered listings.

    A chapter shows the code it builds with this, so the page can never drift from what ran:
    the text is read from the installed source file at render time, with its path and line
    numbers in a caption. On the site the listing is highlighted with line numbers; in a
    notebook it is a plain Python block.
    """
    import inspect
    from pathlib import Path

    from IPython.display import Markdown

    from aebook.runtime import quarto_rendering

    parts = []
    for obj in objects:
        lines, start = inspect.getsourcelines(obj)
        source = "".join(lines).rstrip("\n")
        file = Path(inspect.getsourcefile(inspect.unwrap(obj)))  # a decorated function's own file
        where = f"{file.parent.name}/{file.name}"  # aebook/models.py
        ticks = "`" * max(3, 1 + max((len(run) for run in _backtick_runs(source)), default=0))
        fence = (f'{ticks}{{.python .number-lines startFrom="{start}"}}' if quarto_rendering() else f"{ticks}python")
        block = f"*`{where}`, lines {start}–{start + len(lines) - 1}*\n\n{fence}\n{source}\n{ticks}"
        parts.append(f"::: {{.aebook-listing}}\n{block}\n:::" if quarto_rendering() else block)  # long lines wrap
    if note:
        parts.append(note)
    return Markdown("\n\n".join(parts))


def _backtick_runs(text: str) -> list[str]:
    """Runs of backticks in ``text`` (a fence must be longer than any of them)."""
    import re

    return re.findall(r"`+", text)


def chapter_times(chapter: str, words_per_minute: int = 200) -> str:
    """How long a chapter takes to read and to run, as a phrase for its opening box.

    Reading: the words of its prose (code and math left out) at ``words_per_minute``. Running:
    the chapter's own cold and warm times on the machine ``make bench`` last measured, read from
    BENCHMARKS.md (``chapter_<name>_cold`` / ``_warm``), never guessed. Outside a clone of the
    book, where neither file is at hand, it says so.
    """
    import re

    from aebook.runtime import project_root

    root = project_root()
    parts = []
    source = root / "chapters" / f"{chapter}.qmd"
    if source.exists():
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```|\$\$.*?\$\$|`[^`]*`|\{[^}\n]*\}", " ", text, flags=re.M | re.S)
        minutes = max(1, round(len(re.findall(r"[A-Za-z]+", text)) / words_per_minute / 5) * 5)
        parts.append(f"about {minutes} minutes to read")
    bench = root / "BENCHMARKS.md"
    figures = dict(re.findall(r"^([a-z0-9_]+): ([0-9.]+) s$", bench.read_text(encoding="utf-8"), re.M)) \
        if bench.exists() else {}
    key = "chapter_" + re.sub(r"\W", "_", chapter)
    if f"{key}_cold" in figures and f"{key}_warm" in figures:
        cold, warm = float(figures[f"{key}_cold"]), float(figures[f"{key}_warm"])
        bench_text = bench.read_text(encoding="utf-8")
        cpu = re.search(r"^- CPU: (.+)$", bench_text, re.M)
        cores = re.search(r"^- cores: (\d+)$", bench_text, re.M)
        where = (f"a {cores.group(1)}-core {cpu.group(1)} CPU" if cpu and cores else "the machine of BENCHMARKS.md")
        # make bench runs the chapters in book order with one cache: "cold" trains a chapter's own new
        # models, not those of earlier chapters it loads (run alone, it trains those first)
        parts.append(f"{_duration(cold)} to run the first time, with the models of earlier chapters already cached "
                     f"(run alone, it trains those first), and {_duration(warm)} once its own are cached too "
                     f"(measured on {where})")
    else:
        parts.append("its time to run has not been measured yet")
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    """``45 s``, ``6 minutes``, ``1 h 25 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    return f"{int(seconds // 3600)} h {seconds % 3600 / 60:.0f} min"

"""Static checks of the Quarto project: chapters, cross-references, citations, figure cells."""

import re

import pytest
import yaml

from bookkit import notebooks as N
from bookkit.project import cell_labels
from aebook.runtime import project_root

ROOT = project_root()
CONFIG = yaml.safe_load((ROOT / "_quarto.yml").read_text())
BOOK = N.chapter_paths()
TEXTS = {p: p.read_text(encoding="utf-8") for p in BOOK}
BIB_KEYS = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M))


def prose(text: str) -> str:
    """The text without code blocks and inline code, where references and citations live."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`]*`", "", text)


def test_every_listed_chapter_exists_and_every_chapter_is_listed():
    assert all(p.exists() for p in BOOK), [p for p in BOOK if not p.exists()]
    on_disk = {p.resolve() for p in (ROOT / "chapters").glob("*.qmd")}
    assert on_disk <= {p.resolve() for p in BOOK}, on_disk - set(BOOK)


def test_book_configuration_essentials():
    assert CONFIG["project"]["type"] == "book"
    assert CONFIG["project"]["execute-dir"] == "project"
    assert CONFIG["execute"]["freeze"] == "auto"
    html = CONFIG["format"]["html"]
    assert html["plotly-connected"] is False  # plotly.js from the page itself, not a CDN
    assert html["code-fold"] is True and html["code-tools"] is True and html["number-sections"] is True
    assert CONFIG["bibliography"] == "references.bib"


def test_every_cross_reference_resolves():
    labels = set()
    for text in TEXTS.values():
        labels |= {label for label in cell_labels(text) if label.startswith(("fig-", "tbl-"))}
        labels |= set(re.findall(r"\{#(sec-[\w-]+)", text))
    for path, text in TEXTS.items():
        refs = set(re.findall(r"@((?:fig|tbl|sec)-[\w-]*\w)", prose(text)))
        assert refs <= labels, f"{path.name}: unresolved {sorted(refs - labels)}"


def test_labels_are_unique():
    found = []
    for text in TEXTS.values():
        found += cell_labels(text) + re.findall(r"\{#(sec-[\w-]+)", text)
    assert len(found) == len(set(found)), sorted({x for x in found if found.count(x) > 1})


def test_citations_match_the_bibliography():
    cited = set()
    for path, text in TEXTS.items():
        keys = set(re.findall(r"(?<![\w@])@([A-Za-z][\w:.-]*\w)", prose(text)))
        keys = {k for k in keys if not k.startswith(("fig-", "tbl-", "sec-", "eq-"))}
        assert keys <= BIB_KEYS, f"{path.name}: not in references.bib: {sorted(keys - BIB_KEYS)}"
        cited |= keys
    assert BIB_KEYS <= cited, f"entries never cited: {sorted(BIB_KEYS - cited)}"


@pytest.mark.parametrize("path", [p for p in BOOK if p.suffix == ".qmd"], ids=lambda p: p.stem)
def test_code_cells_have_summaries_and_figures_have_captions(path):
    import jupytext

    nb = jupytext.reads(TEXTS[path], fmt="Rmd")
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        options = N.cell_options(cell.source)
        label = options.get("label", "")
        assert label, f"{path.name}: a code cell without a label:\n{cell.source[:200]}"
        assert options.get("code-summary"), f"{path.name}: {label} has no one-line code-summary"
        if label.startswith("fig-"):
            assert options.get("fig-cap"), f"{label} has no fig-cap"
        if label.startswith("tbl-"):
            assert options.get("tbl-cap"), f"{label} has no tbl-cap"


def test_no_unfinished_text():
    for path, text in TEXTS.items():
        assert not re.search(r"\b(TODO|TBD|FIXME)\b|lorem ipsum", text, re.I), path.name


CLAIM_ATTR = re.compile(r"""\{[^}\n]*\bclaim=["']([^"']*)["'][^}\n]*\}""")


def test_claim_wording_lives_in_the_prose_not_in_code():
    """No chapter keeps a claim's sentences as strings in a code cell; each claim the prose names has
    outcomes written as words (when="…"), and is declared by a code cell of the same chapter."""
    for path, text in TEXTS.items():
        assert "texts=" not in text and "ledger.again(" not in text, f"{path.name} still words a claim in code"
        code = "\n".join(re.findall(r"^```\{python\}.*?^```", text, flags=re.M | re.S))
        built = re.search(r"""ledger\.\w+\(\s*f["']""", code)  # ids made with an f-string: checked on render
        for m in CLAIM_ATTR.finditer(prose(text)):
            ident = m.group(1)
            when = re.search(r"""\bwhen=["']([^"']*)["']""", m.group(0))
            assert when and when.group(1).split(), f"{path.name}: a text of claim {ident!r} names no outcome"
            assert all(re.fullmatch(r"[A-Za-z0-9][\w.-]*", w) for w in when.group(1).split()), (path.name, ident)
            declared = f'"{ident}"' in code or f"'{ident}'" in code or built
            assert declared, f"{path.name}: the prose names claim {ident!r}, which no code cell declares"


def test_every_module_the_makefile_runs_is_a_command():
    """`make ledger` once ran `python -m aebook.claims`, a module with no command in it, and checked nothing."""
    import importlib.util
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    modules = set(re.findall(r"\$\(PY\) -m ([\w.]+)", (root / "Makefile").read_text()))
    ours = {m for m in modules if m.split(".")[0] in ("aebook", "bookkit")}
    assert "bookkit.claims" in ours
    for module in ours:
        source = Path(importlib.util.find_spec(module).origin).read_text()
        assert 'if __name__ == "__main__":' in source, f"make runs `python -m {module}`, which has no command"

"""Turn Quarto-only Markdown into plain Jupyter Markdown, for chapters read as notebooks.

Quarto resolves cross-references (``@fig-…``, ``@sec-…``), citations (``[@key]``),
callout blocks (``::: {.callout-tip}``) and heading attributes (``{#sec-…}``) when it
renders; Jupyter does not. These functions do the same in a simple, readable way.
"""

from __future__ import annotations

import re
from pathlib import Path

HEADING_ID = re.compile(r"^(#+ [^\n]*?)[ \t]*\{([^}\n]*)\}[ \t]*$", re.M)
CALLOUT = re.compile(r"^:::+[ \t]*\{\.callout-(\w+)[^}\n]*\}[ \t]*\n(?:#+ ([^\n]*)\n)?(.*?)^:::+[ \t]*$",
                     re.M | re.S)
CITE_GROUP = re.compile(r"\[(-?@[\w:.\-]+(?:\s*;\s*-?@[\w:.\-]+)*)\]")
CITE_BARE = re.compile(r"(?<![\w@`])@([A-Za-z][\w:.\-]*[\w])")
CROSSREF = ("fig-", "tbl-", "sec-", "eq-")
NOTEBOOK_LINK = re.compile(r"^:::+[ \t]*\{[^}\n]*\}[ \t]*\n\[Download this chapter as a Jupyter notebook\].*?^:::+[ \t]*\n?",
                           re.M | re.S)
LINK_ATTRS = re.compile(r"(\]\([^)\s]*\))\{[^}\n]*\}")


def section_titles(texts: list[str]) -> dict[str, str]:
    """Map ``sec-…`` ids to their heading text, over all given documents."""
    titles = {}
    for text in texts:
        for m in HEADING_ID.finditer(text):
            ident = re.search(r"#(sec-[\w\-]+)", m.group(2))
            if ident:
                titles[ident.group(1)] = m.group(1).lstrip("#").strip()
    return titles


def bib_entries(path: Path) -> dict[str, str]:
    """Map citation keys to a short "Author Year" label, read from a BibTeX file."""
    entries = {}
    for key, body in re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", path.read_text(encoding="utf-8"), re.S):
        author = re.search(r"author\s*=\s*\{(.*?)\}\s*,?\s*\n", body, re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", body)
        names = [n.split(",")[0].strip(" {}") for n in (author.group(1) if author else key).split(" and ")]
        names = [re.sub(r"[{}\\\"']", "", n) for n in names]
        who = names[0] if len(names) == 1 else (f"{names[0]} and {names[1]}" if len(names) == 2
                                                else f"{names[0]} et al.")
        entries[key] = f"{who} {year.group(1) if year else ''}".strip()
    return entries


def plain_markdown(text: str, figures: dict[str, int], tables: dict[str, int],
                   sections: dict[str, str], bib: dict[str, str]) -> str:
    """Rewrite one Markdown cell so it reads well in Jupyter."""
    text = HEADING_ID.sub(lambda m: m.group(1), text)
    text = NOTEBOOK_LINK.sub("", text)  # the page's link to this very notebook
    text = CALLOUT.sub(_callout, text)
    text = LINK_ATTRS.sub(lambda m: m.group(1), text)  # [text](url){download=...} -> [text](url)

    def cite_group(m: re.Match) -> str:
        keys = [k.strip().lstrip("-@") for k in m.group(1).split(";")]
        if all(k.startswith(CROSSREF) for k in keys):
            return m.group(0)
        return "(" + "; ".join(bib.get(k, k) for k in keys) + ")"

    def bare(m: re.Match) -> str:
        key = m.group(1)
        if key.startswith("fig-"):
            return f"Figure {figures[key]}" if key in figures else m.group(0)
        if key.startswith("tbl-"):
            return f"Table {tables[key]}" if key in tables else m.group(0)
        if key.startswith("sec-"):
            return f"“{sections[key]}”" if key in sections else m.group(0)
        return bib.get(key, m.group(0))

    parts = re.split(r"(`[^`]*`)", text)  # leave inline code (and inline expressions) alone
    return "".join(part if i % 2 else CITE_BARE.sub(bare, CITE_GROUP.sub(cite_group, part))
                   for i, part in enumerate(parts))


def _callout(m: re.Match) -> str:
    """A callout block as a Markdown quote with a bold title."""
    kind, title, body = m.group(1).capitalize(), m.group(2), m.group(3).strip()
    head = f"**{kind}: {title.strip()}**" if title else f"**{kind}**"
    return "\n".join(["> " + head, ">"] + [("> " + line).rstrip() for line in body.splitlines()])

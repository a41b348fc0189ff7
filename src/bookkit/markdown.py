"""Turn Quarto-only Markdown into plain Jupyter Markdown, for chapters read as notebooks.

Quarto resolves cross-references (``@fig-…``, ``@sec-…``), citations (``[@key]``),
callout blocks (``::: {.callout-tip}``) and heading attributes (``{#sec-…}``) when it
renders; Jupyter does not. These functions do the same in a simple, readable way when the
notebook is written. (Inline values and claims are filled in when it runs:
``aebook.quarto_md.prose``.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path


HEADING_ID = re.compile(r"^(#+ [^\n]*?)[ \t]*\{([^}\n]*)\}[ \t]*$", re.M)
CALLOUT = re.compile(r"^:::+[ \t]*\{\.callout-(\w+)([^}\n]*)\}[ \t]*\n(?:#+ ([^\n]*)\n)?(.*?)^:::+[ \t]*$",
                     re.M | re.S)
CITE_GROUP = re.compile(r"\[(-?@[\w:.\-]+(?:\s*;\s*-?@[\w:.\-]+)*)\]")
CITE_BARE = re.compile(r"(?<![\w@`])@([A-Za-z][\w:.\-]*[\w])")
CROSSREF = ("fig-", "tbl-", "sec-", "eq-")
NOTEBOOK_LINK = re.compile(r"^:::+[ \t]*\{[^}\n]*\}[ \t]*\n\[Download this chapter as a Jupyter notebook\].*?^:::+[ \t]*\n?",
                           re.M | re.S)
LINK_ATTRS = re.compile(r"(\]\([^)\s]*\))\{[^}\n]*\}")
PAGE_LINK = re.compile(r"\]\((?:\.\./)*(?:chapters/)?([\w-]+)\.qmd(#[\w-]+)?\)")  # a link to another page
SPAN_ID = re.compile(r"\[([^\]\n]*)\]\{#([\w-]+)\}")  # [term]{#gl-term}: an anchor to link to
DEFINITION = re.compile(r"^([^\s:>\-#*][^\n]*)\n:   ([^\n]*(?:\n    [^\n]*)*)", re.M)  # a Pandoc definition list


def section_titles(texts: list[str]) -> dict[str, str]:
    """Map ``sec-…`` ids to their heading text, over all given documents."""
    titles = {}
    for text in texts:
        for m in HEADING_ID.finditer(text):
            ident = re.search(r"#(sec-[\w\-]+)", m.group(2))
            if ident:
                titles[ident.group(1)] = m.group(1).lstrip("#").strip()
    return titles


def bib_fields(path: Path) -> dict[str, dict[str, str]]:
    """Every entry of a BibTeX file: key -> {field: value}, braces and ``--`` made plain.

    Parsed here rather than with pybtex: the book's own file has one entry layout, and a
    notebook needs only a short label per citation and a plain reference list.
    """
    entries: dict[str, dict[str, str]] = {}
    text = path.read_text(encoding="utf-8")
    for kind, key, body in re.findall(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        fields = {"type": kind.lower()}
        for name, value in re.findall(r"^\s*(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", body, re.M | re.S):
            fields[name.lower()] = re.sub(r"\s+", " ", _tex_to_text(value)).strip()
        entries[key] = fields
    return entries


_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "c": "\u0327",
            "v": "\u030c"}
_LETTERS = {"AA": "Å", "aa": "å", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ"}


def _tex_to_text(value: str) -> str:
    """BibTeX text as plain Unicode: accents (``{\\"o}`` -> ö), letters (``{\\AA}`` -> Å), no braces."""
    value = re.sub(r"\\([\"'`^~cv])\s*\{?(\w)\}?", lambda m: m.group(2) + _ACCENTS[m.group(1)], value)
    value = re.sub(r"\\(AA|aa|ss|ae|AE|o|O)\b\s*", lambda m: _LETTERS[m.group(1)], value)
    value = value.replace("{", "").replace("}", "").replace("--", "–").replace("\\", "")
    return unicodedata.normalize("NFC", value)


def _surnames(fields: dict[str, str], key: str) -> list[str]:
    """The authors' family names ("van der Maaten, Laurens" -> "van der Maaten")."""
    return [n.split(",")[0].strip().strip("\"'") for n in fields.get("author", key).split(" and ")]


def bib_entries(path: Path) -> dict[str, str]:
    """Map citation keys to a short "Author Year" label, read from a BibTeX file."""
    labels = {}
    for key, fields in bib_fields(path).items():
        names = _surnames(fields, key)
        who = names[0] if len(names) == 1 else (f"{names[0]} and {names[1]}" if len(names) == 2
                                                else f"{names[0]} et al.")
        labels[key] = f"{who} {fields.get('year', '')}".strip()
    return labels


def reference_list(path: Path, keys: list[str] | None = None) -> str:
    """A Markdown list of the works cited (``keys``, default all), sorted by author then year."""
    entries = bib_fields(path)
    keys = [k for k in (keys if keys is not None else entries) if k in entries]
    lines = []
    for key in sorted(keys, key=lambda k: (_surnames(entries[k], k)[0].lower(), entries[k].get("year", ""))):
        f = entries[key]
        authors = [" ".join(reversed([part.strip() for part in n.split(",", 1)])) for n in f.get("author", "").split(" and ")]
        who = ", ".join(authors[:-1]) + " and " + authors[-1] if len(authors) > 1 else authors[0]
        venue = f.get("journal") or f.get("booktitle") or (f"arXiv:{f['eprint']}" if "eprint" in f else "")
        where = ", ".join(x for x in (venue, f.get("volume", ""), f.get("pages", "")) if x)
        link = (f"https://doi.org/{f['doi']}" if "doi" in f else f.get("url", ""))
        parts = [f"{who} ({f.get('year', 'n.d.')}).", f"*{f.get('title', key)}*."]
        parts += [f"{where}."] if where else []
        parts += [f"<{link}>"] if link else []
        lines.append("- " + " ".join(parts))
    return "\n".join(lines)


def cited_keys(texts: list[str], bib: Mapping[str, str]) -> list[str]:
    """The BibTeX keys cited in Quarto texts (``[@key]`` or ``@key``), in order of first citation."""
    found = (m.group(1) for text in texts for m in re.finditer(r"(?<![\w`])@([A-Za-z][\w:.\-]*\w)", text))
    return list(dict.fromkeys(k for k in found if k in bib))


def plain_markdown(text: str, figures: dict[str, int], tables: dict[str, int],
                   sections: dict[str, str], bib: dict[str, str]) -> str:
    """Rewrite one Markdown cell so it reads well in Jupyter."""
    text = HEADING_ID.sub(lambda m: m.group(1), text)
    text = NOTEBOOK_LINK.sub("", text)  # the page's link to this very notebook
    text = CALLOUT.sub(_callout, text)
    text = LINK_ATTRS.sub(lambda m: m.group(1), text)  # [text](url){download=...} -> [text](url)
    text = PAGE_LINK.sub(lambda m: f"]({m.group(1)}.ipynb{m.group(2) or ''})", text)  # the page's notebook
    text = DEFINITION.sub(lambda m: f"{m.group(1)}  \n{re.sub(r'(?m)^    ', '', m.group(2))}", text)
    text = SPAN_ID.sub(lambda m: f'<a id="{m.group(2)}"></a>**{m.group(1)}**', text)

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
    """A callout block as a Markdown quote with a bold title; a folded one (``collapse="true"``, e.g. an
    exercise's solution) as a ``<details>`` block, folded in Jupyter too."""
    kind, attrs, title, body = m.group(1).capitalize(), m.group(2), m.group(3), m.group(4).strip()
    if not title and (named := re.search(r"""title=["']([^"']*)["']""", attrs)):
        title = named.group(1)
    if re.search(r"""collapse=["']?true""", attrs):
        return f"<details><summary><b>{(title or kind).strip()}</b></summary>\n\n{body}\n\n</details>"
    head = f"**{kind}: {title.strip()}**" if title else f"**{kind}**"
    return "\n".join(["> " + head, ">"] + [("> " + line).rstrip() for line in body.splitlines()])

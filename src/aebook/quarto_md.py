"""Turn Quarto-only Markdown into plain Jupyter Markdown, for chapters read as notebooks.

Quarto resolves cross-references (``@fig-…``, ``@sec-…``), citations (``[@key]``),
callout blocks (``::: {.callout-tip}``), heading attributes (``{#sec-…}``) and inline
values (`` `{python} expr` ``) when it renders; Jupyter does not. These functions do the
same in a simple, readable way: the first four when the notebook is written, the inline
values when it runs (``prose``, called by a hidden-source cell in place of the paragraph).
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path

INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`")


class InlineError(RuntimeError):
    """An inline value of a paragraph could not be computed (usually: the cells above it have not run)."""


def inline_expressions(source: str) -> list[str]:
    """The inline `` `{python} expr` `` expressions of a Markdown text, in order."""
    return [m.group(2).strip() for m in INLINE.finditer(source)]


def inline_markdown(data: Mapping[str, object]) -> str:
    """An inline result as Markdown, by Quarto's rule: ``text/markdown`` as is; a quoted
    ``text/plain`` string without its quotes, its formatting characters escaped; any other
    ``text/plain`` as is.

    Quarto escapes every punctuation mark; this escapes only those that could start
    formatting in Jupyter's Markdown, so a notebook's text keeps ``2,000`` readable.
    """
    if "text/markdown" in data:
        return str(data["text/markdown"])
    text = str(data.get("text/plain", ""))
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            text = str(ast.literal_eval(text))  # the string itself, not its repr
        except (ValueError, SyntaxError):
            text = text[1:-1]
        text = re.sub(r"([\\`*_\[\]<>$|])", r"\\\1", text)
    return text


def prose(text: str, namespace: dict | None = None) -> None:
    """Show ``text`` as Markdown with every `` `{python} expr` `` replaced by its value, as Quarto does,
    and only the sentences of each claim's outcome that happened (``choose_claims``), as the site does.

    A chapter read as a notebook calls this in a hidden-source cell where the page has a
    paragraph with values or claims, so every Jupyter front end shows this run's numbers and
    words. Expressions are evaluated in the notebook's namespace (``namespace``, else the
    caller's); claims are looked up in the ``Ledger`` objects found there.
    """
    from IPython.core.getipython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    scope = namespace if namespace is not None else (shell.user_ns if shell is not None
                                                     else sys._getframe(1).f_globals)
    text, shown = choose_claims(text, _outcomes(scope))
    rendered: dict[str, str] = {}
    for expr in dict.fromkeys(inline_expressions(text)):
        try:
            value = eval(expr, scope)  # noqa: S307 - the chapter's own expression, as Quarto evaluates it
        except Exception as exc:  # noqa: BLE001 - said in one line, below
            raise InlineError(f"the text of this cell shows `{expr}`, which failed with {type(exc).__name__}: "
                              f"{exc}. Run the cells above it first (Run > Run All Above).") from None
        data = shell.display_formatter.format(value)[0] if shell is not None else {"text/plain": repr(value)}
        rendered[expr] = inline_markdown(data)
    markdown = INLINE.sub(lambda m: m.group(1) + rendered[m.group(2).strip()], text.strip("\n"))
    display({"text/markdown": markdown, "text/plain": markdown}, raw=True,
            metadata={"aebook": {"inline": rendered, "claims": shown}})


def _outcomes(scope: Mapping[str, object]) -> dict[str, str]:
    """The outcome of every claim measured so far, from the ledgers in the notebook's namespace."""
    from aebook.claims import Ledger

    found: dict[str, str] = {}
    for value in list(scope.values()):
        if isinstance(value, Ledger):
            found.update(value.outcomes())
    return found


# --------------------------------------------------------------------------- claims in prose
#
# A chapter writes each outcome of a measured claim as whole sentences in its Markdown:
# ``[sentence]{claim="id" when="outcome"}`` inline, or a ``::: {claim="id" when="outcome"}``
# div for paragraphs. On the site, tools/claims.lua keeps the chosen outcome's text; in a
# notebook, ``prose`` does the same with ``choose_claims``.

CLAIM_ATTRS = re.compile(r"""\{(?=[^}\n]*\bclaim=)([^}\n]*)\}""")
CLAIM_DIV = re.compile(r"""^(:{3,})[ \t]*\{(?=[^}\n]*\bclaim=)([^}\n]*)\}[ \t]*$""", re.M)
DIV_FENCE = re.compile(r"^(:{3,})[ \t]*(\{[^}\n]*\}|[\w-]+)?[ \t]*$", re.M)


class ClaimError(RuntimeError):
    """A text names a claim that was not measured, or has no sentence for the outcome that happened."""


def claim_attributes(attrs: str) -> tuple[str, list[str]]:
    """``claim="id" when="a b"`` -> ("id", ["a", "b"])."""
    found = dict(re.findall(r"""(\w+)=["']([^"']*)["']""", attrs))
    return found.get("claim", ""), found.get("when", "").split()


def claim_spans(text: str) -> list[tuple[int, int, str, str, list[str]]]:
    """Every inline claim ``[content]{claim=… when=…}`` of ``text``: (start, end, content, id, outcomes).

    Brackets are matched with nesting (a span may hold a link or a citation), and inline code,
    where a bracket means nothing, is skipped.
    """
    spans, opened, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "`":
            ticks = len(text[i:]) - len(text[i:].lstrip("`"))
            close = text.find("`" * ticks, i + ticks)
            i = (close + ticks) if close >= 0 else len(text)
            continue
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            opened.append(i)
        elif ch == "]" and opened:
            start = opened.pop()
            attrs = CLAIM_ATTRS.match(text, i + 1)
            if attrs:
                ident, outcomes = claim_attributes(attrs.group(1))
                spans.append((start, attrs.end(), text[start + 1:i], ident, outcomes))
        i += 1
    return sorted(spans)


def claim_divs(text: str) -> list[tuple[int, int, str, str, list[str]]]:
    """Every ``::: {claim=… when=…}`` div of ``text``: (start, end, content, id, outcomes); nested divs
    (a callout inside) are skipped over when looking for the closing fence."""
    divs = []
    for m in CLAIM_DIV.finditer(text):
        depth = 1
        for fence in DIV_FENCE.finditer(text, m.end()):
            depth += 1 if fence.group(2) else -1
            if depth == 0:
                ident, outcomes = claim_attributes(m.group(2))
                divs.append((m.start(), fence.end(), text[m.end():fence.start()].strip("\n"), ident, outcomes))
                break
        else:
            raise ClaimError(f"the claim div at {text[m.start():m.end()]!r} is never closed (a line of :::)")
    return divs


def choose_claims(text: str, outcomes: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """``text`` with each claim's text kept for the outcome that happened and the others dropped.

    ``outcomes`` maps claim ids to their outcomes (``Ledger.outcomes()``). Returns the text and
    ``{claim id: outcome shown}``. Raises ``ClaimError`` for a claim with no outcome yet (its cell
    has not run) or no text for its outcome, as the site's filter does.
    """
    shown: dict[str, str] = {}
    named: set[str] = set()

    def resolve(found: list[tuple[int, int, str, str, list[str]]], source: str) -> str:
        out, last = [], 0
        for start, end, content, ident, whens in found:
            if ident not in outcomes:
                raise ClaimError(f"this text shows claim {ident!r}, which has not been measured: run the cells "
                                 "above it first (Run > Run All Above)")
            named.add(ident)
            out.append(source[last:start])
            if outcomes[ident] in whens:
                shown[ident] = outcomes[ident]
                out.append(content)
            last = end
        out.append(source[last:])
        return "".join(out)

    text = resolve(claim_divs(text), text)
    text = resolve(claim_spans(text), text)
    missing = sorted(named - set(shown))
    if missing:
        raise ClaimError(f"claim {missing[0]!r} came out {outcomes[missing[0]]!r}, and this text has no sentence "
                         "for that outcome")
    text = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", text)  # the space a dropped sentence leaves behind
    text = re.sub(r"\n{3,}", "\n\n", text)          # the blank lines a dropped paragraph leaves
    return text.strip("\n"), shown


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

"""A chapter's text with this run's numbers and words, in a notebook: ``prose``.

On the site, Quarto fills in the inline values (`` `{python} expr` ``) and the book's filter
(tools/claims.lua) keeps, for every measured claim, the sentences of the outcome that
happened. A chapter read as a notebook does both when it runs: each paragraph that quotes
the run is a hidden-source cell calling ``prose``. (Turning the rest of Quarto's Markdown
into Jupyter's, when the notebook is written, is the book's tooling: ``bookkit.markdown``.)
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping

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
    rendered: dict[str, str] = {}
    for expr in dict.fromkeys(inline_expressions(text)):  # all of them, as Quarto evaluates every one
        try:
            value = eval(expr, scope)  # noqa: S307 - the chapter's own expression, as Quarto evaluates it
        except Exception as exc:  # noqa: BLE001 - said in one line, below
            raise InlineError(f"the text of this cell shows `{expr}`, which failed with {type(exc).__name__}: "
                              f"{exc}. Run the cells above it first (Run > Run All Above).") from None
        data = shell.display_formatter.format(value)[0] if shell is not None else {"text/plain": repr(value)}
        rendered[expr] = inline_markdown(data)
    text, shown = choose_claims(text, _outcomes(scope))
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
            elif (start == 0 or source[start - 1] == "\n") and source[end:end + 1] == "\n":
                end += 1  # a dropped text that had a line of its own takes its line break along
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

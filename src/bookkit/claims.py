"""The page checker of the claims ledger: ``python -m bookkit.claims _book/`` (or executed notebooks).

Each chapter embeds its ledger (``aebook.claims.Ledger.summary``), and the prose it shows
carries, on every sentence chosen by a claim, which claim and which outcome it was written
for: ``data-claim`` and ``data-when`` on the page (kept there by tools/claims.lua), the
``aebook.claims`` metadata of a notebook's ``prose`` outputs. The checker re-runs every
test on its stored evidence, and checks that every sentence the page shows was written for
the outcome that evidence gives. It needs nothing but the pages.

Every chapter page must carry a ledger (each ``chapters/*.html`` of a rendered book, each
executed notebook with code); a page that cannot be checked (not readable, a ledger cut
off or malformed, a chapter without a ledger) is named in one line and the other pages are
still checked. Exit status: 0 every claim holds; 1 a contradiction (wins over 3); 2 nothing
to check; 3 a page that could not be checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from aebook.claims import MARKER, OUTCOME, TESTS, Claim, show_value


@dataclass
class Finding:
    """One claim as found on a page, and whether the page agrees with its evidence."""

    page: str
    claim: Claim
    problems: list[str]
    said: int = 0  # how many sentences of the page were chosen by it


class PageError(ValueError):
    """A page that cannot be checked (unreadable, a malformed ledger, a chapter without one); one line."""


class _ClaimsAndLedgers(HTMLParser):
    """Collect a page's ledgers and the claim each chosen sentence was written for (``data-claim``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ledgers: list[str] = []
        self.said: list[tuple[str, str]] = []  # (claim id, outcome written for)
        self.in_ledger = False  # still True after ``close``: the page ends inside a ledger (it was cut)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and MARKER in (found.get("class") or "").split():
            self.in_ledger = True
            self.ledgers.append("")
        elif "data-claim" in found:
            self.said.append((found["data-claim"] or "", found.get("data-when") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.in_ledger:
            self.in_ledger = False

    def handle_data(self, data: str) -> None:
        if self.in_ledger:
            self.ledgers[-1] += data


@dataclass
class Page:
    """What a page holds for the checker: its ledgers (raw JSON), the claims its sentences were chosen
    by, and whether it is a chapter (which must carry a ledger)."""

    path: Path
    ledgers: list[str]
    said: list[tuple[str, str]] = field(default_factory=list)
    chapter: bool = False
    cut: bool = False  # the page ends inside its last ledger


def load_page(path: Path) -> Page:
    """Read a rendered HTML page or a notebook; ``PageError`` (one line) when it cannot be read.

    A chapter page is an HTML page in a ``chapters/`` folder (as in a rendered book) or an
    executed notebook with code; the other pages (the preface, the references, search pages,
    notebooks not yet executed) need no ledger.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PageError(f"cannot read it: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise PageError(f"cannot read it: {exc.strerror or exc}") from None
    if path.suffix != ".ipynb":
        parser = _ClaimsAndLedgers()
        parser.feed(raw)
        parser.close()
        return Page(path, [s.replace("<\\/", "</") for s in parser.ledgers], parser.said,
                    chapter=path.parent.name == "chapters", cut=parser.in_ledger)
    try:
        parts, said, ran = [], [], False
        for cell in json.loads(raw)["cells"]:
            if cell["cell_type"] == "code":
                ran = ran or bool(cell.get("outputs")) or cell.get("execution_count") is not None
            for out in cell.get("outputs", []):
                parts.append("".join(out.get("data", {}).get("text/markdown", "")))
                said += list(out.get("metadata", {}).get("aebook", {}).get("claims", {}).items())
    except json.JSONDecodeError as exc:
        raise PageError(f"not a readable notebook: its JSON breaks off or is damaged ({exc.msg} at line "
                        f"{exc.lineno}, column {exc.colno})") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise PageError(f"not a readable notebook: {type(exc).__name__} {exc} where a cell was expected") from None
    parser = _ClaimsAndLedgers()
    parser.feed("\n".join(parts))
    parser.close()
    return Page(path, [s.replace("<\\/", "</") for s in parser.ledgers], said, chapter=ran, cut=parser.in_ledger)


CLAIM_FIELDS = ("id", "evidence", "test", "params", "outcome", "about")
OPTIONAL_FIELDS = ("about",)


def _ledger_json(page: Page, number: int, raw: str) -> dict | str:
    """Ledger ``number`` of a page as a dict, or what is wrong with it (one line)."""
    which = "its ledger" if len(page.ledgers) == 1 else f"its ledger {number}"
    if page.cut and number == len(page.ledgers):
        return f"{which} is cut off: the page ends inside it (a partly written or truncated file)"
    try:
        ledger = json.loads(raw)
    except json.JSONDecodeError as exc:
        return (f"{which} is not valid JSON ({exc.msg} at character {exc.pos} of {len(raw)}): the page was cut "
                "or edited")
    if not isinstance(ledger, dict) or not isinstance(ledger.get("claims"), list):
        return f"{which} is malformed: it should be an object with a list of \"claims\""
    return ledger


def claim_from_json(raw: object) -> Claim:
    """A ``Claim`` from a ledger entry, or ``ValueError`` saying (in one line) what is malformed."""
    if not isinstance(raw, dict):
        raise ValueError(f"is {type(raw).__name__}, not an object")
    unknown = [k for k in raw if k not in CLAIM_FIELDS]
    lacking = [k for k in CLAIM_FIELDS if k not in raw and k not in OPTIONAL_FIELDS]
    wrong = []
    if unknown:
        wrong.append("unknown key" + "s" * (len(unknown) > 1) + " " + ", ".join(map(repr, unknown)))
    if lacking:
        wrong.append("no " + ", ".join(map(repr, lacking)))
    if wrong:
        raise ValueError("; ".join(wrong))
    number = (int, float, bool)
    if not isinstance(raw["id"], str) or not raw["id"]:
        wrong.append("'id' is not a name")
    if not isinstance(raw["evidence"], dict) or not all(isinstance(v, number) for v in raw["evidence"].values()):
        wrong.append("'evidence' is not a set of named numbers")
    if not isinstance(raw["test"], str) or raw["test"] not in TESTS:
        wrong.append(f"'test' is {raw['test']!r}, not one of {', '.join(TESTS)}")
    if not isinstance(raw["params"], dict):
        wrong.append("'params' is not an object")
    if not isinstance(raw["outcome"], str) or not OUTCOME.match(raw["outcome"]):
        wrong.append(f"'outcome' {raw['outcome']!r} is not an outcome word")
    if not isinstance(raw.get("about", ""), str):
        wrong.append("'about' is not text")
    if wrong:
        raise ValueError("; ".join(wrong))
    try:  # the test must run on the stored evidence: its params fit it and name evidence that is there
        TESTS[raw["test"]](raw["evidence"], **raw["params"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"its {raw['test']!r} test cannot run on its evidence and params "
                         f"({type(exc).__name__}: {exc})") from None
    return Claim(**raw)


def inspect_page(path: Path) -> tuple[list[Finding], list[str]]:
    """Every well-formed claim of a page, checked; and what keeps the page from being checked in full.

    The second list has one line per problem: a ledger that is not valid JSON or is cut off, a
    malformed claim, a chapter page that carries no ledger, a sentence chosen by a claim the page's
    ledger does not have. ``PageError`` when the page cannot be read at all.
    """
    page = load_page(path)
    findings, problems = [], []
    if page.chapter and not page.ledgers:
        problems.append("a chapter page without a claims ledger: the \"What held on this run\" box "
                        "(ledger.summary(), the chapter's last cell) is missing or did not run")
    known: set[str] = set()
    for number, raw_ledger in enumerate(page.ledgers, 1):
        ledger = _ledger_json(page, number, raw_ledger)
        if isinstance(ledger, str):
            problems.append(ledger)
            continue
        for index, raw in enumerate(ledger["claims"], 1):
            name = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            known.add(name or "")
            try:
                claim = claim_from_json(raw)
            except ValueError as exc:
                problems.append(f"claim {index}{f' ({name!r})' if name else ''} of its ledger is malformed: {exc}")
                continue
            said = [when for ident, when in page.said if ident == claim.id]
            findings.append(Finding(str(path), claim, _contradictions(claim, said), said=len(said)))
    if page.ledgers and not problems:
        for ident in dict.fromkeys(i for i, _ in page.said if i not in known):
            problems.append(f"a sentence is chosen by claim {ident!r}, which the page's ledger does not have")
    return findings, problems


def _contradictions(claim: Claim, said: list[str]) -> list[str]:
    """The ways a page contradicts a claim (``said``: the outcomes its sentences were written for)."""
    problems = []
    try:
        again = claim.recomputed()
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        again = f"unusable test ({type(exc).__name__}: {exc})"
    if again != claim.outcome:
        problems.append(f"its evidence gives {again!r}, but the page chose {claim.outcome!r}")
    for when in dict.fromkeys(said):
        if when != again:
            problems.append(f"the page shows a sentence written for {when!r}")
    return problems


def check_page(path: Path) -> list[Finding]:
    """Every claim of a page, each with the ways the page contradicts it (none when it holds).

    Raises ``PageError`` naming what is wrong when the page cannot be checked in full
    (``inspect_page`` checks what it can and lists the rest).
    """
    findings, problems = inspect_page(path)
    if problems:
        raise PageError("; ".join(problems))
    return findings


def pages(paths: Iterable[Path]) -> list[Path]:
    """The HTML pages and notebooks named, folders searched recursively (site_libs skipped)."""
    found = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in {".html", ".ipynb"}
                            and "site_libs" not in q.parts and ".ipynb_checkpoints" not in q.parts)
        else:
            found.append(p)
    return found


HOLD, CONTRADICTED, NOTHING, UNCHECKED = 0, 1, 2, 3  # exit statuses of ``python -m bookkit.claims``

CLI_HELP = """\
Print every measured claim of a rendered book or of executed notebooks (page, claim,
evidence, outcome, sentences, status) and check that every sentence a page shows was
written for the outcome its evidence gives.

Every chapter page must carry a ledger: each chapters/*.html of a rendered book and
each executed notebook with code. Other pages (the preface, the references, search
pages, notebooks not yet executed) need none. A page that cannot be checked is named
on standard error, one line each, and the other pages are still checked and printed.

exit status:
  0  every claim holds
  1  a contradiction: the evidence gives another outcome than the page chose, or the
     page shows a sentence written for another outcome (this wins over 3 when both
     occur; the unchecked pages are still named)
  2  nothing to check: no such file or folder, or no ledger and no chapter page in it
  3  a page could not be checked: unreadable, a ledger cut off or malformed (an
     unknown or missing key), a chapter page without a ledger, or a sentence chosen
     by a claim the ledger does not have"""


def main(argv: list[str] | None = None) -> int:
    """Print the ledger of rendered pages or executed notebooks; exit status as in ``CLI_HELP``."""
    parser = argparse.ArgumentParser(prog="python -m bookkit.claims", description=CLI_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="_book/ folder, HTML pages or .ipynb files")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(missing)} (render the book, or execute the notebooks, "
              "first)", file=sys.stderr)
        return NOTHING
    findings: list[Finding] = []
    unchecked: list[str] = []  # "page: what is wrong", one per problem
    broken: set[Path] = set()
    for page in pages(args.paths):
        try:
            found, problems = inspect_page(page)
        except PageError as exc:
            found, problems = [], [str(exc)]
        findings += found
        unchecked += [f"{page}: {problem}" for problem in problems]
        broken |= {page} if problems else set()
    if not findings and not unchecked:
        print(f"no claims ledger found in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return NOTHING
    bad = 0
    for f in findings:
        evidence = ", ".join(f"{k}={show_value(v)}" for k, v in f.claim.evidence.items())
        status = "ok" if not f.problems else "CONTRADICTION: " + "; ".join(f.problems)
        bad += bool(f.problems)
        said = f"{f.said} sentence{'s' * (f.said != 1)}" if f.said else "in the table only"
        print(f"{Path(f.page).name}\t{f.claim.id}\t{evidence}\t{f.claim.outcome}\t{said}\t{status}")
    sys.stdout.flush()
    for line in unchecked:
        print(line, file=sys.stderr)
    print(f"{len(findings)} claims on {len({f.page for f in findings})} pages: "
          f"{len(findings) - bad} hold, {bad} contradicted"
          + (f"; {len(broken)} page{'s' * (len(broken) != 1)} could not be checked in full (named above)"
             if broken else ""))
    return CONTRADICTED if bad else UNCHECKED if unchecked else HOLD


if __name__ == "__main__":
    sys.exit(main())

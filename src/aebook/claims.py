"""The claims ledger: every sentence whose truth depends on a measurement is chosen by it.

A *claim* has an id, the evidence (named numbers), a declarative test that turns the
evidence into an outcome (``"lower"``, ``"tie"``, ``"higher"``, a bin label, ``"yes"`` …),
and one text per outcome. The chapter shows the text of the outcome its own run
produced, so a sentence can never outlive the numbers behind it.

Each chapter keeps one ``Ledger``; its last cell shows ``ledger.summary()``, the
"What held on this run" table, which also embeds the ledger as JSON. Then

    python -m aebook.claims _book/            # or executed notebooks, or single pages

re-evaluates every test from its stored evidence, checks that the page shows the
chosen text and none of the other outcomes' texts, prints the whole ledger, and exits
non-zero on any contradiction. Tests are data, not code, so the check needs nothing
but the page. Every chapter page must carry a ledger (each ``chapters/*.html`` of a
rendered book, each executed notebook with code); a page that cannot be checked (not
readable, a ledger cut off or with an unknown or missing key, a chapter without a
ledger) is named in one line and the other pages are still checked. Exit status:

    0  every claim holds
    1  a contradiction (this wins when pages could not be checked as well)
    2  nothing to check: no such file or folder, or no ledger and no chapter page in it
    3  a page could not be checked: unreadable, a ledger cut off or malformed, or a
       chapter page without a ledger
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path

MARKER = "aebook-ledger"
Evidence = Mapping[str, float | int | bool]


# --------------------------------------------------------------------------- tests


def compare_outcome(evidence: Evidence, a: str, b: str, tol: float = 0.0, rel_tol: float = 0.0) -> str:
    """``"lower"``, ``"higher"`` or ``"tie"`` for evidence[a] against evidence[b].

    A tie is a difference within ``max(tol, rel_tol · max(|a|, |b|))``: within noise, or
    too small to put into words.
    """
    x, y = float(evidence[a]), float(evidence[b])
    if abs(x - y) <= max(tol, rel_tol * max(abs(x), abs(y))):
        return "tie"
    return "lower" if x < y else "higher"


def threshold_outcome(evidence: Evidence, value: str, cuts: list[float], labels: list[str]) -> str:
    """The label of the bin evidence[value] falls in: ``labels[i]`` for ``cuts[i-1] <= v < cuts[i]``."""
    v = float(evidence[value])
    return labels[sum(v >= c for c in cuts)]


def flag_outcome(evidence: Evidence, value: str) -> str:
    """``"yes"`` when evidence[value] is true, else ``"no"``."""
    return "yes" if bool(evidence[value]) else "no"


TESTS = {"compare": compare_outcome, "threshold": threshold_outcome, "flag": flag_outcome}


# --------------------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class Claim:
    """One measured claim: its evidence, its test, the outcome and the text shown for it."""

    id: str
    evidence: dict[str, float | int | bool]
    test: str
    params: dict[str, object]
    texts: dict[str, str]
    outcome: str
    about: str = ""  # what is claimed, in a few words, for the summary table

    @property
    def text(self) -> str:
        """The text shown on the page."""
        return self.texts[self.outcome]

    def recomputed(self) -> str:
        """The outcome the test gives on the stored evidence (what ``outcome`` must equal)."""
        return TESTS[self.test](self.evidence, **self.params)


@dataclass
class Ledger:
    """The claims of one chapter, in the order the chapter makes them."""

    chapter: str
    claims: dict[str, Claim] = field(default_factory=dict)

    def claim(self, id: str, evidence: Evidence, test: str, texts: Mapping[str, str],
              about: str = "", **params: object) -> str:
        """Record a claim, run its test on the evidence, and return the text of the outcome."""
        if test not in TESTS:
            raise ValueError(f"unknown claim test {test!r}; choose one of {sorted(TESTS)}")
        clean = {k: _plain_number(v) for k, v in evidence.items()}
        outcome = TESTS[test](clean, **params)
        if outcome not in texts:
            raise ValueError(f"claim {id!r}: no text for the outcome {outcome!r} (texts for {sorted(texts)})")
        if not texts[outcome].strip():
            raise ValueError(f"claim {id!r}: the text for {outcome!r} is empty")
        self.claims[id] = Claim(id, clean, test, dict(params), dict(texts), outcome, about)
        return texts[outcome]

    def compare(self, id: str, a: tuple[str, float], b: tuple[str, float], texts: Mapping[str, str],
                about: str = "", tol: float = 0.0, rel_tol: float = 0.0) -> str:
        """Claim about ``a`` against ``b`` (each ``(name, value)``): outcomes lower / tie / higher."""
        return self.claim(id, {a[0]: a[1], b[0]: b[1]}, "compare", texts, about,
                          a=a[0], b=b[0], tol=tol, rel_tol=rel_tol)

    def threshold(self, id: str, value: tuple[str, float], cuts: list[float], labels: list[str],
                  texts: Mapping[str, str], about: str = "", **context: float) -> str:
        """Claim choosing among ``labels`` by the bin of ``value``; ``context`` is extra evidence shown."""
        if len(labels) != len(cuts) + 1 or list(cuts) != sorted(cuts):
            raise ValueError(f"claim {id!r}: needs ascending cuts and one label more than cuts")
        return self.claim(id, {value[0]: value[1], **context}, "threshold", texts, about,
                          value=value[0], cuts=list(cuts), labels=list(labels))

    def flag(self, id: str, value: tuple[str, bool], texts: Mapping[str, str], about: str = "",
             **context: float) -> str:
        """Claim choosing between ``texts["yes"]`` and ``texts["no"]`` by a measured fact."""
        return self.claim(id, {value[0]: bool(value[1]), **context}, "flag", texts, about, value=value[0])

    def again(self, source: str, id: str, texts: Mapping[str, str], about: str = "") -> str:
        """Another sentence chosen by claim ``source``'s evidence and test (e.g. a lesson restating a result)."""
        first = self.claims[source]
        return self.claim(id, first.evidence, first.test, texts, about or first.about, **first.params)

    def training(self, id: str, name: str, history: object) -> str:
        """How a model's training ended, in words for the page: converged, stopped early, or still improving."""
        steps, best = history.steps_run, history.best_step
        texts = {
            "stopped early": f"{name} stopped early after {steps:,} updates; the weights kept are those of "
                             f"update {best:,}, where the validation loss was lowest",
            "converged": f"{name} used its whole budget of {steps:,} updates and its validation loss had "
                         f"levelled off (best at update {best:,})",
            "still improving": f"{name} used its whole budget of {steps:,} updates and was still improving "
                               "when it ended, so its numbers understate what it can reach",
        }
        return self.threshold(id, ("stopping state", {"converged": 0, "stopped early": 1,
                                                      "still improving": 2}[history.status]),
                              [0.5, 1.5], ["converged", "stopped early", "still improving"], texts,
                              about=f"how {name[:1].lower() + name[1:]} ended training", updates=steps,
                              best_update=best)

    def outcomes(self) -> dict[str, str]:
        """Every claim's outcome so far, by id (what a notebook's ``prose`` chooses sentences by)."""
        return {id: c.outcome for id, c in self.claims.items()}

    def __getitem__(self, id: str) -> str:
        """The text shown for claim ``id``."""
        return self.claims[id].text

    def to_json(self) -> str:
        """The ledger as JSON (what ``summary`` embeds in the page)."""
        return json.dumps({"chapter": self.chapter, "claims": [asdict(c) for c in self.claims.values()]},
                          ensure_ascii=False)

    def summary(self):
        """The "What held on this run" table as Markdown, with the ledger embedded for ``python -m aebook.claims``."""
        from IPython.display import Markdown

        rows = ["| claim | evidence | outcome |", "|:---|:---|:---|"]
        for c in self.claims.values():
            evidence = ", ".join(f"{k} = {_show(v)}" for k, v in c.evidence.items())
            rows.append(f"| {_cell(c.about or c.id)} | {_cell(evidence)} | {_cell(_outcome_words(c))} |")
        payload = self.to_json().replace("</", "<\\/")
        script = f'<script type="application/json" class="{MARKER}">{payload}</script>'
        return Markdown("\n".join(rows) + "\n\n" + script + "\n")


def _outcome_words(claim: Claim) -> str:
    """The outcome as the summary table shows it: comparisons say which side is lower."""
    if claim.test != "compare":
        return claim.outcome
    a = claim.params["a"]
    return {"lower": f"{a} is lower", "higher": f"{a} is higher",
            "tie": "level (difference within noise)"}[claim.outcome]


def _plain_number(v: object) -> float | int | bool:
    """A JSON-safe number from a float, int, bool, NumPy scalar or 0-d tensor."""
    if isinstance(v, bool):
        return v
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"evidence must be finite numbers; got {v!r}")
    return f


def _show(v: float | int | bool) -> str:
    """A short display of one evidence value."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}"


def _cell(text: str) -> str:
    """Text made safe for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- checking pages


@dataclass
class Finding:
    """One claim as found on a page, and whether the page agrees with its evidence."""

    page: str
    claim: Claim
    problems: list[str]


class PageError(ValueError):
    """A page that cannot be checked (unreadable, a malformed ledger, a chapter without one); one line."""


def normalise(text: str) -> str:
    """Text as a reader sees it: Markdown emphasis and code marks dropped, typographic quotes and
    dashes made plain, spaces (including thin and non-breaking ones) collapsed."""
    text = html.unescape(text)
    text = re.sub(r"[*`]|(?<!\w)_|_(?!\w)", "", text)
    for fancy, plain in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"),
                         ("\u2009", " "), ("\u202f", " "), ("\xa0", " ")):
        text = text.replace(fancy, plain)
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)  # Markdown backslash escapes (inline results)
    text = re.sub(r"-{2,3}", "-", text)  # Pandoc's smart dashes
    return re.sub(r"\s+", " ", text).strip()


class _TextAndLedgers(HTMLParser):
    """Collect a page's prose and the ledgers embedded in it.

    Code blocks and console output (``<pre>``) are left out: a rendered chapter carries
    its folded source code, which holds every outcome's text, not only the one shown.
    """

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ledgers: list[str] = []
        self.in_ledger = False  # still True after ``close``: the page ends inside a ledger (it was cut)
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "script" and MARKER in classes:
            self.in_ledger = True
            self.ledgers.append("")
        elif tag in {"script", "style", "pre"}:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.in_ledger:
            self.in_ledger = False
        elif tag in {"script", "style", "pre"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self.in_ledger:
            self.ledgers[-1] += data
        elif not self._skip:
            self.text.append(data)


@dataclass
class Page:
    """What a page holds for the checker: its visible text, its ledgers (raw JSON) and whether it is a chapter."""

    path: Path
    text: str
    ledgers: list[str]
    chapter: bool  # a chapter page must carry a ledger
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
    chapter = path.suffix == ".html" and path.parent.name == "chapters"
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(raw)["cells"]
            parts, ran = [], False
            for cell in cells:
                if cell["cell_type"] == "markdown":
                    parts.append("".join(cell["source"]))
                if cell["cell_type"] == "code":
                    ran = ran or bool(cell.get("outputs")) or cell.get("execution_count") is not None
                for out in cell.get("outputs", []):
                    data = out.get("data", {})
                    parts.append("".join(data.get("text/markdown", "")) or "".join(data.get("text/html", "")))
        except json.JSONDecodeError as exc:
            raise PageError(f"not a readable notebook: its JSON breaks off or is damaged ({exc.msg} at line "
                            f"{exc.lineno}, column {exc.colno})") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise PageError(f"not a readable notebook: {type(exc).__name__} {exc} where a cell was expected") from None
        raw, chapter = "\n".join(parts), ran
    parser = _TextAndLedgers()
    parser.feed(raw)
    parser.close()
    return Page(path, " ".join(parser.text), [s.replace("<\\/", "</") for s in parser.ledgers], chapter,
                cut=parser.in_ledger)


def read_page(path: Path) -> tuple[str, list[dict]]:
    """Visible text and embedded ledgers of a rendered HTML page or an executed notebook.

    Raises ``PageError`` when the page cannot be read or a ledger is not valid JSON.
    """
    page = load_page(path)
    ledgers = []
    for number, raw in enumerate(page.ledgers, 1):
        ledger = _ledger_json(page, number, raw)
        if isinstance(ledger, str):
            raise PageError(ledger)
        ledgers.append(ledger)
    return page.text, ledgers


CLAIM_FIELDS = ("id", "evidence", "test", "params", "texts", "outcome", "about")
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
    if not isinstance(raw["texts"], dict) or not all(isinstance(v, str) for v in raw["texts"].values()):
        wrong.append("'texts' is not a set of texts by outcome")
    elif not isinstance(raw["outcome"], str) or raw["outcome"] not in raw["texts"]:
        wrong.append(f"'outcome' {raw['outcome']!r} has no text in 'texts'")
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
    malformed claim (an unknown or missing key, a value of the wrong kind), a chapter page that
    carries no ledger. ``PageError`` when the page cannot be read at all.
    """
    page = load_page(path)
    seen = normalise(page.text)
    findings, problems = [], []
    if page.chapter and not page.ledgers:
        problems.append("a chapter page without a claims ledger: the \"What held on this run\" box "
                        "(ledger.summary(), the chapter's last cell) is missing or did not run")
    for number, raw_ledger in enumerate(page.ledgers, 1):
        ledger = _ledger_json(page, number, raw_ledger)
        if isinstance(ledger, str):
            problems.append(ledger)
            continue
        for index, raw in enumerate(ledger["claims"], 1):
            try:
                claim = claim_from_json(raw)
            except ValueError as exc:
                name = f" ({raw['id']!r})" if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ""
                problems.append(f"claim {index}{name} of its ledger is malformed: {exc}")
                continue
            findings.append(Finding(str(path), claim, _contradictions(claim, seen)))
    return findings, problems


def _contradictions(claim: Claim, seen: str) -> list[str]:
    """The ways a page (its normalised text ``seen``) contradicts a claim; none when it holds."""
    problems = []
    try:
        again = claim.recomputed()
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        again = f"unusable test ({type(exc).__name__}: {exc})"
    if again != claim.outcome:
        problems.append(f"its evidence gives {again!r}, but the page chose {claim.outcome!r}")
    shown = normalise(claim.text)
    if shown not in seen:
        problems.append(f"the chosen text is not on the page: {shown[:90]!r}")
    for outcome, other in claim.texts.items():
        other_n = normalise(other)
        if outcome != claim.outcome and other_n != shown and len(other_n) >= 20 \
                and other_n not in shown and other_n in seen:
            problems.append(f"the page shows the text for {outcome!r}: {other_n[:90]!r}")
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


HOLD, CONTRADICTED, NOTHING, UNCHECKED = 0, 1, 2, 3  # exit statuses of ``python -m aebook.claims``

CLI_HELP = """\
Print every measured claim of a rendered book or of executed notebooks (page, claim,
evidence, outcome, status) and check that each page shows the text its evidence chose.

Every chapter page must carry a ledger: each chapters/*.html of a rendered book and
each executed notebook with code. Other pages (the preface, the references, search
pages, notebooks not yet executed) need none. A page that cannot be checked is named
on standard error, one line each, and the other pages are still checked and printed.

exit status:
  0  every claim holds
  1  a contradiction: a page shows a text its evidence did not choose (this wins
     over 3 when both occur; the unchecked pages are still named)
  2  nothing to check: no such file or folder, or no ledger and no chapter page in it
  3  a page could not be checked: unreadable, a ledger cut off or malformed (an
     unknown or missing key), or a chapter page without a ledger"""


def main(argv: list[str] | None = None) -> int:
    """Print the ledger of rendered pages or executed notebooks; exit status as in ``CLI_HELP``."""
    parser = argparse.ArgumentParser(prog="python -m aebook.claims", description=CLI_HELP,
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
        evidence = ", ".join(f"{k}={_show(v)}" for k, v in f.claim.evidence.items())
        status = "ok" if not f.problems else "CONTRADICTION: " + "; ".join(f.problems)
        bad += bool(f.problems)
        print(f"{Path(f.page).name}\t{f.claim.id}\t{evidence}\t{f.claim.outcome}\t{status}")
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

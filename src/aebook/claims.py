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
but the page.
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
        self._in_ledger = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "script" and MARKER in classes:
            self._in_ledger = True
            self.ledgers.append("")
        elif tag in {"script", "style", "pre"}:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_ledger:
            self._in_ledger = False
        elif tag in {"script", "style", "pre"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_ledger:
            self.ledgers[-1] += data
        elif not self._skip:
            self.text.append(data)


def read_page(path: Path) -> tuple[str, list[dict]]:
    """Visible text and embedded ledgers of a rendered HTML page or an executed notebook."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        parts = []
        for cell in json.loads(raw)["cells"]:
            if cell["cell_type"] == "markdown":
                parts.append("".join(cell["source"]))
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                parts.append("".join(data.get("text/markdown", "")) or "".join(data.get("text/html", "")))
        raw = "\n".join(parts)
    parser = _TextAndLedgers()
    parser.feed(raw)
    return " ".join(parser.text), [json.loads(s.replace("<\\/", "</")) for s in parser.ledgers]


def check_page(path: Path) -> list[Finding]:
    """Every claim of a page, each with the ways the page contradicts it (none when it holds)."""
    text, ledgers = read_page(path)
    seen = normalise(text)
    findings = []
    for ledger in ledgers:
        for raw in ledger["claims"]:
            claim = Claim(**raw)
            problems = []
            try:
                again = claim.recomputed()
            except (KeyError, TypeError, ValueError) as exc:
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
            findings.append(Finding(str(path), claim, problems))
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


def main(argv: list[str] | None = None) -> int:
    """Print the ledger of rendered pages or executed notebooks; exit 1 on a contradiction."""
    parser = argparse.ArgumentParser(
        prog="python -m aebook.claims",
        description="Print every measured claim of a rendered book or executed notebooks (claim, "
                    "evidence, outcome) and check each page shows the text its evidence chose. "
                    "Exit status: 0 all hold, 1 a contradiction, 2 no ledger found.")
    parser.add_argument("paths", nargs="+", type=Path, help="_book/ folder, HTML pages or .ipynb files")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(missing)} (render the book, or execute the notebooks, "
              "first)", file=sys.stderr)
        return 2
    try:
        findings = [f for page in pages(args.paths) for f in check_page(page)]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"cannot read a page: {exc}", file=sys.stderr)
        return 2
    if not findings:
        print(f"no claims ledger found in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 2
    bad = 0
    for f in findings:
        evidence = ", ".join(f"{k}={_show(v)}" for k, v in f.claim.evidence.items())
        status = "ok" if not f.problems else "CONTRADICTION: " + "; ".join(f.problems)
        bad += bool(f.problems)
        print(f"{Path(f.page).name}\t{f.claim.id}\t{evidence}\t{f.claim.outcome}\t{status}")
    print(f"{len(findings)} claims on {len({f.page for f in findings})} pages: "
          f"{len(findings) - bad} hold, {bad} contradicted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

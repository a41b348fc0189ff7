"""The claims ledger: every sentence whose truth depends on a measurement is chosen by it.

A *claim* has an id, the evidence (named numbers) and a declarative test that turns the
evidence into an outcome: ``"lower"``, ``"tie"`` or ``"higher"`` for a comparison, a bin
label for a threshold, ``"yes"`` or ``"no"`` for a measured fact. The code cell declares
the claim; the chapter's prose writes a whole sentence for each outcome, in the paragraph
where it is read::

    [The code keeps most of the detail.]{claim="fc-blur" when="kept"}
    [The reconstructions are softer than the originals.]{claim="fc-blur" when="softened"}

(or a ``::: {claim="…" when="…"}`` div for whole paragraphs). On the site only the
outcome that happened reaches the page (the book's Quarto filter, tools/claims.lua); in a
notebook ``aebook.quarto_md.prose`` does the same. So a sentence can never outlive the
numbers behind it.

Each chapter keeps one ``Ledger``; its last cell shows ``ledger.summary()``, the "What held
on this run" table, which also embeds the ledger as JSON, so the book's checker
(``python -m bookkit.claims _book/``) can re-evaluate every test from the page alone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

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

OUTCOME = re.compile(r"^[A-Za-z0-9][\w.-]*$")  # an outcome is one word, so prose can name it in when="…"


@dataclass(frozen=True)
class Claim:
    """One measured claim: its evidence, its test and the outcome the test gave."""

    id: str
    evidence: dict[str, float | int | bool]
    test: str
    params: dict[str, object]
    outcome: str
    about: str = ""  # what is claimed, in a few words, for the summary table

    def recomputed(self) -> str:
        """The outcome the test gives on the stored evidence (what ``outcome`` must equal)."""
        return TESTS[self.test](self.evidence, **self.params)


@dataclass
class Ledger:
    """The claims of one chapter, in the order the chapter makes them."""

    chapter: str
    claims: dict[str, Claim] = field(default_factory=dict)

    def claim(self, id: str, evidence: Evidence, test: str, about: str = "", **params: object) -> str:
        """Record a claim, run its test on the evidence, and return its outcome."""
        if test not in TESTS:
            raise ValueError(f"unknown claim test {test!r}; choose one of {sorted(TESTS)}")
        if not OUTCOME.match(id):
            raise ValueError(f"claim id {id!r}: use letters, digits, '-', '_' or '.', no spaces")
        clean = {k: _plain_number(v) for k, v in evidence.items()}
        outcome = TESTS[test](clean, **params)
        self.claims[id] = Claim(id, clean, test, dict(params), outcome, about)
        return outcome

    def compare(self, id: str, a: tuple[str, float], b: tuple[str, float], about: str = "",
                tol: float = 0.0, rel_tol: float = 0.0) -> str:
        """Claim about ``a`` against ``b`` (each ``(name, value)``): outcome ``lower``, ``tie`` or ``higher``
        (for ``a``), a tie being a difference within ``max(tol, rel_tol · max(|a|, |b|))``."""
        return self.claim(id, {a[0]: a[1], b[0]: b[1]}, "compare", about, a=a[0], b=b[0], tol=tol, rel_tol=rel_tol)

    def threshold(self, id: str, value: tuple[str, float], cuts: list[float], labels: list[str],
                  about: str = "", **context: float) -> str:
        """Claim choosing among ``labels`` (one word each) by the bin of ``value``; ``context`` is extra
        evidence shown in the summary."""
        if len(labels) != len(cuts) + 1 or list(cuts) != sorted(cuts):
            raise ValueError(f"claim {id!r}: needs ascending cuts and one label more than cuts")
        if bad := [label for label in labels if not OUTCOME.match(label)]:
            raise ValueError(f"claim {id!r}: outcome {bad[0]!r} must be one word (letters, digits, '-', '_')")
        return self.claim(id, {value[0]: value[1], **context}, "threshold", about,
                          value=value[0], cuts=list(cuts), labels=list(labels))

    def flag(self, id: str, value: tuple[str, bool], about: str = "", **context: float) -> str:
        """Claim with outcome ``yes`` or ``no``: whether a measured fact holds."""
        return self.claim(id, {value[0]: bool(value[1]), **context}, "flag", about, value=value[0])

    def training(self, id: str, name: str, history: object) -> str:
        """How a model's training ended: ``converged`` (its budget spent, the validation loss flat),
        ``stopped-early`` or ``still-improving`` (its numbers understate what it can reach)."""
        steps, best = history.steps_run, history.best_step
        return self.threshold(id, ("stopping state", {"converged": 0, "stopped early": 1,
                                                      "still improving": 2}[history.status]),
                              [0.5, 1.5], ["converged", "stopped-early", "still-improving"],
                              about=f"how {name[:1].lower() + name[1:]} ended training", updates=steps,
                              best_update=best)

    def outcomes(self) -> dict[str, str]:
        """Every claim's outcome so far, by id (what the prose chooses its sentences by)."""
        return {id: c.outcome for id, c in self.claims.items()}

    def __getitem__(self, id: str) -> str:
        """The outcome of claim ``id``."""
        return self.claims[id].outcome

    def to_json(self) -> str:
        """The ledger as JSON (what ``summary`` embeds in the page)."""
        return json.dumps({"chapter": self.chapter, "claims": [asdict(c) for c in self.claims.values()]},
                          ensure_ascii=False)

    def summary(self):
        """The "What held on this run" table as Markdown, with the ledger embedded for the page checker."""
        from IPython.display import Markdown

        rows = ["| claim | evidence | outcome |", "|:---|:---|:---|"]
        for c in self.claims.values():
            evidence = ", ".join(f"{k} = {show_value(v)}" for k, v in c.evidence.items())
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


def show_value(v: float | int | bool) -> str:
    """A short display of one evidence value."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}"


def _cell(text: str) -> str:
    """Text made safe for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")



"""The claims ledger: outcomes chosen by evidence, and the checker that catches a page contradicting it."""

import json

import pytest

from aebook import claims as C
from aebook.train import History

TEXTS = {"lower": "The autoencoder beats PCA on this run.",
         "tie": "The autoencoder and PCA are level on this run.",
         "higher": "PCA beats the autoencoder on this run."}


def test_compare_chooses_by_evidence_with_a_tie_band():
    ledger = C.Ledger("ch")
    assert ledger.compare("a", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02) == TEXTS["lower"]
    assert ledger.compare("b", ("ae", 0.0150), ("pca", 0.0151), TEXTS, rel_tol=0.02) == TEXTS["tie"]
    assert ledger.compare("c", ("ae", 0.02), ("pca", 0.015), TEXTS, rel_tol=0.02) == TEXTS["higher"]
    assert ledger.compare("d", ("ae", 0.5), ("pca", 0.5), TEXTS) == TEXTS["tie"]  # equal values: a tie
    assert ledger.compare("e", ("acc", 0.80), ("base", 0.75), TEXTS, tol=0.06) == TEXTS["tie"]  # within noise
    assert ledger["a"] == TEXTS["lower"] and ledger.claims["c"].outcome == "higher"


def test_again_reuses_a_claims_evidence_and_test():
    ledger = C.Ledger("ch")
    ledger.compare("a", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02, about="ae against pca")
    assert ledger.again("a", "a-lesson", {"lower": "So it pays.", "tie": "So it is even.",
                                          "higher": "So it does not pay."}) == "So it pays."
    first, second = ledger.claims["a"], ledger.claims["a-lesson"]
    assert (second.evidence, second.test, second.params, second.about) == \
        (first.evidence, first.test, first.params, first.about)
    assert second.recomputed() == "lower"


def test_threshold_and_flag():
    ledger = C.Ledger("ch")
    texts = {"none": "nothing is lost", "part": "part of it is lost", "all": "all of it is lost, and more"}
    choose = lambda v: ledger.threshold("s", ("share", v), [0.05, 1.0], ["none", "part", "all"], texts)  # noqa: E731
    assert [choose(v) for v in (0.0, 0.5, 1.0, 1.16)] == [texts["none"], texts["part"], texts["all"], texts["all"]]
    assert ledger.flag("f", ("cached", True), {"yes": "loaded", "no": "trained"}) == "loaded"


def test_a_claim_needs_a_text_for_its_outcome_and_finite_evidence():
    ledger = C.Ledger("ch")
    with pytest.raises(ValueError, match="no text for the outcome 'tie'"):
        ledger.compare("x", ("a", 1.0), ("b", 1.0), {"lower": "l", "higher": "h"})
    with pytest.raises(ValueError, match="finite"):
        ledger.compare("x", ("a", float("nan")), ("b", 1.0), TEXTS)
    with pytest.raises(ValueError, match="unknown claim test"):
        ledger.claim("x", {"a": 1}, "vibes", {"yes": "y"})


def test_training_claim_names_how_a_run_ended():
    ledger = C.Ledger("ch")
    ended = History(step=[100, 200], val_loss=[0.2, 0.1], best_step=200, still_improving=True)
    assert "still improving" in ledger.training("t1", "The model", ended)
    stopped = History(step=[100, 200], val_loss=[0.1, 0.2], best_step=100, stopped_early=True)
    assert "stopped early after 200 updates" in ledger.training("t2", "The model", stopped)


def page_with(ledger: C.Ledger, prose: str) -> str:
    """A page as Quarto would write it: prose, then the summary cell's Markdown turned into HTML."""
    summary = ledger.summary().data
    table, script = summary.split("\n\n<script", 1)
    return f"<html><body><main><p>{prose}</p><table>{table}</table><script{script}</main></body></html>"


def test_checker_passes_a_page_that_shows_what_its_evidence_chose(tmp_path):
    ledger = C.Ledger("ch1")
    shown = ledger.compare("ae-vs-pca", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02)
    (tmp_path / "good.html").write_text(page_with(ledger, f"Some prose. {shown} More prose."))
    findings = C.check_page(tmp_path / "good.html")
    assert len(findings) == 1 and findings[0].problems == []
    assert C.main([str(tmp_path)]) == 0


def test_checker_fails_on_a_planted_contradiction(tmp_path, capsys):
    ledger = C.Ledger("ch1")
    ledger.compare("ae-vs-pca", ("ae", 0.020), ("pca", 0.015), TEXTS, rel_tol=0.02)  # PCA wins
    # the author hard-coded the flattering sentence instead of the ledger's text
    (tmp_path / "bad.html").write_text(page_with(ledger, f"Prose. {TEXTS['lower']}"))
    problems = C.check_page(tmp_path / "bad.html")[0].problems
    assert any("not on the page" in p for p in problems)
    assert any("shows the text for 'lower'" in p for p in problems)
    assert C.main([str(tmp_path / "bad.html")]) == 1
    assert "CONTRADICTION" in capsys.readouterr().out


def test_checker_reads_prose_not_the_folded_source_code(tmp_path):
    ledger = C.Ledger("ch1")
    shown = ledger.compare("ae-vs-pca", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02)
    source = "<details class='code-fold'><pre><code>texts = " + repr(TEXTS) + "</code></pre></details>"
    (tmp_path / "page.html").write_text(page_with(ledger, shown + source))
    assert C.check_page(tmp_path / "page.html")[0].problems == []
    (tmp_path / "only-code.html").write_text(page_with(ledger, source))  # the text only in the code
    assert any("not on the page" in p for p in C.check_page(tmp_path / "only-code.html")[0].problems)


def test_checker_fails_when_stored_evidence_gives_another_outcome(tmp_path):
    ledger = C.Ledger("ch1")
    shown = ledger.compare("ae-vs-pca", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02)
    page = page_with(ledger, shown).replace('"ae": 0.01,', '"ae": 0.03,')  # evidence edited after the fact
    (tmp_path / "edited.html").write_text(page)
    assert any("evidence gives 'higher'" in p for p in C.check_page(tmp_path / "edited.html")[0].problems)


def test_checker_reads_executed_notebooks_and_typographic_text(tmp_path):
    ledger = C.Ledger("ch1")
    texts = {"yes": "The model's code keeps it -- mostly.", "no": "The model's code loses it entirely, sadly."}
    ledger.flag("kept", ("kept", True), texts)
    summary = ledger.summary().data
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["The model’s code keeps it – mostly."]},  # as smart quotes render
        {"cell_type": "code", "source": [], "outputs": [{"data": {"text/markdown": summary}}]}]}
    (tmp_path / "ch1.ipynb").write_text(json.dumps(notebook))
    assert C.check_page(tmp_path / "ch1.ipynb")[0].problems == []


def test_no_ledger_is_its_own_exit_status(tmp_path):
    (tmp_path / "plain.html").write_text("<p>nothing measured</p>")
    assert C.main([str(tmp_path)]) == 2


def test_missing_or_broken_pages_get_one_line(tmp_path, capsys):
    assert C.main([str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "broken.ipynb").write_text("{ not json")
    assert C.main([str(tmp_path / "broken.ipynb")]) == 2
    assert "cannot read a page" in capsys.readouterr().err

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
    assert C.main([str(tmp_path / "broken.ipynb")]) == 3  # unreadable: its own status, not "nothing to check"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'broken.ipynb'}: not a readable notebook")


# --------------------------------------------------------------------------- pages that cannot be checked


def two_claims() -> tuple[C.Ledger, str]:
    """A ledger of two claims, and prose that shows what both chose."""
    ledger = C.Ledger("ch")
    first = ledger.compare("ae-vs-pca", ("ae", 0.010), ("pca", 0.015), TEXTS, rel_tol=0.02)
    second = ledger.flag("cached", ("cached", True), {"yes": "The model was loaded from the cache.",
                                                      "no": "The model was trained on this run."})
    return ledger, f"{first} {second}"


def run_checker(capsys, *paths):
    """Exit status, printed ledger lines (stdout) and problem lines (stderr) of ``python -m aebook.claims``."""
    status = C.main([str(p) for p in paths])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_a_cut_ledger_is_named_and_the_other_pages_are_still_checked(tmp_path, capsys):
    ledger, prose = two_claims()
    page = page_with(ledger, prose)
    (tmp_path / "a-good.html").write_text(page)
    (tmp_path / "b-cut.html").write_text(page.replace(', "test"', ' "test"', 1))  # a piece of the JSON gone
    (tmp_path / "c-truncated.html").write_text(page[:page.index('"texts"')])  # the file ends inside the ledger
    (tmp_path / "d-good.html").write_text(page)
    status, out, err = run_checker(capsys, tmp_path)
    assert status == 3
    assert [line.split("\t")[0] for line in out[:-1]] == ["a-good.html"] * 2 + ["d-good.html"] * 2
    assert all(line.endswith("\tok") for line in out[:-1])
    assert len(err) == 2
    assert err[0].startswith(f"{tmp_path / 'b-cut.html'}: its ledger is not valid JSON (Expecting ',' delimiter")
    assert err[1].startswith(f"{tmp_path / 'c-truncated.html'}: its ledger is cut off")
    assert out[-1] == "4 claims on 2 pages: 4 hold, 0 contradicted; 2 pages could not be checked in full (named above)"
    with pytest.raises(C.PageError, match="not valid JSON"):
        C.check_page(tmp_path / "b-cut.html")


@pytest.mark.parametrize("old, new, why", [
    ('"evidence":', '"evidnce":', "unknown key 'evidnce'; no 'evidence'"),
    ('"outcome": "lower"', '"outcome": "lowest"', "'outcome' 'lowest' has no text in 'texts'"),
    ('"rel_tol":', '"rel_tl":', "its 'compare' test cannot run on its evidence and params (TypeError"),
    ('"test": "compare"', '"test": "vibes"', "'test' is 'vibes', not one of compare, threshold, flag"),
])
def test_a_malformed_claim_is_named_and_is_not_a_contradiction(tmp_path, capsys, old, new, why):
    ledger, prose = two_claims()
    page = page_with(ledger, prose)
    (tmp_path / "page.html").write_text(page.replace(old, new, 1))  # in the first claim only
    status, out, err = run_checker(capsys, tmp_path / "page.html")
    assert status == 3  # not 1: nothing was contradicted, the ledger could not be read in full
    assert len(err) == 1
    assert err[0].startswith(f"{tmp_path / 'page.html'}: claim 1 ('ae-vs-pca') of its ledger is malformed: {why}")
    assert out[0].split("\t")[1] == "cached" and out[0].endswith("\tok")  # the page's other claim still checked
    assert out[-1].startswith("1 claims on 1 pages: 1 hold, 0 contradicted; 1 page could not be checked")
    with pytest.raises(C.PageError, match="malformed"):
        C.check_page(tmp_path / "page.html")


def test_a_contradiction_wins_over_a_page_that_cannot_be_checked(tmp_path, capsys):
    ledger = C.Ledger("ch1")
    ledger.compare("ae-vs-pca", ("ae", 0.020), ("pca", 0.015), TEXTS, rel_tol=0.02)  # PCA wins
    (tmp_path / "bad.html").write_text(page_with(ledger, f"Prose. {TEXTS['lower']}"))
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    status, out, err = run_checker(capsys, tmp_path)
    assert status == 1
    assert "CONTRADICTION" in out[0] and len(err) == 1 and err[0].startswith(str(tmp_path / "broken.ipynb"))


def book_folder(root, chapters_with_ledger, chapters_without):
    """A rendered book as Quarto lays it out: index.html, chapters/*.html, references.html, site_libs/."""
    ledger, prose = two_claims()
    (root / "chapters").mkdir(parents=True)
    (root / "site_libs").mkdir()
    (root / "index.html").write_text("<p>Preface: no measurements here.</p>")
    (root / "references.html").write_text("<p>References.</p>")
    (root / "search.html").write_text("<p>Search</p>")
    (root / "site_libs" / "widget.html").write_text("<p>not a page</p>")
    for name in chapters_with_ledger:
        (root / "chapters" / name).write_text(page_with(ledger, prose))
    for name in chapters_without:
        (root / "chapters" / name).write_text(f"<p>{prose}</p>")  # its last cell did not run


def test_every_chapter_page_of_a_book_carries_a_ledger(tmp_path, capsys):
    book_folder(tmp_path / "book", ["01-a.html", "03-c.html"], ["02-b.html"])
    status, out, err = run_checker(capsys, tmp_path / "book")
    assert status == 3
    assert err == [f"{tmp_path / 'book' / 'chapters' / '02-b.html'}: a chapter page without a claims ledger: "
                   "the \"What held on this run\" box (ledger.summary(), the chapter's last cell) is missing "
                   "or did not run"]
    assert [line.split("\t")[0] for line in out[:-1]] == ["01-a.html"] * 2 + ["03-c.html"] * 2
    assert out[-1].startswith("4 claims on 2 pages: 4 hold, 0 contradicted; 1 page could not be checked")
    book_folder(tmp_path / "whole", ["01-a.html", "02-b.html"], [])  # index, references, search need none
    status, out, err = run_checker(capsys, tmp_path / "whole")
    assert status == 0 and err == [] and out[-1] == "4 claims on 2 pages: 4 hold, 0 contradicted"
    book_folder(tmp_path / "bare", [], ["01-a.html"])  # no ledger anywhere, but a chapter: not "nothing to check"
    assert run_checker(capsys, tmp_path / "bare")[0] == 3


def notebook(cells):
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_every_executed_notebook_with_code_carries_a_ledger(tmp_path, capsys):
    ledger, prose = two_claims()
    summary = ledger.summary().data
    ran = {"cell_type": "code", "source": "x = 1", "execution_count": 1, "outputs": []}
    (tmp_path / "01-a.ipynb").write_text(notebook([{"cell_type": "markdown", "source": prose}, ran, {
        "cell_type": "code", "source": "ledger.summary()", "execution_count": 2,
        "outputs": [{"output_type": "display_data", "data": {"text/markdown": summary}, "metadata": {}}]}]))
    (tmp_path / "02-b.ipynb").write_text(notebook([{"cell_type": "markdown", "source": prose}, ran]))
    (tmp_path / "index.ipynb").write_text(notebook([{"cell_type": "markdown", "source": "# Preface"}]))
    status, out, err = run_checker(capsys, tmp_path)
    assert status == 3
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / '02-b.ipynb'}: a chapter page without a claims ledger")
    assert [line.split("\t")[0] for line in out[:-1]] == ["01-a.ipynb"] * 2
    unexecuted = tmp_path / "downloads"  # notebooks as the book offers them for download: nothing ran yet
    unexecuted.mkdir()
    (unexecuted / "01-a.ipynb").write_text(notebook([{"cell_type": "code", "source": "x = 1", "execution_count": None,
                                                      "outputs": []}]))
    assert run_checker(capsys, unexecuted)[0] == 2  # nothing to check, as before


def test_help_documents_every_exit_status(capsys):
    with pytest.raises(SystemExit) as done:
        C.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for line in ("0  every claim holds", "1  a contradiction", "2  nothing to check", "3  a page could not be checked"):
        assert line in out and line in C.__doc__

"""python -m bookkit.claims: every sentence a page shows was written for the outcome its evidence gives;
pages that cannot be checked are named, one line each, with their own exit status."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from aebook import claims as C
from bookkit import claims as K
from conftest import ROOT, find_quarto


def page_with(ledger: C.Ledger, prose: str) -> str:
    """A page as Quarto writes it: prose (with data-claim spans), then the summary cell's table and ledger."""
    table, script = ledger.summary().data.split("\n\n<script", 1)
    return f"<html><body><main><p>{prose}</p><table>{table}</table><script{script}</main></body></html>"


def said(ident: str, when: str, text: str = "A sentence.") -> str:
    return f'<span data-claim="{ident}" data-when="{when}">{text}</span>'


def two_claims() -> tuple[C.Ledger, str]:
    """A ledger of two claims, and prose that shows a sentence for what each chose."""
    ledger = C.Ledger("ch")
    ledger.compare("ae-vs-pca", ("ae", 0.010), ("pca", 0.015), rel_tol=0.02)
    ledger.flag("cached", ("cached", True))
    return ledger, said("ae-vs-pca", "lower") + " " + said("cached", "yes")


def run_checker(capsys, *paths):
    """Exit status, printed ledger lines (stdout) and problem lines (stderr)."""
    status = K.main([str(p) for p in paths])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_a_page_that_shows_what_its_evidence_chose_holds(tmp_path, capsys):
    ledger, prose = two_claims()
    (tmp_path / "good.html").write_text(page_with(ledger, prose + " " + said("ae-vs-pca", "lower", "Again.")))
    findings = K.check_page(tmp_path / "good.html")
    assert [f.problems for f in findings] == [[], []] and [f.said for f in findings] == [2, 1]
    status, out, _ = run_checker(capsys, tmp_path)
    assert status == 0 and out[0].endswith("\tlower\t2 sentences\tok")


def test_a_sentence_written_for_another_outcome_is_a_contradiction(tmp_path, capsys):
    ledger = C.Ledger("ch1")
    ledger.compare("ae-vs-pca", ("ae", 0.020), ("pca", 0.015), rel_tol=0.02)  # PCA wins
    # the filter did not run (both outcomes shown), or the author hard-coded the flattering one
    (tmp_path / "bad.html").write_text(page_with(ledger, said("ae-vs-pca", "lower") + said("ae-vs-pca", "higher")))
    problems = K.check_page(tmp_path / "bad.html")[0].problems
    assert problems == ["the page shows a sentence written for 'lower'"]
    status, out, _ = run_checker(capsys, tmp_path / "bad.html")
    assert status == 1 and "CONTRADICTION" in out[0]


def test_stored_evidence_that_gives_another_outcome_is_a_contradiction(tmp_path):
    ledger, prose = two_claims()
    page = page_with(ledger, prose).replace('"ae": 0.01,', '"ae": 0.03,')  # evidence edited after the fact
    (tmp_path / "edited.html").write_text(page)
    problems = K.check_page(tmp_path / "edited.html")[0].problems
    assert "its evidence gives 'higher', but the page chose 'lower'" in problems


def test_a_sentence_chosen_by_an_unknown_claim_is_named(tmp_path, capsys):
    ledger, prose = two_claims()
    (tmp_path / "page.html").write_text(page_with(ledger, prose + said("typo-claim", "yes")))
    status, _, err = run_checker(capsys, tmp_path / "page.html")
    assert status == 3 and err == [f"{tmp_path / 'page.html'}: a sentence is chosen by claim 'typo-claim', "
                                   "which the page's ledger does not have"]


def test_executed_notebooks_are_checked_by_their_prose_outputs(tmp_path, capsys):
    ledger, _ = two_claims()
    summary = ledger.summary().data
    cells = [{"cell_type": "code", "source": "prose(...)", "execution_count": 1, "outputs": [
        {"output_type": "display_data", "data": {"text/markdown": "It beats PCA."},
         "metadata": {"aebook": {"inline": {}, "claims": {"ae-vs-pca": "lower"}}}}]},
        {"cell_type": "code", "source": "ledger.summary()", "execution_count": 2, "outputs": [
            {"output_type": "display_data", "data": {"text/markdown": summary}, "metadata": {}}]}]
    (tmp_path / "ch1.ipynb").write_text(json.dumps({"cells": cells}))
    assert [f.problems for f in K.check_page(tmp_path / "ch1.ipynb")] == [[], []]
    cells[0]["outputs"][0]["metadata"]["aebook"]["claims"]["ae-vs-pca"] = "higher"
    (tmp_path / "ch1.ipynb").write_text(json.dumps({"cells": cells}))
    assert run_checker(capsys, tmp_path / "ch1.ipynb")[0] == 1


def test_no_ledger_missing_or_broken_pages(tmp_path, capsys):
    (tmp_path / "plain.html").write_text("<p>nothing measured</p>")
    assert K.main([str(tmp_path)]) == 2
    assert K.main([str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "broken.ipynb").write_text("{ not json")
    assert K.main([str(tmp_path / "broken.ipynb")]) == 3  # unreadable: its own status, not "nothing to check"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'broken.ipynb'}: not a readable notebook")


def test_a_cut_ledger_is_named_and_the_other_pages_are_still_checked(tmp_path, capsys):
    ledger, prose = two_claims()
    page = page_with(ledger, prose)
    (tmp_path / "a-good.html").write_text(page)
    (tmp_path / "b-cut.html").write_text(page.replace(', "test"', ' "test"', 1))  # a piece of the JSON gone
    (tmp_path / "c-truncated.html").write_text(page[:page.index('"params"')])  # the file ends inside the ledger
    (tmp_path / "d-good.html").write_text(page)
    status, out, err = run_checker(capsys, tmp_path)
    assert status == 3
    assert [line.split("\t")[0] for line in out[:-1]] == ["a-good.html"] * 2 + ["d-good.html"] * 2
    assert all(line.endswith("\tok") for line in out[:-1])
    assert err[0].startswith(f"{tmp_path / 'b-cut.html'}: its ledger is not valid JSON (Expecting ',' delimiter")
    assert err[1].startswith(f"{tmp_path / 'c-truncated.html'}: its ledger is cut off") and len(err) == 2
    assert out[-1] == "4 claims on 2 pages: 4 hold, 0 contradicted; 2 pages could not be checked in full (named above)"


@pytest.mark.parametrize("old, new, why", [
    ('"evidence":', '"evidnce":', "unknown key 'evidnce'; no 'evidence'"),
    ('"outcome": "lower"', '"outcome": "lower or so"', "'outcome' 'lower or so' is not an outcome word"),
    ('"rel_tol":', '"rel_tl":', "its 'compare' test cannot run on its evidence and params (TypeError"),
    ('"test": "compare"', '"test": "vibes"', "'test' is 'vibes', not one of compare, threshold, flag"),
])
def test_a_malformed_claim_is_named_and_is_not_a_contradiction(tmp_path, capsys, old, new, why):
    ledger, prose = two_claims()
    (tmp_path / "page.html").write_text(page_with(ledger, prose).replace(old, new, 1))  # the first claim only
    status, out, err = run_checker(capsys, tmp_path / "page.html")
    assert status == 3 and len(err) == 1
    assert err[0].startswith(f"{tmp_path / 'page.html'}: claim 1 ('ae-vs-pca') of its ledger is malformed: {why}")
    assert out[0].split("\t")[1] == "cached" and out[0].endswith("\tok")  # the page's other claim still checked


def test_every_chapter_page_of_a_book_carries_a_ledger(tmp_path, capsys):
    ledger, prose = two_claims()
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "index.html").write_text("<p>Preface: no measurements here.</p>")
    (root / "references.html").write_text("<p>References.</p>")
    (root / "chapters" / "01-a.html").write_text(page_with(ledger, prose))
    (root / "chapters" / "02-b.html").write_text(f"<p>{prose}</p>")  # its last cell did not run
    status, out, err = run_checker(capsys, root)
    assert status == 3 and err[0].startswith(f"{root / 'chapters' / '02-b.html'}: a chapter page without a claims ledger")
    (root / "chapters" / "02-b.html").unlink()
    assert run_checker(capsys, root)[0] == 0


def test_help_documents_every_exit_status(capsys):
    with pytest.raises(SystemExit) as done:
        K.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for line in ("0  every claim holds", "1  a contradiction", "2  nothing to check", "3  a page could not be checked"):
        assert line in out


QMD = """---
title: t
---

```{python}
from aebook.claims import Ledger
ledger = Ledger("t")
ledger.compare("falls", ("near", 0.9), ("far", 0.3))
```

Pixels. [Far apart it drops.]{claim="falls" when="higher"} [Far apart it does not drop.]{claim="falls" when="tie lower"} Done.

::: {claim="falls" when="higher"}
A paragraph for the drop.
:::

::: {claim="falls" when="lower"}
A paragraph for the rise.
:::

```{python}
ledger.summary()
```
"""


def test_the_quarto_filter_keeps_only_the_chosen_sentences_and_fails_on_a_missing_one(tmp_path):
    """tools/claims.lua in a real Quarto render: the page the checker reads, and a build that fails loudly."""
    quarto, why = find_quarto()
    if quarto is None:
        pytest.skip(why)
    shutil.copy(ROOT / "tools" / "claims.lua", tmp_path / "claims.lua")
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\nfilters:\n  - claims.lua\nformat: html\n")
    (tmp_path / "t.qmd").write_text(QMD)
    env = {"QUARTO_PYTHON": sys.executable, "PATH": os.environ["PATH"]}
    done = subprocess.run([quarto, "render", "t.qmd"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (tmp_path / "t.html").read_text()
    assert "it drops." in html and "does not drop" not in html and "for the drop" in html and "rise" not in html
    (tmp_path / "chapters").mkdir()
    shutil.copy(tmp_path / "t.html", tmp_path / "chapters" / "t.html")
    assert [f.said for f in K.check_page(tmp_path / "chapters" / "t.html")] == [2]
    (tmp_path / "t.qmd").write_text(QMD.replace('when="higher"', 'when="up"'))
    done = subprocess.run([quarto, "render", "t.qmd"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode != 0 and "claim 'falls' came out 'higher', and the prose has no text" in done.stderr

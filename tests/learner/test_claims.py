"""The claims ledger: outcomes chosen by evidence; a chapter's prose keeps the sentences of the outcome
that happened (``choose_claims``, what a notebook's ``prose`` does and the site's filter mirrors)."""

import pytest

from aebook import claims as C
from aebook.quarto_md import ClaimError, choose_claims, claim_divs, claim_spans, prose
from aebook.train import History


def test_compare_chooses_by_evidence_with_a_tie_band():
    ledger = C.Ledger("ch")
    assert ledger.compare("a", ("ae", 0.010), ("pca", 0.015), rel_tol=0.02) == "lower"
    assert ledger.compare("b", ("ae", 0.0150), ("pca", 0.0151), rel_tol=0.02) == "tie"
    assert ledger.compare("c", ("ae", 0.02), ("pca", 0.015), rel_tol=0.02) == "higher"
    assert ledger.compare("d", ("ae", 0.5), ("pca", 0.5)) == "tie"  # equal values: a tie
    assert ledger.compare("e", ("acc", 0.80), ("base", 0.75), tol=0.06) == "tie"  # within noise
    assert ledger["a"] == "lower" and ledger.claims["c"].recomputed() == "higher"
    assert ledger.outcomes() == {"a": "lower", "b": "tie", "c": "higher", "d": "tie", "e": "tie"}


def test_threshold_and_flag():
    ledger = C.Ledger("ch")
    choose = lambda v: ledger.threshold("s", ("share", v), [0.05, 1.0], ["none", "part", "all"])  # noqa: E731
    assert [choose(v) for v in (0.0, 0.5, 1.0, 1.16)] == ["none", "part", "all", "all"]
    assert ledger.flag("f", ("cached", True)) == "yes" and ledger.flag("g", ("cached", False)) == "no"


def test_outcomes_and_ids_are_words_prose_can_name_and_evidence_is_finite():
    ledger = C.Ledger("ch")
    with pytest.raises(ValueError, match="must be one word"):
        ledger.threshold("x", ("v", 1.0), [0.5], ["fast start", "steady"])
    with pytest.raises(ValueError, match="no spaces"):
        ledger.flag("my claim", ("v", True))
    with pytest.raises(ValueError, match="finite"):
        ledger.compare("x", ("a", float("nan")), ("b", 1.0))
    with pytest.raises(ValueError, match="unknown claim test"):
        ledger.claim("x", {"a": 1}, "vibes")


def test_training_claim_names_how_a_run_ended():
    ledger = C.Ledger("ch")
    ended = History(step=[100, 200], val_loss=[0.2, 0.1], best_step=200, still_improving=True)
    assert ledger.training("t1", "The model", ended) == "still-improving"
    stopped = History(step=[100, 200], val_loss=[0.1, 0.2], best_step=100, stopped_early=True)
    assert ledger.training("t2", "The model", stopped) == "stopped-early"
    assert ledger.claims["t2"].evidence["best_update"] == 100


TEXT = """The correlation is high. [Far apart it drops to `{python} far`, see [the figure](#fig).]{claim="falls" \
when="higher"} [Far apart it is still `{python} far`.]{claim="falls" when="tie lower"} So pixels share values.

::: {claim="blur" when="softened"}
The reconstructions are *softer* than the originals.

::: {.callout-note}
A nested callout stays whole.
:::
:::

::: {claim="blur" when="kept"}
The reconstructions keep their detail.
:::

[]{claim="falls" when="lower"}"""


def test_the_prose_keeps_only_the_sentences_of_the_outcome_that_happened():
    text, shown = choose_claims(TEXT, {"falls": "higher", "blur": "softened"})
    assert "drops to `{python} far`, see [the figure](#fig)." in text and "still" not in text
    assert "softer" in text and "nested callout stays whole" in text and "keep their detail" not in text
    assert "high. Far apart" in text and "figure](#fig). So pixels" in text  # one space where a sentence went
    assert shown == {"falls": "higher", "blur": "softened"}
    text, shown = choose_claims(TEXT, {"falls": "lower", "blur": "kept"})
    assert "is still" in text and "drops" not in text and "keep their detail" in text and "softer" not in text


def test_a_claim_without_a_sentence_for_its_outcome_or_not_yet_measured_stops():
    with pytest.raises(ClaimError, match="came out 'steady'.*no sentence for that outcome"):
        choose_claims('[Fast.]{claim="shape" when="fast"}', {"shape": "steady"})
    with pytest.raises(ClaimError, match="has not been measured: run the cells above it first"):
        choose_claims('[Fast.]{claim="shape" when="fast"}', {})


def test_claim_spans_match_brackets_and_skip_inline_code():
    spans = claim_spans('See `a]{claim="no"}` and [x [y](z) `]`]{claim="c" when="w v"}.')
    assert [(content, ident, whens) for _, _, content, ident, whens in spans] == [("x [y](z) `]`", "c", ["w", "v"])]
    with pytest.raises(ClaimError, match="never closed"):
        claim_divs('::: {claim="c" when="w"}\nno end\n')


def test_prose_shows_this_runs_words_in_a_notebook(capsys):
    ledger = C.Ledger("ch")
    ledger.compare("falls", ("near", 0.9), ("far", 0.3))
    namespace = {"ledger": ledger, "far": 0.3}
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shown = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append((data, metadata))
    prose(TEXT.split("\n\n")[0], namespace=namespace)
    data, metadata = shown[-1]
    assert "Far apart it drops to 0.3, see [the figure](#fig)." in data["text/markdown"]
    assert metadata["aebook"]["claims"] == {"falls": "higher"} and metadata["aebook"]["inline"] == {"far": "0.3"}

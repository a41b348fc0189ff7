"""`make precision`: float32 against bfloat16 on the emoji autoencoder, judged against float32's seed spread."""

import pytest

from bookkit import precision


def row(p, seed, test, seconds=100.0, updates=1000):
    return dict(precision=p, seed=seed, updates=updates, status="stopped early", seconds=seconds,
                ms=1000 * seconds / updates, test=test)


def test_a_difference_inside_float32s_seed_spread_is_within_the_noise_band():
    rows = [row("float32", 0, 0.0200), row("float32", 1, 0.0210),
            row("bfloat16", 0, 0.0203, seconds=50.0), row("bfloat16", 1, 0.0209, seconds=50.0)]
    said = precision.verdict(rows)
    assert "0.02060 against float32's 0.02050 (higher" in said
    assert "(higher by 0.00010, within float32's own spread across 2 seeds (0.00100))" in said
    assert said.endswith("its updates ran 2.00 times as fast.")


def test_a_rise_beyond_the_spread_is_said_in_bold_and_a_fall_is_no_worse():
    rows = [row("float32", 0, 0.0200), row("float32", 1, 0.0201),
            row("bfloat16", 0, 0.0190), row("bfloat16", 1, 0.0191)]
    said = precision.verdict(rows)
    assert "(lower by 0.00100, more than float32's own spread across 2 seeds (0.00010): no worse)" in said
    rows = [row("float32", 0, 0.0190), row("float32", 1, 0.0191),
            row("bfloat16", 0, 0.0200), row("bfloat16", 1, 0.0201)]
    said = precision.verdict(rows)
    assert "(**higher by 0.00100**, more than float32's own spread across 2 seeds (0.00010): worse)" in said


def test_one_seed_has_no_noise_band():
    said = precision.verdict([row("float32", 0, 0.02), row("bfloat16", 0, 0.02)])
    assert "(higher by 0.00000; with one seed there is no noise band to judge it against)" in said


def test_the_table_has_a_row_per_run_and_ends_with_the_verdict():
    rows = [row("float32", 0, 0.0200), row("float32", 1, 0.0210), row("bfloat16", 0, 0.0203),
            row("bfloat16", 1, 0.0209)]
    text = precision.markdown(rows, "label")
    assert text.startswith("### label\n")
    assert text.count("\n| float32 |") == 2 and text.count("\n| bfloat16 |") == 2
    assert "| float32 | 0 | 1,000 | stopped early | 100 | 100 | 0.02000 |" in text
    assert text.rstrip().endswith(precision.verdict(rows))


def test_without_bfloat16_instructions_it_says_so_and_trains_nothing(monkeypatch, capsys):
    monkeypatch.setattr(precision, "bfloat16_in_hardware", lambda device: False)
    monkeypatch.setattr(precision, "runs", lambda *a, **k: pytest.fail("trained although there is nothing to compare"))
    assert precision.main([]) == 2
    assert "no bfloat16 instructions" in capsys.readouterr().err

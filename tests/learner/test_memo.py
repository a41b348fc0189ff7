"""The cache of derived results: computed once, keyed by what they depend on, safe against bad files."""

import torch
from torch import nn

from aebook import memo


def test_a_result_is_computed_once_and_read_back_equal(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(6.0).view(2, 3), "n": 3, "names": ["a", "b"], "nothing": None}

    inputs = (torch.ones(4), 2.5, "x")
    first = memo.cached("thing", inputs, compute, cache=tmp_path)
    second = memo.cached("thing", (torch.ones(4), 2.5, "x"), compute, cache=tmp_path)
    assert len(calls) == 1 and torch.equal(first["w"], second["w"]) and second["names"] == ["a", "b"]
    assert second["nothing"] is None and second["n"] == 3
    memo.cached("thing", (torch.ones(4) * 2, 2.5, "x"), compute, cache=tmp_path)  # other inputs: computed again
    assert len(calls) == 2 and len(list(tmp_path.glob("thing-*.pt"))) == 2


def test_the_key_follows_values_weights_and_code():
    def f(x):
        return x + 1

    def g(x):
        return x + 2

    model = nn.Linear(2, 2)
    before = memo.digest((model, f))
    assert memo.digest((model, f)) == before
    assert memo.digest((model, g)) != before  # other code
    with torch.no_grad():
        model.weight[0, 0] += 1e-3
    assert memo.digest((model, f)) != before  # other weights
    assert memo.digest(torch.zeros(2, dtype=torch.float32)) != memo.digest(torch.zeros(2, dtype=torch.float64))
    assert memo.digest(torch.zeros(2, 3)) != memo.digest(torch.zeros(3, 2))
    assert memo.digest(torch.tensor([1.0, 2.0])) != memo.digest(torch.tensor([1.0, 2.5]))  # the bytes themselves
    assert memo.digest(torch.arange(6.0).view(2, 3).T) == memo.digest(torch.arange(6.0).view(2, 3).T.contiguous())
    assert memo.digest({"a": 1, "b": 2}) == memo.digest({"b": 2, "a": 1})


def test_a_damaged_entry_is_computed_again_with_one_line(tmp_path, capsys):
    memo.cached("thing", (1,), lambda: torch.ones(2), cache=tmp_path)
    (path,) = tmp_path.glob("thing-*.pt")
    path.write_bytes(b"not a torch file")
    assert torch.equal(memo.cached("thing", (1,), lambda: torch.zeros(2), cache=tmp_path), torch.zeros(2))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "unreadable" in out[0] and "computing thing again" in out[0]
    assert torch.equal(torch.load(path, weights_only=True)["value"], torch.zeros(2))  # rewritten, whole
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_switch_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("AEBOOK_MEMO", "0")
    calls = []
    for _ in range(2):
        memo.cached("thing", (1,), lambda: calls.append(1) or 1, cache=tmp_path)
    assert len(calls) == 2 and not list(tmp_path.iterdir())


def test_cached_judge_and_probe_give_what_a_fresh_fit_gives(tmp_path, monkeypatch):
    import numpy as np

    from aebook.arithmetic import Probe, _fit_probe_numbers, fit_probe
    from aebook.realism import fit_judge

    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(200, 1, 8, 8, generator=g), torch.randint(0, 3, (200,), generator=g)
    x[y == 1] += 0.5
    fresh, again = fit_judge(x, y, x[:50], y[:50]), fit_judge(x, y, x[:50], y[:50])
    assert np.array_equal(fresh.probabilities(x), again.probabilities(x))
    assert fresh.test_accuracy == again.test_accuracy > 0.5
    assert len(list((tmp_path / "derived").glob("judge-*.pt"))) == 1
    z, has = torch.randn(120, 5, generator=g), (torch.rand(120, generator=g) > 0.6).numpy()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    plain = Probe(make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000))
                  .fit(z.double().numpy(), has.astype(int)))
    for probe in (fit_probe(z, has), fit_probe(z, has)):  # computed, then read back
        assert np.allclose(probe.probability(z), plain.probability(z), atol=1e-12)
    assert set(_fit_probe_numbers(z.double().numpy(), has.astype(int))) == {"mean", "scale", "coef", "intercept", "classes"}


def test_a_change_to_the_packages_code_recomputes(tmp_path, monkeypatch):
    calls = []
    memo.cached("thing", (1,), lambda: calls.append(1) or torch.ones(2), cache=tmp_path)
    memo.cached("thing", (1,), lambda: calls.append(1) or torch.ones(2), cache=tmp_path)
    assert len(calls) == 1
    monkeypatch.setattr(memo, "package_code", lambda: "the package after an edit")
    memo.cached("thing", (1,), lambda: calls.append(1) or torch.ones(2), cache=tmp_path)
    assert len(calls) == 2  # same inputs, other package code: computed again


def test_the_packages_code_digest_changes_with_any_module(tmp_path, monkeypatch):
    package = tmp_path / "aebook"
    (package / "web").mkdir(parents=True)
    (package / "memo.py").write_text("x = 1\n")
    (package / "measures.py").write_text("def f():\n    return 1\n")
    monkeypatch.setattr(memo, "__file__", str(package / "memo.py"))
    memo.package_code.cache_clear()
    try:
        before = memo.package_code()
        (package / "measures.py").write_text("def f():\n    return 2\n")  # a measure the keys do not name
        memo.package_code.cache_clear()
        after = memo.package_code()
        assert after != before and len(after) == 64
        (package / "web" / "notes.txt").write_text("not code")  # only the Python source counts
        memo.package_code.cache_clear()
        assert memo.package_code() == after
    finally:
        monkeypatch.undo()
        memo.package_code.cache_clear()

"""The model cache under faults: nothing trained is lost, nothing is half-written."""

import os

import pytest
import torch

import aebook.checkpoints as checkpoints
from aebook import files
from aebook.checkpoints import load_or_train
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig, TrainingDiverged

CONFIG = TrainConfig(steps=8, batch_size=64, eval_every=4)


def build():
    return LinearAutoencoder(latent_dim=4, hidden=(32,))


def test_save_killed_midway_keeps_the_old_entry(tiny_splits, monkeypatch):
    path = load_or_train("m", build, tiny_splits, CONFIG).path
    old = b"an older entry that must survive"
    path.write_bytes(old)  # unreadable, so the next call retrains and saves

    def killed(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))  # half a checkpoint reaches the disk
        raise KeyboardInterrupt  # the process is stopped in the middle of writing

    monkeypatch.setattr(files, "write_chunk", killed)  # aebook.files writes every cache entry
    with pytest.raises(KeyboardInterrupt):
        load_or_train("m", build, tiny_splits, CONFIG)
    assert path.read_bytes() == old
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_diverging_run_caches_nothing(tiny_splits, isolated_cache):
    def nan_loss(model, x):
        x_hat, _ = model(x)
        return {"loss": (x_hat - x).pow(2).mean() / 0.0 * 0.0}

    with pytest.raises(TrainingDiverged, match=r"^m diverged by update 4 \(learning rate 0\.001\)"):
        load_or_train("m", build, tiny_splits, CONFIG, objective=nan_loss)
    assert not list(isolated_cache.rglob("*.pt"))


def test_interrupted_training_then_rerun(tiny_splits, isolated_cache):
    calls = {"n": 0, "interrupt": True}

    def objective(model, x):
        calls["n"] += 1
        if calls["interrupt"] and calls["n"] == 5:
            raise KeyboardInterrupt  # the reader stops the cell during epoch 2
        x_hat, _ = model(x)
        return {"loss": (x_hat - x).pow(2).mean()}

    with pytest.raises(KeyboardInterrupt):
        load_or_train("m", build, tiny_splits, CONFIG, objective=objective)
    assert not list(isolated_cache.rglob("*.pt"))
    calls["interrupt"] = False
    rerun = load_or_train("m", build, tiny_splits, CONFIG, objective=objective)
    assert not rerun.from_cache and rerun.path.exists() and rerun.history.steps_run == 8
    assert load_or_train("m", build, tiny_splits, CONFIG, objective=objective).from_cache


def test_leftover_temporary_files_are_harmless_and_cleared(tiny_splits, isolated_cache):
    folder = isolated_cache / "models"
    folder.mkdir(parents=True)
    first = load_or_train("m", build, tiny_splits, CONFIG)
    stale = folder / f".{first.path.stem}-abc123.tmp"
    stale.write_bytes(b"left by a process killed with SIGKILL")
    first.path.unlink()
    again = load_or_train("m", build, tiny_splits, CONFIG)
    assert again.path.exists() and not stale.exists()


def test_entry_that_cannot_be_read_is_retrained(tiny_splits, monkeypatch, capsys):
    load_or_train("m", build, tiny_splits, CONFIG)
    capsys.readouterr()
    real_load = torch.load

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoints.torch, "load", denied)
    again = load_or_train("m", build, tiny_splits, CONFIG)
    assert not again.from_cache and "unreadable (PermissionError)" in capsys.readouterr().out
    monkeypatch.setattr(checkpoints.torch, "load", real_load)
    assert load_or_train("m", build, tiny_splits, CONFIG).from_cache


def test_loading_never_unpickles_code(tiny_splits, monkeypatch, capsys):
    path = load_or_train("m", build, tiny_splits, CONFIG).path

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"format": 1, "key": "x", "state_dict": {}, "history": {}, "evil": Payload()}, path)
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "load", spy)
    result = load_or_train("m", build, tiny_splits, CONFIG)
    assert seen["weights_only"] is True and not result.from_cache
    assert "this must never run" not in capsys.readouterr().out


def test_entry_with_unusable_weights_is_retrained(tiny_splits, capsys):
    first = load_or_train("m", build, tiny_splits, CONFIG)
    entry = torch.load(first.path, weights_only=True)
    entry["state_dict"] = {k: torch.zeros(3) for k in entry["state_dict"]}  # right key, wrong weights
    torch.save(entry, first.path)
    capsys.readouterr()
    again = load_or_train("m", build, tiny_splits, CONFIG)
    assert not again.from_cache and "unusable weights (RuntimeError)" in capsys.readouterr().out
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())  # retrained from the same seed: the same model
    assert load_or_train("m", build, tiny_splits, CONFIG).from_cache

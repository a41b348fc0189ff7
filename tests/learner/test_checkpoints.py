import os

import pytest
import torch

import aebook.checkpoints as checkpoints
from aebook.checkpoints import load_or_train
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig

CONFIG = TrainConfig(steps=8, batch_size=64, eval_every=4)


def build():
    return LinearAutoencoder(latent_dim=4, hidden=(32,))


def no_training(*args, **kwargs):
    raise AssertionError("fit() was called although the model should come from the cache")


def test_second_call_loads_without_training(tiny_splits, monkeypatch, capsys):
    first = load_or_train("m", build, tiny_splits, CONFIG)
    assert not first.from_cache and first.path.exists()
    assert "no cached model" in capsys.readouterr().out
    monkeypatch.setattr(checkpoints, "fit", no_training)
    second = load_or_train("m", build, tiny_splits, CONFIG)
    assert second.from_cache and second.path == first.path
    assert second.history == first.history
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    assert capsys.readouterr().out == ""  # a cache hit prints nothing


@pytest.mark.parametrize("change", [
    dict(config=TrainConfig(steps=12, batch_size=64, eval_every=4)),
    dict(build=lambda: LinearAutoencoder(latent_dim=5, hidden=(32,))),
    dict(config=TrainConfig(steps=8, batch_size=64, eval_every=4, seed=1)),
    dict(config=TrainConfig(steps=8, batch_size=64, eval_every=4, precision="bfloat16")),
])
def test_changed_configuration_retrains(tiny_splits, change):
    first = load_or_train("m", build, tiny_splits, CONFIG)
    second = load_or_train("m", change.get("build", build), tiny_splits, change.get("config", CONFIG))
    assert not second.from_cache
    assert second.path != first.path


def test_float32_keys_are_those_of_models_cached_before_precision_existed():
    from dataclasses import asdict

    old = {k: v for k, v in asdict(CONFIG).items() if k != "precision"}  # the key's "train" before the field
    assert checkpoints.recipe_key(CONFIG) == old
    assert checkpoints.recipe_key(TrainConfig(precision="bfloat16")) == asdict(TrainConfig(precision="bfloat16"))


def test_changed_data_retrains(tiny_splits):
    from tests.conftest import Splits, make_set

    load_or_train("m", build, tiny_splits, CONFIG)
    other = Splits(train=make_set(256, 7, "train"), val=tiny_splits.val)
    assert not load_or_train("m", build, other, CONFIG).from_cache


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_damaged_entry_is_retrained_and_replaced(tiny_splits, damage, capsys):
    path = load_or_train("m", build, tiny_splits, CONFIG).path
    capsys.readouterr()
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(2048))
    else:  # a valid file for some other configuration
        torch.save({"format": 1, "key": {"other": True}, "state_dict": {}, "history": {}}, path)
    again = load_or_train("m", build, tiny_splits, CONFIG)
    out = capsys.readouterr().out
    assert not again.from_cache
    assert ("unreadable" if damage != "foreign" else "another configuration") in out
    assert load_or_train("m", build, tiny_splits, CONFIG).from_cache  # replaced by a good entry


def test_entry_loads_with_weights_only(tiny_splits):
    path = load_or_train("m", build, tiny_splits, CONFIG).path
    entry = torch.load(path, weights_only=True)
    assert set(entry) == {"format", "key", "state_dict", "history"}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_cache_location_trains_and_says_so(tiny_splits, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    result = load_or_train("m", build, tiny_splits, CONFIG, cache=blocker / "models")
    assert result.path is None and not result.from_cache
    assert "not cached" in capsys.readouterr().out
    assert result.history.steps_run == 8

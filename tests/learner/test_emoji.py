"""Emoji data (hub path on a local data set in the hub's format, font path), model size, arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aebook import arithmetic as Ar
from aebook import emoji as E
from aebook.models import EmojiAutoencoder, EmojiVAE, count_parameters
from conftest import mark_cached

NAMES = ["grinning face", "nerd face", "smiling face with open mouth", "face with stuck-out tongue",
         "smiling face with sunglasses", "crying face", "smiling cat face with open mouth",
         "smiling face with heart-shaped eyes", "pensive face", "winking face", "party popper"]


def write_hub_like_dataset(folder, names=NAMES):
    """A tiny data set in the hub's schema (image + text columns), saved as parquet."""
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (72, 72, 4), dtype=np.uint8), "RGBA") for _ in names]
    ds = datasets.Dataset.from_dict({"image": images, "text": names},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "text": datasets.Value("string")}))
    folder.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(folder / "train.parquet"))
    return folder


def test_hub_path_through_load_dataset_on_a_local_copy(tmp_path, monkeypatch):
    import datasets

    calls = []
    real = datasets.load_dataset

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(datasets, "load_dataset", spy)
    folder = write_hub_like_dataset(tmp_path / "emoji-hub")
    data = E.load_emoji("hub", hub_id=str(folder), sizes=(30, 10, 10))
    assert data.source == "hub" and str(folder) in data.source_detail
    assert len(data.names) == 10  # "party popper" has no "face"
    assert data.faces.shape == (10, 3, 64, 64) and float(data.faces.min()) >= 0 and float(data.faces.max()) <= 1
    assert data.names[data.index("face with tongue")] == "face with stuck-out tongue"
    assert calls and not any(k.get("trust_remote_code") for k in calls)  # never runs code from the hub


def test_font_path_draws_named_faces():
    if E.emoji_font() is None:
        pytest.skip("font test did not run: no colour-emoji font installed "
                    "(Debian/Ubuntu: apt-get install fonts-noto-color-emoji)")
    faces, names = E.faces_from_font(E.emoji_font(), size=32)
    assert faces.shape[1:] == (3, 32, 32) and len(faces) == len(names) > 100
    for name in ("nerd face", "smiling face with open mouth", "face with tongue", "grinning face",
                 "smiling face with heart-shaped eyes", "smiling cat face with open mouth"):
        i = E.find_emoji(names, name)
        img = faces[i]
        assert float((img.max(0).values - img.min(0).values).mean()) > 0.05, f"{name} is not in colour"


def test_faces_are_the_face_subgroups_not_every_name_with_face():
    rows = E.face_emoji()
    names = {name for _, _, name in rows}
    subgroups = {subgroup for _, subgroup, _ in rows}
    assert subgroups <= {"cat-face"} | {s for s in subgroups if s.startswith("face-")}
    assert "face-costume" not in subgroups
    for not_a_face in ("tiger face", "dog face", "monkey face", "new moon with face", "clock face one oclock",
                       "sun with face", "ghost", "robot face", "cat face"):
        assert not_a_face not in names, not_a_face
    for face in ("nerd face", "grinning face", "smiling face with open mouth", "face with stuck-out tongue",
                 "smiling face with heart-shaped eyes", "smiling cat face with open mouth"):
        assert face in names, face
    assert len(rows) == len({text for text, _, _ in rows}) > 100  # one row per emoji


def test_auto_falls_back_to_the_font_and_says_why(monkeypatch):
    if E.emoji_font() is None:
        pytest.skip("font test did not run: no colour-emoji font installed")
    monkeypatch.setattr(E, "_hub_reachable", lambda *a, **k: False)
    data = E.load_emoji("auto", sizes=(20, 10, 10))
    assert data.source == "font" and "cannot be reached" in data.source_detail


def test_neither_source_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(E, "_hub_reachable", lambda *a, **k: False)
    monkeypatch.setattr(E, "FONT_PATHS", (str(tmp_path / "missing.ttf"),))
    with pytest.raises(E.EmojiUnavailableError) as err:
        E.load_emoji("auto")
    message = str(err.value)
    assert "cannot be reached" in message and "no colour-emoji font" in message
    assert "fonts-noto-color-emoji" in message and "network" in message
    with pytest.raises(E.EmojiUnavailableError, match="cannot be reached"):
        E.load_emoji("hub")
    with pytest.raises(ValueError, match="unknown emoji source"):
        E.load_emoji("gif")


def test_split_first_then_augment_keeps_faces_disjoint():
    faces = torch.rand(20, 3, 16, 16)
    data = E._assemble(faces, [f"face {i}" for i in range(20)], "font", "test", seed=0, sizes=(60, 20, 20))
    sets = [set(s.source.tolist()) for s in (data.train, data.val, data.test)]
    assert [len(s) for s in sets] == [12, 4, 4]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert [len(s) for s in (data.train, data.val, data.test)] == [60, 20, 20]
    assert torch.equal(data.train.x[0], faces[data.train.source[0]])  # each face once as is
    again = E._assemble(faces, [f"face {i}" for i in range(20)], "font", "test", seed=0, sizes=(60, 20, 20))
    assert torch.equal(again.train.x, data.train.x)  # seeded
    assert data.split_of(int(data.val.source[0])) == "val"


def test_augmented_splits_are_cached_and_equal_to_drawing_them(isolated_cache):
    faces = torch.rand(20, 3, 16, 16)
    data = E._assemble(faces, [f"face {i}" for i in range(20)], "font", "test", seed=0, sizes=(60, 20, 20))
    members = len(set(data.train.source.tolist()))
    drawn, source = E._augmented(faces, data.train.source[:members], 60, 0)  # uncached, the same draws
    assert torch.equal(drawn, data.train.x) and torch.equal(source, data.train.source)
    entries = sorted((isolated_cache / "derived").glob("emoji-augmented-*.pt"))
    assert len(entries) == 3  # one per split
    for path in entries:  # mark every cached copy: a second run must read these back, not draw again
        mark_cached(path, lambda value: (torch.zeros_like(value[0]), value[1]))
    again = E._assemble(faces, [f"face {i}" for i in range(20)], "font", "test", seed=0, sizes=(60, 20, 20))
    assert not again.train.x.any() and again.train.fingerprint == data.train.fingerprint
    other = E._assemble(faces.flip(0), [f"face {i}" for i in range(20)], "font", "test", seed=0, sizes=(60, 20, 20))
    assert other.train.x.any()  # other faces: drawn, not read back


def test_unknown_emoji_name_is_named_with_suggestions():
    with pytest.raises(KeyError, match="no emoji named 'nerd fcae'.*did you mean 'nerd face'"):
        E.find_emoji(NAMES, "nerd fcae")
    with pytest.raises(TypeError, match="must be a string"):
        E.find_emoji(NAMES, 3)
    assert E.find_emoji(NAMES, "Grinning Face") == 0
    assert E.find_emoji(NAMES, "grinning cat") == NAMES.index("smiling cat face with open mouth")


def test_emoji_models_size_and_shapes():
    assert count_parameters(EmojiAutoencoder(latent_dim=128)) == 2_132_515
    m = EmojiAutoencoder(latent_dim=16, n_classes=2)
    x = torch.rand(2, 3, 64, 64)
    x_hat, z = m(x)
    assert x_hat.shape == x.shape and z.shape == (2, 16) and m.head(z).shape == (2, 2)
    x_hat, mu, logvar = EmojiVAE(latent_dim=16)(x)
    assert x_hat.shape == x.shape and mu.shape == logvar.shape == (2, 16)
    with pytest.raises(ValueError, match="expects a batch of images shaped"):
        m.encode(torch.rand(2, 1, 28, 28))


def test_attribute_vector_alpha_and_labels():
    z = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    has = np.array([True, True, False, False])
    assert torch.allclose(Ar.attribute_vector(z, has), torch.tensor([2.0, -2.0]))
    with pytest.raises(ValueError, match="both with and without"):
        Ar.attribute_vector(z, np.ones(4, bool))
    v = torch.tensor([1.0, 1.0])
    assert torch.equal(Ar.add_attribute(z[0], v, 0), z[0])
    assert torch.allclose(Ar.add_attribute(z[0], v, 0.5), torch.tensor([1.5, 0.5]))
    for bad in ("1", None, True, [1.0]):
        with pytest.raises(TypeError, match="alpha must be a number"):
            Ar.add_attribute(z[0], v, bad)
    assert Ar.has_glasses("nerd face") and Ar.has_glasses("smiling face with sunglasses")
    assert not Ar.has_glasses("grinning face")
    assert Ar.has_heart_eyes("smiling face with heart-shaped eyes") and not Ar.has_heart_eyes("red heart")
    assert (Ar.mood("grinning face"), Ar.mood("crying face"), Ar.mood("nerd face")) == (1, 0, -1)


def test_probe_region_and_arithmetic_scores():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 3, generator=g)
    has = (z[:, 0] > 0).numpy()
    probe = Ar.fit_probe(z, has)
    assert (probe.probability(z) > 0.5).mean() > 0.5 and ((probe.probability(z) > 0.5) == has).mean() > 0.9

    class Identity(torch.nn.Module):  # codes are images: decoding is reshaping
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            return x.flatten(1)

        def decode(self, z):
            return z.view(-1, 1, 1, 3)
    faces = z.view(-1, 1, 1, 3)
    region = Ar.attribute_region(faces, has, share=0.34)
    assert region.tolist() == [[[True, False, False]]][0]  # the attribute lives in the first "pixel"
    targets = [i for i in range(40) if not has[i]]
    v = torch.tensor([5.0, 0, 0])
    none = Ar.arithmetic_scores(Identity(), faces, targets, v, probe, region, pool=targets, alpha=0.0)
    assert none["kept"].mean() == 1.0 and none["attribute"].mean() < 0.5 and none["change"].max() == 0
    full = Ar.arithmetic_scores(Identity(), faces, targets, v, probe, region, pool=targets, alpha=1.0)
    assert full["attribute"].mean() > 0.9 and full["change"] == pytest.approx(np.full(len(targets), 5.0))
    # a change outside the region is invisible to the region score, though it is as long
    aside = Ar.arithmetic_scores(Identity(), faces, targets, torch.tensor([0, 5.0, 0]), probe, region,
                                 pool=targets, alpha=1.0)
    assert aside["change"].max() == 0
    # why the chapter judges identity among the faces *without* the attribute: with the sources in
    # the pool, a face turned into its attribute's source counts as lost
    sources = [i for i in range(40) if has[i]]
    everyone = Ar.arithmetic_scores(Identity(), faces, targets[:1], faces[sources[0]].flatten() - faces[targets[0]].flatten(),
                                    probe, region, pool=list(range(40)), alpha=1.0)
    assert everyone["kept"][0] == 0.0  # among all faces it is now nearest the source itself
    r = Ar.random_like(v, seed=3)
    assert torch.isclose(r.norm(), v.norm()) and not torch.allclose(r / r.norm(), v / v.norm())


def test_an_edit_scored_again_is_read_back_and_any_probe_reads_it():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(30, 3, generator=g)
    has = (z[:, 0] > 0).numpy()
    passes = []

    class Counting(torch.nn.Module):  # codes are images, and every pass through it is counted
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            passes.append("encode")
            return x.flatten(1)

        def decode(self, z):
            passes.append("decode")
            return z.view(-1, 1, 1, 3)
    faces, model = z.view(-1, 1, 1, 3), Counting()
    region = Ar.attribute_region(faces, has, share=0.34)
    targets = [i for i in range(30) if not has[i]]
    v = torch.tensor([4.0, 0, 0])
    first = Ar.arithmetic_scores(model, faces, targets, v, Ar.fit_probe(z, has), region, pool=targets)
    n = len(passes)
    again = Ar.arithmetic_scores(model, faces, targets, v, Ar.fit_probe(z, has), region, pool=targets)
    assert len(passes) == n and all(np.array_equal(first[k], again[k]) for k in first)  # read back, equal
    other = Ar.fit_probe(z, ~has)  # another probe reads the same edited faces
    flipped = Ar.arithmetic_scores(model, faces, targets, v, other, region, pool=targets)
    assert len(passes) == n and np.allclose(flipped["attribute"], other.probability(faces[targets].flatten(1) + v))
    Ar.arithmetic_scores(model, faces, targets, v, other, region, pool=targets, alpha=0.5)  # another edit
    assert len(passes) > n


def test_labelled_splits_follow_their_faces():
    faces = torch.rand(10, 3, 8, 8)
    data = E._assemble(faces, [f"f{i}" for i in range(10)], "font", "t", 0, (20, 6, 6))
    labelled = E.with_labels(data, list(range(10)))
    x, y = labelled.train.x
    assert torch.equal(y, data.train.source) and torch.equal(x, data.train.x)
    assert labelled.train.fingerprint != data.train.fingerprint


@pytest.mark.slow
def test_scores_rank_an_unseen_attribute_above_nothing_added_and_a_random_vector(tmp_path, monkeypatch):
    """The chapter's three scores on attributes it never shows (tears, sunglasses), with a really
    trained model: a visible transfer must beat adding nothing and a random vector of the same length."""
    from aebook.arithmetic import arithmetic_scores, attribute_region, attribute_vector, fit_probe, random_like
    from aebook.checkpoints import load_or_train
    from aebook.latent import encode_all
    from aebook.models import EmojiAutoencoder
    from aebook.train import TrainConfig, mse_l1_objective
    from aebook.zoo import EMOJI_STEPS_PER_PASS

    if E.emoji_font() is None:
        pytest.skip("unseen-attribute test did not run: no colour-emoji font installed "
                    "(Debian/Ubuntu: apt-get install fonts-noto-color-emoji)")
    monkeypatch.setenv("AEBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AEBOOK_SMOKE", raising=False)
    emoji = E.load_emoji(source="font")
    # 12 passes (about 45 s on two cores): tears and sunglasses already show plainly (margins 0.4+ on the probe)
    config = TrainConfig(steps=12 * EMOJI_STEPS_PER_PASS, batch_size=32, lr=1e-3, weight_decay=1e-5, eval_every=None)
    model = load_or_train("emoji-unseen-attributes", lambda: EmojiAutoencoder(128), emoji, config,
                          mse_l1_objective).model
    faces, names = emoji.faces, emoji.names
    z = encode_all(model, faces)
    for attribute, has in {"tears": [("tear" in n or "crying" in n) for n in names],
                           "sunglasses": ["sunglasses" in n for n in names]}.items():
        has = np.array(has)
        assert 1 <= has.sum() < len(names) // 4, (attribute, int(has.sum()))
        targets = [i for i in range(len(names)) if not has[i]]
        v, probe, region = attribute_vector(z, has), fit_probe(z, has), attribute_region(faces, has)
        scores = {kind: arithmetic_scores(model, faces, targets, vector, probe, region, pool=targets, alpha=alpha)
                  for kind, (vector, alpha) in {"nothing": (v, 0.0), "attribute": (v, 1.0),
                                                "random": (random_like(v), 1.0)}.items()}
        mean = {kind: {k: float(a.mean()) for k, a in s.items()} for kind, s in scores.items()}
        assert mean["nothing"]["change"] == 0.0  # adding nothing changes nothing
        assert mean["attribute"]["attribute"] > mean["nothing"]["attribute"] + 0.1, (attribute, mean)
        assert mean["attribute"]["attribute"] > mean["random"]["attribute"] + 0.1, (attribute, mean)
        assert mean["attribute"]["change"] > 1.5 * mean["random"]["change"], (attribute, mean)

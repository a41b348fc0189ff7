"""Damaged or missing data: detected, removed, reported, never loaded."""

import gzip

import pytest

from aebook import data as D
from tests.test_data import write_small_fashion_mnist


@pytest.fixture
def offline(monkeypatch):
    """Make every torchvision download fail as it does without a network."""
    import torchvision.datasets.mnist as mnist

    def refuse(url, *args, **kwargs):
        raise RuntimeError(f"Error downloading {url}: network unreachable")

    monkeypatch.setattr(mnist, "download_and_extract_archive", refuse)


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:5000]), "where its header promises"),
    (lambda p: p.write_bytes(b"<html>Service unavailable</html>" * 10), "not an IDX image file"),
])
def test_damaged_idx_is_removed_and_reported(tmp_path, offline, capsys, damage, reason):
    write_small_fashion_mnist(tmp_path)
    raw = tmp_path / "FashionMNIST" / "raw"
    damage(raw / "train-images-idx3-ubyte")
    with pytest.raises(D.DataUnavailableError) as err:
        D.load_fashion_mnist(root=tmp_path, val_size=20)
    assert "removed damaged train-images-idx3-ubyte" in str(err.value) and reason in str(err.value)
    assert "removed damaged train-images-idx3-ubyte" in capsys.readouterr().out
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert (raw / "t10k-images-idx3-ubyte").exists()  # sound files are kept


def test_mismatched_counts_are_caught(tmp_path, offline):
    write_small_fashion_mnist(tmp_path, n_test=40)
    other = tmp_path / "other"
    write_small_fashion_mnist(other, n_test=30)
    raw = tmp_path / "FashionMNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte").write_bytes(
        (other / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(D.DataUnavailableError, match="image and label counts differ"):
        D.load_fashion_mnist(root=tmp_path, val_size=20)


def test_archive_with_wrong_checksum_is_removed(tmp_path, offline, capsys):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"half of a download"))
    with pytest.raises(D.DataUnavailableError, match="MD5 checksum does not match"):
        D.load_fashion_mnist(root=tmp_path)
    assert not list(raw.iterdir())


def test_damaged_standin_is_regenerated(tmp_path, monkeypatch, capsys):
    full_size = D.make_standin
    monkeypatch.setattr(D, "make_standin", lambda root: full_size(root, n_train=600, n_test=100))
    first = D.load_fashion_mnist(source="standin", root=tmp_path, val_size=100, min_train=1)
    images = tmp_path / "standin" / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    again = D.load_fashion_mnist(source="standin", root=tmp_path, val_size=100, min_train=1)
    assert "removed damaged t10k-images-idx3-ubyte" in capsys.readouterr().out
    assert again.test.fingerprint == first.test.fingerprint  # regenerated identically (seeded)


def test_sound_files_are_left_alone(tmp_path, capsys):
    write_small_fashion_mnist(tmp_path)
    assert D.remove_damaged(tmp_path / "FashionMNIST" / "raw") == []
    assert len(list((tmp_path / "FashionMNIST" / "raw").iterdir())) == 4

import numpy as np
import pytest
import torch

from aebook import data as D
from aebook import standin
from aebook.measures import pixel_correlation, pixel_correlations


def write_small_fashion_mnist(root, n_train=120, n_test=40, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / "FashionMNIST" / "raw"
    sets = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        standin.write_idx(images, labels, raw, split)
        sets[split] = (images, labels)
    return sets


def test_the_idx_reader_returns_what_torchvisions_readers_return(tmp_path):
    import gzip

    from torchvision.datasets.mnist import read_image_file, read_label_file

    write_small_fashion_mnist(tmp_path)
    raw = tmp_path / "FashionMNIST" / "raw"
    for split, (image_name, label_name) in D.IDX_FILES.items():
        files = {name: raw / name for name in (image_name, label_name)}
        x, y = D._read_pair(files, split)
        assert torch.equal(x, read_image_file(str(raw / image_name)))
        assert torch.equal(y, read_label_file(str(raw / label_name))) and y.dtype == torch.int64
        zipped = {}
        for name, path in files.items():  # a gzipped copy reads the same
            zipped[name] = tmp_path / f"{name}.gz"
            zipped[name].write_bytes(gzip.compress(path.read_bytes()))
        gx, gy = D._read_pair(zipped, split)
        assert torch.equal(gx, x) and torch.equal(gy, y)


def test_a_chapter_that_reads_the_data_does_not_import_torchvision(tmp_path):
    import subprocess
    import sys

    write_small_fashion_mnist(tmp_path)
    code = ("import sys; from aebook.data import load_fashion_mnist; "
            f"load_fashion_mnist(source='fashion-mnist', root=r'{tmp_path}', val_size=20, min_train=1); "
            "print('torchvision' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.strip() == "False"  # about 2 s saved in every chapter's kernel


def test_real_loader_reads_idx_files(tmp_path):
    written = write_small_fashion_mnist(tmp_path)
    data = D.load_fashion_mnist(source="fashion-mnist", root=tmp_path, val_size=20, min_train=1)
    assert data.source == "fashion-mnist" and not data.is_standin
    assert (len(data.train), len(data.val), len(data.test)) == (100, 20, 40)
    assert data.test.x.shape == (40, 1, 28, 28) and data.test.x.dtype == torch.float32
    expected = torch.from_numpy(written["test"][0]).float().div(255).unsqueeze(1)
    assert torch.equal(data.test.x, expected)
    assert data.test.y.tolist() == written["test"][1].tolist()
    # train + val are a partition of the official training set
    train_images = torch.from_numpy(written["train"][0]).float().div(255)
    together = torch.cat([data.train.x, data.val.x]).squeeze(1)
    assert sorted(map(lambda t: hash(t.numpy().tobytes()), together)) == \
        sorted(map(lambda t: hash(t.numpy().tobytes()), train_images))


def test_partial_data_scales_validation_and_says_so(tmp_path):
    write_small_fashion_mnist(tmp_path)  # 120 training and 40 test images
    data = D.load_fashion_mnist(source="fashion-mnist", root=tmp_path, min_train=1)
    assert len(data.val) == 10 and len(data.train) == 110  # 5,000/60,000 of 120, not 5,000
    assert data.found == (120, 40) and not data.is_official
    from aebook.report import run_notice
    notice = run_notice(data).data
    assert "Partial data set" in notice and "120 training" in notice and "60,000" in notice
    assert "(110 to train on and 10 held out for validation)" in notice  # the counts every chapter's text uses
    assert D.default_val_size(60_000) == 5_000 and D.default_val_size(2_443) == 204


def test_too_small_a_data_set_says_how_many_and_what_to_do(tmp_path):
    write_small_fashion_mnist(tmp_path)
    with pytest.raises(D.DataTooSmallError) as caught:
        D.load_fashion_mnist(source="fashion-mnist", root=tmp_path)
    message = str(caught.value)
    assert "Only 120 training and 40 test images" in message and "at least 1,000" in message
    assert "AEBOOK_DATA=standin" in message and "AEBOOK_DATA_DIR" in message


def test_fingerprint_tracks_content(tmp_path):
    write_small_fashion_mnist(tmp_path / "a", seed=0)
    write_small_fashion_mnist(tmp_path / "b", seed=1)
    a1 = D.load_fashion_mnist(root=tmp_path / "a", val_size=20, min_train=1)
    a2 = D.load_fashion_mnist(root=tmp_path / "a", val_size=20, min_train=1)
    b = D.load_fashion_mnist(root=tmp_path / "b", val_size=20, min_train=1)
    assert a1.train.fingerprint == a2.train.fingerprint != b.train.fingerprint


def test_offline_error_names_dataset_folder_and_fix(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    def offline(url, *args, **kwargs):
        download_root = kwargs.get("download_root") or args[0]
        (mnist.Path(download_root) / "partial.gz").write_bytes(b"half a file")
        raise RuntimeError(f"Error downloading {url}: no network")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(D.DataUnavailableError) as err:
        D.load_fashion_mnist(source="fashion-mnist", root=tmp_path)
    message = str(err.value)
    raw = tmp_path / "FashionMNIST" / "raw"
    assert "Fashion-MNIST" in message and str(raw) in message and "RuntimeError: Error downloading" in message
    assert "AEBOOK_DATA=standin" in message and "internet" in message
    assert len(message.splitlines()) == 2  # the cause, then the fix
    assert not list(raw.iterdir()) and not list(raw.parent.glob(".download-*"))  # no partial download left


def test_unknown_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown data source 'mnist'"):
        D.load_fashion_mnist(source="mnist", root=tmp_path)


def small_standin(monkeypatch, n_train=8000, n_test=1200):
    """Make the stand-in smaller (it is 70,000 drawings) for a quick test."""
    full_size = standin.draw
    monkeypatch.setattr(standin, "draw", lambda: full_size(n_train=n_train, n_test=n_test))


def test_smoke_mode_without_data_uses_the_standin_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    small_standin(monkeypatch)
    data = D.load_fashion_mnist(root=tmp_path)
    assert data.is_standin and "stand-in" in data.source_name
    assert (len(data.train), len(data.val), len(data.test)) == (2000, 500, 1000)  # SMOKE_SIZES
    assert (tmp_path / "standin" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "smoke runs do not download it" in said and "stand-in" in said
    from aebook.report import run_notice
    banner = run_notice(data).data
    assert "Stand-in data" in banner and "not on disk" in banner and "AEBOOK_DATA=standin" not in banner


def test_asking_for_the_standin_is_said_as_asked(tmp_path, monkeypatch):
    small_standin(monkeypatch, 2000, 300)
    monkeypatch.setenv("AEBOOK_DATA", "STANDIN")
    data = D.load_fashion_mnist(root=tmp_path, val_size=100)
    from aebook.report import run_notice
    banner = run_notice(data).data
    assert data.why_standin == "asked" and "as asked for" in banner and "could not" not in banner


def test_standin_has_learnable_class_structure(tmp_path):
    standin.make_standin(tmp_path, n_train=2000, n_test=500, seed=3)
    data = D.load_fashion_mnist(source="fashion-mnist", root=tmp_path, val_size=100)
    # nearest class mean in pixel space: noise would give ~10 %
    means = torch.stack([data.train.x[data.train.y == c].mean(0) for c in range(10)]).flatten(1)
    predicted = torch.cdist(data.test.x.flatten(1), means).argmin(1)
    accuracy = (predicted == data.test.y).float().mean().item()
    assert accuracy > 0.6
    assert sorted(data.train.y.unique().tolist()) == list(range(10))
    # images look like silhouettes on a dark background, not noise
    assert data.test.x[:, :, 0, :].mean() < 0.05 and data.test.x.mean() > 0.08


def test_first_per_class_and_pixel_correlation():
    labels = torch.tensor([3, 1, 3, 0, 2, 1, 0, 2, 3])
    idx = D.first_per_class(labels, n=2, n_classes=4)
    assert idx.tolist() == [[3, 6], [1, 5], [4, 7], [0, 2]]
    with pytest.raises(ValueError):
        D.first_per_class(labels, n=3, n_classes=4)
    smooth = torch.linspace(0, 1, 28).repeat(4, 1, 28, 1)  # every row a ramp
    assert pixel_correlation(smooth, 1) > 0.99
    noise = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert abs(pixel_correlation(noise, 1)) < 0.05
    # against a direct computation with numpy, for several offsets at once
    x = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(1)).cumsum(-1)
    for k, value in zip([1, 5, 27], pixel_correlations(x, [1, 5, 27])):
        a, b = x[..., :, :-k].flatten().numpy(), x[..., :, k:].flatten().numpy()
        assert value == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-9)


def test_batches_cover_everything_once():
    idx = torch.cat(list(D.iterate_batches(103, 10, shuffle=True, generator=torch.Generator().manual_seed(0))))
    assert sorted(idx.tolist()) == list(range(103))
    assert [len(b) for b in D.iterate_batches(25, 10)] == [10, 10, 5]

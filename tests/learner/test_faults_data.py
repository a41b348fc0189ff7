"""Damaged, partial or misplaced data: the reader's files are read and never changed, every fault is
named in two lines (the cause, then the fix), and the stand-in is never used in silence."""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from aebook import data as D
from aebook import standin
from aebook.runtime import SwitchError
from tests.learner.test_data import small_standin, write_small_fashion_mnist


def snapshot(folder):
    """Every file under ``folder`` with its SHA-256, size and modification time."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size,
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def offline(monkeypatch):
    """Make every torchvision download fail as it does without a network."""
    import torchvision.datasets.mnist as mnist

    def refuse(url, *args, **kwargs):
        raise RuntimeError(f"Error downloading {url}: network unreachable")

    monkeypatch.setattr(mnist, "download_and_extract_archive", refuse)


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A reader's copy of (a small) Fashion-MNIST, named by AEBOOK_DATA_DIR; the book's folder is elsewhere."""
    folder = tmp_path / "my-copy"
    write_small_fashion_mnist(folder, n_train=120, n_test=40)
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(folder))
    return folder


def raw_of(folder):
    return folder / "FashionMNIST" / "raw"


def cut_half(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def too_long(p):
    p.write_bytes(p.read_bytes() + bytes(100))


def bad_magic(p):
    p.write_bytes(b"<html>Service unavailable</html>" + p.read_bytes()[32:])


def other_count(p):
    p.write_bytes(p.read_bytes()[:4] + (41).to_bytes(4, "big") + p.read_bytes()[8:] + bytes([1]))


def gzip_cut(p):
    zipped = gzip.compress(p.read_bytes())
    p.unlink()
    p.with_name(p.name + ".gz").write_bytes(zipped[: len(zipped) // 2])


@pytest.mark.parametrize("name, damage, reason", [
    ("train-images-idx3-ubyte", cut_half, "cut short"),
    ("train-labels-idx1-ubyte", too_long, "extra bytes"),
    ("t10k-images-idx3-ubyte", bad_magic, "not an IDX image file"),
    ("t10k-labels-idx1-ubyte", other_count, "41 labels for the 40 images"),
    ("train-images-idx3-ubyte", gzip_cut, "cannot be decompressed"),
])
def test_a_damaged_copy_is_named_and_left_as_it_is(tmp_path, copy, offline, capsys, name, damage, reason):
    damage(raw_of(copy) / name)
    before = snapshot(copy)
    with pytest.raises(D.DataUnavailableError) as err:
        D.load_fashion_mnist(root=tmp_path / "book-data", val_size=20, min_train=1)
    message = str(err.value)
    cause, fix = message.splitlines()  # two lines: what is wrong, what to do
    assert name in cause and reason in cause and str(raw_of(copy)) in cause
    assert "unset AEBOOK_DATA_DIR" in fix and "left your files as they are" in fix
    assert snapshot(copy) == before  # byte for byte, and not even touched
    assert not (tmp_path / "book-data").exists()  # nothing downloaded or drawn either
    assert capsys.readouterr().out == ""


def test_a_read_only_copy_with_a_cut_file_says_it_is_damaged(tmp_path):
    """On a real read-only mount (where this machine allows one): the same message, no OSError."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare on this machine: the read-only mount cannot be made")
    folder = tmp_path / "ro-copy"
    write_small_fashion_mnist(folder)
    cut_half(raw_of(folder) / "t10k-images-idx3-ubyte")
    script = textwrap.dedent(f"""
        import os, sys
        from aebook import data as D
        try:
            D.load_fashion_mnist(root={str(tmp_path / 'book-data')!r}, val_size=20, min_train=1)
        except D.DataUnavailableError as exc:
            print(type(exc).__name__, exc)
    """)
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", mount + "touch " + str(folder / "x")],
                           capture_output=True, text=True)
    if "Read-only file system" not in probe.stderr:
        pytest.skip(f"a read-only bind mount is not allowed here ({probe.stderr.strip()[:120]})")
    env = {**os.environ, "AEBOOK_DATA_DIR": str(folder)}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"{mount}{sys.executable} -c \"$SCRIPT\""],
                          env={**env, "SCRIPT": script}, capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("DataUnavailableError"), done.stdout + done.stderr
    assert "t10k-images-idx3-ubyte holds" in done.stdout and "cut short" in done.stdout
    assert "Read-only" not in done.stdout + done.stderr


@pytest.mark.parametrize("layout", ["holding FashionMNIST", "FashionMNIST", "raw"])
def test_the_copy_may_be_named_by_any_of_its_folders(tmp_path, copy, monkeypatch, layout):
    named = {"holding FashionMNIST": copy, "FashionMNIST": copy / "FashionMNIST", "raw": raw_of(copy)}[layout]
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(named))
    data = D.load_fashion_mnist(root=tmp_path / "book-data", val_size=20, min_train=1)
    assert data.found == (120, 40) and data.folder == raw_of(copy)


def test_a_relative_path_is_read_from_where_the_command_ran(tmp_path, copy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEBOOK_DATA_DIR", "my-copy")
    data = D.load_fashion_mnist(root=tmp_path / "elsewhere", val_size=20, min_train=1)
    assert data.folder == raw_of(copy)


def test_a_missing_or_empty_copy_is_named_also_in_smoke_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(tmp_path / "no-such-folder"))
    with pytest.raises(SwitchError, match="AEBOOK_DATA_DIR=.*no-such-folder.* is not a folder"):
        D.load_fashion_mnist(root=tmp_path / "book-data")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(empty))
    with pytest.raises(D.DataUnavailableError) as err:
        D.load_fashion_mnist(root=tmp_path / "book-data")
    assert "holds no Fashion-MNIST files" in str(err.value) and len(str(err.value).splitlines()) == 2
    assert not list(empty.iterdir()) and not (tmp_path / "book-data").exists()  # no stand-in anywhere


def test_a_copy_missing_one_file_names_it(tmp_path, copy):
    (raw_of(copy) / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(D.DataUnavailableError, match="lacks t10k-labels-idx1-ubyte"):
        D.load_fashion_mnist(root=tmp_path / "book-data")


def test_gzipped_files_are_read_by_content_not_by_checksum(tmp_path, copy):
    plain = D.load_fashion_mnist(root=tmp_path / "book-data", val_size=20, min_train=1)
    for p in list(raw_of(copy).iterdir()):  # gzipped here, so not byte-identical to the official archives
        p.with_name(p.name + ".gz").write_bytes(gzip.compress(p.read_bytes(), compresslevel=1))
        p.unlink()
    before = snapshot(copy)
    zipped = D.load_fashion_mnist(root=tmp_path / "book-data", val_size=20, min_train=1)
    assert torch.equal(zipped.train.x, plain.train.x) and torch.equal(zipped.test.y, plain.test.y)
    assert zipped.train.fingerprint == plain.train.fingerprint
    assert snapshot(copy) == before


def test_a_damaged_file_in_the_books_own_folder_is_kept_not_deleted(tmp_path, offline, capsys):
    write_small_fashion_mnist(tmp_path)
    raw = raw_of(tmp_path)
    cut_half(raw / "train-images-idx3-ubyte")
    damaged = (raw / "train-images-idx3-ubyte").read_bytes()
    with pytest.raises(D.DataUnavailableError, match="could not be downloaded"):
        D.load_fashion_mnist(root=tmp_path, val_size=20)
    kept = raw / "train-images-idx3-ubyte.damaged"
    assert kept.read_bytes() == damaged  # kept, byte for byte, under a name that says why
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte", kept.name])
    said = capsys.readouterr().out
    assert "is damaged" in said and "kept it as train-images-idx3-ubyte.damaged" in said


def test_a_download_lands_whole_or_not_at_all(tmp_path, monkeypatch):
    """torchvision fetches into a temporary folder; the files move into place only when all four are sound."""
    import torchvision.datasets.mnist as mnist

    source = tmp_path / "server"
    write_small_fashion_mnist(source, n_train=1200, n_test=60)
    fetched = []

    def serve(url, download_root, filename, md5):
        name = filename[: -len(".gz")]
        (mnist.Path(download_root) / name).write_bytes((raw_of(source) / name).read_bytes())
        fetched.append(name)
        assert not (raw_of(tmp_path / "book") / name).exists()  # nothing under the final name yet

    monkeypatch.setattr(mnist, "download_and_extract_archive", serve)
    data = D.load_fashion_mnist(root=tmp_path / "book", val_size=100)
    assert len(fetched) == 4 and data.found == (1200, 60)
    assert sorted(p.name for p in (tmp_path / "book" / "FashionMNIST").iterdir()) == ["raw"]  # scratch gone


def test_damaged_standin_is_drawn_again(tmp_path, monkeypatch, capsys):
    small_standin(monkeypatch, 600, 100)
    first = D.load_fashion_mnist(source="standin", root=tmp_path, val_size=100, min_train=1)
    images = tmp_path / "standin" / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    again = D.load_fashion_mnist(source="standin", root=tmp_path, val_size=100, min_train=1)
    assert "the stand-in in" in capsys.readouterr().out
    assert again.test.fingerprint == first.test.fingerprint  # drawn again identically (seeded)


def test_a_standin_that_cannot_be_saved_is_used_from_memory(tmp_path, monkeypatch, capsys):
    small_standin(monkeypatch, 600, 100)
    saved = D.load_fashion_mnist(source="standin", root=tmp_path / "a", val_size=100, min_train=1)
    capsys.readouterr()
    blocked = tmp_path / "b"
    blocked.mkdir()
    (blocked / "standin").write_text("a file where the stand-in's folder should be")
    data = D.load_fashion_mnist(source="standin", root=blocked, val_size=100, min_train=1)
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "drawn but not saved" in said
    assert data.train.fingerprint == saved.train.fingerprint


def test_sound_files_are_left_alone(tmp_path, capsys):
    write_small_fashion_mnist(tmp_path)
    before = snapshot(tmp_path)
    D.load_fashion_mnist(root=tmp_path, val_size=20, min_train=1)
    assert snapshot(tmp_path) == before and capsys.readouterr().out == ""


def test_the_standin_writer_is_deterministic():
    a, b = standin.draw(30, 10, seed=1), standin.draw(30, 10, seed=1)
    assert all((a[k][0] == b[k][0]).all() and (a[k][1] == b[k][1]).all() for k in a)


def test_a_relative_copy_reaches_the_chapters_kernel_as_the_reader_meant_it(tmp_path):
    """The notebook command runs kernels in the project root; a relative AEBOOK_DATA_DIR still means
    the folder below where the reader typed the command."""
    (tmp_path / "my-copy").mkdir()
    chapter = tmp_path / "where.qmd"
    chapter.write_text("# Where\n\n```{python}\n#| label: where\nfrom aebook.runtime import reader_data_dir\n"
                       "print('copy:', reader_data_dir())\n```\n")
    env = {**os.environ, "AEBOOK_DATA_DIR": "my-copy"}
    done = subprocess.run([sys.executable, "-m", "bookkit.notebooks", "--execute", str(chapter), "--out",
                           str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    printed = (tmp_path / "out" / "where.ipynb").read_text()
    assert f"copy: {tmp_path / 'my-copy'}" in printed

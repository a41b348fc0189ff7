"""Writes under disk faults: a full disk, a read-only folder, kill -9, two runs sharing a cache.

Every writer goes through ``aebook.files.write_atomic``. Whatever happens, no file is ever left
cut under its final name and no temporary file is left behind; a cache that cannot be written
says so in one line and the caller goes on; a command-line tool ends with one line and status 1.
Faults are made two ways: ``files.write_chunk`` replaced by one that fails after some bytes
(fast, everywhere), and real tiny filesystems in a user and mount namespace (where allowed).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from aebook import files, latent, memo
from bookkit import notebooks
from aebook.checkpoints import load_or_train
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig

CONFIG = TrainConfig(steps=8, batch_size=64, eval_every=4)
CAUSES = {errno.ENOSPC: "the disk is full", errno.EROFS: "the folder is on a read-only filesystem"}
FAULTS = [pytest.param(errno.ENOSPC, 1000, id="disk-full-after-1000-bytes"),
          pytest.param(errno.EROFS, 0, id="read-only")]
TINY_QMD = "# Tiny\n\nSome text.\n\n```{python}\n#| label: one\nx = 1\n```\n"
ROOT = Path(__file__).resolve().parents[2]


def build():
    return LinearAutoencoder(latent_dim=4, hidden=(32,))


def failing_disk(monkeypatch, err: int, after: int) -> None:
    """Make ``aebook.files`` write ``after`` bytes for real, then fail with ``err`` (as the kernel would)."""
    written = {"n": 0}

    def write(fd, data):
        room = after - written["n"]
        if room <= 0:
            raise OSError(err, os.strerror(err))
        n = os.write(fd, data[:room])
        written["n"] += n
        return n

    monkeypatch.setattr(files, "write_chunk", write)


def leftovers(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden temporary files included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- each writer, on a disk that fails after a chosen number of bytes -------------------------------

@pytest.mark.parametrize("err, after", FAULTS)
def test_model_cache_entry_that_cannot_be_saved_keeps_the_trained_model(err, after, tiny_splits, tmp_path,
                                                                        monkeypatch, capsys):
    folder = tmp_path / "models"
    failing_disk(monkeypatch, err, after)
    result = load_or_train("m", build, tiny_splits, CONFIG, cache=folder)
    line = one_line(capsys.readouterr().out)
    assert result.path is None and not result.from_cache and result.history.steps_run == 8
    x_hat, _ = result.model(tiny_splits.val.x[:4])  # the model is there and usable
    assert x_hat.shape == (4, 1, 28, 28) and torch.isfinite(x_hat).all()
    assert line.startswith("[cache] m: no cached model; trained 8 updates")
    assert f"(not cached in {folder}: {CAUSES[err]}" in line, line
    assert ("KB to write" in line and " free)" in line) == (err == errno.ENOSPC)  # how much to free
    assert leftovers(folder) == []  # no cut entry under its name, no temporary file
    monkeypatch.setattr(files, "write_chunk", os.write)  # the disk has room again: saved, then loaded
    assert load_or_train("m", build, tiny_splits, CONFIG, cache=folder, verbose=False).path.exists()
    assert load_or_train("m", build, tiny_splits, CONFIG, cache=folder).from_cache


@pytest.mark.parametrize("err, after", FAULTS)
def test_derived_result_that_cannot_be_saved_is_returned_with_one_line(err, after, tmp_path, monkeypatch, capsys):
    failing_disk(monkeypatch, err, after)
    value = memo.cached("judge", (1,), lambda: {"w": torch.arange(1000.0)}, cache=tmp_path / "derived")
    assert torch.equal(value["w"], torch.arange(1000.0))
    line = one_line(capsys.readouterr().out)
    assert line.startswith(f"[cache] judge: computed (not cached in {tmp_path / 'derived'}: {CAUSES[err]}"), line
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("err, after", FAULTS)
def test_tsne_map_that_cannot_be_saved_is_returned_with_one_line(err, after, tmp_path, monkeypatch, capsys):
    class FakeTSNE:  # the real openTSNE takes ~20 s here; this test is about the file, not the map
        def __init__(self, **kwargs):
            pass

        def fit(self, z):
            return z[:, :2]

    monkeypatch.setitem(sys.modules, "openTSNE", types.SimpleNamespace(TSNE=FakeTSNE))
    z = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    failing_disk(monkeypatch, err, after)
    xy = latent.tsne(z, cache=tmp_path / "tsne")
    assert xy.shape == (300, 2) and np.allclose(xy, z[:, :2])
    line = one_line(capsys.readouterr().out)
    assert line.startswith(f"[cache] could not write the t-SNE map {tmp_path / 'tsne'}/tsne-"), line
    assert f".npy: {CAUSES[err]}" in line and line.endswith("; the map is used without caching")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("err, after", FAULTS)
def test_notebook_cli_on_a_failing_out_folder_ends_with_one_line(err, after, tmp_path, monkeypatch, capsys):
    qmd, out = tmp_path / "tiny.qmd", tmp_path / "out"
    qmd.write_text(TINY_QMD)
    out.mkdir()
    failing_disk(monkeypatch, err, after)
    assert notebooks.main(["--out", str(out), str(qmd)]) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith(f"could not write {out / 'tiny.ipynb'}: {CAUSES[err]}"), line
    assert line.endswith("; nothing was written under that name") and "Traceback" not in captured.err
    assert "wrote" not in captured.out
    assert leftovers(out) == []  # no notebook, no .partial, no .tmp
    monkeypatch.setattr(files, "write_chunk", os.write)
    assert notebooks.main(["--out", str(out), str(qmd)]) == 0 and leftovers(out) == ["tiny.ipynb"]


def test_failure_log_that_cannot_be_saved_is_said_in_the_summary(tmp_path, monkeypatch):
    failing_disk(monkeypatch, errno.ENOSPC, 10)
    log = tmp_path / "boom.log"
    summary = notebooks.failure_report(Path("boom.qmd"), RuntimeError("#| label: boom\nValueError: gone"), log, False)
    assert "FAILED boom.qmd" in summary and f"could not write {log}: the disk is full" in summary
    assert "not saved" in summary and leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_byte_for_byte(tmp_path, monkeypatch):
    from bookkit.baselines import update_benchmarks

    bench = tmp_path / "BENCHMARKS.md"
    bench.write_text("# Benchmarks\n\nthe figures of last month\n")
    before = bench.read_bytes()
    failing_disk(monkeypatch, errno.ENOSPC, 20)
    with pytest.raises(files.SaveError, match=r"^could not write .*BENCHMARKS\.md: the disk is full \(") as caught:
        update_benchmarks(bench, "standin", "### a new table\n")
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert bench.read_bytes() == before and leftovers(tmp_path) == ["BENCHMARKS.md"]


def test_site_step_on_a_failing_disk_says_one_line_and_leaves_pages_whole(tmp_path, monkeypatch, capsys):
    from bookkit import site

    page = tmp_path / "_book" / "index.html"
    page.parent.mkdir()
    page.write_text('<html><head><script src="https://cdn.example/require.js"></script></head><body>hi</body></html>')
    before = page.read_bytes()
    failing_disk(monkeypatch, errno.ENOSPC, 100_000)  # plotly.js is larger: its copy fails first
    assert site.main([str(page.parent)]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"[site] could not write {page.parent / 'site_libs' / 'aebook' / 'plotly.min.js'}: "
                           "the disk is full")
    assert page.read_bytes() == before and leftovers(page.parent) == ["index.html"]


def test_interrupted_write_leaves_nothing_and_says_nothing(tmp_path, monkeypatch):
    def interrupted(fd, data):
        os.write(fd, data[:10])
        raise KeyboardInterrupt  # Ctrl-C in the middle of a write: not a disk error, so not a SaveError

    monkeypatch.setattr(files, "write_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(tmp_path / "x.bin", b"y" * 100)
    assert leftovers(tmp_path) == []


def test_error_messages_are_one_plain_line():
    for err, words in [(errno.ENOSPC, "the disk is full ("), (errno.EROFS, "the folder is on a read-only filesystem"),
                       (errno.EACCES, "permission denied"), (errno.EPERM, "permission denied"),
                       (errno.EDQUOT, "over the disk quota"), (errno.EFBIG, "the file is larger than this filesystem"),
                       (errno.EIO, os.strerror(errno.EIO).lower())]:
        exc = files.save_error(Path("/tmp/x.pt"), OSError(err, os.strerror(err)), "the model m", size=3_000)
        assert "\n" not in str(exc) and str(exc).startswith(f"could not write the model m: {words}"), str(exc)
        assert exc.errno == err
    assert files.human_bytes(0) == "0 B" and files.human_bytes(12 * 1024) == "12 KB"
    assert files.human_bytes(3.5 * 1024 ** 2) == "3.5 MB"


# --- real tiny filesystems: tmpfs of 200 KB, and a read-only bind mount --------------------------------

def _namespace_works(tmp_path_factory) -> str:
    """"" when ``unshare -rm`` may mount a tmpfs and remount it read-only here, else why not."""
    folder = tmp_path_factory.mktemp("probe")
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c",
                               f"mount -t tmpfs -o size=16k tmpfs {folder} && mount --bind {folder} {folder} "
                               f"&& mount -o remount,bind,ro {folder}"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run unshare: {exc}"
    return "" if done.returncode == 0 else f"unshare/mount not permitted here: {done.stderr.strip()[:200]}"


@pytest.fixture(scope="module")
def namespaces(tmp_path_factory):
    why = _namespace_works(tmp_path_factory)
    if why:
        pytest.skip(why)


REAL_DISK_SCRIPT = textwrap.dedent('''
    import contextlib, io, json, os, sys
    from pathlib import Path
    import numpy as np, torch
    from aebook import files, latent, memo
    from bookkit import notebooks
    from aebook.checkpoints import load_or_train
    from aebook.data import ImageSet
    from aebook.models import LinearAutoencoder
    from aebook.train import TrainConfig

    disk, qmd, fill = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "fill"
    g = torch.Generator().manual_seed(0)
    x = torch.rand(160, 1, 28, 28, generator=g)
    class Splits:
        train = ImageSet(x=x[:128], y=torch.zeros(128, dtype=torch.long), fingerprint="train")
        val = ImageSet(x=x[128:], y=torch.zeros(32, dtype=torch.long), fingerprint="val")

    def run(fn):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            value = fn()
        return value, out.getvalue(), err.getvalue()

    seen = {}
    # a model of 1.6 MB, on an empty disk of 200 KB: the write fails part-way
    trained, out, _ = run(lambda: load_or_train("big", lambda: LinearAutoencoder(4, hidden=(256,)), Splits,
                                                TrainConfig(steps=4, batch_size=32, eval_every=2), cache=disk / "models"))
    seen["model"] = {"out": out, "path": str(trained.path), "usable": bool(torch.isfinite(trained.model(x[:2])[0]).all())}
    if fill:  # fill what is left, so that even a small file cannot be written
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"x" * 4096)
        os.close(fd)
    value, out, _ = run(lambda: memo.cached("judge", (1,), lambda: torch.arange(5.0), cache=disk / "derived"))
    seen["memo"] = {"out": out, "value": value.tolist()}
    _, out, _ = run(lambda: latent._save_npy(disk / "tsne" / "tsne-x.npy", np.zeros((300, 2), np.float32)))
    seen["tsne"] = {"out": out}
    code, out, err = run(lambda: notebooks.main(["--out", str(disk / "nb"), str(qmd)]))
    seen["notebook"] = {"code": code, "out": out, "err": err}
    seen["files"] = sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.is_file() and p.name != "filler")
    print(json.dumps(seen))
''')


def _run_on_mount(tmp_path: Path, mount: str, fill: bool) -> dict:
    disk, qmd, script = tmp_path / "disk", tmp_path / "tiny.qmd", tmp_path / "script.py"
    disk.mkdir()
    qmd.write_text(TINY_QMD)
    script.write_text(REAL_DISK_SCRIPT)
    env = dict(os.environ, AEBOOK_DEVICE="cpu", AEBOOK_PROGRESS="0")
    command = (f"{mount} && {sys.executable} {script} {disk} {qmd} {'fill' if fill else 'nofill'}")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True,
                          timeout=240, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check_real(seen: dict, disk: Path, cause: str) -> None:
    model = one_line(seen["model"]["out"])
    assert f"(not cached in {disk / 'models'}: {cause}" in model and seen["model"]["path"] == "None", model
    assert seen["model"]["usable"]
    memo_line = one_line(seen["memo"]["out"])
    assert memo_line.startswith(f"[cache] judge: computed (not cached in {disk / 'derived'}: {cause}"), memo_line
    assert seen["memo"]["value"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    tsne = one_line(seen["tsne"]["out"])
    assert tsne.startswith(f"[cache] could not write the t-SNE map {disk / 'tsne' / 'tsne-x.npy'}: {cause}"), tsne
    nb = seen["notebook"]
    assert nb["code"] == 1 and nb["out"] == ""
    assert one_line(nb["err"]) .startswith(f"could not write {disk / 'nb' / 'tiny.ipynb'}: {cause}")
    assert nb["err"].strip().endswith("; nothing was written under that name")
    assert seen["files"] == []  # nothing under a final name, no temporary file, on the real filesystem


def test_real_full_tmpfs(namespaces, tmp_path):
    seen = _run_on_mount(tmp_path, f"mount -t tmpfs -o size=200k tmpfs {tmp_path / 'disk'}", fill=True)
    _check_real(seen, tmp_path / "disk", "the disk is full")
    assert "MB to write, 200 KB free)" in seen["model"]["out"], seen["model"]["out"]  # the real figures
    assert "0 B free" in seen["notebook"]["err"]


def test_real_read_only_mount(namespaces, tmp_path):
    d = tmp_path / "disk"
    seen = _run_on_mount(tmp_path, f"mount -t tmpfs -o size=1m tmpfs {d} && mount --bind {d} {d} && "
                                   f"mount -o remount,bind,ro {d}", fill=False)
    _check_real(seen, d, "the folder is on a read-only filesystem")


# --- kill -9 in the middle of a save, and two runs sharing one cache ------------------------------

SLOW_WRITER = textwrap.dedent('''
    import os, sys, time
    from aebook import files
    files.CHUNK = 64 * 1024
    def slow(fd, data):
        time.sleep(float(sys.argv[3]))
        return os.write(fd, data)
    files.write_chunk = slow
    files.write_atomic(sys.argv[1], bytes([int(sys.argv[2])]) * (4 * 1024 * 1024))  # 64 chunks
    print("saved")
''')


def _start_slow_writer(tmp_path: Path, target: Path, byte: int, pause: float) -> subprocess.Popen:
    script = tmp_path / "slow_writer.py"
    script.write_text(SLOW_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(target), str(byte), str(pause)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is writing: its temporary file has some bytes
        temps = list(target.parent.glob(f".{target.stem}-*.tmp"))
        if temps and temps[0].stat().st_size > 0:
            return proc
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the writer never started writing")


def test_kill_9_mid_save_keeps_the_old_entry_and_the_next_save_clears_up(tmp_path):
    target = tmp_path / "cache" / "entry.pt"
    target.parent.mkdir()
    old = b"the old entry, whole" * 1000
    target.write_bytes(old)
    proc = _start_slow_writer(tmp_path, target, 7, 0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == old  # the old entry, byte for byte
    (stale,) = target.parent.glob(".entry-*.tmp")  # what kill -9 leaves: harmless, hidden
    assert 0 < stale.stat().st_size < 4 * 1024 * 1024
    files.write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and leftovers(target.parent) == ["entry.pt"]


def test_a_save_in_progress_elsewhere_is_not_taken_for_a_leftover(tmp_path):
    target = tmp_path / "cache" / "entry.pt"
    proc = _start_slow_writer(tmp_path, target, 9, 0.02)  # another process, saving the same entry now
    files.write_atomic(target, b"mine")  # finishes first; must not remove the other's file in progress
    assert proc.poll() is None, "the other save finished too soon to overlap"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "saved", err
    assert target.read_bytes() == bytes([9]) * (4 * 1024 * 1024)  # the last complete save wins, whole
    assert leftovers(target.parent) == ["entry.pt"]


TRAIN_SCRIPT = textwrap.dedent('''
    import os, sys, time, torch
    from aebook import files
    from aebook.checkpoints import load_or_train
    from aebook.data import ImageSet
    from aebook.models import LinearAutoencoder
    from aebook.train import TrainConfig
    files.CHUNK = 32 * 1024
    def slow(fd, data):  # a slow disk, so that the two saves overlap
        time.sleep(0.01)
        return os.write(fd, data)
    files.write_chunk = slow
    x = torch.rand(160, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    class Splits:
        train = ImageSet(x=x[:128], y=torch.zeros(128, dtype=torch.long), fingerprint="train")
        val = ImageSet(x=x[128:], y=torch.zeros(32, dtype=torch.long), fingerprint="val")
    result = load_or_train("shared", lambda: LinearAutoencoder(4, hidden=(256,)), Splits,
                           TrainConfig(steps=4, batch_size=32, eval_every=2), cache=sys.argv[1])
    print("RESULT", result.path is not None, result.from_cache)
''')


def test_two_runs_sharing_one_cache_both_succeed(tmp_path):
    cache = tmp_path / "models"
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    env = dict(os.environ, AEBOOK_DEVICE="cpu", AEBOOK_PROGRESS="0")
    procs = [subprocess.Popen([sys.executable, str(script), str(cache)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
        assert "RESULT True" in out and "not cached" not in out, out  # each saved its (identical) entry
    (entry,) = cache.glob("shared-*.pt")
    assert leftovers(cache) == [entry.name]
    state = torch.load(entry, weights_only=True)
    model = LinearAutoencoder(4, hidden=(256,))
    model.load_state_dict(state["state_dict"])  # whole and loadable

"""A chapter killed mid-training and run again resumes from the cache and trips on no leftovers."""

import os
import signal
import subprocess
import sys
import time

import pytest

from bookkit import notebooks as N

pytestmark = pytest.mark.slow

CHAPTER = next(p for p in N.chapter_paths() if "fully-connected" in p.name)


def test_killed_execution_resumes_from_cache(tmp_path, isolated_cache):
    env = {**os.environ, "AEBOOK_SMOKE": "1", "AEBOOK_CACHE_DIR": str(isolated_cache)}
    command = [sys.executable, "-m", "bookkit.notebooks", "--execute", str(CHAPTER), "--out", str(tmp_path)]
    first = subprocess.Popen(command, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    models = isolated_cache / "models"
    deadline = time.monotonic() + 300
    while not list(models.glob("fc-d32-*.pt")) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the kernel dies with it, mid-chapter
    first.wait()
    saved = list(models.glob("fc-d32-*.pt"))
    assert saved, "the first model was never saved before the kill"
    (models / f".{saved[0].stem}-killed.tmp").write_bytes(b"half of a later save")  # a leftover

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    executed = N.nbformat.read(tmp_path / f"{CHAPTER.stem}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert "[cache] fc-d32" not in printed  # loaded, not retrained
    entries = sorted(p.name.rsplit("-", 1)[0] for p in models.glob("*.pt"))
    assert entries == sorted([f"fc-d{d}" for d in (2, 4, 8, 16, 32, 64)] + ["linear-d32", "linear-deep-d32"])  # one sound entry per model

"""The benchmark's pieces, and its output format (a tiny smoke run)."""

import re
import subprocess
import sys

import torch
import torchvision.datasets

from aebook import bench
from aebook.models import LinearAutoencoder
from aebook.runtime import project_root
from tests.test_data import write_small_fashion_mnist


def test_baseline_goes_through_a_per_item_dataloader(tmp_path, monkeypatch):
    write_small_fashion_mnist(tmp_path, n_train=700)
    calls = {"n": 0}
    original = torchvision.datasets.FashionMNIST.__getitem__

    def counting(self, index):
        calls["n"] += 1
        item = original(self, index)
        assert isinstance(item[0], torch.Tensor) and item[0].shape == (1, 28, 28)  # ToTensor ran
        return item

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "__getitem__", counting)
    seconds, samples = bench.dataloader_epoch(lambda: LinearAutoencoder(4), tmp_path, n=600, batch_size=100)
    assert samples == 600 and seconds > 0
    assert calls["n"] == 600 + 2 * 100  # every sample of the epoch, plus two warm-up batches, one by one


def test_both_paths_measure_the_same_samples(tmp_path):
    write_small_fashion_mnist(tmp_path, n_train=700)
    x = bench.idx_images(tmp_path, 600)
    assert x.shape == (600, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    _, ours = bench.tensor_epoch(lambda: LinearAutoencoder(4), x, batch_size=100)
    _, plain = bench.dataloader_epoch(lambda: LinearAutoencoder(4), tmp_path, n=600, batch_size=100)
    assert ours == plain == 600


def test_environment_is_restored(monkeypatch):
    import os

    monkeypatch.delenv("AEBOOK_X", raising=False)
    with bench.environment(AEBOOK_X="1"):
        assert os.environ["AEBOOK_X"] == "1"
    assert "AEBOOK_X" not in os.environ


def test_smoke_benchmark_prints_name_value_unit(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    run = subprocess.run([sys.executable, str(project_root() / "tools" / "bench.py"), "--smoke", "--out", str(out),
                          "--chapters", "01-fully-connected"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stdout.strip().splitlines() if not line.startswith("note: ")]
    figures = dict(re.fullmatch(r"([a-z0-9_]+): ([0-9.]+) (s|x|MB|MiB|GFLOP/s|steps/s)", line).group(1, 2) for line in lines[:-1])
    for name in ("fc_epoch_ratio", "conv_epoch_ratio", "book_cold_total", "book_warm_total",
                 "chapter_01_fully_connected_cold", "chapter_01_fully_connected_warm",
                 "page_weight_01_fully_connected", "peak_memory", "trainer_steps_per_second_compute",
                 "trainer_steps_per_second_playing"):
        assert name in figures and float(figures[name]) > 0
    expected = float(figures["fc_epoch_seconds"]) / float(figures["fc_epoch_seconds_dataloader"])
    assert abs(float(figures["fc_epoch_ratio"]) - expected) < 0.002 + 0.01 * expected
    text = out.read_text()
    assert "## Machine" in text and "| fc_epoch_ratio | ≤ 0.2 |" in text and "smoke" in text
    assert "## In-page trainer" in text and "Goal: at least 50 steps per second while playing" in text

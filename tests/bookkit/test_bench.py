"""The benchmark's pieces, and its output format (a tiny smoke run)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision.datasets

from bookkit import bench
from aebook.models import LinearAutoencoder
from aebook.runtime import project_root
from tests.learner.test_data import write_small_fashion_mnist


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
    figures = dict(re.fullmatch(r"([a-z0-9_]+): ([0-9.]+) (s|x|MB|MiB|GFLOP/s|steps/s|points|nats|share)", line).group(1, 2) for line in lines[:-1])
    for name in ("fc_epoch_ratio", "conv_epoch_ratio", "book_cold_total", "book_warm_total",
                 "chapter_01_fully_connected_cold", "chapter_01_fully_connected_warm", "chapter_warm_max",
                 "page_weight_01_fully_connected", "page_weight_max", "plotly_bundle", "tsne_seconds_per_map",
                 "peak_memory", "family_of_4_fc_batching_speedup", "family_of_4_conv_batching_speedup",
                 "training_seconds_total", "plain_way_cold_estimate", "speedup_vs_plain_cold",
                 "trainer_steps_per_second_compute", "trainer_steps_per_second_playing",
                 "tsne_neighbour_seconds", "import_seconds_torch", "import_seconds_chapter"):
        assert name in figures and float(figures[name]) > 0, name
    expected = float(figures["fc_epoch_seconds"]) / float(figures["fc_epoch_seconds_dataloader"])
    assert abs(float(figures["fc_epoch_ratio"]) - expected) < 0.002 + 0.01 * expected
    assert float(figures["chapter_warm_max"]) == float(figures["chapter_01_fully_connected_warm"])
    assert float(figures["tsne_neighbour_seconds"]) < float(figures["tsne_seconds_per_map"])
    assert float(figures["tsne_map_points"]) == 300  # a map of the drawn codes only (smoke: a tenth of MAP_POINTS)
    for name in ("drawn_only", "all_points"):  # both maps judged on the same drawn codes
        assert 0.5 < float(figures[f"tsne_trust_{name}"]) <= 1 and 0 < float(figures[f"tsne_kl_{name}"]) < 10
    groups = sum(float(v) for k, v in figures.items() if k.startswith("import_seconds_")
                 and k not in ("import_seconds_chapter", "import_seconds_scikit_learn"))  # what every chapter imports
    assert abs(groups - float(figures["import_seconds_chapter"])) < 0.01
    assert float(figures["plotly_bundle"]) < 1.5  # the site ships the partial bundle for these pages
    assert float(figures["page_weight_max"]) == float(figures["page_weight_01_fully_connected"])
    kernels = [float(figures[f"chapter_01_fully_connected_{kind}_peak_memory"]) for kind in ("cold", "warm")]
    assert all(100 < mib <= float(figures["peak_memory_children"]) + 1 for mib in kernels), kernels  # a kernel is a child
    assert float(figures["peak_memory"]) == max(float(figures["peak_memory_bench_process"]),
                                                float(figures["peak_memory_children"]))
    text = out.read_text()
    assert "## Peak memory of each chapter's kernel" in text
    assert re.search(r"^\| 01-fully-connected \| cold \| [\d,]+ \| `[^`]+` \|$", text, re.M)
    assert "## Machine" in text and "| fc_epoch_ratio | ≤ 0.2 x |" in text and "smoke" in text
    assert "| book_cold_total | ≤ 1200 s |" in text and "| plotly_bundle | ≤ 1.5 MB |" in text
    models = re.findall(r"^\| 01-fully-connected \| `([\w.-]+)` \| ([\d,]+) \| ([a-z ]+) \| (\d+) \|", text, re.M)
    assert {"fc-d32", "linear-d32"} <= {m[0] for m in models}, models  # the cold run trained them
    assert "## Slowest cells of the warm run" in text and "| 01-fully-connected | `" in text
    assert "## In-page trainer" in text and "Goal: at least 50 steps per second while playing" in text


def test_trained_models_lists_only_new_entries(tmp_path, tiny_splits):
    from aebook.checkpoints import load_or_train
    from aebook.train import TrainConfig

    data = tiny_splits
    load_or_train("first", lambda: LinearAutoencoder(4), data, TrainConfig(steps=20, eval_every=10), cache=tmp_path)
    before = {p.name for p in tmp_path.glob("*.pt")}
    load_or_train("second", lambda: LinearAutoencoder(2), data, TrainConfig(steps=30, eval_every=10), cache=tmp_path)
    rows = bench.trained_models(tmp_path, skip=before)
    assert [(r["model"], r["updates"]) for r in rows] == [("second", 30)]
    assert rows[0]["seconds"] > 0 and rows[0]["status"] in ("converged", "still improving", "stopped early")
    assert rows[0]["precision"] == "float32"
    load_or_train("third", lambda: LinearAutoencoder(2), data,
                  TrainConfig(steps=10, eval_every=10, precision="bfloat16"), cache=tmp_path)
    third = [r for r in bench.trained_models(tmp_path) if r["model"] == "third"]
    assert third[0]["precision"] == "bfloat16"


def test_family_batching_is_timed_both_ways():
    alone, batched = bench.family_step_seconds(lambda: LinearAutoencoder(4), k=3, batch_size=32, steps=2)
    assert alone > 0 and batched > 0


def test_import_seconds_counts_each_group_once_in_order():
    seconds = bench.import_seconds({"first": ("xml.dom.minidom", "email.mime.text"), "again": ("xml.dom.minidom",)})
    assert list(seconds) == ["first", "again"]
    assert seconds["first"] > 0 and seconds["again"] < seconds["first"]  # already loaded: nothing left to pay


def test_warm_paragraph_finds_the_set_up_cells_behind_the_notebooks_own_first_cell():
    sys.path.insert(0, str(project_root() / "tools"))
    try:
        import bench as tool
    finally:
        sys.path.pop(0)
    values = {"book_warm_total": 40.0, "chapter_warm_max": 20.0, "chapter_a_warm": 20.0, "chapter_b_warm": 20.0,
              "import_seconds_torch": 1.5, "import_seconds_scikit_learn": 2.0, "import_seconds_chapter": 1.5}
    cells = {("a", "warm"): [("# Set-up. The chapter imports…", 0.01), ("a-setup", 6.0), ("plot", 9.0)],
             ("b", "warm"): [("# Set-up. The chapter imports…", 0.01), ("setup", 4.0), ("plot", 10.0)],
             ("a", "cold"): [("a-setup", 60.0)]}
    text = tool.warm_miss(values, cells)
    assert "the chapters' set-up cells take 10 s together" in text
    assert "starting the 2 kernels and sending them the cells takes 11 s" in text  # (20 − 15.01) + (20 − 14.01)
    assert "Importing what every chapter imports takes 1.5 s in a fresh process (torch 1.5 s)" in text
    assert "scikit-learn (2.0 s more) only in the chapters whose warm run still fits or rebuilds such a model" in text
    assert text.startswith("`book_warm_total` (40 s against 30) and `chapter_warm_max` (20.0 s against 8) miss their goals.")
    assert "2 × 1.5 s = 3 s of the warm run" in text  # scikit-learn is not paid by every chapter
    values |= {"book_warm_total": 25.0, "chapter_warm_max": 12.5, "import_seconds_plotly": 0.004}
    text = tool.warm_miss(values, cells)
    assert text.startswith("`chapter_warm_max` (12.5 s against 8) misses its goal.")
    assert "(torch 1.5 s; the rest already loaded by these)" in text  # plotly's 4 ms left out


def test_without_a_browser_the_last_measured_trainer_section_is_kept(monkeypatch, capsys):
    sys.path.insert(0, str(project_root() / "tools"))
    try:
        import bench as tool
    finally:
        sys.path.pop(0)
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)  # as on a machine with no browser installed
    assert tool.trainer_section(data=None) is None
    assert "no Chromium on PATH (Debian/Ubuntu: apt-get install chromium)" in capsys.readouterr().out
    text = f"# Benchmarks\n\n## Goals\n\nA.\n\n{tool.TRAINER_TITLE}\n\nMeasured 2026-01-01: 71 steps/s.\n\n## Baselines\n\nB.\n"
    kept = tool.section_of(text)
    assert kept == f"{tool.TRAINER_TITLE}\n\nMeasured 2026-01-01: 71 steps/s.\n"
    assert tool.with_section(text, kept) == text  # written back unchanged
    assert tool.with_section(text, f"{tool.TRAINER_TITLE}\n\nNew.\n").endswith("\n\nNew.\n\n## Baselines\n\nB.\n")
    assert tool.section_of("# Benchmarks\n") is None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the kernel's peak memory is read from Linux's /proc")
def test_the_peak_memory_of_a_chapter_names_the_cell_that_set_it(tmp_path):
    from bookkit import notebooks

    path = tmp_path / "memory.qmd"
    path.write_text('---\ntitle: "Memory"\n---\n\n```{python}\n#| label: small\nx = 1\n```\n\n'
                    '```{python}\n#| label: large\nblock = b"x" * (400 * 2**20)  # 400 MiB, every page written\n'
                    'del block\n```\n\n```{python}\n#| label: after\ny = 2\n```\n')
    run = notebooks.execute(notebooks.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    mib, cell = bench.peak_cell(run)
    assert cell == "large"  # set there, though the memory was given back before the next cell
    first = next(iter(run.peak_mib.values()))
    assert mib - first > 350, (first, mib)


def test_a_missed_peak_memory_is_put_on_whoever_set_it():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_tool", project_root() / "tools" / "bench.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    peaks = {("06-at-work", "cold"): (2553.0, "retrieval"), ("01-fully-connected", "cold"): (1879.0, "setup")}
    kernel = {"peak_memory": 2560.0, "peak_memory_bench_process": 900.0, "peak_memory_children": 2560.0}
    assert "The peak was 06-at-work's cold kernel, 2,553 MiB, reached in its cell `retrieval`" in tool.memory_miss(kernel, peaks)
    own = {"peak_memory": 3000.0, "peak_memory_bench_process": 3000.0, "peak_memory_children": 2560.0}
    assert "The peak was this process itself (3,000 MiB" in tool.memory_miss(own, peaks)
    other = {"peak_memory": 3000.0, "peak_memory_bench_process": 900.0, "peak_memory_children": 3000.0}
    text = tool.memory_miss(other, peaks)
    assert "a child process other than the chapters' kernels (3,000 MiB" in text and "`retrieval`" in text
    assert "were not measured one by one" in tool.memory_miss(other, {})
    assert tool.misses({**kernel, "book_cold_total": 1.0, "book_warm_total": 1.0, "chapter_warm_max": 1.0,
                        "tsne_seconds_per_map": 1.0, "fc_epoch_ratio": 0.1}, [], {}, peaks) == [tool.memory_miss(kernel, peaks)]


def test_test_loss_is_the_models_own_objective_on_its_test_images(tmp_path):
    """The bench scores each cached model with the objective it was trained on (rebuilt from the cache
    key), on the test images of its data: shuffled ones for a pixel-shuffled model, image-class pairs
    for the conditional VAE."""
    from conftest import make_set

    from aebook.checkpoints import load_or_train
    from aebook.data import FashionMNISTData, shuffle_pixels
    from aebook.emoji import LabelledSet, LabelledSplits
    from aebook.models import ConditionalVAE, ConvAutoencoder, ConvVAE
    from aebook.train import ConditionalELBOObjective, ELBOObjective, TrainConfig, evaluate, mse_objective

    data = FashionMNISTData(train=make_set(128, 0, "train"), val=make_set(32, 1, "val"),
                            test=make_set(48, 2, "test"), source="standin")
    config = TrainConfig(steps=4, batch_size=32, eval_every=2)
    shuffled = shuffle_pixels(data)
    pairs = LabelledSplits(*(LabelledSet((s.x, s.y), f"{s.fingerprint}|with-classes") for s in (data.train, data.val)))
    runs = [(load_or_train("vae", lambda: ConvVAE(4), data, config, ELBOObjective(beta=4.0, warmup_steps=2),
                           cache=tmp_path), data.test.x, ELBOObjective(beta=4.0)),
            (load_or_train("shuffled", lambda: ConvAutoencoder(4), shuffled, config, mse_objective, cache=tmp_path),
             shuffled.test.x, mse_objective),
            (load_or_train("cvae", lambda: ConditionalVAE(4), pairs, config, ConditionalELBOObjective(), cache=tmp_path),
             (data.test.x, data.test.y), ConditionalELBOObjective())]
    losses = []
    for trained, x, objective in runs:
        expected = evaluate(trained.model.cpu(), x, 1024, objective)["loss"]
        losses.append(bench.test_loss(trained.path, data))
        assert losses[-1] == pytest.approx(expected, rel=1e-5)
    assert len(set(losses)) == 3


def test_the_previous_runs_models_are_read_from_its_table():
    old = """# Benchmarks

Measured by `make bench` on 2026-12-06 in full settings, one run.

## Models trained by the cold run

| chapter | model | updates | status | seconds | ms per update |
| --- | --- | ---: | --- | ---: | ---: |
| 01-fully-connected | `fc-d16` | 6,000 | still improving | 46 | 8 |
| 05-emoji | `emoji-ae-d128` | 2,204 | stopped early | 397 | 180 |
| all | 2 models | 8,204 | | 443 | |

## Slowest cells of the warm run

| chapter | cell | seconds |
| 05-emoji | `ae-vs-vae` | 10.38 |
"""
    rows = bench.previous_models(old)
    assert rows == {("01-fully-connected", "fc-d16"): (6000, 46.0, "still improving", None),
                    ("05-emoji", "emoji-ae-d128"): (2204, 397.0, "stopped early", None)}
    assert bench.previous_models("# Benchmarks\n") == {}


def test_the_previous_runs_test_losses_are_read_where_its_table_has_them():
    old = """## Models trained by the cold run

| chapter | model | updates | status | seconds | ms per update | test loss | updates before | seconds before |
| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |
| 01-fully-connected | `fc-d16` | 3,000 | still improving | 30 | 10 | 0.002211 | 6,000 | 46 |
| 05-emoji | `emoji-ae-d128` | 2,470 | stopped early | 418 | 169 | 0.0193 | 2,204 | 397 |
| 05-emoji | `emoji-ae-d32` | 1,273 | stopped early | 172 | 135 | | 1,919 | 327 |
"""
    rows = bench.previous_models(old)
    assert rows[("01-fully-connected", "fc-d16")] == (3000, 30.0, "still improving", 0.002211)
    assert rows[("05-emoji", "emoji-ae-d128")][3] == 0.0193
    assert rows[("05-emoji", "emoji-ae-d32")][3] is None
    now = [dict(chapter="01-fully-connected", model="fc-d16", test_loss=0.0023),
           dict(chapter="05-emoji", model="emoji-ae-d128", test_loss=0.0190),
           dict(chapter="05-emoji", model="emoji-ae-d32", test_loss=0.03),
           dict(chapter="06-at-work", model="new-model", test_loss=1.0)]
    worse = bench.worse_than_before(now, rows)
    assert [name for name, _ in worse] == ["fc-d16"]  # lower, no old value, or not in the old table: not named
    same = [dict(chapter="01-fully-connected", model="fc-d16", test_loss=0.0022114)]  # prints as 0.002211
    assert bench.worse_than_before(same, rows) == []
    assert worse[0][1] == pytest.approx(0.0023 / 0.002211 - 1)


def test_the_previous_columns_say_when_the_earlier_run_was_on_another_machine():
    sys.path.insert(0, str(project_root() / "tools"))
    try:
        import bench as tool
    finally:
        sys.path.pop(0)

    old = "# Benchmarks\n\n## Machine\n\n- CPU: AMD EPYC\n- cores: 2\n"
    other = tool.previous_columns_note(old, "2026-12-05", "Intel(R) Xeon(R) Processor")
    assert "another machine (AMD EPYC; this run: Intel(R) Xeon(R) Processor)" in other and "not comparable" in other
    assert tool.previous_columns_note(old, "2026-12-05", "AMD EPYC").endswith("(2026-12-05).")


def test_the_models_whose_test_loss_rose_are_named_under_the_table():
    sys.path.insert(0, str(project_root() / "tools"))
    try:
        import bench as tool
    finally:
        sys.path.pop(0)

    assert tool.worse_sentence([]) == "No model's test loss is higher than in the run before."
    said = tool.worse_sentence([("vae-d2-beta1", 0.031), ("fc-d16", 0.004)])
    assert said.startswith("Test loss higher than in the run before: `vae-d2-beta1` (+3.1%), `fc-d16` (+0.4%).")


def test_the_models_that_trained_in_mixed_precision_are_named():
    assert bench.precision_sentence([dict(model="fc-d2"), dict(model="fc-d4", precision="float32")]) \
        == "Every model trained in float32."
    said = bench.precision_sentence([dict(model="fc-d2", precision="float32"),
                                     dict(model="emoji-ae-d128", precision="bfloat16")])
    assert "`emoji-ae-d128`; every other model in float32." in said and "fc-d2" not in said

"""Every AEBOOK_* switch is validated in one place: a wrong value gets one line naming it and what is accepted."""

import subprocess
import sys

import pytest
import torch

from aebook import runtime as R


@pytest.mark.parametrize("name, value, accepted", [
    ("AEBOOK_SMOKE", "banana", "1, true, yes, on, 0, false, no, off"),
    ("AEBOOK_SMOKE", "2", "1, true, yes, on"),
    ("AEBOOK_PROGRESS", "maybe", "0, false, no, off"),
    ("AEBOOK_DATA", "mnist", "fashion-mnist, standin"),
    ("AEBOOK_EMOJI", "web", "auto, hub, font"),
    ("AEBOOK_DEVICE", "tpu", "cpu, cuda, mps"),
])
def test_an_unknown_value_names_the_switch_and_the_accepted_values(monkeypatch, name, value, accepted):
    monkeypatch.setenv(name, value)
    with pytest.raises(R.SwitchError) as caught:
        R.check_switches()
    message = str(caught.value)
    assert f"{name}={value!r}" in message and accepted in message and "\n" not in message


@pytest.mark.parametrize("value, on", [("1", True), ("ON", True), (" yes ", True), ("true", True),
                                       ("0", False), ("off", False), ("No", False), ("", False)])
def test_booleans_accept_the_usual_words(monkeypatch, value, on):
    monkeypatch.setenv("AEBOOK_SMOKE", value)
    assert R.is_smoke() is on


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_device_that_is_not_there_says_so_and_how_to_fall_back(monkeypatch):
    monkeypatch.setenv("AEBOOK_DEVICE", "cuda")
    with pytest.raises(R.SwitchError, match=r"AEBOOK_DEVICE=cuda, but PyTorch sees no CUDA GPU.*set it to cpu"):
        R.get_device()


def test_a_bad_switch_stops_the_import(monkeypatch):
    env = {"AEBOOK_SMOKE": "banana", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import aebook.data"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("aebook.runtime.SwitchError: AEBOOK_SMOKE='banana'")


@pytest.mark.parametrize("typo, meant", [("AEBOOK_SMOK", "AEBOOK_SMOKE"), ("AEBOOK_DEVISE", "AEBOOK_DEVICE"),
                                         ("AEBOOK_DATADIR", "AEBOOK_DATA_DIR")])
def test_a_mistyped_switch_name_is_named_with_the_closest_known_one(monkeypatch, typo, meant):
    monkeypatch.setenv(typo, "1")
    with pytest.raises(R.SwitchError) as caught:
        R.check_switches()
    assert str(caught.value).startswith(f"{typo} is not a switch the book knows (did you mean {meant}?)")


def test_every_name_the_book_reads_is_known():
    """A name read anywhere in the sources but missing from runtime.KNOWN would stop every import."""
    import re
    from pathlib import Path

    root = Path(R.__file__).resolve().parents[2]
    read = set()
    for path in [*root.glob("src/**/*.py"), *root.glob("tools/*"), root / "Makefile"]:
        if path.is_file() and path.name != "runtime.py":  # runtime.py defines them (and quotes a typo)
            read |= set(re.findall(r"AEBOOK_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8", errors="replace")))
    assert read - set(R.KNOWN) == set(), "read by the sources but unknown to runtime.KNOWN"


def test_in_a_notebook_a_bad_switch_is_one_line_without_a_traceback(tmp_path):
    """IPython shows SwitchError by its message alone (``_render_traceback_``): what a notebook reader sees."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import aebook.data")])
    import os
    env = {**os.environ, "AEBOOK_SMOKE": "banana"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with pytest.raises(CellExecutionError):
            client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    assert error.traceback == ["SwitchError: AEBOOK_SMOKE='banana' is not a value the book knows; use one of: "
                               "1, true, yes, on, 0, false, no, off (or unset it)"]


@pytest.mark.parametrize("value, hardware, chosen", [
    ("float32", True, "float32"), ("bfloat16", False, "bfloat16"),
    ("auto", True, "bfloat16"), ("auto", False, "float32"), (None, True, "bfloat16"), (None, False, "float32")])
def test_precision_is_bfloat16_only_where_the_hardware_has_it_unless_forced(monkeypatch, value, hardware, chosen):
    if value is None:
        monkeypatch.delenv("AEBOOK_PRECISION", raising=False)
    else:
        monkeypatch.setenv("AEBOOK_PRECISION", value)
    monkeypatch.setattr(R, "bfloat16_in_hardware", lambda device: hardware)
    assert R.training_precision(torch.device("cpu")) == chosen


def test_a_wrong_precision_is_named_with_the_accepted_values(monkeypatch):
    monkeypatch.setenv("AEBOOK_PRECISION", "half")
    with pytest.raises(R.SwitchError, match=r"AEBOOK_PRECISION='half'.*auto, float32, bfloat16"):
        R.training_precision()


def test_no_bfloat16_in_hardware_on_a_gpu():
    assert not R.bfloat16_in_hardware(torch.device("cuda"))
    assert not R.bfloat16_in_hardware(torch.device("mps"))

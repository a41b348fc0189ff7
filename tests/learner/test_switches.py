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

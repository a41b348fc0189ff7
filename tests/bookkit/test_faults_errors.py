"""python -m bookkit.notebooks says what happened: the error's type and whole message, the cell a dead
kernel was running, one line for a bad switch or an early Ctrl-C; never a traceback on the terminal."""

import os
import signal
import subprocess
import sys
import time

import pytest
from nbclient.exceptions import CellExecutionError, DeadKernelError

from bookkit import notebooks as N
from aebook.runtime import CHOICES

MESSAGE = ("Fashion-MNIST is not in /data/raw and could not be downloaded (URLError: no network).\n"
           "To fix it, do one of these:\n"
           "  * connect to the internet and run again (torchvision downloads about 30 MB);\n"
           "  * copy the four Fashion-MNIST files into /data/raw;\n"
           "  * or set AEBOOK_DATA=standin to run on the generated stand-in data set.")
SHOWN = ["    To fix it, do one of these:",  # the message's further lines, in full, indented under the headline
         "      * connect to the internet and run again (torchvision downloads about 30 MB);",
         "      * copy the four Fashion-MNIST files into /data/raw;",
         "      * or set AEBOOK_DATA=standin to run on the generated stand-in data set."]

DATA = ("# Data\n\n```{python}\n#| label: fine\nx = 1\n```\n\n```{python}\n#| label: setup\n"
        "class DataUnavailableError(RuntimeError):\n    pass\n\n"
        f"raise DataUnavailableError({MESSAGE!r})\n```\n")
UNLABELLED = "# Plain\n\n```{python}\nx = 1\n```\n\n```{python}\n\nratio = 1 / 0  # no label\n```\n"
KILLED = ("# Killed\n\n```{python}\n#| label: fine\nx = 1\n```\n\n```{python}\n#| label: crash\n"
          "import os\nos.kill(os.getpid(), 9)\n```\n\n```{python}\n#| label: never\nx = 2\n```\n")
GOOD = "# Good\n\n```{python}\n#| label: fine\nx = 1\n```\n"


def cli(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "bookkit.notebooks", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, **kwargs)


def test_a_failing_cell_shows_the_error_type_and_every_line_of_its_message(tmp_path):
    (tmp_path / "data.qmd").write_text(DATA)
    (tmp_path / "plain.qmd").write_text(UNLABELLED)
    out = tmp_path / "out"
    done = cli("--execute", "--out", out, tmp_path / "data.qmd", tmp_path / "plain.qmd")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"FAILED {tmp_path / 'data.qmd'}: cell 'setup' raised DataUnavailableError: Fashion-MNIST is not in "
        "/data/raw and could not be downloaded (URLError: no network).",
        *SHOWN,
        f"  full traceback: {out / 'data.log'}",
        # a cell without a label: its number among the chapter's code cells, and its first line
        f"FAILED {tmp_path / 'plain.qmd'}: code cell 2 ('ratio = 1 / 0 # no label') raised "
        "ZeroDivisionError: division by zero",
        f"  full traceback: {out / 'plain.log'}"]
    log = (out / "data.log").read_text()
    assert "Traceback" in log and "raise DataUnavailableError" in log and "\x1b[" not in log
    assert not list(out.glob("*.ipynb"))


def test_the_summary_drops_colour_codes_but_keeps_the_whole_message(tmp_path):
    error = CellExecutionError("\x1b[0;31mTraceback\x1b[0m ...\n#| label: load\n", "DataUnavailableError",
                               MESSAGE.replace("To fix it", "\x1b[1mTo fix it\x1b[0m"))
    report = N.failure_report(tmp_path / "ch.qmd", error, tmp_path / "ch.log", verbose=False).splitlines()
    assert report == [f"FAILED {tmp_path / 'ch.qmd'}: cell 'load' raised DataUnavailableError: Fashion-MNIST is "
                      "not in /data/raw and could not be downloaded (URLError: no network).", *SHOWN,
                      f"  full traceback: {tmp_path / 'ch.log'}"]
    assert (tmp_path / "ch.log").read_text() == "Traceback ...\n#| label: load\n"


def test_a_killed_kernel_is_reported_with_the_cell_it_was_running(tmp_path):
    (tmp_path / "killed.qmd").write_text(KILLED)
    (tmp_path / "good.qmd").write_text(GOOD)
    out = tmp_path / "out"
    done = cli("--execute", "--out", out, tmp_path / "killed.qmd", tmp_path / "good.qmd")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0] == (f"FAILED {tmp_path / 'killed.qmd'}: the kernel died while running cell 'crash'; "
                        "it was killed by SIGKILL")
    assert lines[1].startswith("  most often the machine ran out of memory") and "AEBOOK_SMOKE=1" in lines[1]
    assert lines[2] == f"  what it was running: {out / 'killed.log'}" and len(lines) == 3
    assert "os.kill(os.getpid(), 9)" in (out / "killed.log").read_text()
    assert not (out / "killed.ipynb").exists()
    assert done.stdout == f"wrote {out / 'good.ipynb'} (executed)\n"  # the run went on to the next chapter


def test_a_dead_kernel_without_a_known_cell_or_status_still_says_it_died(tmp_path):
    report = N.failure_report(tmp_path / "ch.qmd", DeadKernelError("Kernel died"), tmp_path / "ch.log", False)
    assert report.splitlines()[0] == f"FAILED {tmp_path / 'ch.qmd'}: the kernel died before its first cell ran"


@pytest.mark.parametrize("switch", ["AEBOOK_DEVICE=tpu", "AEBOOK_SMOKE=banana", "AEBOOK_SMOKE=2"])
@pytest.mark.parametrize("args", [["--help"], ["--execute", "CHAPTER", "--out", "OUT"]])
def test_a_bad_switch_is_one_line_and_exit_2(tmp_path, switch, args):
    (tmp_path / "good.qmd").write_text(GOOD)
    name, value = switch.split("=")
    args = [{"CHAPTER": tmp_path / "good.qmd", "OUT": tmp_path / "out"}.get(a, a) for a in args]
    done = cli(*args, env={name: value})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"{name}={value!r} is not a value the book knows; use one of: "
                                        f"{', '.join(CHOICES[name])} (or unset it)"]
    assert not (tmp_path / "out").exists()


def test_help_is_quick_and_loads_no_pytorch():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bookkit.notebooks", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Exit status:" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "torch" not in imported and "numpy" not in imported


def test_no_such_chapter_is_one_line_and_exit_2(tmp_path):
    done = cli("--out", tmp_path / "out", tmp_path / "nowhere.qmd")
    assert done.returncode == 2 and done.stderr.splitlines()[-1].endswith(
        f"error: no such chapter file: {tmp_path / 'nowhere.qmd'}")
    assert "Traceback" not in done.stderr


def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path):
    """A real SIGINT 0.3 s after the start (Python still importing), several times; any moment gives one line."""
    (tmp_path / "good.qmd").write_text(GOOD)
    for attempt, delay in enumerate([0.3, 0.3, 0.3, 1.0]):
        out = tmp_path / f"out{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "bookkit.notebooks", "--execute", "--out", str(out),
                                 str(tmp_path / "good.qmd")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
        lines = stderr.splitlines()
        assert proc.returncode == 130, (delay, stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("interrupted "), (delay, stderr[-2000:])
        assert (lines[0] == N.INTERRUPTED_AT_START or "its notebook was not written" in lines[0]) and stdout == ""
        assert not out.exists() or not list(out.iterdir())  # nothing written, not even a partial file

"""python -m bookkit.notebooks: Ctrl-C stops everything with one line; a failing chapter says where and why."""

import signal
import subprocess
import sys
import time

import pytest

SLOW = "# Slow\n\n```{python}\n#| label: wait\nimport time\ntime.sleep(120)\n```\n"
BOOM = ("# Boom\n\n```{python}\n#| label: fine\nx = 1\n```\n\n"
        "```{python}\n#| label: boom\nraise ValueError('the data went missing')\n```\n")


def cli(*args):
    return [sys.executable, "-m", "bookkit.notebooks", *map(str, args)]


def children(pid):
    found = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def alive(pid):
    return subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode == 0


@pytest.mark.slow
def test_ctrl_c_stops_the_whole_run_with_one_line(tmp_path):
    (tmp_path / "a.qmd").write_text(SLOW)
    (tmp_path / "b.qmd").write_text(SLOW)
    out = tmp_path / "out"
    proc = subprocess.Popen(cli("--execute", "--out", out, tmp_path / "a.qmd", tmp_path / "b.qmd"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not children(proc.pid) and time.time() < deadline:  # wait for the kernel to start
        time.sleep(0.5)
    time.sleep(4)  # and to be inside the cell
    kernels = children(proc.pid)
    assert kernels, "no kernel was started"
    proc.send_signal(signal.SIGINT)  # a real SIGINT, as Ctrl-C sends
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip().splitlines() == [
        f"interrupted while executing chapter 1 of 2 ({tmp_path / 'a.qmd'}); its notebook was not written, "
        "and nothing was cached for a model still in training"]
    # no partial file, and chapter 2 never started (the folder is made by the first write, if at all)
    assert stdout == "" and (not out.exists() or list(out.iterdir()) == [])
    time.sleep(1)
    assert not [k for k in kernels if alive(k)], "a kernel outlived the run"


def test_a_failing_chapter_names_the_cell_and_the_error_without_colour_codes(tmp_path):
    (tmp_path / "boom.qmd").write_text(BOOM)
    out = tmp_path / "out"
    done = subprocess.run(cli("--execute", "--out", out, tmp_path / "boom.qmd"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"FAILED {tmp_path / 'boom.qmd'}: cell 'boom' raised ValueError: the data went missing"
    assert lines[1] == f"  full traceback: {out / 'boom.log'}" and len(lines) == 2
    assert "\x1b[" not in done.stderr and "Traceback" in (out / "boom.log").read_text()
    verbose = subprocess.run(cli("--execute", "--verbose", "--out", out, tmp_path / "boom.qmd"),
                             capture_output=True, text=True, timeout=120)
    assert "raise ValueError('the data went missing')" in verbose.stderr and "\x1b[" not in verbose.stderr


def test_help_is_plain_text_with_defaults():
    done = subprocess.run(cli("--help"), capture_output=True, text=True)
    assert done.returncode == 0 and "``" not in done.stdout and "(default: " in done.stdout


NOISY_DEATH = ("# Noise\n\n```{python}\n#| label: noisy\nimport os, signal, sys\n"
               "os.write(2, b'NATIVE-NOISE from the dying kernel\\n')  # the process's own fd 2, as C code writes\n"
               "import time; time.sleep(1)  # (time for ipykernel's fd watcher to pass it on, where it watches)\n"
               "os.kill(os.getpid(), signal.SIGKILL)\n```\n")


def test_what_a_dying_kernel_prints_goes_to_the_log_not_the_terminal(tmp_path):
    """A kernel's own standard error (libzmq's assertions as it dies, say) would break our one line: it is kept
    in the chapter's log instead."""
    (tmp_path / "noise.qmd").write_text(NOISY_DEATH)
    out = tmp_path / "out"
    done = subprocess.run(cli("--execute", "--out", out, tmp_path / "noise.qmd"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "NATIVE-NOISE" not in done.stderr + done.stdout
    assert done.stderr.splitlines()[0].startswith(f"FAILED {tmp_path / 'noise.qmd'}: the kernel died while running "
                                                  "cell 'noisy'")
    assert "NATIVE-NOISE from the dying kernel" in (out / "noise.log").read_text()

"""How the book reaches its readers: the GitHub Actions workflows and the lock file.

actionlint and zizmor (both installed from requirements.lock) check .github/workflows/ and must
report nothing; each is also shown a deliberately bad workflow, so a checker that stopped checking
fails here too. The lock must pin every range of requirements.txt and pyproject.toml, and the
Makefile's CPU-only route (TORCH_INDEX) must leave out exactly what PyPI's CUDA build of torch needs.
CITATION.cff must agree with pyproject.toml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
LOCK = ROOT / "requirements.lock"

# A workflow with one mistake for each checker: a `needs:` naming no job (actionlint), and an
# untrusted value expanded inside a shell script (both; zizmor calls it template-injection).
BAD_WORKFLOW = """\
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    needs: nothing
    steps:
      - run: echo "${{ github.event.head_commit.message }}"
"""


def tool(name: str) -> str:
    """The checker installed beside this Python (make test installs it from the lock)."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make test` installs it from requirements.lock "
                    f"(or: {sys.executable} -m pip install -r requirements.lock)")
    return path


def actionlint(files: list[Path], cwd: Path, shellcheck: str = "") -> subprocess.CompletedProcess:
    """actionlint on ``files``, one finding per line. Its shellcheck and pyflakes integrations are off
    unless ``shellcheck`` names the command: their versions are not the lock's."""
    return subprocess.run([tool("actionlint"), "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=",
                           *map(str, files)], check=False, cwd=cwd, capture_output=True, text=True, timeout=120)


def zizmor(folder: Path, *options: str) -> subprocess.CompletedProcess:
    """zizmor on the workflows in ``folder``, offline: no audit that needs GitHub's API, no download."""
    env = {**os.environ, "ZIZMOR_OFFLINE": "true", "NO_COLOR": "1"}
    return subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--color=never", *options, str(folder)],
                          check=False, cwd=folder, capture_output=True, text=True, timeout=120, env=env)


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


# --- the checkers, on the book's workflows and on a bad one ---------------------------------------

def test_the_workflows_exist() -> None:
    assert [p.name for p in workflow_files()] == ["ci.yml", "publish.yml"]


def test_actionlint_reports_nothing() -> None:
    done = actionlint(workflow_files(), ROOT)
    assert done.returncode == 0 and not done.stdout.strip(), f"actionlint:\n{done.stdout}{done.stderr}"


def test_actionlint_with_shellcheck_reports_nothing() -> None:
    """The `run:` scripts through shellcheck too, where the system has it (Debian: apt-get install shellcheck)."""
    if shutil.which("shellcheck") is None:
        pytest.skip("no shellcheck on PATH: the run: scripts were not shellchecked (apt-get install shellcheck)")
    done = actionlint(workflow_files(), ROOT, shellcheck="shellcheck")
    assert done.returncode == 0 and not done.stdout.strip(), f"actionlint + shellcheck:\n{done.stdout}{done.stderr}"


def test_zizmor_reports_nothing() -> None:
    done = zizmor(WORKFLOWS)
    assert done.returncode == 0, f"zizmor (exit {done.returncode}):\n{done.stdout}{done.stderr}"
    assert "No findings" in done.stdout, done.stdout + done.stderr


def test_actionlint_reports_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW)
    done = actionlint([bad], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'needs job "nothing" which does not exist' in done.stdout
    assert "potentially untrusted" in done.stdout


def test_zizmor_reports_a_bad_workflow(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(BAD_WORKFLOW)
    done = zizmor(folder, "--format=json")
    assert done.returncode != 0, done.stdout + done.stderr
    assert "template-injection" in {finding["ident"] for finding in json.loads(done.stdout)}


# --- what the workflows promise ------------------------------------------------------------------

def test_actions_are_pinned_by_commit() -> None:
    for path in workflow_files():
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text(encoding="utf-8")):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses} is not pinned by commit"


def test_checkouts_keep_no_credentials() -> None:
    for path in workflow_files():
        for job in load(path.name)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name


def test_only_the_deploy_job_may_write() -> None:
    ci, publish = load("ci.yml"), load("publish.yml")
    assert ci["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {}
    assert publish["jobs"]["build"]["permissions"] == {"contents": "read"}
    assert publish["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_workflows_install_the_quarto_the_book_requires() -> None:
    """Both workflows set up a Quarto inside `quarto-required` (_quarto.yml) and tools/render.sh's range."""
    required = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))["quarto-required"]
    low, high = re.fullmatch(r">=\s*(\S+)\s+<\s*(\S+)", required).groups()
    render = (ROOT / "tools" / "render.sh").read_text(encoding="utf-8")
    assert f'QUARTO_MIN="{low}"' in render and f'QUARTO_BELOW="{high}"' in render
    for path in workflow_files():
        versions = [str(step["with"]["version"]) for job in load(path.name)["jobs"].values()
                    for step in job.get("steps", []) if "quarto-actions/setup@" in step.get("uses", "")]
        assert versions, f"{path.name} sets up no Quarto"
        assert all(Version(low) <= Version(v) < Version(high) for v in versions), (path.name, versions, required)


def publish_profile(tmp_path: Path, **env: str) -> dict:
    """Run publish.yml's step that writes _quarto-publish.yml, with the given context, and read the file."""
    step = next(s for s in load("publish.yml")["jobs"]["build"]["steps"] if s.get("name") == "Write _quarto-publish.yml")
    assert "${{" not in step["run"], "the script reads the run's context through env:, never ${{ }}"
    assert set(step["env"]) == set(env)
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env={**os.environ, **env},
                   check=True, capture_output=True, text=True)
    return yaml.safe_load((tmp_path / "_quarto-publish.yml").read_text(encoding="utf-8"))


def test_publish_profile_names_the_pages_address(tmp_path: Path) -> None:
    profile = publish_profile(tmp_path, OWNER="Some-Reader", REPO="autoencoders-built-and-seen")
    # the site only: a repository address here would give Colab links to committed notebooks that lack it
    assert profile == {"book": {"site-url": "https://some-reader.github.io/autoencoders-built-and-seen/"}}


def test_publish_profile_of_a_user_site_and_an_odd_name(tmp_path: Path) -> None:
    assert publish_profile(tmp_path, OWNER="Reader", REPO="reader.github.io")["book"]["site-url"] == \
        "https://reader.github.io/"
    assert publish_profile(tmp_path, OWNER="o", REPO="it's: on")["book"]["site-url"] == "https://o.github.io/it's: on/"


def test_publish_profile_is_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "_quarto-publish.yml" in ignored, "_quarto-publish.yml (written by publish.yml) must be in .gitignore"


# --- the lock -------------------------------------------------------------------------------------

def lock_entries() -> dict[str, dict]:
    """The lock's pins: name -> {"version", "marker", "via" (the packages that need it)}."""
    entries: dict[str, dict] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==(\S+?)(?:\s*;\s*(.+))?$", line)
        if pin:
            current = entries[canonicalize_name(pin[1])] = {"version": pin[2], "marker": pin[3] or "", "via": set()}
        elif line.startswith("-e"):
            current = None
        elif current is not None and line.lstrip().startswith("#"):
            note = line.strip().lstrip("#").strip().removeprefix("via").strip()  # "# via x" or "#   x"
            if re.fullmatch(r"[A-Za-z0-9_.-]+", note):
                current["via"].add(canonicalize_name(note))
    return entries


def test_lock_pins_every_range() -> None:
    entries = lock_entries()
    lock_lines = LOCK.read_text(encoding="utf-8").splitlines()
    assert "-e ." in lock_lines, "the lock installs the book's own package, editable"
    ranges = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    ranges = [r for r in ranges if r and not r.startswith("-")]
    ranges += tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for text in ranges:
        req = Requirement(text)
        entry = entries.get(canonicalize_name(req.name))
        assert entry is not None, f"{req.name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(entry["version"], prereleases=True), \
            f"requirements.lock has {req.name}=={entry['version']}, outside {req}: run `make lock`"


def test_cpu_route_leaves_out_exactly_the_cuda_build_packages() -> None:
    """The Makefile's CUDA_ONLY pattern matches the lock's packages that only PyPI's Linux build of torch
    needs: Linux-only, needed by torch or by one another and by nothing else (macOS and Windows get
    a CPU-only torch, so a Linux-only dependency of torch is one of its GPU libraries)."""
    pattern = re.search(r"^CUDA_ONLY := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1].strip()
    entries = lock_entries()
    dropped = {name for name in entries if re.match(pattern, f"{name}=={entries[name]['version']}")}
    cuda_only: set[str] = set()
    while True:
        more = {name for name, e in entries.items() if "sys_platform == 'linux'" in e["marker"]
                and e["via"] and e["via"] <= {"torch", *cuda_only}}
        if more <= cuda_only:
            break
        cuda_only |= more
    assert cuda_only, "the lock's torch needs no Linux-only package: is it still PyPI's CUDA build?"
    assert dropped == cuda_only, f"CUDA_ONLY leaves out {sorted(dropped)}, the CUDA build needs {sorted(cuda_only)}"
    # the CPU route installs these two lines from TORCH_INDEX: plain pins, no marker
    torch_lines = [l for l in LOCK.read_text().splitlines() if re.match(r"^torch(vision)?==", l)]
    assert [l.split("==")[0] for l in torch_lines] == ["torch", "torchvision"]
    assert all(" " not in l for l in torch_lines), torch_lines



def test_citation_matches_the_package() -> None:
    """CITATION.cff says the version and licence pyproject.toml says."""
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert citation["cff-version"] == "1.2.0"
    assert (str(citation["version"]), citation["license"]) == (project["version"], project["license"])
    assert citation["authors"] == [{"name": "The aebook authors"}]

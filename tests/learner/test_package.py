"""The learner's package stands alone: it never imports the book's machinery (bookkit) nor the tools
that build notebooks, pages or command lines; bookkit imports it, never the other way round."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MACHINERY = ("bookkit", "nbformat", "nbclient", "jupytext", "argparse", "subprocess", "playwright", "html.parser",
             "nbconvert")


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((SRC / "aebook").glob("*.py")), ids=lambda p: p.name)
def test_a_learner_module_imports_no_machinery(path):
    bad = sorted(m for m in imported_modules(path) if m in MACHINERY or m.split(".")[0] in MACHINERY)
    assert not bad, f"aebook/{path.name} imports {bad}: that belongs in bookkit (src/bookkit/)"


def test_importing_every_learner_module_loads_no_machinery():
    """Checked by running it, too: the whole of aebook imported, and none of the machinery in sys.modules
    (nbformat is left out of this check: plotly itself imports it)."""
    code = ("import importlib, pkgutil, sys, aebook\n"
            "for m in pkgutil.iter_modules(aebook.__path__): importlib.import_module('aebook.' + m.name)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {('bookkit', 'nbclient', 'jupytext', 'playwright', 'nbconvert')!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_planted_import_would_be_caught(tmp_path):
    planted = tmp_path / "bad.py"
    planted.write_text("def f():\n    from bookkit.notebooks import execute\n    import argparse\n")
    assert imported_modules(planted) == {"bookkit.notebooks", "argparse"}

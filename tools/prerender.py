"""Quarto pre-render step: write one unexecuted notebook per chapter into notebooks/.

The site copies them (project resources), and each chapter page links its own. A whole-book
render writes every notebook; a partial one (``quarto render chapters/X.qmd``, or each save
during ``quarto preview``) writes only the notebooks of the pages being rendered.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

if importlib.util.find_spec("bookkit") is None:
    print(f"[pre-render] this Python ({sys.executable}) does not have the book's packages: render with "
          "`make book` (or `QUARTO_PYTHON=.venv/bin/python quarto render` after `make book` made .venv)",
          file=sys.stderr)
    sys.exit(1)

chapters = [line.strip() for line in os.environ.get("QUARTO_PROJECT_INPUT_FILES", "").splitlines()
            if line.strip().endswith(".qmd") and Path(line.strip()).is_file()]
every = os.environ.get("QUARTO_PROJECT_RENDER_ALL") == "1" or not chapters
command = [sys.executable, "-m", "bookkit.notebooks", "--out", "notebooks"] + (["--all"] if every else chapters)
sys.exit(subprocess.call(command))

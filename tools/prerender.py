"""Quarto pre-render step: write one unexecuted notebook per chapter into notebooks/.

The site copies them (project resources), and each chapter page links its own.
"""
import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "bookkit.notebooks", "--all", "--out", "notebooks"]))

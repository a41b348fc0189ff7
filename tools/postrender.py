"""Quarto post-render step: every page loads plotly.js once from site_libs/, nothing from a CDN, and
the site carries the book's package as a wheel for notebooks opened outside a clone."""
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("bookkit") is None:
    print(f"[post-render] this Python ({sys.executable}) does not have the book's packages: render with "
          "`make book`", file=sys.stderr)
    sys.exit(1)
sys.exit(subprocess.call([sys.executable, "-m", "bookkit.site"]))

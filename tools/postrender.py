"""Quarto post-render step: every page loads plotly.js once from site_libs/, nothing from a CDN."""
import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "bookkit.site"]))

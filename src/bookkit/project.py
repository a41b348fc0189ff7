"""The book's project files, read in one place: the chapters and settings in ``_quarto.yml``, and the
``#| key: value`` options at the top of a chapter's code cells."""

from __future__ import annotations

import re
from pathlib import Path

from aebook.runtime import project_root


def quarto_config() -> dict:
    """``_quarto.yml`` as a dict ({} when there is none or it cannot be read)."""
    import yaml

    try:
        return yaml.safe_load((project_root() / "_quarto.yml").read_text(encoding="utf-8")) or {}
    except OSError:
        return {}


def repository() -> str | None:
    """The book's repository address, configured once as ``book: repo-url`` in ``_quarto.yml``."""
    return (quarto_config().get("book") or {}).get("repo-url")


def chapter_paths() -> list[Path]:
    """The book's chapters in order, read from ``_quarto.yml``."""
    return [project_root() / p for p in _flatten(quarto_config()["book"]["chapters"])]


def _flatten(entries: list) -> list[str]:
    """Chapter files from a Quarto chapter list, descending into ``part:`` entries."""
    files: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            files.append(entry)
        elif isinstance(entry, dict):
            if str(entry.get("part", "")).endswith(".qmd"):
                files.append(entry["part"])
            files.extend(_flatten(entry.get("chapters", [])))
    return files


def cell_options(source: str) -> dict:
    """The Quarto ``#| key: value`` options at the top of a code cell."""
    import yaml

    lines = [line[3:] for line in source.splitlines() if line.startswith("#| ")]
    return (yaml.safe_load("\n".join(lines)) or {}) if lines else {}




LABEL = re.compile(r"^#\| label: ([\w-]+)", re.M)


def cell_labels(text: str) -> list[str]:
    """Every ``#| label:`` of a chapter's (or a cell's) text, in order."""
    return LABEL.findall(text)


def book_files() -> list[Path]:
    """Chapter files of the book, or none when there is no ``_quarto.yml``."""
    try:
        return chapter_paths()
    except (OSError, KeyError, TypeError):
        return []

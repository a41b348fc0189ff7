"""The book's project files, read in one place: the chapters and settings in ``_quarto.yml``, and the
``#| key: value`` options at the top of a chapter's code cells."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aebook.runtime import project_root


def quarto_config() -> dict:
    """``_quarto.yml`` as a dict ({} when there is none or it cannot be read), with the files of the
    active Quarto profiles merged in as Quarto merges them (``QUARTO_PROFILE=publish`` reads
    ``_quarto-publish.yml`` too: how the publish workflow sets the site's address)."""
    import yaml

    config: dict = {}
    profiles = [p.strip() for p in os.environ.get("QUARTO_PROFILE", "").split(",") if p.strip()]
    for name in ["_quarto.yml", *(f"_quarto-{profile}.yml" for profile in profiles)]:
        try:
            config = _merge(config, yaml.safe_load((project_root() / name).read_text(encoding="utf-8")) or {})
        except OSError:
            continue
    return config


def _merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``: maps merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _book_setting(key: str) -> str | None:
    """A ``book:`` setting of ``_quarto.yml`` (and active profiles) as text; None when unset or empty."""
    value = (quarto_config().get("book") or {}).get(key)
    text = "" if value is None else str(value).strip()
    return text or None


def repository() -> str | None:
    """The book's repository address (``book: repo-url``), or None: it is a setting, empty by default."""
    return _book_setting("repo-url")


def repository_ref() -> str:
    """The branch, tag or commit of the repository that notebooks install from (``book: repo-branch``)."""
    return _book_setting("repo-branch") or "main"


def site_url() -> str | None:
    """The published site's address (``book: site-url``), ending in ``/``, or None when not configured."""
    url = _book_setting("site-url")
    return url if url is None or url.endswith("/") else url + "/"


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

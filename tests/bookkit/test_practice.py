"""Issue 27's structure: every chapter opens with its goals and ends with exercises whose solutions are
folded and, where they are code, check themselves; one notation, collected on the glossary page."""

import re

import pytest
import yaml

from bookkit import notebooks as N
from bookkit.project import cell_labels
from aebook.runtime import project_root

ROOT = project_root()
CHAPTERS = [p for p in N.chapter_paths() if p.parent.name == "chapters"]
GLOSSARY = ROOT / "glossary.qmd"
KINDS = ("Think", "Code", "Explore")
FOLDED = re.compile(r'^::: \{\.callout-tip collapse="true" title="(Solution|How to go about it)"\}$', re.M)


def exercises(text: str) -> list[str]:
    """The chapter's exercises, each from its bold number to the next (or to the chapter's end box)."""
    part = text.split("## Exercises", 1)[1].split('title="What held on this run"', 1)[0]
    part = part.split("## What held on this run", 1)[0]
    return re.split(r"^(?=\*\*\d+\. )", part, flags=re.M)[1:]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_its_goals(path):
    text = path.read_text(encoding="utf-8")
    box = re.search(r'^::: \{\.callout-note title="In this chapter"\}\n(.*?)^:::$', text, re.M | re.S)
    assert box, f"{path.name}: no 'In this chapter' box"
    body = box.group(1)
    assert "**You will learn**" in body and "**You need**" in body, path.name
    assert 3 <= len(re.findall(r"^- ", body, re.M)) <= 6, f"{path.name}: three to five goals"
    assert f'chapter_times("{path.stem}")' in body, f"{path.name}: the time comes from the benchmark"
    assert box.start() < text.index("\n## "), f"{path.name}: the goals box comes before the first section"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_ends_with_exercises_each_with_a_folded_solution(path):
    text = path.read_text(encoding="utf-8")
    found = exercises(text)
    assert 4 <= len(found) <= 7, f"{path.name}: {len(found)} exercises"
    kinds = set()
    for exercise in found:
        head = exercise.split("\n", 1)[0]
        kind = next((k for k in KINDS if re.match(rf"\*\*\d+\. {k}\b", head)), None)
        assert kind, f"{path.name}: {head[:60]!r} is not marked Think, Code or Explore"
        kinds.add(kind)
        assert FOLDED.search(exercise), f"{path.name}: {head[:60]!r} has no folded solution"
        if kind == "Code":
            cells = re.findall(r"^```\{python\}\n(.*?)^```", exercise, re.M | re.S)
            assert cells, f"{path.name}: {head[:60]!r}: a code exercise's solution is code that runs"
            checks = "".join(cells)
            assert re.search(r"\bassert\b|ledger\.\w+\(", checks), \
                f"{path.name}: {head[:60]!r}: its solution ends in a check of its own claim"
    assert len(kinds) >= 2, f"{path.name}: exercises of at least two kinds"
    assert re.search(r"[Pp]redict", "".join(found)), f"{path.name}: no exercise asks for a prediction"
    # the ledger's summary stays the chapter's last cell: the exercises' claims are declared before it
    assert cell_labels(text)[-1].startswith("ledger-"), path.name


def test_glossary_is_in_the_navigation_and_its_sections_exist():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text())
    assert "glossary.qmd" in config["book"]["chapters"]
    assert "glossary.qmd" in config["project"]["render"]
    text = GLOSSARY.read_text(encoding="utf-8")
    sections = set()
    for path in CHAPTERS:
        sections |= set(re.findall(r"\{#(sec-[\w-]+)", path.read_text(encoding="utf-8")))
    cited = set(re.findall(r"@(sec-[\w-]*\w)", text))
    assert cited and cited <= sections, sorted(cited - sections)


def test_chapters_link_only_to_glossary_entries_that_exist():
    anchors = set(re.findall(r"\{#(gl-[\w-]+)\}", GLOSSARY.read_text(encoding="utf-8")))
    for path in CHAPTERS:
        links = set(re.findall(r"glossary\.qmd#(gl-[\w-]+)", path.read_text(encoding="utf-8")))
        assert links <= anchors, f"{path.name}: {sorted(links - anchors)}"


def test_the_notation_of_the_glossary_is_the_notation_of_the_code():
    """Each symbol the glossary names in code (`mu`, `logvar`, ...) is the name the chapters' code uses."""
    text = GLOSSARY.read_text(encoding="utf-8")
    names = set(re.findall(r"^\[[^\]]+\]\{#gl-[\w-]+\} \(`([^`]+)`", text, re.M))
    names |= {n for pair in re.findall(r"^\[[^\]]+\]\{#gl-[\w-]+\} \(`([^`]+)`, `([^`]+)`\)", text, re.M) for n in pair}
    assert {"x", "x_hat", "z", "latent_dim", "mu", "logvar"} <= names, names
    code = "".join(re.findall(r"^```\{python\}\n(.*?)^```", "".join(p.read_text(encoding="utf-8") for p in CHAPTERS),
                              re.M | re.S))
    from aebook import losses, models
    import inspect
    source = code + inspect.getsource(losses) + inspect.getsource(models)
    for name in names:
        assert re.search(rf"\b{re.escape(name)}\b", source), f"the glossary's `{name}` is used nowhere in the code"
    for symbol in ("recon_loss", "kl"):
        assert re.search(rf"\b{symbol}\b", source)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_cell_label_is_read_by_quarto_as_a_theorem(path):
    """Quarto numbers a label's prefix ``sol-`` as a "Solution", ``exr-`` as an "Exercise", and so on:
    a solution cell labelled ``sol-…`` would grow a stray caption."""
    theorem_kinds = ("thm", "lem", "cor", "prp", "cnj", "def", "exm", "exr", "sol", "rem")
    bad = [label for label in cell_labels(path.read_text(encoding="utf-8")) if label.split("-")[0] in theorem_kinds]
    assert not bad, f"{path.name}: {bad}"

import nbformat
import pytest

from aebook import notebooks as N

SAMPLE = '''---
title: "A sample"
---

# Start {#sec-start}

Before any code, text only.

```{python}
#| label: setup
#| code-summary: "Set up"
x = 1.23456
name = "fc-d32"
```

The value is `{python} f"{x:.2f}"`, the name is `{python} name`, see @fig-one and @sec-start.

```{python}
#| label: fig-one
#| fig-cap: "The first figure."
print("figure here")
```

::: {.callout-tip}
## Lesson
Read [@hinton2006reducing].
:::
'''


def test_qmd_to_notebook_makes_plain_jupyter_markdown(tmp_path):
    path = tmp_path / "sample.qmd"
    path.write_text(SAMPLE)
    nb = N.qmd_to_notebook(path)
    nbformat.validate(nb)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].source.startswith("# A sample")
    assert "find_spec('aebook')" in nb.cells[1].source  # says what to install
    assert "{#sec-start}" not in text and "# Start" in text
    assert "see Figure 1 and “Start”" in text
    assert "**Figure 1.** The first figure." in text
    assert "> **Tip: Lesson**" in text and "(Hinton and Salakhutdinov 2006)" in text
    assert "`{python} name`" in text  # left for execution to resolve
    assert [c.cell_type for c in nb.cells].count("code") == 3


def test_execute_resolves_inline_expressions_like_quarto(tmp_path):
    path = tmp_path / "sample.qmd"
    path.write_text(SAMPLE)
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    assert run.inline_errors == {}
    # Quarto strips the quotes of a string result and escapes its Markdown characters
    assert run.inline == {'f"{x:.2f}"': "1\\.23", "name": "fc\\-d32"}
    text = "\n".join(c.source for c in run.notebook.cells if c.cell_type == "markdown")
    assert "The value is 1\\.23, the name is fc\\-d32" in text and "{python}" not in text
    assert all("aebook-inline" not in c.get("metadata", {}).get("tags", []) for c in run.notebook.cells)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("text") == "figure here\n" for o in outputs)


def test_inline_expression_before_its_definition_is_an_error(tmp_path):
    path = tmp_path / "bad.qmd"
    path.write_text("# Bad\n\nToo early: `{python} later`.\n\n```{python}\nlater = 1\n```\n")
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    assert "NameError" in run.inline_errors["later"]


def test_cell_options():
    assert N.cell_options('#| label: fig-a\n#| fig-cap: "A: b"\nx = 1') == {"label": "fig-a", "fig-cap": "A: b"}
    assert N.cell_options("x = 1") == {}


def test_command_line_writes_every_chapter(tmp_path):
    assert N.main(["--all", "--out", str(tmp_path)]) == 0
    written = sorted(p.stem for p in tmp_path.glob("*.ipynb"))
    assert written == sorted(p.stem for p in N.chapter_paths())
    with pytest.raises(SystemExit):
        N.main(["--out", str(tmp_path)])  # no chapter named


def test_title_from_first_heading_and_no_check_without_code(tmp_path):
    path = tmp_path / "preface.qmd"
    path.write_text("# Preface {.unnumbered}\n\nOnly words here.\n\n## More\n\nText.\n")
    nb = N.qmd_to_notebook(path)
    assert nb.cells[0].source.startswith("# Preface\n\n*This notebook is generated")
    assert nb.cells[1].source.startswith("Only words here.")
    assert all(c.cell_type == "markdown" for c in nb.cells)

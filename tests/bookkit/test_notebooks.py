from pathlib import Path

import nbformat
import pytest

from bookkit import notebooks as N
from aebook import quarto_md as Q

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
    assert 'find_spec("aebook")' in nb.cells[1].source and "AEBOOK_INSTALL_FROM" in nb.cells[1].source
    assert "{#sec-start}" not in text and "# Start" in text
    assert "see Figure 1 and “Start”" in "\n".join(c.source for c in nb.cells)
    assert "**Figure 1.** The first figure." in text
    assert "> **Tip: Lesson**" in text and "(Hinton and Salakhutdinov 2006)" in text
    assert "{python}" not in text  # no raw expression in Markdown: the paragraph is a prose cell
    prose = [c for c in nb.cells if N.PROSE_TAG in c.metadata.get("tags", [])]
    assert len(prose) == 1 and prose[0].cell_type == "code"
    assert prose[0].source.startswith('prose(r"""\nThe value is `{python} f"{x:.2f}"`')
    assert prose[0].metadata["jupyter"] == {"source_hidden": True} and prose[0].metadata["cellView"] == "form"
    assert [c.cell_type for c in nb.cells].count("code") == 4  # set-up, two chapter cells, one prose cell


def test_execute_shows_inline_values_like_quarto(tmp_path):
    path = tmp_path / "sample.qmd"
    path.write_text(SAMPLE)
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    # a string result loses its quotes, as in Quarto; only formatting characters would be escaped
    assert run.inline == {'f"{x:.2f}"': "1.23", "name": "fc-d32"}
    assert "The value is 1.23, the name is fc-d32, see Figure 1" in N.shown_text(run.notebook)
    assert "{python}" not in N.shown_text(run.notebook)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("text") == "figure here\n" for o in outputs)
    html = N.to_html(run.notebook)
    assert "The value is 1.23, the name is fc-d32" in html and "{python}" not in html


def test_inline_values_escape_only_what_would_format():
    assert Q.inline_markdown({"text/plain": "'2,000 images'"}) == "2,000 images"
    assert Q.inline_markdown({"text/plain": "'a*b_c [x]'"}) == "a\\*b\\_c \\[x\\]"
    assert Q.inline_markdown({"text/plain": '"it\'s"'}) == "it's"
    assert Q.inline_markdown({"text/plain": "0.0145"}) == "0.0145"
    assert Q.inline_markdown({"text/markdown": "**bold**", "text/plain": "x"}) == "**bold**"


def test_inline_expression_before_its_definition_stops_with_one_clear_line(tmp_path):
    path = tmp_path / "bad.qmd"
    path.write_text("# Bad\n\nToo early: `{python} later`.\n\n```{python}\nlater = 1\n```\n")
    with pytest.raises(Exception) as error:
        N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    assert "the text of this cell shows `later`, which failed with NameError" in str(error.value)
    assert "Run the cells above it first" in str(error.value)


def test_prose_cells_split_at_blocks_and_keep_headings_markdown():
    text = "Plain.\n\n## Head\n\nValue `{python} a`.\n\nMore `{python} b`.\n\n```\ncode\n\nblock\n```\n\nEnd."
    cells = N.markdown_cells(text)
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code", "markdown"]
    assert cells[1].source == "## Head"
    assert "Value" in cells[2].source and "More" in cells[2].source
    assert cells[3].source == "```\ncode\n\nblock\n```\n\nEnd."
    assert N.prose_cell('say """ `{python} a`').source.startswith('prose("say \\"\\"\\"')


def test_references_notebook_is_a_markdown_list():
    nb = N.qmd_to_notebook(N.project_root() / "references.qmd")
    text = "\n".join(c.source for c in nb.cells)
    assert "{#refs}" not in text
    items = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(items) >= 20
    assert any(line.startswith("- Geoffrey E. Hinton and Ruslan R. Salakhutdinov (2006). *Reducing the Dimensionality")
               for line in items)
    assert any("Åke Björck" in line for line in items)  # TeX accents made plain


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
    assert nb.cells[0].source == "# Preface\n\n*Generated from `preface.qmd` of the book's repository.*"
    assert nb.cells[1].source.startswith("Only words here.")
    assert all(c.cell_type == "markdown" for c in nb.cells)


def test_committed_notebooks_are_what_the_chapters_make_now(tmp_path):
    """notebooks/ is committed (Colab opens notebooks from the repository): it must not lag the chapters."""
    assert N.main(["--all", "--out", str(tmp_path)]) == 0
    for made in sorted(tmp_path.glob("*.ipynb")):
        committed = N.project_root() / "notebooks" / made.name
        assert committed.exists(), f"notebooks/{made.name} is missing: run `make notebooks` and commit it"
        assert committed.read_text() == made.read_text(), f"notebooks/{made.name} is stale: run `make notebooks`"


def test_setup_cell_installs_only_from_what_is_configured(monkeypatch):
    """No address is guessed: the set-up cell names the site's wheel and the repository only when
    ``book: site-url`` / ``repo-url`` are set (in _quarto.yml or an active Quarto profile)."""
    monkeypatch.setattr(N, "site_url", lambda: None)
    monkeypatch.setattr(N, "repository", lambda: None)
    bare = N.setup_source()
    assert "https://" not in bare and "no published site or repository is configured" in bare
    assert "AEBOOK_INSTALL_FROM" in bare and "invalidate_caches" in bare
    monkeypatch.setattr(N, "site_url", lambda: "https://someone.github.io/the-book/")
    monkeypatch.setattr(N, "repository", lambda: "https://github.com/someone/the-book")
    monkeypatch.setattr(N, "repository_ref", lambda: "v1.2")
    both = N.setup_source()
    wheel, repo = both.index(f'"https://someone.github.io/the-book/python/{N.wheel_name()}"'), \
        both.index('"aebook @ git+https://github.com/someone/the-book@v1.2"')
    assert wheel < repo  # the site's own wheel first: the code the pages were computed with
    compile(both, "setup", "exec")


def test_a_quarto_profile_sets_the_site_address(tmp_path, monkeypatch):
    from bookkit import project

    (tmp_path / "_quarto.yml").write_text("book:\n  title: T\n  chapters: [index.qmd]\n")
    (tmp_path / "_quarto-publish.yml").write_text("book:\n  site-url: https://someone.github.io/the-book\n")
    monkeypatch.setenv("AEBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("QUARTO_PROFILE", raising=False)
    assert project.site_url() is None and project.quarto_config()["book"]["title"] == "T"
    monkeypatch.setenv("QUARTO_PROFILE", "publish")
    assert project.site_url() == "https://someone.github.io/the-book/"
    assert project.quarto_config()["book"]["chapters"] == ["index.qmd"]  # merged, not replaced


def test_the_package_version_is_the_wheels():
    import tomllib

    from aebook import __version__

    pyproject = tomllib.loads((N.project_root() / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__


@pytest.mark.slow
def test_a_notebook_downloaded_from_the_served_site_installs_the_package_from_it_and_runs(tmp_path):
    """As a reader: serve a site that carries the wheel, download chapter 1's notebook over HTTP, and run
    its set-up cell and first cells in a fresh environment that has the dependencies but not the package
    (pip may not reach any index: the package must come from the site)."""
    import functools
    import http.server
    import json
    import os
    import subprocess
    import sysconfig
    import threading
    import urllib.request
    import venv

    from nbclient import NotebookClient

    from bookkit import site as S

    site = tmp_path / "site"
    S.add_wheel(site)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        (site / "notebooks").mkdir()
        old = (N.site_url, N.repository)
        N.site_url, N.repository = (lambda: address), (lambda: None)
        try:
            assert N.main([str(N.chapter_paths()[1]), "--out", str(site / "notebooks")]) == 0
        finally:
            N.site_url, N.repository = old
        reader = tmp_path / "reader"
        reader.mkdir()
        name = N.chapter_paths()[1].stem + ".ipynb"
        with urllib.request.urlopen(f"{address}notebooks/{name}") as response:
            (reader / name).write_bytes(response.read())

        env_dir = tmp_path / "env"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        # the book's dependencies are visible (no download); the package itself is not (its editable
        # install is a .pth file, which a path added this way does not run)
        (Path(purelib) / "book-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        # ensurepip's own old setuptools would hide the newer one torch requires (no index to upgrade from)
        subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"], capture_output=True)
        kernels = tmp_path / "jupyter" / "kernels" / "fresh"
        kernels.mkdir(parents=True)
        (kernels / "kernel.json").write_text(json.dumps({
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "fresh", "language": "python"}))

        nb = nbformat.read(reader / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert address + "python/" + N.wheel_name() in code[0].source
        nb.cells = [nbformat.v4.new_code_cell(
            "import importlib.util; assert importlib.util.find_spec('aebook') is None, 'already importable'")]
        nb.cells += code[:6]  # the set-up cell, then the chapter's imports, data and first measured figure
        env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "PIP_NO_INDEX": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", "AEBOOK_SMOKE": "1", "AEBOOK_DATA": "standin",
               "AEBOOK_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": ""}
        env.pop("AEBOOK_ROOT", None)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            NotebookClient(nb, timeout=600, kernel_name="fresh",
                           resources={"metadata": {"path": str(reader)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
        assert f"installing the book's package from {address}python/{N.wheel_name()}" in printed
        assert "did not work" not in printed
        installed = subprocess.run([python, "-c", "import aebook; print(aebook.__file__)"],
                                   capture_output=True, text=True, check=True).stdout
        assert str(env_dir) in installed  # from the site's wheel into the fresh environment, not the clone
    finally:
        server.shutdown()


EXERCISE = """# Chapter

Text.

1. **Think.** What is 2 + 2?

::: {.callout-tip collapse="true" title="Solution"}
It is 4:

```{python}
#| label: sol-add
assert 2 + 2 == 4
```

So there.
:::

2. **Think.** And 3 + 3?

::: {.callout-tip collapse="true" title="Solution"}
Six.
:::
"""


def test_an_exercises_solution_is_folded_in_the_notebook_as_on_the_page(tmp_path):
    path = tmp_path / "ex.qmd"
    path.write_text(EXERCISE)
    cells = N.qmd_to_notebook(path).cells
    folded = [c for c in cells if N.SOLUTION_TAG in c.metadata.get("tags", [])]
    assert [c.cell_type for c in folded] == ["markdown", "code", "markdown"]
    assert all(c.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True} for c in folded)
    assert "assert 2 + 2 == 4" in folded[1].source
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert ":::" not in text and "**Solution** (folded" in text
    assert "<details><summary><b>Solution</b></summary>\n\nSix.\n\n</details>" in text  # no code: a <details> block

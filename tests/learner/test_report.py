from types import SimpleNamespace

from rich.console import Console

from aebook.models import ConvAutoencoder, LinearAutoencoder
from aebook.report import architecture_table, markdown_table, metrics_table, run_notice, show


def rendered(table) -> str:
    console = Console(width=120, record=True, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def test_architecture_table_lists_layers_shapes_and_total():
    text = rendered(architecture_table(ConvAutoencoder(32)))
    assert "16×14×14" in text and "32×7×7" in text and "1×28×28" in text
    assert "111,649" in text  # the total
    table = architecture_table(LinearAutoencoder(32))
    assert table.row_count == 11 + 1  # 11 layers, then the total


def test_a_row_label_with_an_equals_sign_stays_on_one_line():
    from aebook.report import table_html
    assert "β\u00a0=\u00a04" in table_html(metrics_table({"β = 4": {"KL": 6.8}}))


def test_metrics_table_formats_numbers():
    text = rendered(metrics_table({"fc": {"test MSE": 0.0123456789, "params": 439728, "cached": True}}))
    assert "0.012346" in text and "439,728" in text and "True" in text


def test_markdown_table_aligns_numbers_right_and_text_left():
    table = markdown_table(["split", "images"], [["train", 55000], ["test", 10000]])
    lines = table.data.splitlines()
    assert lines[1] == "|:---|---:|"
    assert lines[2] == "| train | 55,000 |"


def test_show_prints_plain_text(capsys):
    show(metrics_table({"fc": {"x": 1.5}}))
    out = capsys.readouterr().out
    assert "1.5" in out and "\x1b[" not in out  # no terminal colour codes in the page


def test_run_notice_says_when_data_is_a_standin(monkeypatch):
    monkeypatch.delenv("AEBOOK_SMOKE", raising=False)
    assert run_notice(SimpleNamespace(is_standin=False, source_name="Fashion-MNIST")) is None
    note = run_notice(SimpleNamespace(is_standin=True, source_name="the stand-in"))
    assert "Stand-in data" in note.data and "the stand-in" in note.data
    monkeypatch.setenv("AEBOOK_SMOKE", "1")
    assert "Smoke mode" in run_notice(SimpleNamespace(is_standin=False, source_name="x")).data



def test_tables_become_html_tables_with_a_text_fallback():
    from aebook.report import metrics_table, plain_text, table_html

    table = metrics_table({"fc": {"test MSE": 0.0123456, "parameters": 439_728, "training": "converged"},
                           "a <b>": {"test MSE": 0.02}}, title="Errors & sizes")
    page = table_html(table)
    assert page.count("<tr>") == 3 and "<caption>Errors &amp; sizes</caption>" in page
    assert '<th class="text-end">test MSE</th>' in page and "<td>a &lt;b&gt;</td>" in page
    assert '<td class="text-end">0.012346</td>' in page and '<td class="text-end">439,728</td>' in page
    assert "<pre" not in page  # a table the page can reflow, not console text
    assert "0.012346" in plain_text(table) and "Errors & sizes" in plain_text(table)


def test_chapter_times_reads_the_benchmark_and_never_guesses(tmp_path, monkeypatch):
    from aebook.report import chapter_times

    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "01-a.qmd").write_text("word " * 1000)  # 1,000 words: about 5 minutes
    (tmp_path / "chapters" / "02-b.qmd").write_text("word " * 1000)
    (tmp_path / "BENCHMARKS.md").write_text("- CPU: AMD Test\n- cores: 2\n\n"
                                            "chapter_01_a_cold: 400.0 s\nchapter_01_a_warm: 12.0 s\n")
    monkeypatch.setenv("AEBOOK_ROOT", str(tmp_path))
    measured, unmeasured = chapter_times("01-a"), chapter_times("02-b")
    assert measured.startswith("about 5 minutes to read; ") and "7 minutes to run the first time" in measured
    assert "12 s once its own are cached too (measured on a 2-core AMD Test CPU)" in measured
    assert unmeasured == "about 5 minutes to read; its time to run has not been measured yet"

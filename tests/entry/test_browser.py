"""The HTML reports, checked in a real browser (issue 13): headless Chromium opens each report
``rp-toolkit demo`` generates in a 1280 px window; every image loads, no error output (stderr,
warnings, tracebacks) is shown and no table is wider than the window. Pages made for the
purpose show that the check finds each of these. Skips, saying why, without Chromium
(``.ci/run`` installs Debian's ``chromium``; ``RP_CHROMIUM`` names another binary)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbconvert import HTMLExporter

from rp_toolkit.notebooks import NOTEBOOKS, TITLES
from tests.browser import VIEWPORT, check_page, find_chromium, problems, too_wide
from tests.support import run_cli

# A 1x1 PNG, as nbconvert embeds a chart.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
WARNING = (
    "/tmp/ipykernel_7169/320837079.py:1: DeprecationWarning: old thing\n"
    "  warnings.warn('old thing', DeprecationWarning)\n"
)


def exported(cells: list[nbformat.NotebookNode]) -> str:
    """``cells`` as ``rp-toolkit report`` publishes a notebook: nbconvert's HTML without code."""
    book = nbformat.v4.new_notebook(cells=cells)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True)
    return exporter.from_notebook_node(book)[0]


def code(*outputs: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell("pass", outputs=list(outputs), execution_count=1)


def table(columns: int) -> nbformat.NotebookNode:
    """A DataFrame's display, as a notebook shows it, ``columns`` wide."""
    frame = pd.DataFrame([[f"value {i}" for i in range(columns)]] * 3,
                         columns=[f"a_long_column_name_{i}" for i in range(columns)])  # fmt: skip
    return nbformat.v4.new_output(
        "execute_result", data={"text/html": frame.to_html(), "text/plain": "frame"}
    )


def image(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"image/png": source})


def test_a_fine_page_has_no_problems(chromium) -> None:
    page = exported([
        nbformat.v4.new_markdown_cell("# A report\n\n## Tables"),
        code(nbformat.v4.new_output("stream", name="stdout", text="Analysing a Redis\n")),
        code(table(3)),
        code(image(PIXEL)),
    ])  # fmt: skip
    result = check_page(chromium, page)
    assert problems(result) == []
    assert [img["loaded"] for img in result["images"]] == [True]
    [shown] = result["tables"]
    assert shown["heading"] == "Tables" and shown["rows"] == 4
    assert shown["columns"][1:] == [f"a_long_column_name_{i}" for i in range(3)]
    assert 0 < shown["width"] < VIEWPORT[0] / 2
    assert result["viewport"]["inner_width"] == VIEWPORT[0]


def test_the_check_finds_broken_images_error_output_and_wide_tables(chromium) -> None:
    page = exported([
        nbformat.v4.new_markdown_cell("## Charts\n\n![a chart](missing.png)"),
        code(image(PIXEL)),
        nbformat.v4.new_markdown_cell("## Warnings"),
        code(nbformat.v4.new_output("stream", name="stderr", text=WARNING)),
        code(nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"],
        )),
        code(nbformat.v4.new_output(
            "stream", name="stdout", text="Traceback (most recent call last):\n  ...\nKeyError: 1"
        )),
        nbformat.v4.new_markdown_cell("## Wide"),
        code(table(20)),
        nbformat.v4.new_markdown_cell("<table style='width: 2000px'><tr><td>x</td></tr></table>"),
    ])  # fmt: skip
    result = check_page(chromium, page)
    found = problems(result)
    assert [img["loaded"] for img in result["images"]] == [False, True]
    assert "image 0 did not load (src 'missing.png')" in found
    kinds = [(error["kind"], error["heading"]) for error in result["errors"]]
    assert kinds == [("stderr", "Warnings")] * 2 + [("traceback", "Warnings")]
    assert "DeprecationWarning: old thing" in result["errors"][0]["text"]
    assert "ZeroDivisionError: division by zero" in result["errors"][1]["text"]
    # The DataFrame scrolls inside its output area (the page does not): still too wide.
    wide = too_wide(result)
    assert [(t["heading"], len(t["columns"])) for t in wide] == [("Wide", 21), ("Wide", 1)]
    assert wide[0]["width"] > VIEWPORT[0] and wide[1]["width"] == 2000
    assert result["viewport"]["page_scroll_width"] <= VIEWPORT[0]
    assert len(found) == 1 + 3 + 2
    assert result["prompts"]  # nbconvert's default page shows Out[1]: before a result
    assert result["glance"] is None and result["title"] == "Notebook"


def test_rp_chromium_names_the_browser(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RP_CHROMIUM", str(tmp_path / "no-such-chromium"))
    binary, how = find_chromium()
    assert binary is None and "is not an executable" in how


@pytest.fixture(scope="module")
def demo(chromium, tmp_path_factory) -> Path:
    """Both reports, as ``rp-toolkit demo`` writes them, on a throwaway Redis: a short window
    and small keyspaces keep it to a minute, with every table and chart the defaults show (the
    benchmark's default COUNTs and queries: its tables' columns)."""
    out = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    run = run_cli(
        "demo", "--out", str(out), "--no-progress",
        "-p", "hours", "1", "-p", "synthetic_rps", "5",
        "-p", "sizes", "[200, 2000]", "-p", "repeats", "1",
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_each_report_reads_well_in_a_1280px_browser_window(chromium, demo, name) -> None:
    result = check_page(chromium, demo / f"{name}.html")
    print(json.dumps(result["viewport"]))
    for shown in result["tables"]:  # every table's size, for the record (pytest -s shows it)
        print(f"table {shown['index']} under {shown['heading']!r}: {shown['width']:g} px, "
              f"{len(shown['columns'])} columns, right edge {shown['right']:g} px")  # fmt: skip
    assert result["images"] and result["tables"]
    assert not result["prompts"]  # no In [n]: / Out[n]: on the page
    assert result["title"] == TITLES[name]
    if name == "request_performance":  # the first screen answers, within 1280 x 900
        assert result["glance"]["items"] == 5
        assert result["glance"]["bottom"] <= VIEWPORT[1], result["glance"]
    found = problems(result)
    assert not found, f"{name}.html in a {VIEWPORT[0]} px window:\n" + "\n".join(found)

"""Tables for people: units in the headers, sensible precision, percentages, a stable order,
narrow enough for 1280 px; the data frames (and the CSV export) keep full precision."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rp_toolkit import markup, reports, units
from rp_toolkit.reports import tables
from tests.reports.test_reports import REQUEST_ROWS, events, frame

PAGE_PX = 1280
CHAR_PX = 7.5  # 12 px text: a generous average width of one character
CELL_PX = 16  # the padding of a cell


def cells(styler) -> list[list[str]]:
    """The displayed text of every body cell, row by row (tags removed)."""
    body = styler.to_html().split("<tbody>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def headers(styler) -> list[str]:
    """The column headers (two-level headers joined with a space)."""
    columns = styler.data.columns
    if isinstance(columns, pd.MultiIndex):
        return [" ".join(part for part in pair if part) for pair in columns]
    return list(columns)


def width_px(styler) -> float:
    """A generous estimate of the rendered width: per column the longest header line or
    cell text at CHAR_PX per character, plus padding."""
    columns = styler.data.columns
    rows = cells(styler)
    total = 0.0
    for number, column in enumerate(columns):
        parts = column if isinstance(column, tuple) else (column,)
        longest = max([len(p) for p in parts] + [len(row[number]) for row in rows] + [0])
        total += longest * CHAR_PX + CELL_PX
    return total


def requests_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group": ["B#b|html", "A#a|html", "C#c|json"],
            "controller": ["B", "A", "C"],
            "action": ["b", "a", "c"],
            "format": ["html", "html", "json"],
            "count": [90781, 90781, 3],
            "duration_average": [78.733953, 2364.123456, 0.04],
            "duration_max": [754.978, 9999.9, np.nan],
            "view_runtime_average": [1.0, 2.0, 3.0],
            "view_runtime_max": [1.0, 2.0, 3.0],
            "db_runtime_average": [1.0, 2.0, 3.0],
            "db_runtime_max": [1.0, 2.0, 3.0],
            "duration_p50": [69.249, 1000.5, 0.04],
            "duration_p95": [157.268, 2363.904599999999, 0.04],
            "duration_p99": [219.64939999999984, 3549.63672, 0.04],
        }
    )


# --------------------------------------------------------------------------- numbers


def test_numbers_read_with_sensible_precision() -> None:
    assert units.ms(78.733953) == "78.7"
    assert units.ms(157.268) == "157"
    assert units.ms(2363.9046) == "2,364"
    assert units.ms(99.96) == "100"
    assert units.ms(None) == units.ms(float("nan")) == units.ms(pd.NA) == "–"
    assert units.percent(0.006166, share=True) == "0.6"
    assert units.percent(12.345) == "12.3"
    assert units.signed_percent(129.04) == "+129.0"
    assert units.signed_percent(-3.24) == "−3.2"
    assert units.signed_percent(-0.01) == "0.0"
    assert units.signed_ms(-4.5) == "−4.5" and units.signed_ms(270.2) == "+270"
    assert units.count(90781) == "90,781"
    assert units.duration(850) == "850 ms"
    assert units.duration(2500) == "2.5 s"
    assert units.duration(65563) == "1.09 min"
    assert units.human_bytes(1e11) == "93.1 GiB"
    assert units.human_bytes(512) == "512 B"
    assert units.human_bytes(1.5 * 2**20) == "1.5 MiB"
    assert units.byte_unit(80 * 2**30) == (2.0**30, "GiB")
    assert units.byte_unit(float("nan")) == (1.0, "B")
    assert units.duration_unit(950) == (1.0, "ms")
    assert units.duration_unit(65_000) == (1000.0, "s")
    assert units.duration_unit(300_000) == (60_000.0, "min")
    assert not units.missing("text") and not units.missing(pd.Timestamp("2026-01-01"))
    assert units.missing(pd.NaT)


# --------------------------------------------------------------------------- tables


def test_requests_table_has_units_precision_and_a_stable_order() -> None:
    styler = tables.requests(requests_table(), minutes=240)
    assert headers(styler) == [
        "Endpoint", "Requests", "req/min", "Mean (ms)", "p50 (ms)", "p95 (ms)", "p99 (ms)",
        "Max (ms)",
    ]  # fmt: skip
    rows = cells(styler)
    # The tie in count is ordered by name: A before B, whatever the input order.
    assert [row[0] for row in rows] == ["A#a|html", "B#b|html", "C#c|json"]
    assert rows[0] == ["A#a|html", "90,781", "378.3", "2,364", "1,000", "2,364", "3,550", "10,000"]
    assert rows[1][3:6] == ["78.7", "69.2", "157"]
    assert rows[2][-1] == "–"  # NaN
    assert width_px(styler) < PAGE_PX


def test_the_data_and_its_export_keep_full_precision(tmp_path) -> None:
    table = requests_table()
    before = table.copy()
    html = tables.requests(table).to_html()
    pd.testing.assert_frame_equal(table, before)  # the input is not touched
    assert "2363.904599999999" not in html and "78.733953" not in html
    [path] = reports.export(table, tmp_path / "requests.csv")
    written = pd.read_csv(path)
    assert written["duration_p95"].tolist() == table["duration_p95"].tolist()  # to the bit
    assert written["duration_average"].tolist() == table["duration_average"].tolist()


def test_apdex_table_starts_with_the_overall_row_then_the_lowest_scores() -> None:
    rows = [{"at": "11:00", "action": "fast", "duration": 10}] * 4
    rows += [{"at": "11:00", "action": "slow", "duration": 900}] * 2
    rows += [{"at": "11:00", "action": "mixed", "duration": d} for d in (10, 900, 3000)]
    rows += [{"at": "11:00", "action": "also_fast", "duration": 10}] * 4
    apdex = reports.apdex(frame("requests", rows))
    styler = tables.apdex(apdex)
    assert headers(styler) == [
        "Endpoint", "Apdex", "Requests", "Satisfied (%)", "Tolerating (%)", "Frustrated (%)",
    ]  # fmt: skip
    shown = cells(styler)
    assert [row[0] for row in shown] == [
        "(all endpoints)",
        "HomeController#mixed|html",  # 0.5 (1 satisfied, 1 tolerating, 1 frustrated)
        "HomeController#slow|html",  # 0.5 too (2 tolerating), fewer requests: after
        "HomeController#also_fast|html",  # 1.0, ties by name
        "HomeController#fast|html",
    ]
    assert shown[0][1:3] == ["0.808", "13"]  # (9 satisfied + 3 tolerating / 2) / 13
    assert shown[1][3:] == ["33.3", "33.3", "33.3"]
    assert "font-weight: bold" in styler.to_html()


def test_error_rates_in_percent_highest_5xx_first() -> None:
    rows = [{"at": "11:00", "action": "a", "status": s} for s in (200, 500, 404, 200)]
    rows += [{"at": "11:00", "action": "b", "status": s} for s in (200, 500)]
    rows += [{"at": "11:00", "action": "c", "status": 200}]
    styler = tables.error_rates(reports.error_rate(frame("requests", rows)))
    assert headers(styler) == ["Endpoint", "Requests", "5xx", "5xx (%)", "4xx", "4xx (%)"]
    shown = cells(styler)
    assert [row[0] for row in shown] == [
        "HomeController#b|html",
        "HomeController#a|html",
        "HomeController#c|html",
    ]
    assert shown[0][3] == "50.0" and shown[1][3] == "25.0" and shown[1][5] == "25.0"


def test_time_split_deploys_and_jobs_tables_have_units_and_fit() -> None:
    df = frame("requests", REQUEST_ROWS)
    split = tables.time_split(reports.time_split(df))
    assert "DB (ms)" in headers(split) and "DB (%)" in headers(split)
    marks = events([("11:00:30", "deploy", {"label": {"text": "Deploy v1"}})])
    deploys = tables.deploys(reports.deploy_impact(df, marks))
    assert headers(deploys)[:4] == [
        "Deploy / event",
        "Time (UTC)",
        "Requests before",
        "Requests after",
    ]
    assert "p95 (ms) change (%)" in headers(deploys)
    assert cells(deploys)[0][:2] == ["Deploy v1", "2026-02-04 11:00:30"]
    by_endpoint = reports.deploy_impact_by_endpoint(df, marks, min_requests=1)
    styler = tables.deploy_endpoints(by_endpoint)
    assert headers(styler)[-1] == "Verdict"
    summary = pd.DataFrame(
        {"records": [3, 478], "p50": [1.5, 1271.8355], "p95": [2.0, 65562.96], "p99": [2, 1e5]},
        index=pd.Index(["sidekiq", "rake"], name="kind"),
    )
    jobs = tables.jobs_summary(summary)
    assert cells(jobs)[0] == ["rake", "478", "1,272", "65,563", "100,000"]
    for styler in (split, deploys, tables.deploy_endpoints(by_endpoint), jobs):
        assert width_px(styler) < PAGE_PX


def test_long_names_are_cut_with_the_full_text_as_tooltip_and_escaped() -> None:
    table = requests_table()
    long_name = "Admin::" + "Very" * 40 + "LongController#<script>|html"
    table.loc[0, "group"] = long_name
    styler = tables.requests(table)
    html = styler.to_html()
    assert "<script>" not in html
    shown = [row[0] for row in cells(styler)]
    cut = next(name for name in shown if name.startswith("Admin::"))
    assert len(cut) == tables.ENDPOINT_WIDTH and cut.endswith("…")
    assert 'title="Admin::VeryVery' in html and "&lt;script&gt;" in html
    assert width_px(styler) < PAGE_PX


class _Cells(HTMLParser):
    """Each body cell's text and attributes of a Styler's HTML, and every tag in it."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[dict] = []
        self.in_cell = False
        self.feed(source)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self.cells.append({"text": "", "titles": []})
            self.in_cell = True
        elif tag == "span" and self.cells:
            self.cells[-1]["titles"].append(dict(attrs).get("title"))

    def handle_endtag(self, tag) -> None:
        self.in_cell = self.in_cell and tag != "td"

    def handle_data(self, data) -> None:
        if self.in_cell:
            self.cells[-1]["text"] += data


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=3))
@example(['<img src=x onerror="window.__pwned=1"> and a long tail of text', "$a$ `b` |c|"])
@example(['"><svg onload=window.__pwned=1>', "</td></tr></table><script>x</script>"])
def test_recorded_text_in_any_table_cell_is_text_with_its_full_text_as_tooltip(texts) -> None:
    frame = pd.DataFrame({"name": texts, "n": range(len(texts))})
    styler = tables.for_people(
        frame, [tables.Column("name", "Name", "text", 20), tables.Column("n", "N", "count")]
    )
    page = _Cells(styler.to_html())
    assert [
        tag for tag, _ in page.tags if tag not in ("style", "thead", "tbody", "tr", "th", "td")
    ] == ["table"] + ["span"] * sum(len(text) > 20 for text in texts)
    assert page.tags[1][1]["class"] == markup.NO_MATH_CLASSES  # MathJax leaves the table alone
    for text, cell in zip(texts, page.cells[::2], strict=True):
        shown = markup.visible(text)
        if len(text) > 20:
            assert cell["text"] == shown[:19] + "…" and cell["titles"] == [shown]
        else:
            assert cell["text"] == shown and cell["titles"] == []


def test_slow_requests_and_crashes_show_the_first_rows_cut_to_fit() -> None:
    rows = [
        {
            "at": f"11:{minute:02d}:00",
            "status": 500,
            "duration": 612.345 + minute,
            "path": "/search?q=" + "x" * 300,
            "exception": "ActiveRecord::RecordNotFound: " + "y" * 300,
        }
        for minute in range(30)
    ]
    df = frame("requests", rows)
    for styler in (
        tables.slow_requests(reports.slow(df, now="2026-02-04 12:00", threshold_ms=500)),
        tables.crashes(reports.crashes(df)),
    ):
        shown = cells(styler)
        assert len(shown) == 20
        assert shown[0][0] == "2026-02-04 11:29:00"  # newest first, to the second
        assert width_px(styler) < PAGE_PX
    assert cells(tables.slow_requests(reports.slow(df, now="2026-02-04 12:00")))[0][-2] == "641"


def test_summary_reads_as_text() -> None:
    info = {
        "kind": "requests",
        "window_start": pd.Timestamp("2026-02-04 08:00:01.123", tz="UTC"),
        "filters": {},
        "patterns": ["a*", "b*"],
        "records": 287270,
        "fetch_seconds": 12.008484928999678,
    }
    assert cells(tables.summary(info)) == [
        ["kind", "requests"],
        ["window start", "2026-02-04 08:00:01 UTC"],
        ["filters", "none"],
        ["patterns", "a*, b*"],
        ["records", "287,270"],
        ["fetch seconds", "12"],
    ]


def test_percentile_cards_in_ms() -> None:
    styler = tables.percentile_cards({"p50": 67.55, "p95": 356.64055, "p99": None})
    assert headers(styler) == ["p50 (ms)", "p95 (ms)", "p99 (ms)"]
    assert cells(styler) == [["67.5", "357", "–"]]


def test_headers_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        tables.for_people(
            pd.DataFrame({"a": [1], "b": [2]}),
            [tables.Column("a", "x", "count"), tables.Column("b", "x", "count")],
        )


# --------------------------------------------------------------------------- properties

finite = st.floats(-1e7, 1e7, allow_nan=False)
maybe = st.one_of(st.just(float("nan")), finite)
names = st.text(min_size=0, max_size=120)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(names, st.integers(0, 10**9), maybe, maybe, maybe, maybe), max_size=25)
)
def test_any_requests_table_renders_rounded_in_order_and_fits(rows) -> None:
    table = pd.DataFrame(
        rows,
        columns=["group", "count", "duration_average", "duration_p50", "duration_p95", "max"],
    ).assign(duration_max=lambda t: t["max"], duration_p99=lambda t: t["duration_p95"])
    styler = tables.requests(table, minutes=60, n=15)
    shown = cells(styler)
    assert len(shown) == min(len(rows), 15)
    assert all(len(row) == 8 for row in shown)
    for row in shown:
        for text in row[3:]:
            assert text == "–" or re.fullmatch(r"-?[\d,]+(\.\d)?", text), text
    counts = [int(row[1].replace(",", "")) for row in shown]
    assert counts == sorted(counts, reverse=True)
    assert width_px(styler) < PAGE_PX


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shares=st.lists(st.tuples(names, maybe, st.integers(0, 1000)), max_size=20),
)
def test_any_error_table_shows_percentages_with_one_decimal(shares) -> None:
    table = pd.DataFrame(shares, columns=["group", "rate_5xx", "count"]).assign(
        count_5xx=0, count_4xx=0, rate_4xx=0.0
    )
    shown = cells(tables.error_rates(table, n=None))
    assert len(shown) == len(shares)
    for row in shown:
        assert row[3] == "–" or re.fullmatch(r"-?[\d,]+\.\d", row[3])

"""Errors grouped by exception class and endpoint, and the slowest requests: reports against
a plain loop over the records, their sentences and tables with hostile recorded text, empty
frames, and hypothesis for any shape of frame. Frames come from the gem's keys through
``rp.parse`` (no Redis)."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

import rp_toolkit as rp
from rp_toolkit import reports
from rp_toolkit.reports import findings, tables
from tests.reports.test_tables import CELL_PX, CHAR_PX, PAGE_PX, cells, headers
from tests.support import Page

BASE = pd.Timestamp("2026-02-04 10:00:00", tz="UTC")
HOSTILE = "<script>window.__pwned=1</script> [x](javascript:alert(1)) $\\alpha$ `a` | **b**"


def gem_frame(rows: list[dict]) -> pd.DataFrame:
    """Requests as the gem stores them (key and JSON value), parsed by ``rp.parse``. Each row
    may give ``controller``, ``action``, ``format``, ``status``, ``second`` (after BASE),
    ``path``, ``request_id``, ``duration`` and ``exception`` (left out of the value when
    absent)."""
    keys, values = [], []
    for i, row in enumerate(rows):
        when = BASE + pd.Timedelta(seconds=row.get("second", i))
        key = (
            f"performance|controller|{row.get('controller', 'OrdersController')}"
            f"|action|{row.get('action', 'show')}|format|{row.get('format', 'html')}"
            f"|status|{row.get('status', 200)}|datetime|{when:%Y%m%dT%H%M}"
            f"|datetimei|{int(when.timestamp())}|method|GET|path|{row.get('path', '/orders/1')}"
            f"|request_id|{row.get('request_id', f'r{i}')}|END|1.0.2"
        )
        value = {"view_runtime": None, "db_runtime": 1.0, "duration": row.get("duration", 10.0)}
        if "exception" in row:
            value["exception"] = row["exception"]
            value["backtrace"] = ["app/controllers/orders_controller.rb:3:in `show'"]
        keys.append(key.encode())
        values.append(json.dumps(value).encode())
    df, problems = rp.parse("requests", keys, values)
    assert len(df) == len(rows) and not len(problems)
    return df


# --------------------------------------------------------------------------- the definition


def class_of(text: object) -> str | None:
    """The documented rule, character by character: leading blanks skipped; up to the first
    blank or a ":" that is not part of "::"; nothing there: the first word."""
    if text is None or text is pd.NA or not isinstance(text, str) or not text.strip():
        return None
    rest, name, i = text.lstrip(), "", 0
    while i < len(rest):
        if rest[i].isspace():
            break
        if rest[i] == ":":
            if rest[i : i + 2] == "::":
                name, i = name + "::", i + 2
                continue
            break
        name, i = name + rest[i], i + 1
    return name or rest.split()[0]


def expected_groups(df: pd.DataFrame) -> list[dict]:
    """exception_groups worked out with a loop over the records."""
    found: dict[tuple[str, str], list[tuple[int, dict]]] = defaultdict(list)
    for position, record in enumerate(df.to_dict("records")):
        name = class_of(record["exception"])
        if name is None:
            continue
        parts = ["" if pd.isna(record[c]) else str(record[c]) for c in ("controller", "action")]
        form = "" if pd.isna(record["format"]) else str(record["format"])
        found[(name, f"{parts[0]}#{parts[1]}|{form}")].append((position, record))
    out = []
    for (name, group), members in found.items():
        times = [r["datetime"] for _, r in members]
        latest = max(members, key=lambda m: (m[1]["datetime"], m[0]))[1]
        out.append(
            {
                "exception_class": name,
                "group": group,
                "count": len(members),
                "first_seen": min(times),
                "last_seen": max(times),
                "statuses": ", ".join(str(s) for s in sorted({r["status"] for _, r in members})),
                "message": latest["exception"],
                "request_id": latest["request_id"],
            }
        )
    out.sort(key=lambda g: (g["exception_class"], g["group"]))
    out.sort(key=lambda g: (-g["count"], -g["last_seen"].value))
    return out


def as_records(table: pd.DataFrame) -> list[dict]:
    columns = ["exception_class", "group", "count", "first_seen", "last_seen", "statuses"]
    return table[[*columns, "message", "request_id"]].to_dict("records")


# --------------------------------------------------------------------------- exception_groups


def known_frame() -> pd.DataFrame:
    """Two groups of RecordNotFound (the gem's "Class message" and "Class: message" alike), a
    NoMethodError, and requests without an exception (none, blank, null)."""
    rows = [
        {"exception": "ActiveRecord::RecordNotFound Couldn't find Order with 'id'=7", "second": 0},
        {"exception": "ActiveRecord::RecordNotFound: Couldn't find Order", "status": 500},
        {"exception": "ActiveRecord::RecordNotFound", "status": 404, "second": 30},
        {"exception": "ActiveRecord::RecordNotFound: x", "action": "index", "second": 5},
        {"exception": "NoMethodError: undefined method `name'\nfor nil:NilClass", "second": 40},
        {"exception": "", "second": 50},
        {"exception": None, "second": 60},
        {"second": 70, "duration": 900.0},
    ]
    for row in rows[:5]:
        row.setdefault("status", 500)
    return gem_frame(rows)


def test_groups_by_class_and_endpoint_with_counts_times_statuses_and_the_latest() -> None:
    df = known_frame()
    table = reports.exception_groups(df)
    assert list(table.columns) == reports.EXCEPTION_GROUP_COLUMNS
    assert table[["exception_class", "group", "count"]].values.tolist() == [
        ["ActiveRecord::RecordNotFound", "OrdersController#show|html", 3],
        ["NoMethodError", "OrdersController#show|html", 1],
        ["ActiveRecord::RecordNotFound", "OrdersController#index|html", 1],
    ]
    top = table.iloc[0]
    assert top["first_seen"] == BASE and top["last_seen"] == BASE + pd.Timedelta(seconds=30)
    assert top["statuses"] == "404, 500"
    assert top["message"] == "ActiveRecord::RecordNotFound" and top["request_id"] == "r2"
    assert str(table["first_seen"].dtype).endswith("UTC]")
    newline = table[table["exception_class"] == "NoMethodError"].iloc[0]
    assert newline["message"] == "NoMethodError: undefined method `name'\nfor nil:NilClass"
    assert as_records(table) == expected_groups(df)


def test_exception_classes_follow_the_documented_rule() -> None:
    texts = pd.Series(
        [
            "PG::QueryCanceled: ERROR:  canceling statement",
            "PG::QueryCanceled ERROR",
            "PG::QueryCanceled",
            "  Redis::TimeoutError:Connection timed out",
            "RuntimeError\nboom",
            ":( no class",
            "",
            " \n ",
            None,
        ],
        dtype="str",
    )
    got = reports.exception_classes(texts).tolist()
    assert got[:6] == ["PG::QueryCanceled"] * 3 + ["Redis::TimeoutError", "RuntimeError", ":("]
    assert [pd.isna(value) for value in got[6:]] == [True] * 3
    assert got[:6] == [class_of(t) for t in texts.tolist()[:6]]


def test_synthetic_requests_group_as_the_loop_does() -> None:
    batch = rp.synth.request_records(3000, seed=21)
    df, _ = rp.parse("requests", batch.keys, batch.values)
    table = reports.exception_groups(df)
    assert len(table) and table["count"].sum() == df["exception"].notna().sum()
    assert as_records(table) == expected_groups(df)
    assert set(table["statuses"]) == {"500"}


def test_empty_frames_and_frames_without_exceptions() -> None:
    for df in (gem_frame([]), gem_frame([{"duration": 5.0}, {"exception": " "}])):
        table = reports.exception_groups(df)
        assert table.empty and list(table.columns) == reports.EXCEPTION_GROUP_COLUMNS
        assert findings.exception_groups(table) == "No request raised an exception."
        assert cells(tables.exception_groups(table)) == []
    empty = gem_frame([])
    assert reports.slowest(empty).empty and list(reports.slowest(empty).columns) == list(empty)
    assert reports.slowest_by_endpoint(empty).empty
    assert findings.slowest(reports.slowest(empty)) == "No request with a duration was recorded."
    assert cells(tables.slowest(reports.slowest(empty))) == []


# --------------------------------------------------------------------------- slowest


def test_slowest_sorts_by_duration_then_newest_and_leaves_the_input_alone() -> None:
    df = gem_frame(
        [
            {"duration": 30.0, "second": 1, "request_id": "a"},
            {"duration": 10_000.0, "second": 2, "request_id": "ten-seconds"},
            {"duration": 30.0, "second": 9, "request_id": "tie-newer"},
            {"duration": 5.0, "second": 3, "request_id": "fast", "action": "index"},
            {"duration": 400.0, "second": 4, "request_id": "b", "action": "index"},
        ]
    )
    before = df.copy()
    ordered = reports.slowest(df, limit=4)
    assert ordered["request_id"].tolist() == ["ten-seconds", "b", "tie-newer", "a"]
    assert list(ordered.columns) == list(df.columns)
    assert reports.slowest(df, limit=None)["request_id"].tolist()[-1] == "fast"
    by_endpoint = reports.slowest_by_endpoint(df, per_endpoint=1)
    assert by_endpoint[["request_id", "group", "rank"]].values.tolist() == [
        ["ten-seconds", "OrdersController#show|html", 1],
        ["b", "OrdersController#index|html", 1],
    ]
    two = reports.slowest_by_endpoint(df, per_endpoint=2)
    assert two["request_id"].tolist() == ["ten-seconds", "tie-newer", "b", "fast"]
    assert two["rank"].tolist() == [1, 2, 1, 2]
    pd.testing.assert_frame_equal(df, before)
    text = findings.slowest(reports.slowest(df))
    assert text.startswith(
        "The slowest request took **10 s**: `OrdersController#show|html` `/orders/1`, "
        "status 200, at 2026-02-04 10:00:02 UTC, request `ten-seconds`."
    )
    assert "The 5 slowest took 5 ms to 10 s; 3 of them were `OrdersController#show|html`." in text
    shown = tables.slowest(reports.slowest(df))
    assert "Duration (s)" in headers(shown) and [row[4] for row in cells(shown)][:2] == [
        "10.00",
        "0.40",
    ]
    assert "Duration (ms)" in headers(tables.slowest(reports.slowest(df).iloc[1:]))
    assert cells(shown)[0][1] == "OrdersController#show|html"  # the endpoint as grouped
    ranked = tables.slowest(reports.slowest_by_endpoint(df, per_endpoint=2))
    assert "Rank" in headers(ranked) and [row[2] for row in cells(ranked)] == ["1", "2", "1", "2"]


# --------------------------------------------------------------------------- hostile text


HOSTILE_ROWS = [
    {"exception": f"Evil::Error: {HOSTILE}\nsecond line: <b>bold</b>", "status": 500},
    {"exception": f"{HOSTILE} trailing", "status": 500, "second": 3},
    {"exception": "Plain: " + "x" * 400, "status": 500, "second": 4},
]


def hostile_frame() -> pd.DataFrame:
    rows = [dict(row, path=f"/o?q={HOSTILE}".replace("|", "%7C")) for row in HOSTILE_ROWS]
    return gem_frame(rows)


def test_sentences_show_recorded_text_as_text() -> None:
    df = hostile_frame()
    table = reports.exception_groups(df)
    for text in (findings.exception_groups(table, n=3), findings.slowest(reports.slowest(df))):
        page = Page(markdown2html_mistune(text))
        assert set(page.tags) <= {"p", "code", "strong"} and page.attrs == []  # no markup
    page = Page(markdown2html_mistune(findings.exception_groups(table, n=3)))
    assert "<script>window.__pwned=1</script>" in page.by_tag["code"]  # the class, as text
    assert "3 requests raised exceptions in 3 groups (exception class × endpoint)" in page.text


def test_the_table_shows_the_whole_message_wrapped_and_escaped() -> None:
    df = hostile_frame()
    styler = tables.exception_groups(reports.exception_groups(df))
    html = styler.to_html()
    page = Page(html)
    assert "script" not in page.tags and "b" not in page.tags
    assert {name for name, _ in page.attrs} <= {"id", "class", "type", "title"}
    assert "x" * 400 in page.text  # not cut
    assert f"Evil::Error: {HOSTILE}\nsecond line: <b>bold</b>" in page.text  # the line kept
    rule = re.search(r"td\.col6 \{([^}]*white-space: pre-wrap[^}]*)\}", html)
    assert rule and "overflow-wrap: anywhere" in rule[1] and "max-width" in rule[1]
    assert headers(styler)[-1] == "Latest message"
    assert "tex2jax_ignore" in html


def test_the_exception_table_fits_1280_px() -> None:
    """Every column at its widest (the message at its wrapping width, 22em of 12 px text)."""
    long = {"controller": "C" * 60, "action": "a" * 30, "status": 422, "second": 9}
    rows = [dict(HOSTILE_ROWS[0], **long), dict(HOSTILE_ROWS[2], controller="C" * 60)]
    styler = tables.exception_groups(reports.exception_groups(gem_frame(rows)))
    shown = cells(styler)
    total = sum(
        max(len(header), *(len(row[k]) for row in shown)) * CHAR_PX + CELL_PX
        for k, header in enumerate(headers(styler)[:-1])
    )
    assert total + 22 * 12 + CELL_PX <= PAGE_PX


# --------------------------------------------------------------------------- any shape


TEXTS = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "A::B", "A::B: m", "A::B m", "C:\nd", ":x y", "a:::b", HOSTILE]),
    st.text(alphabet=st.sampled_from("Ab:: \n\t<>`|$é"), max_size=12),
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "controller": st.sampled_from(["A", "B", "Orders"]),
            "action": st.sampled_from(["x", "y"]),
            "format": st.sampled_from(["html", "json"]),
            "status": st.sampled_from([200, 404, 422, 500]),
            "second": st.integers(0, 5),
            "duration": st.one_of(st.none(), st.sampled_from([1.0, 5.0, 5.0, 2500.0])),
            "exception": TEXTS,
        }
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.integers(1, 3))
def test_any_frame_groups_and_sorts_as_the_loop_does(rows: list[dict], per_endpoint: int) -> None:
    df = gem_frame(rows)
    table = reports.exception_groups(df)
    assert as_records(table) == expected_groups(df)
    assert findings.exception_groups(table)
    tables.exception_groups(table).to_html()

    records = [(i, r) for i, r in enumerate(df.to_dict("records")) if not pd.isna(r["duration"])]
    records.sort(key=lambda m: (-m[1]["duration"], -m[1]["datetime"].value, m[0]))
    expected = [r["request_id"] for _, r in records]
    assert reports.slowest(df, limit=None)["request_id"].tolist() == expected
    assert reports.slowest(df, limit=3)["request_id"].tolist() == expected[:3]

    ranked: dict[str, list[str]] = defaultdict(list)
    for _, r in records:
        ranked[f"{r['controller']}#{r['action']}|{r['format']}"].append(r["request_id"])
    want = [rid for ids in ranked.values() for rid in ids[:per_endpoint]]  # first seen: slowest
    got = reports.slowest_by_endpoint(df, per_endpoint=per_endpoint)
    assert got["request_id"].tolist() == want
    assert (got["rank"] <= per_endpoint).all() and (got["rank"] >= 1).all()
    assert findings.slowest(reports.slowest(df))
    tables.slowest(got).to_html()


@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_sentence_counts_from_the_table(n: int) -> None:
    table = reports.exception_groups(known_frame())
    text = findings.exception_groups(table, n=n)
    assert text.startswith("5 requests raised exceptions in 3 groups")
    assert text.count(" in `") == min(n, 3)
    assert ("(and 2 more, in the table)" in text) == (n == 1)
    assert "(3, last at 2026-02-04 10:00:30 UTC)" in text
    assert np.isclose(table["count"].sum(), 5)

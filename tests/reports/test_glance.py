"""The report's first screen: the window against the one before (numbers against numpy), the
sentences in each case, deploy regressions, and recorded text shown only as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from rp_toolkit import reports
from rp_toolkit.reports import findings
from tests.reports.test_exception_groups import HOSTILE, gem_frame, hostile_frame
from tests.support import Page

WINDOW = pd.Timedelta(hours=1)


def requests_over(seconds: int, n: int, start: int = 0, duration: float = 10.0) -> pd.DataFrame:
    step = max(seconds // max(n, 1), 1)
    return gem_frame([{"second": start + i * step, "duration": duration + i} for i in range(n)])


def test_window_change_equals_numpy_and_says_how_much_of_the_window_before_is_held() -> None:
    current = requests_over(3600, 300, start=3600)
    previous = requests_over(3600, 200, start=0, duration=20.0)
    table = reports.window_change(current, previous)
    assert table.loc["requests", ["current", "previous"]].tolist() == [300.0, 200.0]
    for p in (50, 95, 99):
        mine = np.percentile(current["duration"], p, method="linear")
        before = np.percentile(previous["duration"], p, method="linear")
        assert np.isclose(table.loc[f"p{p}", "current"], mine)
        assert np.isclose(table.loc[f"p{p}", "change"], mine - before)
        assert np.isclose(table.loc[f"p{p}", "change_pct"], (mine - before) / before * 100)
    assert table.attrs["previous_span"] >= pd.Timedelta(minutes=59)
    empty = reports.window_change(current, current.iloc[:0])
    assert np.isnan(empty.loc["requests", "previous"]) and pd.isna(empty.attrs["previous_span"])


def test_the_change_is_given_only_when_the_window_before_is_held_whole() -> None:
    current = requests_over(3600, 300, start=3600)
    whole = findings.traffic_and_latency(
        reports.window_change(current, requests_over(3600, 100)), WINDOW
    )
    assert (
        "**300 requests** in 1 hour" in whole
        and "against the 1 hour before: requests +200.0 %" in whole
    )
    part = findings.traffic_and_latency(
        reports.window_change(current, requests_over(600, 100, start=3000)), WINDOW
    )
    assert "held only in part" in part and "against" not in part
    none = findings.traffic_and_latency(reports.window_change(current, current.iloc[:0]), WINDOW)
    assert "hold no request" in none
    nothing = findings.traffic_and_latency(
        reports.window_change(current.iloc[:0], current.iloc[:0]), WINDOW
    )
    assert nothing == "No request was recorded in the last 1 hour."


def test_deploy_regressions_name_the_slower_endpoints_as_text() -> None:
    by_endpoint = pd.DataFrame(
        {
            "datetime": [pd.Timestamp("2026-02-04 10:00", tz="UTC")] * 2,
            "name": ["deploy", "deploy"],
            "label": [HOSTILE, HOSTILE],
            "group": ["A#b|html", "C#d|json"],
            "p95_change_pct": [83.0, 1.0],
            "verdict": ["slower", "unchanged"],
        }
    )
    text = findings.deploy_regressions(by_endpoint)
    page = Page(markdown2html_mistune(text))
    assert set(page.tags) <= {"p", "code"} and page.attrs == []
    assert HOSTILE in page.by_tag["code"] and "A#b|html" in page.by_tag["code"]
    assert "+83.0 %" in text and "C#d|json" not in text
    calm = by_endpoint.assign(verdict="unchanged")
    assert findings.deploy_regressions(calm).startswith("No deploy in the window made")
    assert findings.deploy_regressions(by_endpoint.iloc[:0]).startswith(
        "No deploy in the window had"
    )


def test_the_first_screen_shows_every_part_and_no_markup_from_the_records() -> None:
    df = hostile_frame()
    jobs_failed = pd.DataFrame({"system": ["sidekiq"] * 3, "name": [HOSTILE, HOSTILE, "Other"]})
    text = findings.at_a_glance(
        reports.window_change(df, df.iloc[:0]), WINDOW, reports.requests(df),
        pd.DataFrame(columns=["datetime", "label", "group", "p95_change_pct", "verdict"]),
        reports.exception_groups(df), jobs_failed,
    )  # fmt: skip
    assert text.count("\n* ") == 4 and text.startswith("* ")
    page = Page(markdown2html_mistune(text))
    assert set(page.tags) <= {"ul", "li", "code", "strong"} and page.attrs == []
    assert "**3 jobs failed**" in text and f"({'sidekiq'}, 2)" in text
    assert "raised exceptions" in text and "Slowest endpoints by p95" in text

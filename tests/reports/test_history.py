"""Reports over many days (rp_toolkit.reports._history): frames of many days checked against
plain loops and numpy's percentile, known slowdowns and noise, the empty, one-day and NaN
cases, and hypothesis for any shape of frame; their sentences and chart with hostile names."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from matplotlib.cbook import is_math_text
from nbconvert.filters.markdown_mistune import markdown2html_mistune

import rp_toolkit as rp
from rp_toolkit import reports
from rp_toolkit.reports import _deploys, _groups, _history, findings, plots
from tests.reports.test_reports import frame
from tests.support import Page

DAY_COLUMNS = [
    "date", "group", "controller", "action", "format", "count",
    "duration_p50", "duration_p95", "duration_p99",
]  # fmt: skip
DAY_DTYPES = ["datetime64[ns, UTC]"] + ["string"] * 4 + ["int64"] + ["float64"] * 3
PER_DAY_COLUMNS = ["date", "count", "errors_5xx", "duration_p50", "duration_p95", "duration_p99"]
COMPARISON_COLUMNS = [
    "group", "controller", "action", "format", "before_count", "after_count",
    "before_p50", "after_p50", "p50_change", "p50_change_pct",
    "before_p95", "after_p95", "p95_change", "p95_change_pct", "verdict",
]  # fmt: skip
START = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday, midnight
HOSTILE = "<script>window.__pwned=1</script> [x](javascript:alert(1)) $\\alpha$ `a` |"


def requests_at(rows: list[dict]) -> pd.DataFrame:
    """A requests frame in the loader's layout; each row gives ``t`` (a UTC Timestamp) and
    any request fields (controller, action, format, status, duration)."""
    df = frame("requests", [{**row, "at": "00:00:00"} for row in rows])
    epochs = pd.Series([int(row["t"].timestamp()) for row in rows], dtype="int64")
    df["datetimei"] = epochs
    df["datetime"] = pd.to_datetime(epochs, unit="s", utc=True).astype("datetime64[ns, UTC]")
    df["minute"] = df["datetime"].dt.floor("min")
    return df


def spread_over(start: pd.Timestamp, span: pd.Timedelta, durations, **fields) -> list[dict]:
    """Rows with ``durations`` spread evenly over ``[start, start + span)``."""
    step = span / max(len(durations), 1)
    return [{"t": start + k * step, "duration": d, **fields} for k, d in enumerate(durations)]


# --------------------------------------------------------------------------- references


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def linear(values: list[float], p: float) -> float:
    return float(np.percentile(values, p, method="linear")) if values else math.nan


def reference_endpoint_days(df: pd.DataFrame) -> list[dict]:
    """The definition, one record at a time."""
    found: dict[tuple, dict] = {}
    for c, a, f, when, d in zip(
        df["controller"].astype(object), df["action"].astype(object),
        df["format"].astype(object), df["datetime"], df["duration"], strict=True,
    ):  # fmt: skip
        parts = [_text(c), _text(a), _text(f)]
        group = f"{parts[0]}#{parts[1]}|{parts[2]}"
        day = pd.Timestamp(when).tz_convert("UTC").floor("D")
        entry = found.setdefault((day, group), {"parts": parts, "count": 0, "values": []})
        entry["count"] += 1
        if not math.isnan(d):
            entry["values"].append(float(d))
    return [
        {
            "date": day, "group": group, "controller": e["parts"][0], "action": e["parts"][1],
            "format": e["parts"][2], "count": e["count"],
            **{f"duration_p{p}": linear(e["values"], p) for p in (50, 95, 99)},
        }
        for (day, group), e in sorted(found.items())
    ]  # fmt: skip


def reference_per_day(df: pd.DataFrame) -> list[dict]:
    days = [pd.Timestamp(t).floor("D") for t in df["datetime"]]
    if not days:
        return []
    out = []
    day = min(days)
    while day <= max(days):
        rows = [k for k, d in enumerate(days) if d == day]
        durations = [float(df["duration"].iloc[k]) for k in rows]
        durations = [d for d in durations if not math.isnan(d)]
        out.append(
            {
                "date": day,
                "count": len(rows),
                "errors_5xx": sum(500 <= int(df["status"].iloc[k]) <= 599 for k in rows),
                **{f"duration_p{p}": linear(durations, p) for p in (50, 95, 99)},
            }
        )
        day += pd.Timedelta(days=1)
    return out


def assert_records(result: pd.DataFrame, expected: list[dict]) -> None:
    assert len(result) == len(expected)
    for got, want in zip(result.to_dict("records"), expected, strict=True):
        for name, value in want.items():
            if name.startswith("duration_p"):
                assert got[name] == pytest.approx(value, rel=1e-12, nan_ok=True), name
            else:
                assert got[name] == value, name


# --------------------------------------------------------------------------- endpoint_days


def synthetic_days(days: int = 12, n: int = 6000) -> pd.DataFrame:
    """``n`` requests over ``days`` days from rp.synth, parsed from the gem's keys."""
    batch = rp.synth.request_records(
        n, seed=5, end=(START + pd.Timedelta(days=days)).to_pydatetime(), hours=24 * days
    )
    df, problems = rp.parse("requests", batch.keys, batch.values)
    assert len(df) == n and not len(problems)
    return df


def test_endpoint_days_of_many_synthetic_days_is_the_definition() -> None:
    df = synthetic_days()
    result = reports.endpoint_days(df)
    assert list(result.columns) == DAY_COLUMNS
    assert [str(t) for t in result.dtypes] == DAY_DTYPES
    assert result["date"].nunique() == 12 and result["count"].sum() == len(df)
    assert_records(result, reference_endpoint_days(df))
    # the gem's own arithmetic, to the bit, for the busiest endpoint's first day
    first = result.sort_values(["count", "date"], ascending=[False, True]).iloc[0]
    day = df[(df["datetime"].dt.floor("D") == first["date"])]
    day = day[(day["controller"].astype(str) + "#" + day["action"].astype(str) + "|"
               + day["format"].astype(str)) == first["group"]]  # fmt: skip
    assert first["duration_p95"] == reports.percentile(day["duration"], 95)


def test_endpoint_days_rows_by_date_then_group_with_null_parts_as_empty_text() -> None:
    rows = [
        {"t": START + pd.Timedelta(days=1, hours=3), "controller": "B", "duration": 5.0},
        {"t": START + pd.Timedelta(hours=23, minutes=59, seconds=59), "controller": "B",
         "duration": 7.0},
        {"t": START, "controller": "A", "format": None, "duration": 1.0},
        {"t": START + pd.Timedelta(hours=1), "controller": "A", "format": None, "duration": 3.0},
        {"t": START + pd.Timedelta(days=1), "controller": "A", "duration": None},
    ]  # fmt: skip
    result = reports.endpoint_days(requests_at(rows))
    assert result["date"].tolist() == [START, START, START + pd.Timedelta(days=1)] + [
        START + pd.Timedelta(days=1)
    ]
    assert result["group"].tolist() == ["A#index|", "B#index|html", "A#index|html", "B#index|html"]
    assert result["format"].tolist() == ["", "html", "html", "html"]
    assert result["count"].tolist() == [2, 1, 1, 1]
    assert result["duration_p50"].tolist()[:2] == [2.0, 7.0]
    assert math.isnan(result["duration_p95"].iloc[2])  # a day of null durations only: NaN


def test_endpoint_days_of_an_empty_frame_has_the_columns_and_dtypes() -> None:
    result = reports.endpoint_days(frame("requests", []))
    assert list(result.columns) == DAY_COLUMNS and len(result) == 0
    assert [str(t) for t in result.dtypes] == DAY_DTYPES


def test_texts_that_join_to_the_same_group_are_one_endpoint() -> None:
    """``A#b`` + ``c`` and ``A`` + ``b#c`` both read ``A#b#c|html``: one group, as the
    requests table has always grouped them; its columns are those of its first row."""
    rows = [
        {"t": START, "controller": "A#b", "action": "c", "duration": 1.0},
        {"t": START, "controller": "A", "action": "b#c", "duration": 3.0},
    ]
    df = requests_at(rows)
    [row] = reports.endpoint_days(df).to_dict("records")
    assert (row["group"], row["controller"], row["action"], row["count"]) == (
        "A#b#c|html", "A#b", "c", 2,
    )  # fmt: skip
    assert reports.requests(df)["count"].tolist() == [2]


# --------------------------------------------------------------------------- requests_per_day


def test_requests_per_day_fills_empty_days_and_counts_5xx() -> None:
    rows = spread_over(START, pd.Timedelta(days=1), [10.0, 20.0, 30.0, None], status=200)
    rows += spread_over(START + pd.Timedelta(days=3), pd.Timedelta(days=1), [5.0, 9.0], status=503)
    rows += [{"t": START + pd.Timedelta(days=3, hours=5), "duration": 1.0, "status": 404}]
    result = reports.requests_per_day(requests_at(rows))
    assert list(result.columns) == PER_DAY_COLUMNS
    assert [str(t) for t in result.dtypes] == [
        "datetime64[ns, UTC]", "int64", "int64", "float64", "float64", "float64",
    ]  # fmt: skip
    assert result["date"].tolist() == [START + pd.Timedelta(days=k) for k in range(4)]
    assert result["count"].tolist() == [4, 0, 0, 3]
    assert result["errors_5xx"].tolist() == [0, 0, 0, 2]
    assert result["duration_p50"].tolist()[0] == 20.0
    assert result["duration_p50"].isna().tolist() == [False, True, True, False]


def test_requests_per_day_of_synthetic_days_and_of_nothing() -> None:
    df = synthetic_days(days=5, n=3000)
    assert_records(reports.requests_per_day(df), reference_per_day(df))
    empty = reports.requests_per_day(frame("requests", []))
    assert list(empty.columns) == PER_DAY_COLUMNS and len(empty) == 0


def test_a_single_day() -> None:
    rows = spread_over(START + pd.Timedelta(hours=8), pd.Timedelta(hours=8), [4.0, 1.0, 3.0, 2.0])
    df = requests_at(rows)
    per_day = reports.requests_per_day(df)
    assert per_day["date"].tolist() == [START] and per_day["count"].tolist() == [4]
    assert per_day["duration_p95"].iloc[0] == pytest.approx(3.85)
    assert reports.endpoint_days(df)["duration_p50"].tolist() == [2.5]
    assert "on 2026-03-02" in findings.history(per_day)


# --------------------------------------------------------------------------- any shape

NAMES = st.sampled_from(["A", "B#c", "", "x|y", HOSTILE, None])
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "t": st.integers(0, 9 * 86_400 - 1).map(lambda s: START + pd.Timedelta(seconds=s)),
            "controller": NAMES,
            "action": st.sampled_from(["index", "b#c", None]),
            "format": st.sampled_from(["html", "json", None]),
            "status": st.sampled_from([200, 404, 500, 599, 600]),
            "duration": st.one_of(
                st.none(), st.floats(0, 1e6, allow_nan=False), st.sampled_from([0.0, 1.5])
            ),
        }
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
@example([])
def test_any_frame_gives_the_definition(rows) -> None:
    df = requests_at(rows)
    days = reports.endpoint_days(df)
    assert list(days.columns) == DAY_COLUMNS
    assert [str(t) for t in days.dtypes] == DAY_DTYPES
    assert_records(days, reference_endpoint_days(df))
    assert_records(reports.requests_per_day(df), reference_per_day(df))
    table = reports.period_comparison(df, period=pd.Timedelta(days=3), min_requests=1)
    assert list(table.columns) == COMPARISON_COLUMNS
    assert set(table["verdict"]) <= {"slower", "faster", "unchanged"}
    assert (table["before_count"] >= 1).all() and (table["after_count"] >= 1).all()
    for sentence in (
        findings.history(reports.requests_per_day(df)),
        findings.period_comparison(table),
    ):
        page = Page(markdown2html_mistune(sentence))
        assert set(page.tags) <= {"p", "strong", "code"} and page.attrs == []


# --------------------------------------------------------------------------- period_comparison

WEEK = pd.Timedelta(days=7)


def two_weeks(before: dict, after: dict) -> pd.DataFrame:
    """Per controller name, its durations over the week before and the last week (the last
    ends at START + 14 days)."""
    rows = []
    for start, table in ((START, before), (START + WEEK, after)):
        for controller, durations in table.items():
            rows += spread_over(start, WEEK, durations, controller=controller)
    return requests_at(rows)


def test_a_clear_slowdown_is_slower_and_noise_is_unchanged() -> None:
    rng = np.random.default_rng(3)
    noise = lambda: rng.lognormal(4, 0.6, 300).tolist()  # noqa: E731
    df = two_weeks(
        {"Slow": np.linspace(100, 200, 200), "Noise": noise(), "Fast": np.linspace(80, 160, 200)},
        {"Slow": np.linspace(220, 420, 200), "Noise": noise(), "Fast": np.linspace(40, 80, 200)},
    )
    table = reports.period_comparison(df)
    assert list(table.columns) == COMPARISON_COLUMNS
    assert table["group"].tolist() == ["Slow#index|html", "Fast#index|html", "Noise#index|html"]
    assert table["verdict"].tolist() == ["slower", "faster", "unchanged"]
    slow = table.iloc[0]
    assert (slow["before_count"], slow["after_count"]) == (200, 200)
    assert slow["before_p50"] == pytest.approx(150.0) and slow["after_p50"] == pytest.approx(320)
    assert slow["p50_change"] == pytest.approx(170.0)
    assert slow["p95_change_pct"] == pytest.approx(
        (linear(list(np.linspace(220, 420, 200)), 95) / linear(list(np.linspace(100, 200, 200)), 95)
         - 1) * 100
    )  # fmt: skip
    noisy = table.iloc[2]
    assert abs(noisy["p95_change_pct"]) < 100  # moved, within noise
    window = table.attrs["period"]
    newest = df["datetime"].max()
    assert window["end"] == newest + pd.Timedelta(seconds=1)
    assert window["middle"] == window["end"] - WEEK and window["start"] == window["end"] - 2 * WEEK
    text = findings.period_comparison(table)
    assert text.startswith("The last 7 days (from 2026-03-08 23:26 UTC to 2026-03-15 23:26 UTC) ")
    assert "1 of 3 endpoints got slower: `Slow#index|html`: p95" in text
    assert "1 of 3 endpoints got faster: `Fast#index|html`" in text


def test_a_small_rise_or_one_within_noise_is_unchanged() -> None:
    df = two_weeks({"Small": np.linspace(100, 200, 400)}, {"Small": np.linspace(105, 210, 400)})
    assert reports.period_comparison(df)["verdict"].tolist() == ["unchanged"]  # 5 % < 10 %
    rng = np.random.default_rng(2)
    before, after = rng.lognormal(4, 1, 30), rng.lognormal(4, 1, 30) * 1.3
    few = two_weeks({"Few": before.tolist()}, {"Few": after.tolist()})
    [row] = reports.period_comparison(few).to_dict("records")
    assert row["p50_change_pct"] > 10 and row["p95_change_pct"] > 10
    assert row["verdict"] == "unchanged"  # +30 % over 30 noisy requests: the intervals overlap
    shifted = two_weeks({"Few": [100.0, 300.0] * 15}, {"Few": [130.0, 390.0] * 15})
    assert reports.period_comparison(shifted)["verdict"].tolist() == ["slower"]  # no noise
    text = findings.period_comparison(reports.period_comparison(few))
    assert "none of the 1 endpoints with at least 30 requests in both changed" in text


def test_periods_are_half_open_and_now_can_be_given() -> None:
    rows = [{"t": START + pd.Timedelta(days=d), "controller": "A", "duration": float(d)}
            for d in range(0, 14)]  # fmt: skip
    df = requests_at(rows)
    end = START + pd.Timedelta(days=10)
    table = reports.period_comparison(df, now="2026-03-12", period=pd.Timedelta(days=5),
                                      min_requests=1)  # fmt: skip
    [row] = table.to_dict("records")
    # before: days 0..4 ([now - 10 d, now - 5 d)); after: days 5..9; day 10 is not before now
    assert (row["before_count"], row["after_count"]) == (5, 5)
    assert (row["before_p50"], row["after_p50"]) == (2.0, 7.0)
    assert table.attrs["period"]["end"] == end
    with pytest.raises(ValueError, match="longer than 0"):
        reports.period_comparison(df, period=pd.Timedelta(0))


def test_endpoints_with_too_few_requests_are_left_out_and_nothing_is_said_so() -> None:
    df = two_weeks({"A": [1.0] * 29, "B": [1.0] * 40}, {"A": [1.0] * 40, "B": [1.0] * 40})
    assert reports.period_comparison(df)["group"].tolist() == ["B#index|html"]
    empty = reports.period_comparison(frame("requests", []))
    assert list(empty.columns) == COMPARISON_COLUMNS and len(empty) == 0
    assert empty.attrs["period"]["end"] is None
    assert findings.period_comparison(empty) == (
        "No request was recorded, so there is no period to compare."
    )
    none = reports.period_comparison(df, min_requests=100)
    assert "no endpoint had 100 requests with a duration in both" in findings.period_comparison(
        none
    )


def test_null_durations_count_nowhere_in_a_comparison() -> None:
    df = two_weeks({"A": [10.0] * 30 + [None] * 10}, {"A": [10.0] * 30 + [None] * 50})
    [row] = reports.period_comparison(df).to_dict("records")
    assert (row["before_count"], row["after_count"]) == (30, 30)
    assert row["verdict"] == "unchanged" and row["p95_change"] == 0.0


def test_the_comparison_is_deploy_impact_by_endpoints_for_the_same_two_windows() -> None:
    """One shared rule: an event at the middle with a window of one period compares the same
    requests, with the same numbers and verdicts."""
    rng = np.random.default_rng(11)
    before = {name: rng.lognormal(4, s, 120).tolist() for name, s in (("A", 0.3), ("B", 1.0))}
    after = {"A": (np.array(before["A"]) * 1.5).tolist(), "B": rng.lognormal(4, 1.0, 150).tolist()}
    df = two_weeks(before, after)
    table = reports.period_comparison(df, now=START + 2 * WEEK)
    marks = pd.DataFrame({
        "name": ["deploy"], "datetime": [START + WEEK],
        "datetimei": [int((START + WEEK).timestamp())], "options": [None],
    })  # fmt: skip
    by_endpoint = reports.deploy_impact_by_endpoint(df, marks, window=WEEK)
    by_endpoint = by_endpoint.sort_values("group").reset_index(drop=True)
    ours = table.sort_values("group").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, by_endpoint[COMPARISON_COLUMNS])
    assert sorted(table["verdict"]) == ["slower", "unchanged"]


# --------------------------------------------------------------------------- deploys_in_range


def event_frame(rows: list[tuple[pd.Timestamp, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.Series([name for _, name, _ in rows], dtype=object),
            "datetime": pd.Series([t for t, _, _ in rows], dtype="datetime64[ns, UTC]"),
            "datetimei": pd.Series([int(t.timestamp()) for t, _, _ in rows], dtype="int64"),
            "options": pd.Series([{"label": {"text": text}} for *_, text in rows], dtype=object),
        }
    )


def test_every_deploy_in_range_with_the_endpoints_it_made_slower() -> None:
    noon = START + pd.Timedelta(days=2, hours=12)
    half = pd.Timedelta(minutes=30)
    rows = spread_over(noon - half, half, np.linspace(100, 200, 60), controller=HOSTILE)
    rows += spread_over(noon, half, np.linspace(300, 500, 60), controller=HOSTILE)
    rows += spread_over(noon - half, 2 * half, [50.0] * 120, controller="Steady")
    rows += [{"t": START, "controller": "Steady", "duration": 1.0}]
    rows += [{"t": START + pd.Timedelta(days=5), "controller": "Steady", "duration": 1.0}]
    df = requests_at(rows)
    marks = event_frame(
        [
            (START - pd.Timedelta(days=1), "deploy", "before the range"),
            (noon, "deploy", HOSTILE),
            (noon, "deploy", HOSTILE),  # the same event twice: once
            (START + pd.Timedelta(days=4), "deploy", "quiet"),
            (START + pd.Timedelta(days=5, seconds=1), "deploy", "after the range"),
        ]
    )
    table = reports.deploys_in_range(df, marks)
    assert list(table.columns) == [
        *reports.deploy_impact(df, marks).columns,
        "endpoints_compared", "endpoints_slower", "endpoints_faster", "slower_endpoints",
    ]  # fmt: skip
    assert table["label"].tolist() == [HOSTILE, "quiet"]
    assert table["endpoints_compared"].tolist() == [2, 0]
    assert table["endpoints_slower"].tolist() == [1, 0]
    assert table["endpoints_faster"].tolist() == [0, 0]
    assert table["slower_endpoints"].tolist() == [[f"{HOSTILE}#index|html"], []]
    assert table["before_count"].tolist() == [120, 0]
    text = findings.deploys_in_range(table)
    page = Page(markdown2html_mistune(text))
    assert set(page.tags) == {"p", "code"} and page.attrs == []
    assert f"{HOSTILE}#index|html" in page.by_tag["code"] and "pwned" not in page.tags
    assert text.startswith("2 deploys or other events from 2026-03-04 to 2026-03-06; 1 made")
    assert reports.deploys_in_range(df, marks, match="nothing").empty
    nothing = reports.deploys_in_range(frame("requests", []), marks)
    assert nothing.empty and findings.deploys_in_range(nothing).startswith("No deploy")


# --------------------------------------------------------------------------- sentences, chart


@pytest.mark.parametrize("name", [HOSTILE, '"><img src=x onerror=alert(1)>', "**", "`"])
def test_a_hostile_endpoint_name_is_shown_as_text(name: str) -> None:
    df = two_weeks({name: np.linspace(100, 200, 100)}, {name: np.linspace(300, 600, 100)})
    text = findings.period_comparison(reports.period_comparison(df))
    page = Page(markdown2html_mistune(text))
    assert set(page.tags) == {"p", "code"} and page.attrs == []
    assert page.by_tag["code"] == f"{name}#index|html"


def test_history_sentence_states_the_days() -> None:
    rows = spread_over(START, pd.Timedelta(days=1), [10.0] * 9 + [1000.0], status=200)
    rows += spread_over(START + pd.Timedelta(days=2), pd.Timedelta(days=1), [50.0] * 5, status=500)
    text = findings.history(reports.requests_per_day(requests_at(rows)))
    assert text == (
        "**15 requests** over 3 days, 2026-03-02 to 2026-03-04, 5 per day on average; the "
        "busiest day was 2026-03-02 (10). 33.3 % ended in a 5xx. 1 of the 3 days had no "
        "request at all. The daily p95 ranged from 50.0 ms (2026-03-04) to 554 ms (2026-03-02)."
    )
    assert findings.history(reports.requests_per_day(frame("requests", []))) == (
        "No request was recorded, so there is no history to show."
    )


def test_daily_p95_chart_draws_the_busiest_endpoints_with_their_names_as_text() -> None:
    rows = spread_over(START, pd.Timedelta(days=3), [100.0] * 30, controller="$x$")
    rows += spread_over(START, pd.Timedelta(days=1), [2000.0] * 20, controller="B")
    rows += spread_over(START, pd.Timedelta(days=3), [5.0] * 3, controller="rare")
    days = reports.endpoint_days(requests_at(rows))
    axes = plots.daily_p95(days, n=2).axes[0]
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert not any(is_math_text(t) for t in legend)
    assert [t.replace("\\$", "$") for t in legend] == ["$x$#index|html", "B#index|html"]
    assert axes.get_ylabel() == "p95 (s)"
    b_line = axes.get_lines()[1].get_ydata()
    assert b_line[0] == 2.0 and np.isnan(b_line[1:]).all()  # no requests: a gap
    empty = plots.daily_p95(reports.endpoint_days(frame("requests", [])))
    assert empty is None  # no days: no chart (was axes from 1970 titled "0 endpoints")


def test_the_package_keeps_every_name_and_adds_the_history() -> None:
    """reports is a package: every name is still ``rp.reports.<name>``, the same
    object as in the module that defines it."""
    assert all(getattr(rp.reports, name) is not None for name in reports.__all__)
    assert reports.endpoint_days is _history.endpoint_days
    assert reports.deploy_impact_by_endpoint is _deploys.deploy_impact_by_endpoint
    assert reports.percentile is _groups.percentile
    for name in ("requests", "deploy_impact", "export", "annotations", "apdex", "JobsReport"):
        assert name in reports.__all__

"""Reports on small hand-built frames, with expectations worked out by hand.

The frames follow the loader's layout (rp_toolkit.frames): key fields in key order, then value
fields; ``category`` keys are Categorical, ``text`` keys strings, the key's minute is
``minute`` (UTC), ``datetimei`` is int64 and ``datetime`` its UTC timestamp.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from rp_toolkit import reports
from rp_toolkit.frames import LoadInfo
from rp_toolkit.kinds import KINDS

DAY = "2026-02-04"
NOW = pd.Timestamp(f"{DAY} 12:00:30", tz="UTC")
NAN = float("nan")

_DEFAULTS = {
    "controller": "HomeController",
    "action": "index",
    "format": "html",
    "status": 200,
    "method": "GET",
    "path": "/",
    "queue": "default",
    "worker": "Worker",
    "source_type": "Job",
    "class_name": "Job",
    "method_name": "perform",
    "task": "db:migrate",
    "tag_name": "tag",
    "namespace_name": "ns",
    "server": "srv1",
    "context": "web",
    "role": "app",
}
_RESOURCE_VALUES = (
    "cpu_one_min",
    "cpu_five_min",
    "cpu_fifteen_min",
    "memory",
    "disk_available",
    "disk_total",
    "disk_used",
)


def at(clock: str) -> pd.Timestamp:
    """``HH:MM[:SS]`` on the test day, UTC."""
    return pd.Timestamp(f"{DAY} {clock}", tz="UTC")


def epoch(clock: str) -> int:
    return int(at(clock).timestamp())


def frame(kind_name: str, rows: list[dict]) -> pd.DataFrame:
    """A frame in the loader's layout for ``kind_name``; each row gives ``at`` (``HH:MM:SS``)."""
    kind = KINDS[kind_name]
    times = [epoch(row["at"]) for row in rows]
    columns: dict[str, object] = {}
    for name in kind.key_fields:
        kind_type = kind.key_types[name]
        if kind_type == "minute":
            minutes = pd.to_datetime(pd.Series(times, dtype="int64"), unit="s", utc=True)
            columns["minute"] = minutes.dt.floor("min")
        elif name == "datetimei":
            columns["datetimei"] = pd.Series(times, dtype="int64")
            columns["datetime"] = pd.to_datetime(columns["datetimei"], unit="s", utc=True)
        elif kind_type == "epoch":
            values = [row.get(name, t) for row, t in zip(rows, times, strict=True)]
            columns[name] = pd.Series(values, dtype="int64")
        elif kind_type == "int":
            columns[name] = pd.Series([row.get(name, 200) for row in rows], dtype="int64")
        elif kind_type == "category":
            default = "success" if name == "status" else _DEFAULTS.get(name, name)
            columns[name] = pd.Categorical([row.get(name, default) for row in rows])
        else:  # text, json_list
            values = [
                row.get(name, _DEFAULTS.get(name, f"{name}-{i}")) for i, row in enumerate(rows)
            ]
            columns[name] = pd.array(values, dtype="string")
    if kind_name == "resources":
        value_fields = {name: "float" for name in _RESOURCE_VALUES}
    else:
        value_fields = {}
        for field in kind.value_schema:
            if field.name in ("custom_data", "backtrace"):
                value_fields[field.name] = "object"
            elif str(field.type) == "string":
                value_fields[field.name] = "string"
            else:
                value_fields[field.name] = "float"
    for name, dtype in value_fields.items():
        values = [row.get(name) for row in rows]
        if dtype == "float":
            columns[name] = pd.Series([NAN if v is None else v for v in values], dtype="float64")
        elif dtype == "string":
            columns[name] = pd.array(values, dtype="string")
        else:
            columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def events(rows: list[tuple[str, str, dict | None]]) -> pd.DataFrame:
    """The events frame: ``(clock, name, options)`` per event."""
    datetimei = pd.Series([epoch(clock) for clock, _, _ in rows], dtype="int64")
    return pd.DataFrame(
        {
            "name": pd.Series([name for _, name, _ in rows], dtype=object),
            "datetime": pd.to_datetime(datetimei, unit="s", utc=True),
            "datetimei": datetimei,
            "options": pd.Series([options for _, _, options in rows], dtype=object),
        }
    )


def minutes(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(at(start), at(end), freq="min", name="minute")


# --------------------------------------------------------------------------- percentile


def gem_percentile(values, p):
    """The gem's Utils.percentile, transcribed line by line."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (p / 100) * (len(ordered) - 1)
    lower, upper = ordered[math.floor(rank)], ordered[math.ceil(rank)]
    return lower + (upper - lower) * (rank - math.floor(rank))


@pytest.mark.parametrize("values", [[], [None], [NAN, None, pd.NA]])
def test_percentile_of_nothing_is_none(values):
    assert all(reports.percentile(values, p) is None for p in (0, 50, 95, 99, 100))


def test_percentile_of_one_value_is_that_value():
    assert [reports.percentile([7], p) for p in (0, 50, 95, 99, 100)] == [7.0] * 5


def test_percentile_of_two_values_interpolates():
    assert reports.percentile([20, 10], 50) == 15.0
    assert reports.percentile([20, 10], 95) == pytest.approx(19.5)
    assert reports.percentile([20, 10], 99) == pytest.approx(19.9)
    assert reports.percentile([20, 10], 0) == 10.0
    assert reports.percentile([20, 10], 100) == 20.0


def test_percentile_odd_and_even_counts():
    # odd: sorted 1 3 5; ranks 1, 1.9, 1.98
    assert reports.percentile([5, 1, 3], 50) == 3.0
    assert reports.percentile([5, 1, 3], 95) == pytest.approx(4.8)
    assert reports.percentile([5, 1, 3], 99) == pytest.approx(4.96)
    # even: sorted 1 2 3 4; ranks 1.5, 2.85, 2.97
    assert reports.percentile([4, 1, 3, 2], 50) == 2.5
    assert reports.percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    assert reports.percentile([4, 1, 3, 2], 99) == pytest.approx(3.97)


def test_percentile_ignores_nulls_in_any_container():
    expected = reports.percentile([4, 1, 3, 2], 95)
    assert reports.percentile([None, 4, NAN, 1, 3, pd.NA, 2], 95) == expected
    assert reports.percentile(pd.Series([4, None, 1, 3, 2], dtype="float64"), 95) == expected
    assert reports.percentile(np.array([4.0, np.nan, 1, 3, 2]), 95) == expected
    assert reports.percentile((v for v in [4, 1, 3, 2]), 95) == expected


def test_percentile_is_the_gems_formula_to_the_bit_and_numpys_linear_method():
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 101, 1000):
        values = [rng.lognormvariate(3, 1) for _ in range(n)]
        for p in (0, 1, 50, 90, 95, 99, 99.9, 100):
            assert reports.percentile(values, p) == gem_percentile(values, p)
            assert reports.percentile(values, p) == pytest.approx(
                np.percentile(values, p, method="linear"), rel=1e-12
            )


def test_percentile_outside_0_to_100_is_an_error():
    with pytest.raises(ValueError, match="between 0 and 100"):
        reports.percentile([1, 2], 101)


def test_percentile_cards():
    df = frame("requests", [{"at": "11:00", "duration": d} for d in (4, None, 1, 3, 2)])
    assert reports.percentiles(df) == {
        "p50": 2.5,
        "p95": gem_percentile([1, 2, 3, 4], 95),
        "p99": gem_percentile([1, 2, 3, 4], 99),
    }
    assert reports.percentiles(frame("requests", [])) == {"p50": None, "p95": None, "p99": None}


# --------------------------------------------------------------------------- requests table


def _row(controller, action, fmt, duration, view, db, clock="11:00"):
    return {
        "at": clock,
        "controller": controller,
        "action": action,
        "format": fmt,
        "duration": duration,
        "view_runtime": view,
        "db_runtime": db,
    }


REQUEST_ROWS = [
    _row("HomeController", "index", "html", 10, 5, 1),
    _row("UsersController", "show", "json", 100, None, 0),
    _row("HomeController", "index", "html", 20, None, 2),
    _row("HomeController", "index", "json", 1, 0.5, None),
    _row("HomeController", "index", "html", 30, 7, 3),
    _row("UsersController", "show", "json", None, None, 4),
    _row("HomeController", "index", "json", 3, 1.5, None),
    _row("HomeController", "index", "html", 40, 9, None),
]


def test_requests_table_groups_orders_and_computes_every_column():
    table = reports.requests(frame("requests", REQUEST_ROWS))
    assert list(table.columns) == [
        "group", "controller", "action", "format", "count",
        "duration_average", "duration_max", "view_runtime_average", "view_runtime_max",
        "db_runtime_average", "db_runtime_max", "duration_p50", "duration_p95", "duration_p99",
    ]  # fmt: skip
    # Counts 4, 2, 2: the tie is ordered by group name although Users came first.
    assert table["group"].tolist() == [
        "HomeController#index|html",
        "HomeController#index|json",
        "UsersController#show|json",
    ]
    assert table["controller"].tolist() == ["HomeController", "HomeController", "UsersController"]
    assert table["action"].tolist() == ["index", "index", "show"]
    assert table["format"].tolist() == ["html", "json", "json"]
    assert table["count"].tolist() == [4, 2, 2]
    assert table["count"].dtype == "int64"
    expected = pd.DataFrame(
        {
            # html: durations 10 20 30 40; views 5 7 9; dbs 1 2 3.
            # json: durations 1 3; views 0.5 1.5; no db. Users: duration 100; no view; dbs 0 4.
            "duration_average": [25.0, 2.0, 100.0],
            "duration_max": [40.0, 3.0, 100.0],
            "view_runtime_average": [7.0, 1.0, NAN],
            "view_runtime_max": [9.0, 1.5, NAN],
            "db_runtime_average": [2.0, NAN, 2.0],
            "db_runtime_max": [3.0, NAN, 4.0],
            "duration_p50": [25.0, 2.0, 100.0],  # ranks 1.5 and 0.5
            "duration_p95": [30 + 10 * 0.85, 1 + 2 * 0.95, 100.0],  # rank 2.85, 0.95
            "duration_p99": [30 + 10 * 0.97, 1 + 2 * 0.99, 100.0],  # rank 2.97, 0.99
        }
    )
    pd.testing.assert_frame_equal(table[expected.columns], expected, rtol=1e-12)


def test_requests_percentiles_match_the_single_list_formula_per_group():
    rng = random.Random(3)
    rows = [
        _row(f"C{rng.randrange(5)}", "a", "html", rng.expovariate(0.01), None, None)
        for _ in range(500)
    ]
    table = reports.requests(frame("requests", rows))
    for row in table.itertuples():
        durations = [r["duration"] for r in rows if r["controller"] == row.controller]
        assert row.count == len(durations)
        for p in (50, 95, 99):
            assert getattr(row, f"duration_p{p}") == gem_percentile(durations, p)


def test_requests_table_of_nothing_is_empty_with_its_columns():
    table = reports.requests(frame("requests", []))
    assert table.empty
    assert "duration_p99" in table.columns and "group" in table.columns


# --------------------------------------------------------------------------- per-minute charts

CHART_ROWS = [
    {"at": "11:50:59", "duration": 1000},  # minute 11:50: before the window
    {"at": "11:51:00", "duration": 10},  # the first minute of the window
    {"at": "11:51:40", "duration": 20},
    {"at": "11:55:10", "duration": 30},
    {"at": "11:58:00", "duration": None},  # a minute with only null durations
    {"at": "12:00:05", "duration": None},
    {"at": "12:00:20", "duration": 10},
    {"at": "12:02:00", "duration": 1000},  # after the window
]


def test_minute_window_is_the_gems():
    # stop = floor(now + 1 min); first = floor(now + 1 min - duration); both included.
    window = reports.minute_window(NOW, pd.Timedelta(minutes=10))
    pd.testing.assert_index_equal(window, minutes("11:51", "12:01"), check_exact=True)
    default = reports.minute_window(NOW)
    assert len(default) == 241
    assert (default[0], default[-1]) == (at("08:01"), at("12:01"))
    exactly = reports.minute_window(at("12:00:00"))
    assert (exactly[0], exactly[-1]) == (at("08:01"), at("12:01"))
    assert reports.minute_window(at("12:00:59"))[-1] == at("12:01")


def test_throughput_counts_per_minute_with_empty_minutes_zero():
    df = frame("requests", CHART_ROWS)
    result = reports.throughput(df, now=NOW, duration=pd.Timedelta(minutes=10))
    expected_counts = [2, 0, 0, 0, 1, 0, 0, 1, 0, 2, 0]  # 11:51 .. 12:01
    expected = pd.DataFrame({"count": expected_counts}, index=minutes("11:51", "12:01"))
    pd.testing.assert_frame_equal(result, expected, check_freq=False, check_index_type=False)
    assert result["count"].dtype == "int64"
    assert str(result.index.tz) == "UTC"


def test_response_time_is_the_mean_and_p95_per_minute_with_empty_minutes_zero():
    df = frame("requests", CHART_ROWS)
    result = reports.response_time(df, now=NOW, duration=pd.Timedelta(minutes=10))
    means = [15.0, 0, 0, 0, 30.0, 0, 0, 0.0, 0, 10.0, 0]  # 11:58 has only nulls: 0
    p95s = [19.5, 0, 0, 0, 30.0, 0, 0, 0.0, 0, 10.0, 0]  # 10 and 20: 10 + 0.95 * 10
    expected = pd.DataFrame(
        {"duration_average": [float(m) for m in means], "duration_p95": p95s},
        index=minutes("11:51", "12:01"),
    )
    pd.testing.assert_frame_equal(result, expected, check_freq=False, check_index_type=False)


def test_now_may_be_naive_or_text_and_defaults_to_the_current_time():
    df = frame("requests", CHART_ROWS)
    aware = reports.throughput(df, now=NOW)
    naive = reports.throughput(df, now=NOW.tz_localize(None))
    text = reports.throughput(df, now="2026-02-04T13:00:30+01:00")
    pd.testing.assert_frame_equal(aware, naive)
    pd.testing.assert_frame_equal(aware, text)
    assert aware["count"].sum() == 7  # the default 4 hours (08:01 .. 12:01) holds all but 12:02
    current = reports.throughput(df)
    assert len(current) == 241
    assert current.index[-1] == (pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1)).floor(
        "min"
    ) or current.index[-1] == pd.Timestamp.now(tz="UTC").floor("min")


def test_per_minute_charts_of_nothing_are_all_zero():
    df = frame("requests", [])
    assert reports.throughput(df, now=NOW)["count"].tolist() == [0] * 241
    assert reports.response_time(df, now=NOW)["duration_average"].tolist() == [0.0] * 241


# --------------------------------------------------------------------------- record lists


def test_crashes_are_the_500s_newest_first():
    df = frame(
        "requests",
        [
            {"at": "10:00", "status": 500, "request_id": "old"},
            {"at": "11:00", "status": 200, "request_id": "ok"},
            {"at": "11:30", "status": 503, "request_id": "unavailable"},
            {"at": "11:10", "status": 500, "request_id": "first-at-1110"},
            {"at": "11:10", "status": 500, "request_id": "second-at-1110"},
            {"at": "11:20", "status": 500, "request_id": "newest"},
        ],
    )
    result = reports.crashes(df)
    assert result["request_id"].tolist() == ["newest", "first-at-1110", "second-at-1110", "old"]
    assert list(result.columns) == list(df.columns)
    assert reports.crashes(frame("requests", [])).empty


def test_recent_keeps_the_last_60_minutes_newest_first_and_not_exactly_60_minutes_ago():
    df = frame(
        "requests",
        [
            {"at": "10:00:00", "request_id": "two-hours"},
            {"at": "11:00:30", "request_id": "exactly-60-min"},
            {"at": "11:00:31", "request_id": "just-inside"},
            {"at": "12:00:00", "request_id": "newest"},
            {"at": "11:30:00", "request_id": "middle"},
        ],
    )
    expected = ["newest", "middle", "just-inside"]
    assert reports.recent(df, now=NOW)["request_id"].tolist() == expected
    # Fractions of a second in now are dropped, as the gem's ``60.minutes.ago.to_i``.
    later = NOW + pd.Timedelta(milliseconds=900)
    assert reports.recent(df, now=later)["request_id"].tolist() == expected
    assert reports.recent(df, now=NOW, limit=1)["request_id"].tolist() == ["newest"]
    assert reports.recent(df, now=NOW, minutes=121)["request_id"].tolist()[-1] == "two-hours"
    assert reports.recent(frame("requests", []), now=NOW).empty


def test_slow_is_strictly_above_the_threshold_within_4_hours_newest_first():
    df = frame(
        "requests",
        [
            {"at": "11:00:00", "duration": 500.0, "request_id": "exactly-500"},
            {"at": "11:00:00", "duration": 500.01, "request_id": "slow-1100"},
            {"at": "08:00:30", "duration": 900.0, "request_id": "exactly-4h-ago"},
            {"at": "08:00:31", "duration": 900.0, "request_id": "slow-0800"},
            {"at": "11:30:00", "duration": None, "request_id": "no-duration"},
            {"at": "12:00:00", "duration": 600.0, "request_id": "slow-1200"},
            {"at": "11:45:00", "duration": 20.0, "request_id": "fast"},
        ],
    )
    result = reports.slow(df, now=NOW)
    assert result["request_id"].tolist() == ["slow-1200", "slow-1100", "slow-0800"]
    # The tie at 11:00:00 keeps the input order.
    assert reports.slow(df, now=NOW, threshold_ms=10)["request_id"].tolist() == [
        "slow-1200", "fast", "exactly-500", "slow-1100", "slow-0800",
    ]  # fmt: skip
    assert reports.slow(df, now=NOW, hours=2)["request_id"].tolist() == ["slow-1200", "slow-1100"]
    assert reports.slow(frame("requests", []), now=NOW).empty


# --------------------------------------------------------------------------- jobs


@pytest.mark.parametrize(
    ("kind", "function", "field"),
    [
        ("sidekiq", reports.sidekiq, "duration"),
        ("delayed_job", reports.delayed_job, "duration"),
        ("rake", reports.rake, "duration"),
        ("custom", reports.custom, "duration"),
        ("grape", reports.grape, "endpoint_run.grape"),
    ],
)
def test_jobs_pages(kind, function, field):
    rows = [
        {"at": "11:52:10", field: 100.0},
        {"at": "11:52:50", field: 300.0},
        {"at": "11:55:00", field: None},
        {"at": "11:59:59", field: 50.0},
        {"at": "09:00:00", field: 7.0},
    ]
    if kind == "grape":
        for row in rows:
            row["endpoint_render.grape"] = 1.0
            row["format_response.grape"] = 2.0
    df = frame(kind, rows)
    report = function(df, now=NOW, duration=pd.Timedelta(minutes=10))
    index = minutes("11:51", "12:01")
    counts = [0, 2, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    means = [0.0, 200.0, 0, 0, 0.0, 0, 0, 0, 50.0, 0, 0]
    pd.testing.assert_frame_equal(
        report.throughput, pd.DataFrame({"count": counts}, index=index), check_freq=False
    )
    pd.testing.assert_frame_equal(
        report.response_time,
        pd.DataFrame({"duration_average": [float(m) for m in means]}, index=index),
        check_freq=False,
    )
    table = report.table
    assert table["datetimei"].tolist() == sorted(df["datetimei"], reverse=True)
    assert table[field].tolist() == pytest.approx([50.0, NAN, 300.0, 100.0, 7.0], nan_ok=True)
    assert list(table.columns) == list(df.columns)
    assert set(report.frames()) == {"throughput", "response_time", "table"}
    empty = function(frame(kind, []), now=NOW)
    assert empty.table.empty and empty.throughput["count"].sum() == 0


def test_grape_can_chart_another_field():
    df = frame(
        "grape",
        [{"at": "11:59:00", "endpoint_run.grape": 10.0, "format_response.grape": 3.0}],
    )
    report = reports.grape(df, now=NOW, duration=pd.Timedelta(minutes=2),
                           duration_field="format_response.grape")  # fmt: skip
    # 2 minutes before 12:01:30: the minutes 11:59, 12:00 and 12:01.
    assert report.response_time["duration_average"].tolist() == [3.0, 0.0, 0.0]


def test_sidekiq_table_keeps_its_columns_and_types():
    df = frame(
        "sidekiq",
        [
            {"at": "11:00", "status": "exception", "message": "boom", "duration": 5.0},
            {"at": "11:01", "status": "success", "duration": 3.0},
        ],
    )
    table = reports.sidekiq(df, now=NOW).table
    assert table["status"].tolist() == ["success", "exception"]
    assert isinstance(table["status"].dtype, pd.CategoricalDtype)
    assert table["message"].isna().tolist() == [True, False]


# --------------------------------------------------------------------------- resources


def test_resources_one_row_per_target_and_minute_with_gaps_as_nan():
    df = frame(
        "resources",
        [
            {"at": "11:57", "cpu_one_min": 0.5, "memory": 100.0, "disk_available": 9.0},
            {"at": "11:58", "cpu_one_min": 1.5, "memory": 110.0, "disk_available": 8.0},
            {"at": "11:50", "cpu_one_min": 9.9, "memory": 9.0, "disk_available": 9.0},  # outside
            {
                "at": "11:59", "server": "srv2", "context": "sidekiq", "role": "worker",
                "cpu_one_min": 3.0, "memory": 300.0, "disk_available": 30.0,
            },
        ],
    )  # fmt: skip
    result = reports.resources(df, now=NOW, duration=pd.Timedelta(minutes=5))
    assert list(result.columns) == [
        "server", "context", "role", "minute", "cpu_one_min", "memory", "disk_available",
    ]  # fmt: skip
    window = list(minutes("11:56", "12:01"))
    assert len(result) == 12
    assert result["server"].tolist() == ["srv1"] * 6 + ["srv2"] * 6
    assert result["context"].tolist() == ["web"] * 6 + ["sidekiq"] * 6
    assert result["role"].tolist() == ["app"] * 6 + ["worker"] * 6
    assert result["minute"].tolist() == window * 2
    cpu = result["cpu_one_min"].tolist()
    assert cpu[:6] == pytest.approx([NAN, 0.5, 1.5, NAN, NAN, NAN], nan_ok=True)
    assert cpu[6:] == pytest.approx([NAN, NAN, NAN, 3.0, NAN, NAN], nan_ok=True)
    assert result["memory"].tolist()[1:3] == [100.0, 110.0]
    assert result["disk_available"].tolist()[9] == 30.0
    default = reports.resources(df, now=NOW)
    assert len(default) == 2 * 1441
    chosen = reports.resources(df, now=NOW, fields=["disk_used"])
    assert list(chosen.columns)[-1] == "disk_used"


def test_resources_of_nothing_are_empty():
    result = reports.resources(frame("resources", []), now=NOW)
    assert result.empty and "cpu_one_min" in result.columns


# --------------------------------------------------------------------------- annotations

EVENTS = [
    ("11:30", "Deploy v2", {"sha": "abc"}),
    ("09:00", "Deploy v1", None),
    ("11:45", "cron restart", {"by": "ops", "n": 2}),
]


def test_annotations_within_the_window_oldest_first():
    result = reports.annotations(events(EVENTS), start=at("09:00"), end=at("11:30"))
    assert list(result.columns) == ["datetime", "name", "options", "label"]
    assert result["name"].tolist() == ["Deploy v1", "Deploy v2"]
    assert result["label"].tolist() == ["Deploy v1", "Deploy v2"]  # no label text: the name
    assert result["datetime"].tolist() == [at("09:00"), at("11:30")]
    assert result["options"].tolist() == [None, {"sha": "abc"}]
    everything = reports.annotations(events(EVENTS))
    assert everything["name"].tolist() == ["Deploy v1", "Deploy v2", "cron restart"]
    assert reports.annotations(events(EVENTS), start="2026-02-04 11:31").shape[0] == 1
    assert reports.annotations(events([])).empty


# --------------------------------------------------------------------------- beyond the gem


def test_error_rate_per_endpoint():
    rows = [{"at": "11:00", "action": "index", "status": s} for s in (200, 404, 500, 502)]
    rows += [{"at": "11:00", "action": "about", "status": 200}] * 2
    result = reports.error_rate(frame("requests", rows))
    assert result["group"].tolist() == ["HomeController#index|html", "HomeController#about|html"]
    assert result["count"].tolist() == [4, 2]
    assert result["count_4xx"].tolist() == [1, 0]
    assert result["count_5xx"].tolist() == [2, 0]
    assert result["rate_4xx"].tolist() == [0.25, 0.0]
    assert result["rate_5xx"].tolist() == [0.5, 0.0]
    assert reports.error_rate(frame("requests", [])).empty


def test_apdex_per_endpoint_and_overall():
    slow_page = [
        (50, 200),  # satisfied
        (100, 200),  # satisfied: exactly T
        (101, 200),  # tolerating
        (400, 200),  # tolerating: exactly 4T
        (401, 200),  # frustrated
        (20, 500),  # frustrated: a 5xx, however fast
        (None, 200),  # left out: no duration
    ]
    rows = [{"at": "11:00", "action": "slow", "duration": d, "status": s} for d, s in slow_page]
    rows += [{"at": "11:00", "action": "fast", "duration": 10}] * 2
    result = reports.apdex(frame("requests", rows), threshold_ms=100)
    assert result["group"].tolist() == [
        "HomeController#slow|html",
        "HomeController#fast|html",
        reports.ALL_ENDPOINTS,
    ]
    assert result["count"].tolist() == [6, 2, 8]
    assert result["satisfied"].tolist() == [2, 2, 4]
    assert result["tolerating"].tolist() == [2, 0, 2]
    assert result["frustrated"].tolist() == [2, 0, 2]
    assert result["apdex"].tolist() == [(2 + 2 / 2) / 6, 1.0, (4 + 2 / 2) / 8]
    assert result["controller"].isna().tolist() == [False, False, True]
    # The gem's default threshold (500 ms): everything on the slow page but 5xx is satisfied.
    assert reports.apdex(frame("requests", rows))["apdex"].tolist()[0] == 5 / 6


def test_apdex_of_nothing_is_one_empty_overall_row():
    result = reports.apdex(frame("requests", []))
    assert result["group"].tolist() == [reports.ALL_ENDPOINTS]
    assert result["count"].tolist() == [0]
    assert math.isnan(result["apdex"].iloc[0])


def test_time_split_per_endpoint():
    rows = [
        {"at": "11:00", "duration": 100, "db_runtime": 30, "view_runtime": 50},
        {"at": "11:00", "duration": 60, "db_runtime": 10, "view_runtime": None},
        {"at": "11:00", "duration": None, "db_runtime": 999, "view_runtime": 999},
        {"at": "11:00", "action": "api", "duration": 10, "db_runtime": None, "view_runtime": None},
    ]
    result = reports.time_split(frame("requests", rows))
    assert result["group"].tolist() == ["HomeController#index|html", "HomeController#api|html"]
    assert result["count"].tolist() == [2, 1]
    # index: other = 100-30-50 = 20 and 60-10-0 = 50.
    assert result["duration_average"].tolist() == [80.0, 10.0]
    assert result["db_average"].tolist() == [20.0, 0.0]
    assert result["view_average"].tolist() == [25.0, 0.0]
    assert result["other_average"].tolist() == [35.0, 10.0]
    assert result["db_share"].tolist() == [0.25, 0.0]
    assert result["view_share"].tolist() == [0.3125, 0.0]
    assert result["other_share"].tolist() == [0.4375, 1.0]
    assert reports.time_split(frame("requests", [])).empty


def test_deploy_impact_before_and_after_each_deploy():
    rows = [
        ("11:49:59", 1000.0),  # 601 s before the first deploy: outside
        ("11:50:00", 10.0),  # exactly 10 min before: inside "before"
        ("11:55:00", 20.0),
        ("11:59:59", 30.0),
        ("12:00:00", 40.0),  # at the deploy: "after"
        ("12:01:00", 50.0),
        ("12:09:59", None),
        ("12:10:00", 1000.0),  # exactly 10 min after: outside
    ]
    df = frame("requests", [{"at": clock, "duration": d} for clock, d in rows])
    marks = events(
        [
            ("12:05:00", "Deploy v3", None),
            ("12:00:00", "deploy v2", {"sha": "abc"}),
            ("12:02:00", "cron restart", None),
        ]
    )
    result = reports.deploy_impact(df, marks, window=pd.Timedelta(minutes=10), match="Deploy")
    assert result["name"].tolist() == ["deploy v2", "Deploy v3"]
    assert result["datetime"].tolist() == [at("12:00"), at("12:05")]
    assert result["before_count"].tolist() == [3, 4]  # v3: 11:55 .. 12:01
    assert result["after_count"].tolist() == [3, 2]  # v3: 12:09:59 (null) and 12:10
    v2 = result.iloc[0]
    assert (v2.before_p50, v2.after_p50, v2.p50_change) == (20.0, 45.0, 25.0)
    assert v2.before_p95 == gem_percentile([10, 20, 30], 95) == pytest.approx(29.0)
    assert v2.after_p95 == gem_percentile([40, 50], 95) == pytest.approx(49.5)
    assert v2.p95_change == pytest.approx(20.5)
    assert v2.before_p99 == pytest.approx(29.8) and v2.after_p99 == pytest.approx(49.9)
    v3 = result.iloc[1]
    assert (v3.before_p50, v3.after_p50, v3.p50_change) == (35.0, 1000.0, 965.0)
    every = reports.deploy_impact(df, marks, window=pd.Timedelta(minutes=10))
    assert every["name"].tolist() == ["deploy v2", "cron restart", "Deploy v3"]


def test_deploy_impact_with_nothing_to_compare():
    marks = events([("12:00:00", "Deploy", None)])
    result = reports.deploy_impact(frame("requests", []), marks)
    assert result["before_count"].tolist() == [0] and result["after_count"].tolist() == [0]
    assert math.isnan(result["before_p50"].iloc[0]) and math.isnan(result["p99_change"].iloc[0])
    none = reports.deploy_impact(frame("requests", REQUEST_ROWS), events([]))
    assert none.empty and "p95_change" in none.columns


# --------------------------------------------------------------------------- export


def decode(value):
    """A JSON text cell read back (missing cells come back as None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return json.loads(value)


def _requests_with_nested_values() -> pd.DataFrame:
    rows = [
        {
            "at": "11:00:01",
            "status": 500,
            "duration": 12.5,
            "exception": "RuntimeError",
            "backtrace": ["app/a.rb:1", "app/b.rb:2"],
            "custom_data": {"user": 1, "tags": ["x"]},
            "path": "/search?q=a|b*",
        },
        {"at": "11:00:02", "duration": None, "custom_data": None, "backtrace": None},
    ]
    return frame("requests", rows)


def test_export_round_trips_parquet(tmp_path):
    df = _requests_with_nested_values()
    [path] = reports.export(df, tmp_path / "requests.parquet")
    back = pd.read_parquet(path)
    assert list(back.columns) == list(df.columns)
    # Lists of strings stay lists (read back as arrays); other nested values are JSON text.
    assert [None if v is None else list(v) for v in back["backtrace"]] == df["backtrace"].tolist()
    assert [decode(v) for v in back["custom_data"]] == df["custom_data"].tolist()
    plain = df.drop(columns=["backtrace", "custom_data"])
    pd.testing.assert_frame_equal(back[plain.columns], plain, check_dtype=False)
    assert isinstance(back["controller"].dtype, pd.CategoricalDtype)
    assert str(back["datetime"].dt.tz) == "UTC"


def test_export_round_trips_csv(tmp_path):
    df = _requests_with_nested_values()
    [path] = reports.export(df, tmp_path / "requests.csv")
    back = pd.read_csv(path, parse_dates=["minute", "datetime"])
    assert list(back.columns) == list(df.columns)
    for column in ("backtrace", "custom_data"):
        assert [decode(v) for v in back[column]] == df[column].tolist()
    assert back["path"].tolist() == ["/search?q=a|b*", "/"]
    assert back["minute"].tolist() == df["minute"].tolist()
    assert back["datetime"].tolist() == df["datetime"].tolist()
    numbers = ["status", "datetimei", "duration", "view_runtime", "db_runtime"]
    pd.testing.assert_frame_equal(back[numbers], df[numbers], check_dtype=False)
    assert back["controller"].tolist() == df["controller"].tolist()


def test_export_per_minute_frames_write_the_minute(tmp_path):
    chart = reports.throughput(frame("requests", CHART_ROWS), now=NOW)
    [csv_path] = reports.export(chart, tmp_path / "throughput.csv")
    [parquet_path] = reports.export(chart, tmp_path / "throughput.parquet")
    from_csv = pd.read_csv(csv_path, parse_dates=["minute"])
    from_parquet = pd.read_parquet(parquet_path)
    for back in (from_csv, from_parquet):
        assert list(back.columns) == ["minute", "count"]
        assert back["minute"].tolist() == chart.index.tolist()
        assert back["count"].tolist() == chart["count"].tolist()


def test_export_reports_with_several_frames_and_scalar_dicts(tmp_path):
    jobs = reports.sidekiq(frame("sidekiq", [{"at": "11:59", "duration": 3.0}]), now=NOW)
    written = reports.export(jobs, tmp_path / "out" / "sidekiq.parquet")
    assert [p.name for p in written] == [
        "sidekiq.throughput.parquet",
        "sidekiq.response_time.parquet",
        "sidekiq.table.parquet",
    ]
    assert pd.read_parquet(written[2])["duration"].tolist() == [3.0]
    by_name = reports.export({"a": jobs.table, "b": jobs.throughput}, tmp_path / "x.csv")
    assert [p.name for p in by_name] == ["x.a.csv", "x.b.csv"]
    [cards] = reports.export({"p50": 1.5, "p95": None, "p99": 3.0}, tmp_path / "cards.csv")
    back = pd.read_csv(cards)
    assert back["p50"].tolist() == [1.5] and back["p95"].isna().all()
    events_path = reports.export(reports.annotations(events(EVENTS)), tmp_path / "ev.parquet")[0]
    assert [decode(v) for v in pd.read_parquet(events_path)["options"]] == [
        None, {"sha": "abc"}, {"by": "ops", "n": 2},
    ]  # fmt: skip


def test_export_empty_frames(tmp_path):
    empty = frame("requests", [])
    for suffix in (".csv", ".parquet"):
        [path] = reports.export(empty, tmp_path / f"empty{suffix}")
        assert path.exists()
    assert pd.read_parquet(tmp_path / "empty.parquet").empty


def test_export_rejects_unknown_suffixes_and_objects(tmp_path):
    with pytest.raises(ValueError, match=r"unknown suffix '\.xlsx'"):
        reports.export(frame("requests", []), tmp_path / "report.xlsx")
    with pytest.raises(ValueError, match="unknown suffix ''"):
        reports.export(frame("requests", []), tmp_path / "report")
    with pytest.raises(TypeError, match="export"):
        reports.export([1, 2, 3], tmp_path / "report.csv")


def test_reports_ignore_row_order_index_labels_and_nullable_floats():
    df = frame("requests", REQUEST_ROWS + CHART_ROWS)
    shuffled = df.sample(frac=1, random_state=1)
    shuffled.index = shuffled.index * 7 + 100  # a filtered frame's gappy labels
    for column in ("duration", "view_runtime", "db_runtime"):
        shuffled[column] = shuffled[column].astype("Float64")
    for report in (reports.requests, reports.error_rate, reports.apdex, reports.time_split):
        pd.testing.assert_frame_equal(report(shuffled), report(df), check_dtype=False)
    for chart in (reports.throughput, reports.response_time):
        pd.testing.assert_frame_equal(chart(shuffled, now=NOW), chart(df, now=NOW))
    assert reports.percentiles(shuffled) == reports.percentiles(df)
    marks = events(EVENTS)
    pd.testing.assert_frame_equal(
        reports.deploy_impact(shuffled, marks), reports.deploy_impact(df, marks)
    )


def test_jobs_summary_counts_and_percentiles_per_kind_skipping_empty_ones():
    sidekiq = frame("sidekiq", [{"at": "11:00:00", "duration": d} for d in (10.0, 20.0, 40.0)])
    grape = frame(
        "grape",
        [
            {"at": "11:00:00", "endpoint_run.grape": 5.0, "endpoint_render.grape": 99.0},
            {"at": "11:00:01", "endpoint_run.grape": 15.0, "endpoint_render.grape": 99.0},
        ],
    )
    summary = reports.jobs_summary({"sidekiq": sidekiq, "rake": frame("rake", []), "grape": grape})
    assert summary.index.tolist() == ["sidekiq", "grape"]  # rake recorded nothing
    assert summary.loc["sidekiq", "records"] == 3
    assert summary.loc["sidekiq", "p50"] == 20.0
    assert summary.loc["sidekiq", "p95"] == pytest.approx(gem_percentile([10, 20, 40], 95))
    assert summary.loc["grape", "p50"] == 10.0  # endpoint_run.grape, not render


def test_minutes_cut_by_the_loaded_window_are_left_out_of_charts() -> None:
    """A window loaded from 11:50:20 to 12:02:30 (``end`` = now) holds 40 s of its first minute
    and 30 s of its last: drawn, they look like a drop in traffic at both edges."""
    df = frame("requests", CHART_ROWS)
    df.attrs["rp"] = LoadInfo(kind="requests", start=at("11:50:20"), end=at("12:02:30"))
    series = reports.throughput(df)
    assert series.index[0] == at("11:51:00") and series.index[-1] == at("12:01:00")
    df.attrs["rp"] = LoadInfo(kind="requests", start=at("11:50:20"), end=at("11:51:10"))
    assert reports.throughput(df).index.tolist() == [at("11:50:00"), at("11:51:00")]


def test_a_loaded_frames_charts_cover_the_window_it_was_loaded_for() -> None:
    """Fails with the gem's window: a frame loaded for 11:50-12:02 was charted over the four
    hours before now, whatever the window."""
    df = frame("requests", CHART_ROWS)
    start, end = at("11:50:00"), at("12:03:00")
    df.attrs["rp"] = LoadInfo(kind="requests", start=start, end=end)
    series = reports.throughput(df)
    assert series.index[0] == start and series.index[-1] == at("12:02:00")
    assert len(series) == 13 and series["count"].sum() == len(CHART_ROWS)
    means = reports.response_time(df, gaps=True)["duration_average"]
    assert means.index.equals(series.index)
    assert math.isnan(means[at("11:52:00")])  # no request: a gap, not a 0 ms minute
    assert math.isnan(means[at("11:58:00")])  # only null durations: a gap too
    assert means[at("11:51:00")] == 15.0
    p95 = reports.response_time(df, gaps=True)["duration_p95"]
    assert p95[at("11:51:00")] == 19.5 and p95[at("12:00:00")] == 10.0
    assert math.isnan(p95[at("11:52:00")]) and math.isnan(p95[at("11:58:00")])
    assert reports.response_time(df)["duration_average"][at("11:52:00")] == 0.0  # the gem's
    gem = reports.throughput(df, now=NOW)  # given now: the gem's window, as before
    assert len(gem) == 241 and gem.index[-1] == at("12:01:00")
    jobs = reports.sidekiq(frame("sidekiq", [{"at": "11:55:00"}]), now=NOW)
    assert len(jobs.throughput) == 241

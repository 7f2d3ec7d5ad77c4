"""What changed at each deploy, per endpoint: constructed frames with known answers, and
hypothesis for the shapes (empty frames, NaN durations, single rows, events anywhere)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rp_toolkit import reports
from tests.reports.test_reports import at, epoch, events, frame, gem_percentile

COLUMNS = [
    "datetime", "name", "label", "group", "controller", "action", "format",
    "before_count", "after_count",
    "before_p50", "after_p50", "p50_change", "p50_change_pct",
    "before_p95", "after_p95", "p95_change", "p95_change_pct", "verdict",
]  # fmt: skip
DEPLOY = ("12:00:00", "deploy", {"label": {"text": "Deploy v2.15.0 (abc1234)"}})


def spread(low: float, high: float, n: int) -> list[float]:
    """``n`` durations evenly from ``low`` to ``high``."""
    return np.linspace(low, high, n).tolist()


def requests_around(
    deploy: str, endpoint: tuple[str, str], before: list, after: list, *, minutes: int = 30
) -> list[dict]:
    """Rows of ``endpoint`` (controller, action) spread over the ``minutes`` before ``deploy``
    with durations ``before`` and over the ``minutes`` after it with ``after``."""
    t = epoch(deploy)
    rows = []
    for durations, sign in ((before, -1), (after, 1)):
        for number, value in enumerate(durations):
            offset = 1 + number * (minutes * 60 - 2) // max(len(durations), 1)
            moment = pd.Timestamp(t + sign * offset, unit="s", tz="UTC")
            rows.append(
                {
                    "at": moment.strftime("%H:%M:%S"),
                    "controller": endpoint[0],
                    "action": endpoint[1],
                    "duration": value,
                }
            )
    return rows


USERS = ("UsersController", "show")
HOME = ("HomeController", "index")
ADMIN = ("AdminController", "index")
RARE = ("ExportsController", "create")


def known_frame() -> pd.DataFrame:
    rows = requests_around("12:00:00", USERS, spread(150, 250, 60), spread(400, 560, 60))
    rows += requests_around("12:00:00", HOME, spread(40, 60, 200), spread(40, 60, 200))
    rows += requests_around("12:00:00", ADMIN, spread(300, 500, 80), spread(100, 160, 80))
    rows += requests_around("12:00:00", RARE, [100.0] * 5, [900.0] * 5)  # too few
    return frame("requests", rows)


def test_a_regression_at_a_deploy_comes_first_with_its_numbers() -> None:
    result = reports.deploy_impact_by_endpoint(known_frame(), events([DEPLOY]))
    assert list(result.columns) == COLUMNS
    assert result["group"].tolist() == [
        "UsersController#show|html",  # slower: first
        "HomeController#index|html",  # unchanged
        "AdminController#index|html",  # faster: its p95 fell the most, last
    ]
    assert result["verdict"].tolist() == ["slower", "unchanged", "faster"]
    users = result.iloc[0]
    assert users["label"] == "Deploy v2.15.0 (abc1234)" and users["name"] == "deploy"
    assert users["datetime"] == at("12:00")
    assert (users["before_count"], users["after_count"]) == (60, 60)
    for p in (50, 95):
        before = gem_percentile(spread(150, 250, 60), p)
        after = gem_percentile(spread(400, 560, 60), p)
        assert users[f"before_p{p}"] == pytest.approx(before)
        assert users[f"after_p{p}"] == pytest.approx(after)
        assert users[f"p{p}_change"] == pytest.approx(after - before)
        assert users[f"p{p}_change_pct"] == pytest.approx((after - before) / before * 100)
    assert "ExportsController#create|html" not in result["group"].tolist()  # 5 requests


def test_min_requests_is_a_parameter() -> None:
    result = reports.deploy_impact_by_endpoint(known_frame(), events([DEPLOY]), min_requests=5)
    rare = result[result["group"] == "ExportsController#create|html"].iloc[0]
    assert rare["before_p95"] == 100.0 and rare["after_p95"] == 900.0
    # Five requests each side and no spread: the intervals are single values, far apart.
    assert rare["verdict"] == "slower"
    assert result["verdict"].tolist()[:2] == ["slower", "slower"]  # both slower ones first


def test_a_small_change_is_not_a_regression_even_when_it_is_certain() -> None:
    rows = requests_around("12:00:00", HOME, spread(100, 100, 500), spread(105, 105, 500))
    result = reports.deploy_impact_by_endpoint(frame("requests", rows), events([DEPLOY]))
    assert result["p95_change_pct"].iloc[0] == pytest.approx(5.0)
    assert result["verdict"].tolist() == ["unchanged"]  # under min_change (10 %)
    stricter = reports.deploy_impact_by_endpoint(
        frame("requests", rows), events([DEPLOY]), min_change=0.04
    )
    assert stricter["verdict"].tolist() == ["slower"]


def test_noise_is_not_a_regression() -> None:
    rng = np.random.default_rng(10)  # a draw whose p95 rose by chance
    before = (100 * np.exp(0.6 * rng.standard_normal(80))).tolist()
    after = (100 * np.exp(0.6 * rng.standard_normal(80))).tolist()
    rows = requests_around("12:00:00", HOME, before, after)
    result = reports.deploy_impact_by_endpoint(frame("requests", rows), events([DEPLOY]))
    assert result["p95_change_pct"].iloc[0] > 50  # the p95 of 80 draws moves a lot ...
    assert result["verdict"].tolist() == ["unchanged"]  # ... and that is noise


def test_each_deploy_is_compared_on_its_own_window_oldest_first() -> None:
    rows = requests_around("12:00:00", USERS, spread(150, 250, 60), spread(400, 560, 60))
    rows += requests_around("10:00:00", USERS, spread(150, 250, 60), spread(150, 250, 60))
    marks = events([DEPLOY, ("10:00:00", "deploy", {"label": {"text": "Deploy v2.14.0"}})])
    result = reports.deploy_impact_by_endpoint(frame("requests", rows), marks)
    assert result["label"].tolist() == ["Deploy v2.14.0", "Deploy v2.15.0 (abc1234)"]
    assert result["verdict"].tolist() == ["unchanged", "slower"]
    only = reports.deploy_impact_by_endpoint(frame("requests", rows), marks, match="v2.15")
    assert only.empty  # match is on the name ("deploy"), as deploy_impact
    assert len(reports.deploy_impact_by_endpoint(frame("requests", rows), marks, match="dep")) == 2


def test_null_durations_do_not_count() -> None:
    rows = requests_around("12:00:00", USERS, spread(150, 250, 40) + [None] * 30, [None] * 70)
    result = reports.deploy_impact_by_endpoint(frame("requests", rows), events([DEPLOY]))
    assert result.empty  # 40 with a duration before, none after


def test_nothing_to_compare_gives_an_empty_frame_with_the_columns() -> None:
    no_deploys = reports.deploy_impact_by_endpoint(known_frame(), events([]))
    no_requests = reports.deploy_impact_by_endpoint(frame("requests", []), events([DEPLOY]))
    for result in (no_deploys, no_requests):
        assert result.empty and list(result.columns) == COLUMNS


def test_event_labels_use_the_dashboards_text_else_the_name() -> None:
    marks = events(
        [
            DEPLOY,
            ("11:00:00", "deploy", {"label": "plain text label"}),
            ("10:00:00", "restart", {"label": {"text": "  "}}),
            ("09:00:00", "cron", None),
        ]
    )
    assert reports.event_labels(marks).tolist() == [
        "Deploy v2.15.0 (abc1234)",
        "plain text label",
        "restart",
        "cron",
    ]
    assert reports.deploy_impact(known_frame(), marks)["label"].tolist()[-1] == (
        "Deploy v2.15.0 (abc1234)"
    )


# --------------------------------------------------------------------------- properties

ENDPOINTS = [USERS, HOME, ADMIN]
durations = st.one_of(st.none(), st.floats(0, 5000, allow_nan=False))
rows_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.integers(-1800, 1799), durations), max_size=120
)
deploys_strategy = st.lists(st.integers(-1200, 1200), max_size=3, unique=True)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(rows=rows_strategy, offsets=deploys_strategy, min_requests=st.integers(1, 6))
def test_every_row_is_the_gems_percentiles_of_its_two_windows(rows, offsets, min_requests):
    base = epoch("12:00:00")
    records = [
        {
            "at": pd.Timestamp(base + second, unit="s", tz="UTC").strftime("%H:%M:%S"),
            "controller": ENDPOINTS[e][0],
            "action": ENDPOINTS[e][1],
            "duration": d,
        }
        for e, second, d in rows
    ]
    df = frame("requests", records)
    marks = events(
        [
            (pd.Timestamp(base + o, unit="s", tz="UTC").strftime("%H:%M:%S"), "deploy", None)
            for o in offsets
        ]
    )
    window = pd.Timedelta(minutes=10)
    result = reports.deploy_impact_by_endpoint(df, marks, window=window, min_requests=min_requests)
    assert list(result.columns) == COLUMNS
    expected_pairs = set()
    group = df["controller"].astype(str) + "#" + df["action"].astype(str) + "|html"
    for event_time in marks["datetimei"]:
        for name in sorted(set(group)):
            own = df[(group == name) & df["duration"].notna()]
            before = own[own["datetimei"].between(event_time - 600, event_time - 1)]["duration"]
            after = own[own["datetimei"].between(event_time, event_time + 599)]["duration"]
            if len(before) >= min_requests and len(after) >= min_requests:
                expected_pairs.add((event_time, name))
                row = result[
                    (result["datetime"] == pd.Timestamp(event_time, unit="s", tz="UTC"))
                    & (result["group"] == name)
                ].iloc[0]
                assert (row["before_count"], row["after_count"]) == (len(before), len(after))
                for p in (50, 95):
                    assert row[f"before_p{p}"] == gem_percentile(before.tolist(), p)
                    assert row[f"after_p{p}"] == gem_percentile(after.tolist(), p)
    found = {
        (int(when.timestamp()), name)
        for when, name in zip(result["datetime"], result["group"], strict=True)
    }
    assert found == expected_pairs
    # Events oldest first; within one, the slower first, then p95 change descending.
    assert result["datetime"].is_monotonic_increasing
    for _, rows_of_event in result.groupby("datetime", sort=False):
        slower = (rows_of_event["verdict"] == "slower").tolist()
        assert slower == sorted(slower, reverse=True)
        for flag in (True, False):
            part = rows_of_event[(rows_of_event["verdict"] == "slower") == flag]
            changes = part["p95_change_pct"].fillna(-math.inf).tolist()
            assert changes == sorted(changes, reverse=True)
    worse = result[result["verdict"] == "slower"]
    assert ((worse["p50_change_pct"] >= 10) | (worse["p95_change_pct"] >= 10)).all()

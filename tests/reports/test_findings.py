"""The report's sentences carry this run's numbers, and say so honestly when there are none."""

from __future__ import annotations

import re

import mistune
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from rp_toolkit import reports
from rp_toolkit.markup import code_span
from rp_toolkit.reports import findings
from tests.reports.test_deploys import (
    ADMIN,
    DEPLOY,
    HOME,
    USERS,
    known_frame,
    requests_around,
    spread,
)
from tests.reports.test_reports import at, events, frame
from tests.support import Page


def rows_of(action: str, durations: list, status: int = 200, controller="HomeController"):
    return [
        {
            "at": "11:00:00",
            "controller": controller,
            "action": action,
            "duration": d,
            "status": status,
        }
        for d in durations
    ]


def test_code_spans_keep_recorded_text_as_it_is() -> None:
    assert code_span("Users#show|html") == "`Users#show|html`"
    assert code_span("a `b` c") == "``a `b` c``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("a\r\rb\nc") == "`a  b c`"  # no line break ends the span


def test_overview_states_the_counts_and_percentiles() -> None:
    df = frame("requests", rows_of("index", [10, 20, 30, 40, 1000]))
    cards = reports.percentiles(df)
    text = findings.overview(df, cards, at("11:00"), at("11:05"))
    assert text.startswith("**5 requests** on 2026-02-04 from 11:00 to 11:05 UTC, 1 per minute")
    assert "within **30.0 ms**" in text  # p50
    assert f"95 % within **{cards['p95']:,.0f} ms**" in text
    assert "p99 is 1.2 × p95, so there is no long tail" in text
    empty = findings.overview(
        frame("requests", []), reports.percentiles(frame("requests", [])), at("11:00"), at("12:00")
    )
    assert empty == "No request was recorded on 2026-02-04 from 11:00 to 12:00 UTC."


def test_endpoints_name_the_busiest_and_the_slowest_with_enough_requests() -> None:
    rows = rows_of("index", [10] * 30) + rows_of("show", [500] * 25) + rows_of("rare", [9000])
    table = reports.requests(frame("requests", rows))
    text = findings.endpoints(table)
    assert (
        "3 endpoints. The busiest is `HomeController#index|html` (30 requests, 53.6 % of all)"
        in text
    )
    assert "`HomeController#show|html` (500 ms) and `HomeController#index|html` (10.0 ms)." in text
    assert "rare" not in text  # one request is not ranked
    assert (
        findings.endpoints(reports.requests(frame("requests", []))) == "No endpoint was requested."
    )


def test_slow_requests_and_crashes() -> None:
    rows = rows_of("index", [10] * 8) + rows_of("report", [700, 900]) + rows_of("index", [600])
    rows += [
        {
            "at": "11:00:05",
            "action": "pay",
            "status": 500,
            "duration": 50,
            "exception": "Stripe::Error",
        },
        {
            "at": "11:00:06",
            "action": "pay",
            "status": 500,
            "duration": 60,
            "exception": "Stripe::Error",
        },
        {
            "at": "11:00:07",
            "action": "cart",
            "status": 500,
            "duration": 70,
            "exception": "KeyError",
        },
    ]
    df = frame("requests", rows)
    slow = reports.slow(df, now="2026-02-04 12:00")
    text = findings.slow_requests(slow, len(df), 500)
    assert text.startswith(
        "3 requests (21.4 %) took longer than 500 ms; 66.7 % of them were `HomeController#report`."
    )
    assert "The slowest took 900 ms (`HomeController#report`, 2026-02-04 11:00:00 UTC)." in text
    assert (
        findings.slow_requests(slow.iloc[0:0], len(df), 500)
        == "No request took longer than 500 ms."
    )
    text = findings.crashes(reports.crashes(df), len(df))
    assert text == (
        "3 requests (21.4 %) ended in a 500; the most at `HomeController#pay` (2). "
        "The commonest exception: `Stripe::Error` (2)."
    )
    assert findings.crashes(reports.crashes(df).iloc[0:0], len(df)) == "No request ended in a 500."


def test_errors_and_apdex() -> None:
    rows = rows_of("a", [10, 10, 10], status=200) + rows_of("a", [10], status=502)
    rows += rows_of("b", [3000, 3000], status=200) + rows_of("b", [10], status=404)
    df = frame("requests", rows)
    text = findings.errors(reports.error_rate(df))
    assert text == (
        "14.3 % of requests got a 4xx and 14.3 % a 5xx. Highest 5xx share: "
        "`HomeController#a|html`, 25.0 % (1 of 4)."
    )
    text = findings.apdex(reports.apdex(df, threshold_ms=500), 500)
    # a: 3 satisfied, 1 frustrated (5xx) -> 0.75; b: 1 satisfied, 2 frustrated -> 0.333
    assert text.startswith("Overall Apdex **0.571** (poor) with T = 500 ms.")
    assert (
        "Below 0.85: `HomeController#b|html` 0.333 (unacceptable) and "
        "`HomeController#a|html` 0.750 (fair)."
    ) in text
    fine = frame("requests", rows_of("a", [10, 20]))
    assert findings.apdex(reports.apdex(fine), 500).endswith("Every endpoint scores at least 0.85.")
    assert findings.apdex(reports.apdex(frame("requests", [])), 500) == "No request to score."


def test_time_split_is_weighted_by_requests() -> None:
    rows = [
        {"at": "11:00", "action": "db", "duration": 100, "db_runtime": 80, "view_runtime": 10}
    ] * 30
    rows += [
        {"at": "11:00", "action": "view", "duration": 100, "db_runtime": 0, "view_runtime": 90}
    ] * 10
    text = findings.time_split(reports.time_split(frame("requests", rows)))
    assert text.startswith(
        "Over all requests, 60.0 % of the time went to the database, 30.0 % to views"
    )
    assert (
        "Most database-bound: `HomeController#db|html`, 80.0 % (80.0 of 100 ms on average)." in text
    )


def test_deploy_sentences_name_the_regression_with_its_numbers() -> None:
    df = known_frame()
    marks = events([DEPLOY])
    [(text, rows)] = findings.deploys(
        reports.deploy_impact(df, marks),
        reports.deploy_impact_by_endpoint(df, marks),
        window=reports.DEPLOY_WINDOW,
        min_requests=30,
    )
    users = rows.iloc[0]
    assert text.startswith(
        "At **`Deploy v2.15.0 (abc1234)`** (2026-02-04 12:00 UTC), 1 of 3 endpoints got slower: "
        f"`UsersController#show|html`: p95 {users['before_p95']:.0f} → {users['after_p95']:.0f} ms "
        f"(+{users['p95_change_pct']:.1f} %)"
    )
    assert "over 60 → 60 requests" in text
    assert "1 got faster: `AdminController#index|html`" in text
    assert "Over all requests, p95 went" in text
    assert rows["group"].tolist()[0] == "UsersController#show|html"


HOSTILE_LABEL = "<script>window.__pwned=1</script> [x](javascript:alert(1)) $\\alpha$ `a` |"


@pytest.mark.parametrize("label", [HOSTILE_LABEL, '"><img src=x onerror=alert(1)>', "**", ""])
def test_a_deploy_label_is_shown_as_text_whatever_it_holds(label: str) -> None:
    """Issue 19: a deploy's label went into the Markdown as it was, so HTML or a link in it
    became live in the HTML report."""
    df = known_frame()
    marks = events([("12:00:00", "deploy", {"label": {"text": label}})])
    impact = reports.deploy_impact(df, marks)
    [(text, _)] = findings.deploys(
        impact,
        reports.deploy_impact_by_endpoint(df, marks),
        window=reports.DEPLOY_WINDOW,
        min_requests=30,
    )
    page = Page(markdown2html_mistune(text))
    assert set(page.tags) == {"p", "strong", "code"} and page.attrs == []
    assert page.by_tag["strong"] == (label or "deploy")  # in bold code (no label: the name)


def test_what_was_loaded_names_a_snapshot_as_text() -> None:
    source = "snapshot <img src=x onerror=alert(1)>_x_.rdb (Redis $7$, RDB 10)"
    text = findings.loaded({"method": "RDB", "source": source, "records": 3})
    page = Page(markdown2html_mistune(text))
    assert page.tags == ["p", "code"] and page.attrs == []
    assert f"from the {source}, without touching any server." in page.text


def test_deploy_sentences_without_a_regression_or_without_data() -> None:
    rng = np.random.default_rng(10)  # as in test_deploys: a p95 that rose by chance
    noisy = [(100 * np.exp(0.6 * rng.standard_normal(80))).tolist() for _ in range(2)]
    small = requests_around("12:00:00", HOME, spread(40, 60, 100), spread(41, 61.5, 100))
    marks = events([DEPLOY])
    for rows, top, why in (
        (small, "HomeController#index|html", "under the 10 % that counts as slower"),
        (
            small + requests_around("12:00:00", USERS, *noisy),
            "UsersController#show|html",
            "within the noise of that many requests",
        ),
    ):
        df = frame("requests", rows)
        by_endpoint = reports.deploy_impact_by_endpoint(df, marks)
        [(text, _)] = findings.deploys(
            reports.deploy_impact(df, marks),
            by_endpoint,
            window=reports.DEPLOY_WINDOW,
            min_requests=30,
        )
        compared = by_endpoint["group"].nunique()
        assert (
            f"none of the {compared} endpoints with at least 30 requests on both sides got "
            "clearly slower" in text
        )
        assert f"The largest p95 rise, `{top}` p95" in text and why in text
    few = frame("requests", requests_around("12:00:00", ADMIN, [100.0] * 3, [900.0] * 3))
    [(text, rows)] = findings.deploys(
        reports.deploy_impact(few, marks),
        reports.deploy_impact_by_endpoint(few, marks),
        window=reports.DEPLOY_WINDOW,
        min_requests=30,
    )
    assert rows.empty
    assert "no endpoint had 30 requests with a duration in both 30 minutes windows" in text
    [(text, rows)] = findings.deploys(
        reports.deploy_impact(few, events([])),
        reports.deploy_impact_by_endpoint(few, events([])),
        window=reports.DEPLOY_WINDOW,
        min_requests=30,
    )
    assert text.startswith("No deploy or other event was recorded in this window") and rows.empty


def test_jobs_resources_and_trace() -> None:
    summary = pd.DataFrame(
        {"records": [3, 478], "p50": [1.0, 1.0], "p95": [950.0, 65563.0], "p99": [1.0, 1.0]},
        index=pd.Index(["sidekiq", "rake"], name="kind"),
    )
    assert findings.jobs(summary) == (
        "Records per kind: `rake` 478 (p95 1.09 min) and `sidekiq` 3 (p95 950 ms). "
        "The slowest by p95: `rake` (1.09 min)."
    )
    assert findings.jobs(summary.iloc[0:0]).startswith("No background job")
    samples = frame(
        "resources",
        [
            {
                "at": "11:00",
                "server": "web-1",
                "cpu_one_min": 0.5,
                "memory": 2**29,
                "disk_available": 50 * 2**30,
            },
            {
                "at": "11:01",
                "server": "web-1",
                "cpu_one_min": 1.5,
                "memory": 2**30,
                "disk_available": 40 * 2**30,
            },
        ],
    )
    text = findings.resources(reports.resources(samples, now="2026-02-04 11:30"))
    assert text == (
        "1 target (server / context / role) with samples on 2026-02-04 from 11:00 to 11:01 UTC: "
        "`web-1 / web / app`: CPU load up to 1.50, memory up to 1 GiB, free disk down to 40 GiB."
    )
    assert findings.resources(reports.resources(frame("resources", []))) == (
        "No resource samples in this window."
    )
    df = frame(
        "requests", [{"at": "11:00:00", "request_id": "r1", "duration": 200.0, "action": "show"}]
    )
    steps = pd.DataFrame(
        {
            "group": ["db", "view", "db"],
            "duration": [30.0, None, 70.0],
            "sql": ["SELECT 1", None, "SELECT * FROM users"],
            "message": [None, "Rendered x", None],
            "time": [1, 2, 3],
        }
    )
    assert findings.trace("r1", steps, df) == (
        "Request `r1` (`HomeController#show`, 200 ms, 2026-02-04 11:00:00 UTC) ran 2 SQL queries "
        "taking 100 ms in all (50.0 % of its duration) and rendered 1 views. The longest query, "
        "70.0 ms: `SELECT * FROM users`."
    )
    assert findings.trace(None, steps.iloc[0:0], df).startswith("No request of this window")


def test_loaded_summary_sentence() -> None:
    summary = {"records": 287270, "method": "SCAN", "scan_count": 1000, "scan_calls": 518,
               "scan_count_rule": "auto-tune", "outside_window": 730, "skipped": 0,
               "kept_with_problems": 0}  # fmt: skip
    assert findings.loaded(summary) == (
        "Read 287,270 request records. Keys listed with SCAN, COUNT 1000 (auto-tune), in 518 "
        "calls. 730 listed keys fell outside the window and are left out. Every record could "
        "be read."
    )


@pytest.mark.parametrize(
    ("summary", "sentence"),
    [
        ({"method": "SCAN", "scan_count": 500, "scan_count_rule": "fixed", "scan_calls": 1},
         "Keys listed with SCAN, COUNT 500 (fixed: `scan_count`, auto-tune off), in 1 call."),
        ({"method": "SCAN", "scan_count": 100, "scan_count_rule": "adaptive", "scan_calls": 7},
         "Keys listed with SCAN, COUNT adaptive (sized to `scan_budget_ms` per call, starting "
         "at 100), in 7 calls."),
        ({"method": "KEYS", "scan_count": None, "scan_count_rule": None, "scan_calls": 0},
         "Keys listed with KEYS (`use_scan` off: the gem's command, which blocks Redis while it "
         "walks the keyspace)."),
        ({"method": "RDB", "source": "snapshot dump.rdb (Redis 7.0)", "scan_calls": 0},
         "Keys read from the `snapshot dump.rdb (Redis 7.0)`, without touching any server."),
        ({"method": "archive", "source": "archive rp (3 runs, apps: shop)", "scan_calls": 0},
         "Records read from the `archive rp (3 runs, apps: shop)` with DuckDB, without touching "
         "any server."),
        ({"method": None}, ""),
    ],
)  # fmt: skip
def test_key_listing_says_which_method_and_count(summary, sentence) -> None:
    assert findings.key_listing(summary) == sentence


TAGS = re.compile(r"</?([a-zA-Z][\w-]*)")


@settings(max_examples=200, deadline=None)
@example(method="RDB", text="a\r\r<script>x</script>", count=1)  # \r\r once ended the span
@given(
    method=st.sampled_from(["SCAN", "KEYS", "RDB"]) | st.text(),
    text=st.text(),
    count=st.integers(1, 10_000) | st.text(),
)
def test_key_listing_shows_any_recorded_text_only_as_code(method, text, count) -> None:
    """Whatever the summary holds (a snapshot's name is the user's text), the rendered sentence
    has no markup of its own: every tag is a paragraph or a code span."""
    summary = {"method": method, "source": text, "scan_count_rule": text, "scan_count": count,
               "scan_calls": 3}  # fmt: skip
    sentence = findings.key_listing(summary)
    rendered = mistune.html(sentence)
    assert set(TAGS.findall(rendered)) <= {"p", "code"}, rendered
    assert rendered.count("<p>") <= 1


def test_loaded_says_what_the_filters_left_out_and_names_one_that_matched_nothing() -> None:
    """The defect: "285,615 listed keys fell outside the window" when a filter dropped them."""
    base = {"records": 0, "method": "SCAN", "scan_count": 1000, "scan_calls": 518,
            "skipped": 0, "kept_with_problems": 0}  # fmt: skip
    nothing = {**base, "outside_window": 730, "filters": {"controller": "No`Such*"},
               "filtered_out": {"controller": 285615}, "filter_matches": {"controller": 0},
               "filters_in_pattern": False}  # fmt: skip
    assert findings.loaded(nothing) == (
        "Read 0 request records. Keys listed with SCAN, COUNT 1000, in 518 calls. 730 listed "
        "keys fell outside the window and are left out. 285,615 listed keys in the window did "
        "not match the filter controller = ``No`Such*`` and are left out. No record in the window "
        "matched the filter controller = ``No`Such*`` (filters match exact values: check the "
        "spelling). Every record could be read."
    )
    two = {**nothing, "filters": {"controller": "A", "action": "b"},
           "filtered_out": {"controller": 10, "action": 5},
           "filter_matches": {"controller": 5, "action": 0}}  # fmt: skip
    assert (
        "15 listed keys in the window did not match the filters and are left out (the first "
        "each failed: 10 controller = `A` and 5 action = `b`). No record in the window matched "
        "the filter action = `b` (filters match exact values: check the spelling)."
    ) in findings.loaded(two)
    together = {**two, "filter_matches": {"controller": 5, "action": 3}}
    assert (
        "Each filter matched some records in the window, but none matched all of them at "
        "once (controller = `A` and action = `b`)." in findings.loaded(together)
    )
    in_pattern = {**base, "outside_window": 0, "filters": {"controller": "A", "action": "b"},
                  "filtered_out": {"controller": 0, "action": 0},
                  "filter_matches": {"controller": 0, "action": 0},
                  "filters_in_pattern": True}  # fmt: skip
    text = findings.loaded(in_pattern)
    assert (
        "No record in the window matched all the filters at once (controller = `A` and "
        "action = `b`)." in text
    )
    assert "did not match" not in text and "outside" not in text
    found = {**nothing, "records": 3, "filter_matches": {"controller": 3}}
    assert "No record" not in findings.loaded(found)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    durations=st.lists(st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)), max_size=30),
    statuses=st.lists(st.sampled_from([200, 302, 404, 500, 503]), min_size=30, max_size=30),
)
def test_every_sentence_copes_with_any_frame(durations, statuses) -> None:
    rows = [
        {"at": f"11:{i:02d}:00", "action": "ab"[i % 2], "duration": d, "status": statuses[i]}
        for i, d in enumerate(durations)
    ]
    df = frame("requests", rows)
    texts = [
        findings.overview(df, reports.percentiles(df), at("11:00"), at("11:30")),
        findings.endpoints(reports.requests(df)),
        findings.slow_requests(reports.slow(df, now="2026-02-04 12:00"), len(df), 500),
        findings.crashes(reports.crashes(df), len(df)),
        findings.errors(reports.error_rate(df)),
        findings.apdex(reports.apdex(df), 500),
        findings.time_split(reports.time_split(df)),
    ]
    for text in texts:
        assert text and "nan" not in text.lower() and "None" not in text
    assert texts[0].startswith(f"**{len(df)} requests**" if len(df) else "No request")


@pytest.mark.parametrize(
    ("score", "rating"),
    [(0.95, "excellent"), (0.9, "good"), (0.7, "fair"), (0.5, "poor"), (0.2, "unacceptable")],
)
def test_apdex_ratings(score, rating) -> None:
    table = pd.DataFrame({"group": [reports.ALL_ENDPOINTS], "apdex": [score]})
    assert f"({rating})" in findings.apdex(table, 500)


def test_loaded_names_the_server_by_what_it_is() -> None:
    summary = {"records": 3, "method": "SCAN", "scan_count": 1000, "scan_calls": 1,
               "scan_count_rule": "auto-tune", "server": "valkey 9.1.2"}  # fmt: skip
    assert "The records were served by `valkey 9.1.2`." in findings.loaded(summary)
    snapshot = {"records": 3, "method": "RDB", "source": "snapshot dump.rdb",
                "server": "redis 7.0.15"}  # fmt: skip
    assert "The records were written by `redis 7.0.15`." in findings.loaded(snapshot)
    assert "served by" not in findings.loaded({"records": 3, "method": "KEYS"})

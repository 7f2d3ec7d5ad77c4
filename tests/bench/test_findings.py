"""The benchmark report's sentences are computed from its results: hand-made results with known
answers pin each branch (SCAN near idle or not, adaptive present or not, a cluster's refusal),
and a real run's results give sentences that carry that run's figures."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from rp_toolkit.bench import COLUMNS, findings, to_frame, to_markdown
from rp_toolkit.bench._markdown import format_ms, format_ratio
from tests.support import Page

COUNTS = (10, 100, 1000)


def _results(
    *,
    sizes: tuple[int, ...] = (1000, 100_000),
    keys_probe: dict[int, float] | None = None,
    scan_probe: float = 2.0,
    idle: float = 1.5,
    overheads: tuple[float, ...] = (4.0, 1.3, 1.25),
    adaptive: bool = False,
    cluster: bool = False,
) -> pd.DataFrame:
    keys_probe = keys_probe or {size: size / 1000 for size in sizes}
    rows: list[dict[str, Any]] = []
    for size in sizes:
        common = {"size": size, "dbsize": size, "query": "day", "keys_found": size}
        common["probe_idle_max_ms"] = idle
        rows.append({**common, "method": "KEYS", "overhead": 1.0, "probe_max_ms": keys_probe[size]})
        for count, overhead in zip(COUNTS, overheads, strict=True):
            rows.append(
                {
                    **common,
                    "method": "SCAN",
                    "count": str(count),
                    "scan_count": count,
                    "overhead": overhead,
                    "scan_calls": size // count + 1,
                    "probe_max_ms": scan_probe,
                }
            )
        rows.append(
            {
                **common,
                "method": "SCAN",
                "count": "auto",
                "scan_count": 1000,
                "overhead": overheads[-1] * 1.02,
                "scan_calls": size // 1000 + 1,
                "probe_max_ms": scan_probe,
            }
        )
        if adaptive:
            rows.append(
                {
                    **common,
                    "method": "SCAN",
                    "count": "adaptive",
                    "scan_count": 1000,
                    "overhead": 1.4,
                    "probe_max_ms": 1.7,
                    "scan_budget_ms": 1.0,
                    "best_fixed_count": 1000,
                    "vs_best_fixed": 1.12,
                }
            )
        if cluster:
            rows.append(
                {**common, "method": "gem_keys_mget", "error": "CROSSSLOT: refused by Redis."}
            )
    for row in rows:  # integer columns cannot be missing; the rest default to NA
        row.update({k: row.get(k, 0) for k, dtype in COLUMNS.items() if dtype == "int64"})
    environment = {
        "server_software": "valkey 9.1.2",
        "redis_version": "7.2.4",  # what Valkey 9.1 says it is compatible with
        "cluster": cluster,
        "primaries": 3 if cluster else None,
    }
    return to_frame(rows, environment)


def test_scan_near_idle_is_said_only_when_the_figures_show_it():
    near = findings.blocking(_results(scan_probe=2.0, idle=1.5))
    assert "SCAN stayed within 1 ms of the idle probe" in near
    far = findings.blocking(_results(scan_probe=9.0, idle=1.5))
    assert "SCAN did not stay near the idle probe" in far
    assert format_ms(7.5) in far  # how far above idle
    assert "stayed within" not in far


def test_blocking_reports_keys_growth_or_its_absence():
    grew = findings.blocking(_results(keys_probe={1000: 1.0, 100_000: 90.0}))
    assert "KEYS's longest wait grew" in grew and format_ms(90.0) in grew
    flat = findings.blocking(_results(keys_probe={1000: 5.0, 100_000: 4.0}))
    assert "did not grow" in flat


def test_overhead_names_the_fastest_count_at_the_largest_size():
    text = findings.overhead_by_size(_results(overheads=(4.0, 1.1, 1.3)))
    assert "fastest fixed COUNT was 100" in text
    assert format_ratio(1.1) in text
    assert "At 1,000 records, COUNT 10 took 4×" in text


def test_overhead_by_count_finds_where_larger_counts_stop_helping():
    text = findings.overhead_by_count(_results(overheads=(4.0, 1.3, 1.25)))
    assert text.startswith("At 100,000 records, COUNT 100 came within 10%")
    text = findings.overhead_by_count(_results(overheads=(4.0, 2.0, 1.25)))
    assert "COUNT 1,000 came within 10%" in text and "no smaller COUNT" in text


def test_adaptive_is_shown_when_measured_and_said_missing_otherwise():
    assert "not measured in this run" in findings.adaptive(_results())
    text = findings.adaptive(_results(adaptive=True))
    assert "1.12× the time of the best fixed COUNT (1,000)" in text
    assert "budget 1 ms per call" in text


def test_a_cluster_run_says_so_and_names_what_it_refused():
    text = findings.target(_results(cluster=True))
    assert "Redis Cluster of 3 primaries (valkey 9.1.2)" in text
    assert "`gem_keys_mget` could not run here: CROSSSLOT" in text
    one = findings.target(_results())
    assert "one server (valkey 9.1.2)" in one and "7.2.4" not in one


def test_what_the_server_said_is_shown_as_text():
    """A server's version, its node's address and its errors reach the report's Markdown (the
    sentences and the tables) as text: no element, link or math of their own."""
    hostile = '<img src=x onerror="alert(1)"> [x](javascript:alert(1)) $a$ `b` |c| _d_'
    results = _results(cluster=True)
    results.attrs["environment"].update(server_software=hostile, probe_node=hostile)
    results["error"] = results["error"].where(results["error"].isna(), "ERR" + hostile)
    for text in (findings.target(results), to_markdown(results)):
        page = Page(markdown2html_mistune(text))
        assert set(page.tags) <= {"p", "code", "table", "thead", "tbody", "tr", "th", "td"}
        assert {name for name, _ in page.attrs} <= {"style"}  # a table column's alignment
        assert f"({hostile})" in page.text and "ERR<img" in page.text
    assert f"({hostile})" in Page(markdown2html_mistune(to_markdown(results))).text


def test_scan_calls_compare_with_database_over_count():
    text = findings.scan_calls(_results())
    assert "COUNT 10: 10,001 calls (database/COUNT = 10,000)" in text


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([100, 1000, 10_000, 100_000]), min_size=1, unique=True),
    overheads=st.tuples(*[st.floats(0.5, 20, allow_nan=False)] * 3),
    scan_probe=st.floats(0.01, 2000),
    idle=st.floats(0.01, 50),
)
def test_any_results_give_sentences_not_errors(sizes, overheads, scan_probe, idle):
    frame = _results(
        sizes=tuple(sorted(sizes)), overheads=overheads, scan_probe=scan_probe, idle=idle
    )
    for make in (
        findings.overhead_by_size,
        findings.overhead_by_count,
        findings.blocking,
        findings.scan_calls,
        findings.adaptive,
        findings.target,
        findings.auto_slower,
    ):
        text = make(frame)
        assert isinstance(text, str) and text and "nan" not in text.lower()


def test_empty_results_say_nothing_was_measured():
    empty = to_frame([], {})
    for make in (
        findings.overhead_by_size,
        findings.overhead_by_count,
        findings.blocking,
        findings.scan_calls,
    ):
        assert "not measured" in make(empty)


def test_a_real_runs_sentences_carry_its_figures(bench_results: pd.DataFrame):
    size = int(bench_results["size"].max())
    keys = bench_results[
        (bench_results["size"] == size)
        & (bench_results["query"] == "day")
        & (bench_results["method"] == "KEYS")
    ].iloc[0]
    text = findings.blocking(bench_results)
    assert format_ms(keys["probe_max_ms"]) in text
    assert ("stayed within" in text) != ("did not stay near" in text)
    assert "Adaptive COUNT" in findings.adaptive(bench_results)


def test_count_costs_name_each_count_with_its_slowest_call_and_wait():
    results = _results()
    large = (results["method"] == "SCAN") & (results["count"] == "1000")
    results.loc[large, "slowlog_max_us"] = 2500.0
    results["slowlog_threshold_us"] = 1000
    text = findings.count_costs(results, "day")
    assert text.startswith("At 100,000 records (day query), per COUNT:")
    assert "COUNT 10: no call over 1 ms" in text
    assert f"COUNT 1,000: slowest call {format_ms(2.5)}" in text
    assert f"(idle probe: {format_ms(1.5)})" in text
    assert "not measured" in findings.count_costs(results[results["method"] == "KEYS"], "day")


def test_the_gems_mget_is_its_commandstats_time_against_ours():
    rows = []
    common = {"size": 1000, "dbsize": 1000, "query": "day", "keys_found": 1000}
    rows.append({**common, "method": "gem_keys_mget", "redis_mget_usec": 40_000.0,
                 "redis_keys_usec": 30_000.0, "slowlog_threshold_us": 1000})  # fmt: skip
    rows.append({**common, "method": "scan_chunked_mget", "count": "auto",
                 "slowlog_max_us": 1500.0, "slowlog_max_command": "MGET",
                 "slowlog_threshold_us": 1000})  # fmt: skip
    for row in rows:
        row.update({k: row.get(k, 0) for k, dtype in COLUMNS.items() if dtype == "int64"})
    text = findings.gem_mget(to_frame(rows, {}), "day")
    assert "the gem's one MGET of 1,000 values ran 40 ms inside Redis, its KEYS 30 ms" in text
    assert f"was MGET, {format_ms(1.5)}" in text


def _timed(results: pd.DataFrame, low: float, high: float) -> pd.DataFrame:
    """``results`` with wall times (10 ms × overhead) and their repeats' min and max."""
    results = results.copy()
    results["wall_median_s"] = results["overhead"] * 0.01
    results["wall_min_s"] = results["wall_median_s"] * low
    results["wall_max_s"] = results["wall_median_s"] * high
    return results


def test_every_row_where_auto_tune_is_slower_than_a_fixed_count_gets_a_sentence():
    results = _results(overheads=(4.0, 1.0, 1.25))  # auto: 1.25 × 1.02 = 1.275
    lines = findings.auto_slower(results).splitlines()
    assert len(lines) == 2  # one per size: both have a faster fixed COUNT
    assert lines[0].startswith("- At 1,000 records (day query), auto-tune (COUNT 1,000) took")
    assert lines[1].startswith("- At 100,000 records (day query)")
    assert f"took {format_ratio(1.275)} KEYS's time" in lines[1]
    assert f"COUNT 100 ({format_ratio(1.0)}), COUNT 1,000 ({format_ratio(1.25)})" in lines[1]
    assert "COUNT 10 (" not in lines[1]  # slower than auto: not named
    assert f"{format_ratio(1.275)} the time of COUNT 100." in lines[1]  # no spread recorded


def test_auto_tunes_gap_is_told_apart_from_the_noise_of_the_repeats():
    beyond = findings.auto_slower(_timed(_results(overheads=(4.0, 1.0, 1.25)), 0.95, 1.05))
    assert beyond.count("beyond the spread of the repeats") == 2
    within = findings.auto_slower(_timed(_results(overheads=(4.0, 1.2, 1.25)), 0.8, 1.2))
    assert within.count("within the spread of the repeats") == 2 and "beyond" not in within


def test_auto_tune_as_fast_as_every_fixed_count_is_said_so_and_missing_auto_too():
    results = _results(overheads=(4.0, 2.0, 1.25))
    results.loc[results["count"] == "auto", "overhead"] = 1.2
    assert findings.auto_slower(results).startswith("Auto-tune was as fast as")
    assert "not measured" in findings.auto_slower(results[results["count"] != "auto"])
    assert "not measured" in findings.auto_slower(to_frame([], {}))


def test_a_query_named_in_auto_tunes_sentence_is_text():
    hostile = '<img src=x onerror="alert(1)"> [x](javascript:alert(1)) $a$ _d_'
    results = _results(overheads=(4.0, 1.0, 1.25))
    results["query"] = hostile
    page = Page(markdown2html_mistune(findings.auto_slower(results)))
    assert set(page.tags) <= {"ul", "li", "p", "code"}
    assert {name for name, _ in page.attrs} == set()
    assert f"({hostile} query)" in page.text

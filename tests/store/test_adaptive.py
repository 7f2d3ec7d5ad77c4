"""The adaptive SCAN COUNT (``scan_count="adaptive"``, ``scan_budget_ms``): settings and
environment parsing, the controller on its own, and SCAN loops against a real Redis.

No assertion depends on how long anything takes: growth is tested with a budget far above any
call's time, shrinking with a budget (1 µs) below any round trip's.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rp_toolkit as rp
import rp_toolkit.config as settings_module  # noqa: E402
from rp_toolkit import store
from rp_toolkit.store import AdaptiveCount, FetchStats, scan_batches
from tests.support import fill_keyspace

settings_from_environment = settings_module.settings_from_environment

ROOT = Path(__file__).resolve().parents[2]
TINY_BUDGET_MS = 0.001  # 1 µs: every SCAN round trip takes longer
HUGE_BUDGET_MS = 10_000.0  # 10 s: no SCAN call of these tests takes that long

LOOKUP = "performance|*|request_id|{rid}|*"
DAY = "performance|*datetime|20261127*|*|END|1.0.2"

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def request_key(i: int, request_id: str = "", day: str = "20261127") -> str:
    return (
        f"performance|controller|C{i % 7}|action|index|format|html|status|200|datetime|"
        f"{day}T{i % 2400:04d}|datetimei|1795000000|method|GET|path|/p{i}|"
        f"request_id|{request_id or f'r{i:06d}'}|END|1.0.2"
    )


class CountRecordingRedis(redis.Redis):
    """A real client that remembers the COUNT of every SCAN it sends."""

    def scan(self, cursor=0, match=None, count=None, _type=None, **kwargs):  # noqa: D102
        self.sent_counts.append(count)
        return super().scan(cursor, match=match, count=count, _type=_type, **kwargs)

    @classmethod
    def for_url(cls, url: str) -> CountRecordingRedis:
        client = cls.from_url(url)
        client.sent_counts = []
        return client


def adaptive(budget_ms: float = 1.0) -> Any:
    return rp.setup(use_scan=True, scan_count="adaptive", scan_budget_ms=budget_ms)


# ------------------------------------------------------------------------------ settings


@pytest.mark.parametrize("value", ["adaptive", "ADAPTIVE", " Adaptive "])
def test_scan_count_accepts_adaptive(value):
    rp.setup(scan_count=value)
    assert rp.settings.scan_count == "adaptive"
    rp.setup(scan_count=250)  # and back to a number
    assert rp.settings.scan_count == 250


@pytest.mark.parametrize("bad", ["adaptiv", "auto", "", "10", 1.5, None])
def test_bad_scan_count_strings_are_refused_with_the_choices(bad):
    before = rp.settings.as_dict()
    with pytest.raises(rp.SettingsError, match="scan_count must be an integer or 'adaptive'"):
        rp.setup(scan_count=bad)
    assert rp.settings.as_dict() == before


def test_validate_scan_count_refuses_adaptive_as_a_count_hint():
    with pytest.raises(rp.SettingsError, match="not a COUNT hint"):
        rp.validate_scan_count("adaptive")
    assert rp.validate_scan_count("Adaptive", allow_adaptive=True) == "adaptive"
    assert rp.validate_scan_count(50, allow_adaptive=True) == 50


@pytest.mark.parametrize("value, expected", [(2, 2.0), (0.25, 0.25), (1e-3, 0.001), (100, 100.0)])
def test_scan_budget_ms_accepts_positive_numbers(value, expected):
    assert rp.settings.scan_budget_ms == 1.0
    rp.setup(scan_budget_ms=value)
    assert rp.settings.scan_budget_ms == expected
    assert type(rp.settings.scan_budget_ms) is float


@pytest.mark.parametrize("bad", [0, -1, -0.5, math.nan, math.inf, "1", True, None])
def test_bad_scan_budget_ms_is_refused(bad):
    before = rp.settings.as_dict()
    with pytest.raises(rp.SettingsError, match="scan_budget_ms must be a positive number"):
        rp.setup(scan_count="adaptive", scan_budget_ms=bad)
    assert rp.settings.as_dict() == before  # nothing applied, not even scan_count


@pytest.mark.parametrize("text", ["adaptive", "ADAPTIVE", " adaptive "])
def test_scan_count_adaptive_from_environment(text):
    assert settings_from_environment({"RP_SCAN_COUNT": text}).scan_count == "adaptive"


@pytest.mark.parametrize("text, expected", [("2.5", 2.5), (" 1 ", 1.0), ("0.2", 0.2)])
def test_scan_budget_from_environment(text, expected):
    result = settings_from_environment({"RP_SCAN_BUDGET_MS": text})
    assert result.scan_budget_ms == expected
    assert result.scan_count == 10  # the budget alone does not turn adaptive on


@pytest.mark.parametrize(
    "variable, text, message",
    [
        ("RP_SCAN_COUNT", "adaptiv", "neither a whole number nor 'adaptive'"),
        ("RP_SCAN_COUNT", "auto", "neither a whole number nor 'adaptive'"),
        ("RP_SCAN_BUDGET_MS", "fast", "not a number"),
        ("RP_SCAN_BUDGET_MS", "0", "positive number"),
        ("RP_SCAN_BUDGET_MS", "-1", "positive number"),
        ("RP_SCAN_BUDGET_MS", "nan", "positive number"),
        ("RP_SCAN_BUDGET_MS", "inf", "positive number"),
    ],
)
def test_malformed_adaptive_environment_names_the_variable(variable, text, message):
    with pytest.raises(rp.SettingsError, match=variable) as raised:
        settings_from_environment({variable: text})
    assert message in str(raised.value)


def test_adaptive_environment_is_read_at_import():
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RP_")}
    env.update(PYTHONPATH=str(ROOT), RP_SCAN_COUNT="adaptive", RP_SCAN_BUDGET_MS="3")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import rp_toolkit as rp; print(rp.settings.scan_count, rp.settings.scan_budget_ms)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["adaptive", "3.0"]


@pytest.mark.parametrize("auto_tune", [True, False])
@pytest.mark.parametrize(
    "pattern, start", [(LOOKUP.format(rid="abc"), 1000), (DAY, 1000), ("x|*", 100)]
)
def test_adaptive_starts_from_the_auto_tune_table(pattern, start, auto_tune):
    with rp.setup(scan_count="adaptive", scan_count_auto_tune=auto_tune):
        count = rp.determine_scan_count(pattern)
    assert count == start and type(count) is int
    with rp.setup(scan_count=37, scan_count_auto_tune=auto_tune):  # the gem's rules unchanged
        assert rp.determine_scan_count(pattern) == (start if auto_tune else 37)


def test_request_notebook_parameters_accept_adaptive():
    params = rp.notebooks.validate_request_parameters(
        redis_url=None, hours=1.0, scan_count="adaptive"
    )
    assert params.start < params.end


# ---------------------------------------------------------------------------- controller


def test_controller_grows_at_most_fourfold_and_stops_at_the_ceiling():
    control = AdaptiveCount(10, budget_ms=1.0)
    seen = [control.count]
    for _ in range(10):
        seen.append(control.observe(1e-6))  # far under the budget
    assert seen[:7] == [10, 40, 160, 640, 2560, 10_000, 10_000]
    assert max(seen) == store.ADAPTIVE_MAX_COUNT == 10_000


def test_controller_halves_at_most_and_stops_at_the_floor():
    control = AdaptiveCount(1000, budget_ms=1.0)
    seen = [control.count] + [control.observe(1.0) for _ in range(10)]  # 1 s: far over
    assert seen[:8] == [1000, 500, 250, 125, 62, 31, 16, 10]
    assert min(seen) == store.ADAPTIVE_MIN_COUNT == 10 and seen[-1] == 10


def test_controller_is_proportional_near_the_budget():
    control = AdaptiveCount(1000, budget_ms=2.0)
    assert control.observe(0.001) == 2000  # half the budget: doubles
    assert control.observe(0.0025) == 1600  # 25 % over: x 0.8
    assert control.observe(0.002) == 1600  # on budget: stays


def test_controller_settles_where_a_call_takes_the_budget():
    # A call costs 0.15 ms of round trip plus 1 µs per slot: 1 ms buys 850 slots.
    control = AdaptiveCount(10, budget_ms=1.0)
    for _ in range(40):
        control.observe(0.15e-3 + 1e-6 * control.count)
    assert 830 <= control.count <= 870


def test_controller_clamps_its_start():
    assert AdaptiveCount(1, 1.0).count == 10
    assert AdaptiveCount(50_000, 1.0).count == 10_000


# ------------------------------------------------------------------- against real Redis


@st.composite
def keyspaces(draw: Any) -> tuple[int, str, float]:
    size = draw(st.integers(0, 3000))
    pattern = draw(
        st.sampled_from(
            [DAY, LOOKUP.format(rid="r000042"), "performance|*controller|C3|*", "*", "nomatch*"]
        )
    )
    budget = draw(st.sampled_from([TINY_BUDGET_MS, 0.05, 1.0, HUGE_BUDGET_MS]))
    return size, pattern, budget


@PROPERTY
@given(case=keyspaces())
def test_adaptive_scan_returns_exactly_the_keys_list(redis_server, case):
    size, pattern, budget = case
    raw = redis.Redis.from_url(redis_server.url)
    raw.flushdb()
    keys = [request_key(i, day="20261127" if i % 3 else "20261126") for i in range(size)]
    fill_keyspace(raw, keys + [f"noise:{i}" for i in range(size // 4)])
    expected = sorted(k.decode() for k in raw.keys(pattern))
    client = CountRecordingRedis.for_url(redis_server.url)
    with adaptive(budget):
        result = rp.fetch_from_redis(pattern, client)
    assert result.keys == expected
    stats = result.stats
    assert stats.method == "SCAN" and stats.keys_found == len(expected)
    counts = stats.scan_counts
    assert counts.adaptive is True and counts.budget_ms == budget
    assert counts.calls == stats.scan_calls == len(client.sent_counts)
    assert counts.start == stats.count == client.sent_counts[0]
    assert all(10 <= c <= 10_000 for c in client.sent_counts)
    assert counts.min == min(client.sent_counts) and counts.max == max(client.sent_counts)
    assert counts.final == client.sent_counts[-1]


def test_count_grows_on_a_large_cheap_keyspace(client, redis_url):
    wanted = "feedc0de"
    keys = [request_key(i) for i in range(50_000)] + [request_key(50_000, request_id=wanted)]
    fill_keyspace(client, keys)
    pattern = LOOKUP.format(rid=wanted)
    recording = CountRecordingRedis.for_url(redis_url)
    with rp.setup(use_scan=True, scan_count_auto_tune=False, scan_count=10):  # the gem's 10
        fixed = rp.fetch_from_redis(pattern, recording)
    assert fixed.stats.count == 10
    assert fixed.stats.scan_calls > 3000  # about 50,000 / 10
    assert fixed.stats.scan_counts.adaptive is False
    assert {getattr(fixed.stats.scan_counts, k) for k in ("min", "max", "final", "start")} == {10}

    recording.sent_counts.clear()
    with adaptive(HUGE_BUDGET_MS):  # starts from the table's COUNT for a lookup
        result = rp.fetch_from_redis(pattern, recording)
    assert result.keys == [request_key(50_000, request_id=wanted)] == fixed.keys
    stats, counts = result.stats, result.stats.scan_counts
    assert stats.count == counts.start == recording.sent_counts[0] == 1000
    assert recording.sent_counts[:3] == [1000, 4000, 10_000]
    assert counts.max == 10_000 and counts.over_budget == 0
    assert stats.scan_calls < 30  # (50,000 - 3,410) / 10,000 calls after the ramp, plus a few
    assert stats.scan_calls * 100 < fixed.stats.scan_calls


def test_count_shrinks_to_the_floor_when_calls_exceed_the_budget(client, redis_url):
    fill_keyspace(client, [request_key(i) for i in range(20_000)])
    recording = CountRecordingRedis.for_url(redis_url)
    with adaptive(TINY_BUDGET_MS):
        result = rp.fetch_from_redis(DAY, recording)
    assert len(result.keys) == 20_000
    sent = recording.sent_counts
    assert sent[:8] == [1000, 500, 250, 125, 62, 31, 16, 10]  # starts from the table's 1000
    assert set(sent[8:]) == {10}
    counts = result.stats.scan_counts
    assert (counts.start, counts.min, counts.max, counts.final) == (1000, 10, 1000, 10)
    assert counts.over_budget == counts.calls == len(sent) == result.stats.scan_calls


def test_each_scan_loop_adapts_on_its_own(client, redis_url):
    """What a cluster does: one ``scan_batches`` per node, interleaved, each with its state."""
    fill_keyspace(client, [request_key(i) for i in range(20_000)])
    nodes = [CountRecordingRedis.for_url(redis_url) for _ in range(2)]
    stats = FetchStats("SCAN", DAY, "cluster")
    slow = scan_batches(
        nodes[0], DAY.encode(), 1000, stats, adaptive=True, budget_ms=TINY_BUDGET_MS
    )
    fast = scan_batches(
        nodes[1], DAY.encode(), 1000, stats, adaptive=True, budget_ms=HUGE_BUDGET_MS
    )
    found: list[bytes] = []
    for pair in itertools.zip_longest(slow, fast, fillvalue=[]):  # alternate the loops
        for batch in pair:
            found.extend(batch)
    assert nodes[0].sent_counts[:4] == [1000, 500, 250, 125]
    assert nodes[1].sent_counts[:3] == [1000, 4000, 10_000]
    counts = stats.scan_counts
    assert counts.loops == 2 and counts.min == 10 and counts.max == 10_000
    assert counts.calls == stats.scan_calls == sum(len(n.sent_counts) for n in nodes)
    assert len(set(found)) == 20_000

    # A new loop starts again from its start COUNT, not from where the last one ended.
    again = CountRecordingRedis.for_url(redis_url)
    keys = [
        k
        for b in scan_batches(again, DAY.encode(), 1000, stats, budget_ms=TINY_BUDGET_MS)
        for k in b
    ]
    assert again.sent_counts[0] == 1000  # settings.scan_count is 10, so: not adaptive...
    assert set(again.sent_counts) == {1000}
    assert len(set(keys)) == 20_000
    with rp.setup(scan_count="adaptive", scan_budget_ms=TINY_BUDGET_MS):  # ...unless set so
        again.sent_counts.clear()
        for _ in scan_batches(again, DAY.encode(), 1000, stats):
            pass
    assert again.sent_counts[:3] == [1000, 500, 250]
    assert stats.scan_counts.loops == 4


def test_fixed_count_scan_records_its_count(client, redis_url):
    fill_keyspace(client, [request_key(i) for i in range(500)])
    with rp.setup(use_scan=True, scan_count=100, scan_count_auto_tune=False):
        stats = rp.fetch_from_redis("performance|*", redis_url).stats
    counts = stats.scan_counts
    assert counts.adaptive is False and counts.budget_ms is None
    assert counts.start == counts.min == counts.max == counts.final == 100
    assert counts.calls == stats.scan_calls and counts.over_budget == 0


@pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")
def test_keys_fetch_records_no_counts(client, redis_url):
    fill_keyspace(client, [request_key(i) for i in range(10)])
    with adaptive(), rp.setup(use_scan=False):  # adaptive is a SCAN setting: KEYS ignores it
        stats = rp.fetch_from_redis("performance|*", redis_url).stats
    assert stats.method == "KEYS" and stats.count is None and stats.scan_counts is None
    assert "counts" not in stats.extra


# ----------------------------------------------------------------------------- benchmark


def test_bench_measures_adaptive_against_the_best_fixed_count(bench_results):
    from rp_toolkit import bench

    frame = bench_results
    assert list(frame.columns) == list(bench.COLUMNS)
    adaptive_rows = frame[frame["count"] == "adaptive"]
    assert len(adaptive_rows) == 2 * len(bench.QUERIES)
    starts = {"day": 1000, "controller": 100, "request_id": 1000}
    for row in adaptive_rows.itertuples():
        assert row.method == "SCAN" and row.scan_count == starts[row.query]
        assert 10 <= row.scan_count_min <= row.scan_count_mean <= row.scan_count_max <= 10_000
        assert row.scan_budget_ms == rp.settings.scan_budget_ms == 1.0
        fixed = frame[
            (frame["size"] == row.size)
            & (frame["query"] == row.query)
            & frame["count"].isin(["10", "100", "1000"])
        ]
        best = fixed.loc[fixed["wall_median_s"].idxmin()]
        assert row.best_fixed_count == int(best["count"])
        assert row.vs_best_fixed == pytest.approx(row.wall_median_s / best["wall_median_s"])
        assert row.keys_found == best["keys_found"]
        assert row.probe_max_ms > 0
    others = frame[frame["count"] != "adaptive"]
    assert others["vs_best_fixed"].isna().all() and others["best_fixed_count"].isna().all()
    fixed_rows = frame[frame["count"].isin(["10", "100", "1000"])]
    assert (fixed_rows["scan_count_min"] == fixed_rows["scan_count_max"]).all()
    assert (fixed_rows["scan_count_min"] == fixed_rows["count"].astype(int)).all()
    assert frame.attrs["environment"]["parameters"]["counts"] == [
        "10",
        "100",
        "1000",
        "auto",
        "adaptive",
    ]
    assert frame.attrs["environment"]["parameters"]["scan_budget_ms"] == 1.0


def test_bench_outputs_with_adaptive(bench_results, tmp_path):
    from matplotlib.figure import Figure

    from rp_toolkit import bench
    from rp_toolkit.reports import plots

    text = bench.to_markdown(bench_results)
    assert (
        "| records | query | KEYS | SCAN 10 | SCAN 100 | SCAN 1000 | SCAN auto | SCAN adaptive |"
        in text
    )
    assert "| SCAN adaptive | best fixed COUNT | adaptive / best fixed |" in text
    assert text == bench.to_markdown(bench.load_results(bench.save(bench_results, tmp_path)))
    for size in ("100", "2,000"):
        for query in bench.QUERIES:
            # the main table, the full-fetch table and adaptive's
            assert text.count(f"| {size} | {query} | ") == 3
    figure = plots.adaptive_vs_best_fixed(bench_results)
    assert isinstance(figure, Figure)
    ratio_axes, probe_axes = figure.axes
    legend = ratio_axes.get_legend_handles_labels()[1]
    assert len(legend) == len(bench.QUERIES) + 2  # + 1.0 and 1.05
    assert len(probe_axes.lines) == 2 * len(bench.QUERIES) + 2  # max, p99; idle max, budget + 1
    labels = plots.overhead_vs_size(bench_results).axes[0].get_legend_handles_labels()[1]
    assert labels[0] == "KEYS (= 1)" and labels[-1] == "SCAN adaptive"  # the error bars after
    empty = plots.adaptive_vs_best_fixed(bench_results[bench_results["count"] != "adaptive"])
    assert "no adaptive rows" in empty.axes[0].get_title()


def test_results_without_adaptive_columns_still_load_and_render():
    from rp_toolkit import bench

    old = bench.load_results(ROOT / "docs" / "bench" / "history" / "bench.json")  # pre-adaptive
    assert old["vs_best_fixed"].isna().all()
    assert "adaptive / best fixed" not in bench.to_markdown(old)


def test_bench_cli_and_parameters_accept_adaptive():
    import argparse

    from rp_toolkit import bench

    parser = argparse.ArgumentParser()
    bench.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--counts", "10,auto,adaptive"])
    assert args.counts == [10, "auto", "adaptive"]
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--counts", "10,adaptiv"])
    _, counts, _ = bench.validate_parameters([100], [10, "adaptive"], ["day"], 1, 0.0)
    assert counts == [10, "adaptive"]
    with pytest.raises(bench.BenchmarkError, match="adaptive"):
        bench.validate_parameters([100], ["adaptiv"], ["day"], 1, 0.0)


def test_command_line_flags_accept_adaptive_and_a_budget():
    from rp_toolkit import cli

    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "export",
            "requests",
            "--out",
            "x.csv",
            "--scan-count",
            "adaptive",
            "--scan-budget-ms",
            "2.5",
        ]
    )
    cli._apply_flags(args)
    assert rp.settings.scan_count == "adaptive" and rp.settings.scan_budget_ms == 2.5
    cli._apply_flags(
        parser.parse_args(["export", "requests", "--out", "x.csv", "--scan-count", "40"])
    )
    assert rp.settings.scan_count == 40
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "requests", "--out", "x.csv", "--scan-count", "adaptiv"])

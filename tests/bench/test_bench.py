"""The benchmark against real Redis servers: its rows, baselines, probe, safety and outputs."""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pandas as pd
import pytest
import redis
from matplotlib.figure import Figure

from rp_toolkit import bench
from rp_toolkit.bench import runner
from rp_toolkit.config import settings
from rp_toolkit.exceptions import RPToolkitError
from rp_toolkit.files import unwind_on_signals
from rp_toolkit.kinds import REQUESTS
from rp_toolkit.local import binary_version
from rp_toolkit.reports import plots
from tests.conftest import BENCH_COUNTS, BENCH_SIZES
from tests.support import ROOT, write_user_keys

SIZES = BENCH_SIZES
COUNTS = BENCH_COUNTS
AUTO_COUNTS = {"day": 1000, "controller": 100, "request_id": 1000}


@pytest.fixture
def results(bench_results: pd.DataFrame) -> pd.DataFrame:
    return bench_results


def expected_cells() -> set[tuple[int, str, str, str | None]]:
    cells = set()
    for size in SIZES:
        for query in bench.QUERIES:
            cells.add((size, query, "KEYS", None))
            cells.update((size, query, "SCAN", str(count)) for count in COUNTS)
            cells.add((size, query, "gem_keys_mget", None))
            cells.add((size, query, "scan_chunked_mget", "auto"))
    return cells


def test_one_row_per_size_query_method_and_count(results: pd.DataFrame) -> None:
    assert list(results.columns) == list(bench.COLUMNS)
    cells = {
        (int(row.size), row.query, row.method, None if pd.isna(row.count) else row.count)
        for row in results.itertuples()
    }
    assert cells == expected_cells()
    assert len(results) == len(cells)
    assert (results["repeats_done"] == 2).all()
    keys_rows = results[results["method"] == "KEYS"]
    assert len(keys_rows) == len(SIZES) * len(bench.QUERIES)
    assert keys_rows["count"].isna().all() and keys_rows["scan_count"].isna().all()
    assert (keys_rows["scan_calls"] == 0).all()


def test_overhead_is_against_the_same_runs_keys_median(results: pd.DataFrame) -> None:
    for (size, query), rows in results.groupby(["size", "query"]):
        keys_median = rows.loc[rows["method"] == "KEYS", "wall_median_s"].item()
        gem_median = rows.loc[rows["method"] == "gem_keys_mget", "wall_median_s"].item()
        for row in rows.itertuples():
            base = gem_median if row.method.endswith("mget") else keys_median
            assert row.overhead == pytest.approx(row.wall_median_s / base), (size, query, row)
            assert row.wall_min_s <= row.wall_median_s <= row.wall_max_s


def test_keys_found_agree_across_methods_and_with_the_dataset(results: pd.DataFrame) -> None:
    for (size, query), rows in results.groupby(["size", "query"]):
        assert rows["keys_found"].nunique() == 1, (size, query)
        found = rows["keys_found"].iloc[0]
        if query == "day":
            assert found == size  # every record of the synthetic day
        elif query == "request_id":
            assert found == 1
        else:
            assert 0 < found < size
    assert (results["dbsize"] == results["size"]).all()  # noise 0: only the records


def test_scan_rows_record_count_and_calls(results: pd.DataFrame) -> None:
    scan = results[results["method"] == "SCAN"]
    assert (scan["scan_calls"] >= 1).all()
    auto = scan[scan["count"] == "auto"]
    assert dict(zip(auto["query"], auto["scan_count"], strict=False)) == AUTO_COUNTS
    fixed = scan[~scan["count"].isin(["auto", "adaptive"])]
    assert (fixed["scan_count"].astype(int) == fixed["count"].astype(int)).all()
    big = scan[(scan["size"] == max(SIZES)) & (scan["count"] == "10")]
    assert (big["scan_calls"] >= 50).all()  # about one call per 10 slots of the table
    full = results[results["method"] == "scan_chunked_mget"]
    assert (full["mget_calls"] >= 1).all() and (full["scan_calls"] >= 1).all()
    gem = results[results["method"] == "gem_keys_mget"]
    assert (gem["mget_calls"] == 1).all()


def test_redis_side_time_and_probe_are_recorded(results: pd.DataFrame) -> None:
    keys_rows = results[results["method"] == "KEYS"]
    assert (keys_rows["redis_keys_usec"] > 0).all() and (keys_rows["redis_scan_usec"] == 0).all()
    scan = results[results["method"] == "SCAN"]
    assert (scan["redis_scan_usec"] > 0).all() and (scan["redis_keys_usec"] == 0).all()
    assert (results["redis_usec"] > 0).all()
    assert (results["probe_samples"] > 0).all()
    assert (results["probe_p50_ms"] > 0).all()
    assert (results["probe_p50_ms"] <= results["probe_p99_ms"]).all()
    assert (results["probe_p99_ms"] <= results["probe_max_ms"]).all()
    assert (results["probe_idle_p50_ms"] > 0).all()
    assert (results["slowlog_threshold_us"] == bench.SLOWLOG_THRESHOLD_US).all()


def test_environment_metadata(results: pd.DataFrame) -> None:
    environment = results.attrs["environment"]
    for name in (
        "redis_version",
        "redis_py",
        "hiredis",
        "python",
        "cpu_count",
        "platform",
        "date",
        "server_binary",
        "parameters",
    ):
        assert environment.get(name) not in (None, ""), name
    assert environment["server"] == "throwaway"
    name, version = binary_version(environment["server_binary"])
    assert environment["server_software"] == f"{name} {version}"  # valkey 9.1.2, not 7.2.4
    assert (environment["server_name"], environment["server_version"]) == (name, version)
    assert environment["parameters"]["sizes"] == list(SIZES)
    assert environment["parameters"]["counts"] == [str(c) for c in COUNTS]
    datetime.fromisoformat(environment["date"])


def test_patterns_are_the_gems(results: pd.DataFrame) -> None:
    day = datetime.now(timezone.utc).date()
    patterns = dict(zip(results["query"], results["pattern"], strict=False))
    assert patterns["day"] == REQUESTS.pattern(day=day)
    assert patterns["controller"] == REQUESTS.pattern({"controller": bench.QUERY_CONTROLLER})
    assert patterns["request_id"].startswith("performance|*request_id|")


# --------------------------------------------------------------------------- safety


def test_refuses_an_existing_server_without_permission(client: redis.Redis, redis_url: str):
    client.set("user:1", "precious")
    with pytest.raises(RPToolkitError, match="allow_existing_server"):
        bench.run(sizes=(100,), redis_url=redis_url, progress=False)
    assert client.keys("*") == [b"user:1"]


def _user_keyspace(client: redis.Redis) -> set[bytes]:
    """Keys a real application might hold (:func:`tests.support.write_user_keys`)."""
    write_user_keys(client)
    return set(client.keys("*"))


def _dump(client: redis.Redis) -> dict[bytes, tuple[bytes, bytes | None, bool]]:
    return {
        key: (client.type(key), client.dump(key), client.pttl(key) > 0) for key in client.keys("*")
    }


def _same_ttls(client: redis.Redis, before: dict[bytes, int]) -> None:
    for key, pttl in before.items():
        now = client.pttl(key)
        assert (pttl < 0 and now == pttl) or 0 <= pttl - now < 60_000, key


def test_existing_server_is_left_exactly_as_it_was(
    client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_keys = _user_keyspace(client)
    before = _dump(client)
    ttls = {key: client.pttl(key) for key in user_keys}
    config = client.config_get("slowlog*")
    seen: list[str] = []  # every key any measured method returned
    original_keys, original_full = runner.fetch_keys, runner.fetch_from_redis

    def spy_fetch_keys(pattern, redis_client=None):
        keys = original_keys(pattern, redis_client)
        seen.extend(keys)
        return keys

    def spy_full(pattern, redis_client=None, **kwargs):
        result = original_full(pattern, redis_client, **kwargs)
        seen.extend(result.keys)
        return result

    def spy_keys(self, pattern, **kwargs):  # the gem's KEYS + MGET goes through redis-py
        keys = redis.Redis.keys(self, pattern, **kwargs)
        seen.extend(k.decode() for k in keys)
        return keys

    monkeypatch.setattr(runner, "fetch_keys", spy_fetch_keys)
    monkeypatch.setattr(runner, "fetch_from_redis", spy_full)
    monkeypatch.setattr(bench.CountingRedis, "keys", spy_keys, raising=False)

    frame = bench.run(
        sizes=(100, 300),
        counts=(10, "auto"),
        repeats=1,
        noise=0.5,
        redis_url=redis_url,
        allow_existing_server=True,
        progress=False,
        idle_probe_s=0.05,
    )
    marker = frame.attrs["environment"]["parameters"]["marker"]
    assert marker.startswith("RpBench")
    assert seen and all(marker in key for key in seen)
    assert not {key.encode() for key in seen} & user_keys
    assert all(marker in pattern for pattern in frame["pattern"])
    # The scoped queries keep their type, hence their auto-tuned COUNT.
    auto = frame[(frame["method"] == "SCAN") & (frame["count"] == "auto")]
    assert dict(zip(auto["query"], auto["scan_count"], strict=False)) == AUTO_COUNTS
    assert (frame["dbsize"] == frame["size"] + frame["noise_keys"] + len(user_keys)).all()
    assert frame.loc[frame["query"] == "day", "keys_found"].tolist() == [100] * 5 + [300] * 5
    assert _dump(client) == before
    _same_ttls(client, ttls)
    assert client.config_get("slowlog*") == config
    assert frame.attrs["environment"]["server"] == redis_url


def test_existing_server_is_cleaned_up_after_an_error(
    client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_keyspace(client)
    before = _dump(client)
    calls = []
    original = runner.fetch_keys

    def failing(pattern, redis_client=None):
        calls.append(pattern)
        if len(calls) == 3:
            raise RuntimeError("simulated failure in the middle of the benchmark")
        return original(pattern, redis_client)

    monkeypatch.setattr(runner, "fetch_keys", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        bench.run(
            sizes=(200,),
            counts=(10, "auto"),
            repeats=1,
            noise=1.0,
            redis_url=redis_url,
            allow_existing_server=True,
            progress=False,
            idle_probe_s=0.05,
        )
    assert _dump(client) == before


def test_scan_and_keys_disagreeing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    original = runner.fetch_keys

    def scan_loses_a_key(pattern, redis_client=None):
        keys = original(pattern, redis_client)
        if settings.use_scan and keys:
            keys = [*keys[:-1], "performance|not-a-real-key"]
        return keys

    monkeypatch.setattr(runner, "fetch_keys", scan_loses_a_key)
    with pytest.raises(bench.BenchmarkError, match="different keys"):
        bench.run(
            sizes=(100,),
            counts=("auto",),
            queries=("day",),
            repeats=1,
            probe=False,
            full_fetch=False,
            progress=False,
        )


def test_thread_probe_and_bad_arguments() -> None:
    frame = bench.run(
        sizes=(100,),
        counts=("auto",),
        queries=("request_id",),
        repeats=1,
        probe_mode="thread",
        full_fetch=False,
        progress=False,
        idle_probe_s=0.05,
    )
    assert (frame["probe_samples"] > 0).all()
    assert frame.attrs["environment"]["parameters"]["probe_mode"] == "thread"
    for bad in ({"counts": (0,)}, {"queries": ("nope",)}, {"sizes": (0,)}, {"repeats": 0}):
        with pytest.raises(bench.BenchmarkError):
            bench.run(**{"sizes": (100,), **bad}, progress=False)


# --------------------------------------------------------------------------- outputs


def test_save_and_load_round_trip(results: pd.DataFrame, tmp_path) -> None:
    out = bench.save(results, tmp_path / "bench")
    assert (out / "bench.csv").is_file() and (out / "bench.json").is_file()
    for source in (out, out / "bench.json", out / "bench.csv"):
        loaded = bench.load_results(source)
        pd.testing.assert_frame_equal(loaded, results)
        assert loaded.attrs["environment"] == results.attrs["environment"]


def test_markdown_table_is_complete_and_stable(results: pd.DataFrame, tmp_path) -> None:
    text = bench.to_markdown(results)
    assert text == bench.to_markdown(results.copy())
    assert text == bench.to_markdown(bench.load_results(bench.save(results, tmp_path)))
    assert text == bench.to_markdown(results.sample(frac=1, random_state=3))  # row order
    assert "| records | query | KEYS | " + " | ".join(f"SCAN {c}" for c in COUNTS) + " |" in text
    for size in SIZES:
        for query in bench.QUERIES:
            assert f"| {size:,} | {query} | " in text
    assert "gem: KEYS + one MGET" in text
    assert results.attrs["environment"]["server_software"] in text
    assert "Redis " + results.attrs["environment"]["redis_version"] not in text


def test_plots_return_figures_with_one_line_per_series(results: pd.DataFrame) -> None:
    cases = {
        plots.overhead_vs_size: len(COUNTS) + 1,  # one per COUNT, plus KEYS = 1
        plots.overhead_vs_count: len(SIZES) + 1,  # one per size, plus KEYS = 1
        plots.blocking: 6,  # KEYS max/p99, SCAN max/p99, idle max/p99
        plots.scan_calls_vs_count: len(SIZES),
    }
    for function, lines in cases.items():
        figure = function(results)
        assert isinstance(figure, Figure)
        (axes,) = figure.axes
        assert len(axes.get_legend_handles_labels()[1]) == lines, function.__name__
        assert axes.get_xlabel() and axes.get_ylabel() and axes.get_title()
        figure.savefig(io.BytesIO(), format="png")
    axes = plots.overhead_vs_size(results, query="request_id").axes[0]
    assert len(axes.get_legend_handles_labels()[1]) == len(COUNTS) + 1


def test_cli_runs_and_writes_files(tmp_path, capsys) -> None:
    parser = argparse.ArgumentParser()
    bench.add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["bench", "--sizes", "100,1_000", "--counts", "10,100,auto", "--repeats", "3"]
    )
    assert args.sizes == [100, 1000] and args.counts == [10, 100, "auto"] and args.repeats == 3
    out = tmp_path / "out"
    args = parser.parse_args(
        [
            "bench",
            "--sizes",
            "100",
            "--counts",
            "auto",
            "--repeats",
            "1",
            "--queries",
            "day",
            "--no-full-fetch",
            "--out",
            str(out),
            "--markdown",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert {p.name for p in out.iterdir()} == {"bench.csv", "bench.json", "bench.md"}
    printed = capsys.readouterr().out
    assert printed.strip() == (out / "bench.md").read_text().strip()
    frame = bench.load_results(out)
    assert set(frame["method"]) == {"KEYS", "SCAN"}
    assert not math.isnan(frame["probe_max_ms"].iloc[0])


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_leaves_an_existing_server_as_it_was(
    client: redis.Redis, redis_url: str, signum: int
) -> None:
    """Stopped by a real signal while it writes and measures, the benchmark removes every key
    it wrote to a server it does not own; while it ran, its keys expired within minutes."""
    user_keys = _user_keyspace(client)
    before = _dump(client)
    process = subprocess.Popen(
        [sys.executable, "-m", "rp_toolkit", "bench", "--sizes", "20000,200000"]
        + ["--counts", "10", "--repeats", "3", "--no-probe", "--queries", "day"]
        + ["--redis-url", redis_url, "--allow-existing-server", "--out", "/dev/null/x"],
        env={**os.environ, "RP_PROGRESS": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        ours: list[bytes] = []
        while time.monotonic() < deadline and len(ours) < 1000:
            ours = [k for k in client.scan_iter(match=b"*RpBench*", count=1000)][:1000]
            time.sleep(0.05)
        assert ours, "the benchmark wrote nothing within a minute"
        ttl = client.ttl(ours[0])
        assert 0 < ttl <= bench.EXISTING_SERVER_TTL_S <= 15 * 60
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (128 + signum, 130, -signum) and process.returncode != -signum
    assert b"Traceback" not in stderr
    assert _dump(client) == before
    assert set(client.keys("*")) == user_keys


class _SignalsWhenCollected:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_that_lands_in_a_finaliser_still_stops_the_run() -> None:
    """Python drops what a ``__del__`` raises, so a SIGTERM handled there (a redis-py
    pipeline being collected) must not be lost: the next check stops the run, and leaving
    the block exits with 143, with nothing printed about an ignored exception."""
    steps = []
    with pytest.raises(SystemExit) as stopped, unwind_on_signals() as stop:
        _SignalsWhenCollected()  # collected at once: the handler runs inside __del__
        steps.append("after the signal")  # the finaliser dropped nothing: no exception yet
        stop.check()
        steps.append("after the check")
    assert stopped.value.code == 128 + signal.SIGTERM
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_swallowed_by_a_library_still_exits_with_its_status() -> None:
    """A signal whose exception another error replaced, or that nothing raised, ends the
    block with ``128 + signal`` all the same."""
    swallowing = contextlib.suppress(SystemExit)  # a library that catches BaseException
    with pytest.raises(SystemExit) as stopped, unwind_on_signals(), swallowing:
        os.kill(os.getpid(), signal.SIGHUP)
    assert stopped.value.code == 128 + signal.SIGHUP
    with pytest.raises(SystemExit) as replaced, unwind_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except SystemExit as error:
            raise RuntimeError("connection closed") from error
    assert replaced.value.code == 128 + signal.SIGTERM

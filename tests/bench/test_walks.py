"""The walk benchmark: one SCAN over a two-day window against the gem's per-day KEYS, and the
report's kinds from one walk against one load per kind."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import rp_toolkit as rp
from rp_toolkit.bench import _walks as walks
from rp_toolkit.kinds import REQUESTS
from tests.support import run_cli

RECORDS = 5000


@pytest.fixture(scope="module")
def results() -> walks.WalkResults:
    return walks.benchmark(RECORDS, repeats=1)


def test_one_row_per_method_with_the_same_keys(results: walks.WalkResults) -> None:
    by = {row["method"]: row for row in results.rows}
    assert list(by) == list(walks.METHODS)
    for method in walks.LISTINGS:
        assert by[method]["found"] == RECORDS  # and the benchmark checked the sets are equal
    assert by["gem_keys"]["keys_calls"] == 2 and by["gem_keys"]["scan_calls"] == 0
    assert by["scan_per_day"]["walks"] == 2 and by["scan_covering"]["walks"] == 1
    assert by["scan_covering"]["keys_calls"] == 0 and by["scan_covering"]["scan_calls"] > 0
    assert by["scan_bare"]["scan_calls"] == by["scan_covering"]["scan_calls"]
    assert by["scan_bare"]["scan_count"] == by["scan_covering"]["scan_count"] == 1000
    assert results.ratios["dedup_median_s"] >= 0
    assert all(row["wall_median_s"] > 0 and row["repeats"] == 1 for row in results.rows)
    data = results.dataset
    assert data["written"]["requests"] == RECORDS
    assert data["per_day_patterns"] == REQUESTS.patterns(
        walks.BENCH_END - timedelta(hours=walks.HOURS), walks.BENCH_END
    )
    assert "2026020[45]" in data["covering_pattern"]
    assert results.environment["redis_version"]


def test_load_many_walks_once_and_reads_what_one_load_per_kind_reads(
    results: walks.WalkResults,
) -> None:
    by = {row["method"]: row for row in results.rows}
    assert by["load_many"]["walks"] == 1
    assert by["load_each"]["walks"] == len(walks.REPORT_KINDS)
    assert by["load_many"]["found"] == by["load_each"]["found"] == results.dataset["dbsize"]
    many, each = (
        next(m for m in results.measurements if m["method"] == name)
        for name in ("load_many", "load_each")
    )
    assert set(many["walks_by_kind"].values()) == {1}
    assert many["records_by_kind"] == each["records_by_kind"]
    assert all(many["records_by_kind"][kind] > 0 for kind in walks.REPORT_KINDS)
    # What the client counted is what Redis counted: one SCAN loop's calls.
    assert many["client_scan_calls"] == many["redis_scan_calls"] > 0
    assert results.ratios["load_many_walks"] == 1
    assert results.targets["report_walks"]["met"]


def test_files_are_written(results: walks.WalkResults, tmp_path: Path) -> None:
    out = rp.bench.save_walks(results, tmp_path / "walks")
    saved = json.loads((out / "walks.json").read_text())
    assert {"environment", "dataset", "rows", "ratios", "targets", "measurements"} <= set(saved)
    assert saved["environment"]["load_average_end"] is not None
    assert len(saved["measurements"]) == len(walks.METHODS)
    table = (out / "walks.md").read_text()
    assert table == rp.bench.walks_markdown(results)
    assert "| scan_covering |" in table and "two_day_listing_over_gem_keys" in table


def test_a_wrong_key_set_is_an_error() -> None:
    call = walks.Call(found=1, walks=1, keys=[b"a"])
    calls = dict.fromkeys(walks.LISTINGS, call)
    calls["scan_covering"] = walks.Call(found=1, walks=1, keys=[b"b"])
    with pytest.raises(rp.bench.BenchmarkError, match="scan_covering"):
        walks.check_repeat(calls, 1, "p")


def test_the_command(tmp_path: Path) -> None:
    done = run_cli(
        "walk-bench", "--records", "2000", "--repeats", "1", "--out", str(tmp_path / "w")
    )
    assert done.returncode == 0, done.stderr
    assert "| load_many |" in done.stdout
    assert (tmp_path / "w" / "walks.json").is_file() and (tmp_path / "w" / "walks.md").is_file()

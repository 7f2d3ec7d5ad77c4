"""The cluster benchmark: one node against a throwaway three-primary cluster, same data."""

from __future__ import annotations

import pytest

import rp_toolkit as rp

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning"),
]


def test_cluster_benchmark_smoke() -> None:
    rows = rp.bench.cluster.benchmark(2000, primaries=3, repeats=1)
    by = {(row["target"], row["operation"]): row for row in rows}
    assert by[("cluster", "fetch_from_redis SCAN raw")]["keys"] == 2000
    assert by[("single", "load requests SCAN")]["keys"] == 2000
    assert "same slot" in by[("cluster", "gem KEYS + one MGET")]["error"]
    assert "| write | cluster |" in rp.bench.cluster.format_rows(rows)

"""The cluster benchmark: one node against a throwaway three-primary cluster, same data."""

from __future__ import annotations

import json

import pytest

from rp_toolkit.bench._cluster import format_rows
from rp_toolkit.cli import main
from rp_toolkit.local import binary_version, find_redis_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning"),
]


def test_cluster_benchmark_smoke(tmp_path) -> None:
    out = tmp_path / "cluster" / "bench.json"
    assert main(["cluster-bench", "--records", "2000", "--repeats", "1", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    rows = document["rows"]
    by = {(row["target"], row["operation"]): row for row in rows}
    assert by[("cluster", "fetch_from_redis SCAN raw")]["keys"] == 2000
    assert by[("single", "load requests SCAN")]["keys"] == 2000
    assert "same slot" in by[("cluster", "gem KEYS + one MGET")]["error"]
    assert "| write | cluster |" in format_rows(rows)
    name, version = binary_version(find_redis_server())
    assert document["environment"]["server_software"] == f"{name} {version}"
    assert document["environment"]["records"] == 2000

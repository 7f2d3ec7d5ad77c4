"""The KEYS-against-SCAN benchmark on a real three-primary Redis Cluster: the user's cluster
(marked keys, cleaned up, also after a signal) and a throwaway one; DBSIZE, commandstats and
SLOWLOG summed over the primaries; the gem's one MGET recorded as refused across slots."""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pandas as pd
import pytest
import redis
from redis.cluster import RedisCluster

import rp_toolkit as rp
from rp_toolkit import bench, notebooks
from rp_toolkit.bench._target import node_url
from rp_toolkit.exceptions import SettingsError
from rp_toolkit.local import LocalCluster
from tests.support import ROOT, run_cli, write_user_keys

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

Dump = dict[bytes, tuple[bytes, bytes | None, bool]]
FIRST_SIZE = 20_000


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(primaries=3) as started:
        yield started


def node_clients(cluster: LocalCluster) -> list[redis.Redis]:
    """One plain client per primary (the throwaway cluster has no replicas)."""
    return [redis.Redis(host="127.0.0.1", port=server.port) for server in cluster.servers]


@pytest.fixture
def nodes(local_cluster: LocalCluster) -> Iterator[list[redis.Redis]]:
    """The cluster's primaries, each emptied (FLUSHDB: the test's own throwaway cluster)."""
    clients = node_clients(local_cluster)
    for client in clients:
        client.flushdb()
    yield clients
    for client in clients:
        client.close()


def user_keyspace(url: str) -> set[bytes]:
    """Keys an application might hold (:func:`tests.support.write_user_keys`), on every
    primary."""
    client = RedisCluster.from_url(url)
    write_user_keys(client)
    client.close()
    return {key for node in node_clients_of(url) for key in node.keys("*")}


def node_clients_of(url: str) -> list[redis.Redis]:
    cluster = RedisCluster.from_url(url)
    try:
        return [redis.Redis(host=node.host, port=node.port) for node in cluster.get_primaries()]
    finally:
        cluster.close()


def dump(nodes: list[redis.Redis]) -> Dump:
    """Every key of every primary: its type, serialized value and whether it expires."""
    return {
        key: (node.type(key), node.dump(key), node.pttl(key) > 0)
        for node in nodes
        for key in node.keys("*")
    }


def test_target_sums_dbsize_over_the_primaries(local_cluster, nodes) -> None:
    keys = [f"key-{i}" for i in range(300)]
    writer = RedisCluster.from_url(local_cluster.url)
    for key in keys:
        writer.set(key, "v")
    writer.close()
    per_node = [int(node.dbsize()) for node in nodes]
    assert sum(per_node) == 300 and max(per_node) < 300  # spread: only a sum gives 300

    target = bench.Target.connect(local_cluster.url)
    try:
        assert target.cluster and isinstance(target.client, bench.CountingCluster)
        assert len(target.admins) == 3 and len(target.primaries) == 3
        ports = {int(admin.info("server")["tcp_port"]) for admin in target.admins}
        assert ports == {server.port for server in local_cluster.servers}
        assert target.dbsize() == 300
        assert target.probe_node == f"127.0.0.1:{local_cluster.servers[0].port}"
        assert target.describe()["primaries"] == 3
    finally:
        target.close()


def test_a_cluster_url_scheme_and_node_urls_keep_the_url(local_cluster) -> None:
    port = local_cluster.servers[1].port
    url = "rediss+cluster://user:p%40ss@example.org:7000/0?ssl_cert_reqs=none"
    assert node_url(url, "10.0.0.2", port) == (
        f"rediss://user:p%40ss@10.0.0.2:{port}/0?ssl_cert_reqs=none"
    )
    assert node_url("redis://h:1", "::1", 7001) == "redis://[::1]:7001"
    explicit = local_cluster.url.replace("redis://", "redis+cluster://")
    target = bench.Target.connect(explicit)
    try:
        assert target.cluster and target.probe_url.startswith("redis://127.0.0.1:")
        assert redis.Redis.from_url(target.probe_url).ping()
    finally:
        target.close()


def test_the_keyspace_checks_renews_and_removes_per_slot(local_cluster, nodes) -> None:
    user_keyspace(local_cluster.url)
    before = dump(nodes)
    target = bench.Target.connect(local_cluster.url)
    try:
        keyspace = bench.Keyspace(
            target.client,
            day=datetime.now(timezone.utc).date(),
            seed=1,
            marker="RpBenchTest",
            ttl=bench.EXISTING_SERVER_TTL_S,
            track=True,
        )
        keyspace.grow(500, noise=1.0)
        assert target.dbsize() == len(before) + 1000
        ours = [(n, k) for n in nodes for k in n.scan_iter(match=b"*RpBenchTest*")]
        assert len(ours) == 1000 and len({id(n) for n, _ in ours}) == 3
        node, key = ours[0]
        node.expire(key, 5)
        keyspace.renewed_at -= keyspace.ttl  # due: every written key's expiry renewed
        assert keyspace.keep_alive() == 1000
        assert node.ttl(key) > 5
        # A key it would write that exists already stops the run; nothing is overwritten.
        again = bench.Keyspace(
            target.client,
            day=keyspace.day,
            seed=1,
            marker="RpBenchTest",
            ttl=bench.EXISTING_SERVER_TTL_S,
            track=True,
        )
        with pytest.raises(bench.BenchmarkError, match="already exists"):
            again.grow(500, noise=0.0)
        assert again.written == [] and again.remove() == 0  # not its keys: not deleted
        assert keyspace.remove() == 1000
    finally:
        target.close()
    assert dump(nodes) == before


def test_server_stats_sum_commandstats_and_read_every_slowlog(local_cluster, nodes) -> None:
    config = [node.config_get("slowlog*") for node in nodes]
    token = f"nothing-matches-{uuid.uuid4().hex}"
    stats = bench.ServerStats(nodes, owns_server=False, threshold_us=0)  # log every command
    try:
        before = stats.before()
        per_node_before = [node.info("commandstats").get("cmdstat_keys", {}) for node in nodes]
        for node in nodes:
            node.keys(f"{token}*")
        per_node_after = [node.info("commandstats").get("cmdstat_keys", {}) for node in nodes]
        summed = stats.commandstats()
        result = stats.after(before)
    finally:
        stats.restore()
    calls = [
        after.get("calls", 0) - earlier.get("calls", 0)
        for earlier, after in zip(per_node_before, per_node_after, strict=True)
    ]
    assert calls == [1, 1, 1]
    assert summed["keys"][0] - before["keys"][0] == 3  # one KEYS per primary, summed
    assert result["redis_keys_usec"] == sum(
        after.get("usec", 0) - earlier.get("usec", 0)
        for earlier, after in zip(per_node_before, per_node_after, strict=True)
    )
    assert result["slowlog_entries"] == 3  # one entry on each node's SLOWLOG
    assert result["slowlog_max_command"] == "KEYS"
    ours = [
        entry
        for node in nodes
        for entry in node.slowlog_get(100)
        if token.encode() in bytes(entry["command"])
    ]
    assert len(ours) == 3
    slowest = max(entry["duration"] for entry in ours)
    assert result["slowlog_max_us"] == slowest
    assert [node.config_get("slowlog*") for node in nodes] == config


def test_an_existing_cluster_is_benchmarked_and_left_as_it_was(local_cluster, nodes) -> None:
    url = local_cluster.url
    user_keys = user_keyspace(url)
    assert all(node.dbsize() for node in nodes)  # the user's keys are on every primary
    before = dump(nodes)
    config = [node.config_get("slowlog*") for node in nodes]

    frame = bench.run(
        sizes=(300, 2000),
        counts=(100, "auto"),
        repeats=1,
        noise=0.5,
        redis_url=url,
        allow_existing_server=True,
        progress=False,
        idle_probe_s=0.05,
    )

    environment = frame.attrs["environment"]
    assert environment["cluster"] is True and environment["primaries"] == 3
    assert environment["redis_mode"] == "cluster" and environment["server"] == url
    assert environment["probe_node"] in environment["cluster_nodes"]
    marker = environment["parameters"]["marker"]
    assert marker.startswith("RpBench") and all(marker in p for p in frame["pattern"])

    # DBSIZE summed over the primaries: the records, the noise and the user's keys.
    assert (frame["dbsize"] == frame["size"] + frame["noise_keys"] + len(user_keys)).all()
    assert set(frame["noise_keys"]) == {150, 1000}
    for (size, query), rows in frame.groupby(["size", "query"]):
        assert rows["keys_found"].nunique() == 1, (size, query)
        found = rows["keys_found"].iloc[0]
        if query == "day":
            assert found == size  # every record of the day, none of the user's
        elif query == "request_id":
            assert found == 1
        else:
            assert 0 < found < size

    scan = frame[frame["method"] == "SCAN"]
    assert (scan["scan_calls"] >= 3).all()  # at least one SCAN per primary
    fixed = scan[scan["count"] == "100"]
    assert (fixed["scan_count_min"] == 100).all() and (fixed["scan_count_max"] == 100).all()
    # 2000 records and 1000 noise keys over three primaries, COUNT 100: ~10 calls each.
    big = fixed[fixed["size"] == 2000]
    assert (big["scan_calls"] >= 3 * 8).all()
    assert (scan["redis_scan_usec"] > 0).all() and (scan["redis_keys_usec"] == 0).all()
    keys_rows = frame[frame["method"] == "KEYS"]
    assert (keys_rows["redis_keys_usec"] > 0).all() and (keys_rows["scan_calls"] == 0).all()
    assert (frame.loc[frame["error"].isna(), "probe_samples"] > 0).all()

    # The gem's KEYS + one MGET: refused across slots, unless the one key is alone in its slot.
    gem = frame[frame["method"] == "gem_keys_mget"].set_index(["size", "query"])
    for size in (300, 2000):
        for query in ("day", "controller"):
            row = gem.loc[(size, query)]
            assert "CROSSSLOT" in row["error"] and "same slot" in row["error"], row["error"]
            assert row["repeats_done"] == 0 and math.isnan(row["wall_median_s"])
            assert row["keys_found"] > 1  # KEYS on every primary found them all (checked)
        lone = gem.loc[(size, "request_id")]
        assert pd.isna(lone["error"]) and lone["mget_calls"] == 1 and lone["repeats_done"] == 1
    full = frame[frame["method"] == "scan_chunked_mget"]
    assert full["error"].isna().all() and (full["mget_calls"] >= 1).all()
    crossed = full[full["query"] != "request_id"]
    assert crossed["overhead"].isna().all()  # no gem time to compare with

    text = bench.to_markdown(frame)
    assert "(cluster, 3 primaries)" in text and "fails (CROSSSLOT)" in text
    assert environment["probe_node"] in text

    assert dump(nodes) == before
    assert {key for node in nodes for key in node.keys("*")} == user_keys
    assert [node.config_get("slowlog*") for node in nodes] == config


def test_a_throwaway_cluster_from_the_command_line(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    bench.add_cli(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(
        ["bench", "--cluster", "--primaries", "3", "--sizes", "500", "--counts", "auto"]
        + ["--repeats", "1", "--queries", "day,request_id", "--no-probe", "--out", str(out)]
        + ["--markdown", "--no-progress"]
    )
    assert args.func(args) == 0
    frame = bench.load_results(out)
    environment = frame.attrs["environment"]
    assert environment["server"] == "throwaway" and environment["cluster"] is True
    assert environment["primaries"] == 3 and environment["parameters"]["cluster"] is True
    assert (frame["dbsize"] == 500).all()
    day = frame[frame["query"] == "day"].set_index("method")
    assert (day["keys_found"] == 500).all()
    assert "CROSSSLOT" in day.loc["gem_keys_mget", "error"]
    assert "(cluster, 3 primaries)" in (out / "bench.md").read_text()


def test_cluster_arguments_are_checked_before_anything_starts(local_cluster) -> None:
    with pytest.raises(bench.BenchmarkError, match="one or the other"):
        bench.run(sizes=(100,), redis_url=local_cluster.url, cluster=True, progress=False)
    with pytest.raises(bench.BenchmarkError, match="at least 3 primaries"):
        bench.run(sizes=(100,), cluster=True, primaries=2, progress=False)
    with pytest.raises(bench.BenchmarkError, match="allow_existing_server"):
        bench.run(sizes=(100,), redis_url=local_cluster.url, progress=False)


@pytest.mark.parametrize(
    ("signum", "written"),
    [
        (signal.SIGTERM, 3000),  # while it writes the first keyspace
        (signal.SIGHUP, 3000),
        (signal.SIGINT, FIRST_SIZE),  # while it measures (walks on every primary at once)
        (signal.SIGTERM, FIRST_SIZE),
    ],
    ids=["SIGTERM-writing", "SIGHUP-writing", "SIGINT-measuring", "SIGTERM-measuring"],
)
def test_a_signal_mid_run_leaves_the_cluster_as_it_was(
    local_cluster, nodes, signum, written
) -> None:
    """Stopped by a real signal while it writes or measures on a cluster, the benchmark
    removes every key it wrote, on every primary, and nothing else."""
    user_keys = user_keyspace(local_cluster.url)
    before = dump(nodes)
    process = subprocess.Popen(
        [sys.executable, "-m", "rp_toolkit", "bench", "--sizes", f"{FIRST_SIZE},200000"]
        + ["--counts", "10", "--repeats", "3", "--no-probe", "--queries", "day"]
        + ["--redis-url", local_cluster.url, "--allow-existing-server", "--out", "/dev/null/x"],
        env={**os.environ, "RP_PROGRESS": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        ours: list[tuple[redis.Redis, bytes]] = []
        holding = 0  # primaries holding some of the benchmark's keys
        while time.monotonic() < deadline and (holding < len(nodes) or len(ours) < written):
            ours = [(n, key) for n in nodes for key in n.scan_iter(match=b"*RpBench*", count=1000)]
            holding = len({id(node) for node, _ in ours})
            time.sleep(0.05)
        assert holding == len(nodes), "the benchmark wrote to every primary within a minute"
        assert len(ours) >= written
        if written == FIRST_SIZE:
            time.sleep(0.3)  # into the KEYS and SCAN cells
        for node, key in ours[:: len(ours) // 10]:
            assert 0 < node.ttl(key) <= bench.EXISTING_SERVER_TTL_S
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    said = stderr.decode(errors="replace")[-2000:]
    assert process.returncode in (128 + signum, 130, -signum), said
    assert process.returncode != -signum, said
    assert b"Traceback" not in stderr, said
    assert dump(nodes) == before
    assert {key for node in nodes for key in node.keys("*")} == user_keys


def test_the_benchmark_notebook_parameters_take_a_cluster(local_cluster) -> None:
    common = {
        "sizes": [100],
        "counts": ["auto"],
        "repeats": 1,
        "noise": 0.0,
        "queries": ["day"],
        "allow_existing_server": True,
    }
    validate = notebooks.validate_benchmark_parameters
    assert validate(**common, use_redis_url=False, cluster=True, primaries=3) is None
    with pytest.raises(SettingsError, match="one or the other"):
        validate(**common, use_redis_url=True, cluster=True)
    with pytest.raises(bench.BenchmarkError, match="at least 3 primaries"):
        validate(**common, use_redis_url=False, cluster=True, primaries=1)
    with rp.setup(redis_url=local_cluster.url):
        assert validate(**common, use_redis_url=True) == local_cluster.url


@pytest.mark.slow
def test_the_benchmark_notebook_runs_on_an_existing_cluster(local_cluster, nodes, tmp_path):
    user_keys = user_keyspace(local_cluster.url)
    before = dump(nodes)
    run = run_cli(
        "report",
        "--redis-url",
        local_cluster.url,
        "--out",
        str(tmp_path),
        "--notebooks",
        "scan_benchmark",
        "-p",
        "sizes",
        "[300]",
        "-p",
        "repeats",
        "1",
        "-p",
        "counts",
        '[100, "auto"]',
        "-p",
        "use_redis_url",
        "true",
        "-p",
        "allow_existing_server",
        "true",
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = bench.load_results(tmp_path / "scan_benchmark" / "bench.json")
    environment = results.attrs["environment"]
    assert environment["cluster"] is True and environment["server"] == local_cluster.url
    assert (results["dbsize"] == 300 + len(user_keys)).all()
    assert results["error"].str.contains("CROSSSLOT").any()
    assert dump(nodes) == before

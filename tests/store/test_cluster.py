"""Redis Cluster: a real three-primary local cluster and one plain server hold the same
synthetic data; every read path must give the same answers on both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import redis
from redis.cluster import RedisCluster, key_slot

import rp_toolkit as rp
from rp_toolkit import reports, store, synth
from rp_toolkit.exceptions import RedisUnavailableError, SettingsError
from rp_toolkit.kinds import EVENTS, encode_key
from rp_toolkit.local import LocalCluster, RedisServer
from rp_toolkit.store import ACL_EXTRA, describe_server, get_client
from tests.support import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

END = datetime(2026, 2, 4, 0, 10, tzinfo=UTC)  # the window spans midnight: two day patterns
START = END - timedelta(hours=0.5)
KINDS = ["requests", "sidekiq", "delayed_job", "grape", "rake", "custom", "resources"]


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(primaries=3) as started:
        synth.write(started.url, hours=0.5, rps=2, end=END, progress=False)
        yield started


@pytest.fixture(scope="module")
def single_url() -> Iterator[str]:
    with RedisServer() as server:
        synth.write(server.url, hours=0.5, rps=2, end=END, progress=False)
        yield server.url


@pytest.fixture(params=[False, True], ids=["KEYS", "SCAN"])
def use_scan(request: pytest.FixtureRequest) -> Iterator[bool]:
    with rp.setup(use_scan=request.param):
        yield request.param


def patterns() -> list[str]:
    day = END.strftime("%Y%m%d")
    previous = (END - timedelta(days=1)).strftime("%Y%m%d")
    return [
        "performance|*",
        f"performance|*datetime|{day}*|*|END|1.0.2",
        f"sidekiq|*datetime|{previous}*|*|END|1.0.2",
        "trace|*",
        EVENTS.pattern(),
        "performance|*controller|NoSuchController|*",
    ]


def test_a_cluster_url_is_detected_and_a_plain_one_is_not(local_cluster, single_url) -> None:
    client = get_client(local_cluster.url)
    assert isinstance(client, RedisCluster)
    assert get_client(local_cluster.url) is client  # detected once, then cached
    assert (
        describe_server(client)
        == f"cluster 127.0.0.1:{local_cluster.servers[0].port} (3 primaries)"
    )
    explicit = local_cluster.url.replace("redis://", "redis+cluster://")
    assert isinstance(get_client(explicit), RedisCluster)
    assert isinstance(get_client(single_url), redis.Redis)
    assert get_client(client) is client


def test_cluster_url_errors_are_clear(local_cluster, single_url) -> None:
    port = local_cluster.servers[0].port
    with pytest.raises(SettingsError, match="database 0"):
        get_client(f"redis+cluster://127.0.0.1:{port}/2")
    with pytest.raises(RedisUnavailableError, match="Redis Cluster"):
        get_client(single_url.replace("redis://", "redis+cluster://"))  # not cluster-enabled


def test_fetch_keys_equal_on_cluster_and_single_node(local_cluster, single_url, use_scan) -> None:
    for pattern in patterns():
        on_cluster = store.fetch_keys(pattern, local_cluster.url)
        assert on_cluster == store.fetch_keys(pattern, single_url), pattern
    assert len(store.fetch_keys("performance|*", local_cluster.url)) == 3600


def test_fetch_stats_aggregate_the_nodes(local_cluster, use_scan) -> None:
    result = store.fetch_from_redis("performance|*", local_cluster.url)
    stats = result.stats
    nodes = stats.nodes
    assert len(nodes) == 3
    assert stats.method == ("SCAN" if use_scan else "KEYS")
    assert stats.server.startswith("cluster ")
    assert sum(node.keys_found for node in nodes.values()) == stats.keys_found == 3600
    assert sum(node.scan_calls for node in nodes.values()) == stats.scan_calls
    assert (stats.scan_calls > 3) == use_scan  # at least one SCAN call per node
    assert stats.slowest_call_seconds == max(
        max(node.slowest_call_seconds for node in nodes.values()), stats.slowest_call_seconds
    )
    assert sum(node.values_read for node in nodes.values()) == 3600
    assert sum(node.mget_calls for node in nodes.values()) == stats.mget_calls
    assert stats.values_missing == 0


@pytest.mark.parametrize("raw", [False, True])
def test_fetch_from_redis_equal(local_cluster, single_url, use_scan, raw) -> None:
    for pattern in patterns():
        on_cluster = store.fetch_from_redis(pattern, local_cluster.url, raw=raw)
        on_single = store.fetch_from_redis(pattern, single_url, raw=raw)
        assert on_cluster.keys == on_single.keys, pattern
        assert on_cluster.values == on_single.values, pattern
        assert None not in on_cluster.values


def test_small_chunks_still_read_per_slot_in_few_round_trips(local_cluster, single_url) -> None:
    with rp.setup(mget_chunk=2, pipeline_depth=4):
        on_cluster = store.fetch_from_redis("sidekiq|*", local_cluster.url)
    assert on_cluster.values == store.fetch_from_redis("sidekiq|*", single_url).values
    slots = {key_slot(encode_key(key)) for key in on_cluster.keys}
    assert on_cluster.stats.mget_calls >= len(slots)  # one MGET never spans two slots


def test_expired_keys_read_as_none_in_place(local_cluster) -> None:
    client = get_client(local_cluster.url)
    keys = store.fetch_keys("rake|*", client)[:50]
    asked = [b"performance|gone|END|1.0.2", *keys, "custom|gone|END|1.0.2"]
    stats = store.FetchStats(method="KEYS", pattern="test", server="test")
    values = store.read_values(store.open_source(client), asked, stats)
    assert values[0] is None and values[-1] is None
    assert values[1:-1] == [client.get(key) for key in keys]
    assert stats.values_missing == 2


@pytest.mark.parametrize("kind", KINDS)
def test_load_frames_equal(local_cluster, single_url, use_scan, kind) -> None:
    on_cluster = rp.load(kind, local_cluster.url, start=START, end=END)
    on_single = rp.load(kind, single_url, start=START, end=END)
    assert len(on_cluster) > 0
    # The window spans midnight: the gem's KEYS takes a pattern per day, SCAN one for both.
    assert len(on_cluster.attrs["rp"].patterns) == (1 if use_scan else 2)

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        # Row order and category order follow key order, which a frame does not promise.
        frame = frame.astype(
            {c: str for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)}
        )
        columns = [c for c in ("datetimei", "request_id", "jid", "server", "context") if c in frame]
        return frame.sort_values(columns, kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(on_cluster), ordered(on_single))
    if kind == "requests":
        pd.testing.assert_frame_equal(reports.requests(on_cluster), reports.requests(on_single))


def test_load_events_and_trace_equal(local_cluster, single_url) -> None:
    events = rp.load_events(local_cluster.url)
    pd.testing.assert_frame_equal(events, rp.load_events(single_url))
    assert len(events) == 1
    requests = rp.load("requests", single_url, start=END - timedelta(minutes=5), end=END)
    request_id = requests["request_id"].iloc[-1]
    trace = rp.load_trace(request_id, local_cluster.url)
    assert len(trace) > 0
    pd.testing.assert_frame_equal(trace, rp.load_trace(request_id, single_url))


def test_one_mget_across_slots_fails_on_a_cluster(local_cluster) -> None:
    """The gem's single MGET: the contrast that makes the per-slot reads necessary."""
    client = get_client(local_cluster.url)
    node = client.get_primaries()[0]
    connection = client.get_redis_connection(node)
    keys = connection.keys("performance|*")[:2]  # both on this node, in different slots
    assert key_slot(keys[0]) != key_slot(keys[1])
    # The server's "CROSSSLOT Keys in request don't hash to the same slot", parsed by redis-py.
    with pytest.raises(redis.exceptions.ClusterCrossSlotError, match="same slot"):
        connection.mget(keys)


def test_cli_export_from_a_cluster(local_cluster, single_url, tmp_path) -> None:
    def export(url: str, out: str) -> pd.DataFrame:
        done = run_cli(
            *["export", "requests", "--redis-url", url],
            *["--start", START.isoformat(), "--end", END.isoformat()],
            *["--report", "requests", "--out", str(tmp_path / out), "--use-scan"],
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return pd.read_csv(tmp_path / out)

    on_cluster = export(local_cluster.url, "cluster.csv")
    assert len(on_cluster) > 0
    pd.testing.assert_frame_equal(on_cluster, export(single_url, "single.csv"))


def test_report_notebook_on_a_cluster_equals_single_node(local_cluster, single_url, tmp_path):
    def report(url: str, out: str) -> pd.DataFrame:
        done = run_cli(
            *["report", "--redis-url", url, "--out"],
            *[str(tmp_path / out), "--notebooks", "request_performance", "--use-scan"],
            *["-p", "end", END.isoformat(), "-p", "start", START.isoformat(), "--no-progress"],
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return pd.read_csv(tmp_path / out / "request_performance" / "requests_table.csv")

    on_cluster = report(local_cluster.url, "cluster")
    assert on_cluster["count"].sum() > 0
    pd.testing.assert_frame_equal(on_cluster, report(single_url, "single"))


@pytest.mark.parametrize("scan_count", [7, "adaptive"])
def test_scan_count_rules_apply_on_every_node(local_cluster, single_url, scan_count) -> None:
    with rp.setup(use_scan=True, scan_count=scan_count, scan_count_auto_tune=False):
        result = store.fetch_from_redis("performance|*", local_cluster.url)
        assert result.keys == store.fetch_keys("performance|*", single_url)
    counts = result.stats.scan_counts
    assert counts.loops == 3  # one SCAN loop per primary, each with its own COUNT state
    assert counts.calls == result.stats.scan_calls
    assert all(node.counts is not None for node in result.stats.nodes.values())
    if scan_count == 7:
        assert result.stats.count == counts.min == counts.max == 7
    else:
        assert counts.adaptive is True


def test_an_analysis_acl_user_reads_a_cluster_with_the_extra_grants(local_cluster) -> None:
    from rp_toolkit import access

    base = local_cluster.url.replace("redis://", "redis://{user}:pw@")
    for server in local_cluster.servers:
        admin = redis.Redis(port=server.port)
        admin.execute_command(*access.acl_setuser_args("rp_plain", "pw"))
        admin.execute_command(*access.acl_setuser_args("rp_cluster", "pw"))
        admin.execute_command("ACL", "SETUSER", "rp_cluster", *ACL_EXTRA.split())
        admin.close()
    with pytest.raises(RedisUnavailableError, match=re.escape(ACL_EXTRA)):
        rp.load("requests", base.format(user="rp_plain"), start=START, end=END)
    with rp.setup(use_scan=True):
        frame = rp.load("requests", base.format(user="rp_cluster"), start=START, end=END)
    assert len(frame) == len(rp.load("requests", local_cluster.url, start=START, end=END))


def test_a_moved_slot_is_followed(local_cluster, monkeypatch) -> None:
    """A stale slot map (as during resharding): the node answers MOVED, the chunk is re-read."""
    client = RedisCluster(host="127.0.0.1", port=local_cluster.servers[0].port)
    keys = store.fetch_keys("custom|*", client)
    real = client.nodes_manager.get_node_from_slot
    asked: set[int] = set()

    def stale(slot: int, *args, **kwargs):
        node = real(slot, *args, **kwargs)
        if slot in asked:
            return node
        asked.add(slot)
        others = [n for n in client.get_primaries() if n.name != node.name]
        return others[0]

    monkeypatch.setattr(client.nodes_manager, "get_node_from_slot", stale)
    stats = store.FetchStats(method="KEYS", pattern="custom|*", server="test")
    values = store.read_values(store.open_source(client), keys, stats)
    monkeypatch.undo()
    assert values == [client.get(key) for key in keys]
    assert None not in values
    redirected = sum(n.get("redirected_chunks", 0) for n in stats.extra["nodes"].values())
    assert redirected == len({key_slot(encode_key(key)) for key in keys})
    client.close()


def test_every_primary_is_its_own_stream_all_at_once(local_cluster) -> None:
    """The walks of the three primaries run at the same time (their windows overlap), each
    node's keys are read on that node, and the whole equals what each node holds."""
    client = RedisCluster(host="127.0.0.1", port=local_cluster.servers[0].port)
    with rp.setup(use_scan=True, scan_count=10, scan_count_auto_tune=False, progress=False):
        fetched = rp.fetch_from_redis("*", client)
    nodes = fetched.stats.extra["nodes"]
    assert len(nodes) == 3
    windows = [entry["walk_window_s"] for entry in nodes.values()]
    assert max(start for start, _ in windows) < min(end for _, end in windows)
    held = {
        node.name: client.get_redis_connection(node).dbsize() for node in client.get_primaries()
    }
    assert {name: entry["keys_found"] for name, entry in nodes.items()} == held
    assert {name: entry["values_read"] for name, entry in nodes.items()} == held
    assert len(fetched.keys) == sum(held.values()) and None not in fetched.values

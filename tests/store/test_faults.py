"""Faults injected for real: servers that restart mid-read, replicas that are not in sync,
servers still loading their data, cluster nodes that restart or are not ``ok``.

Nothing is mocked. A restart is ``kill -9`` of the real process and a new one on the same
port and directory (:meth:`RedisServer.restart`), which loads the RDB written by ``SAVE``
(a new hash seed: the same keys lie elsewhere in its table, so an old SCAN cursor skips
some). Where a test must act at a precise moment it passes a ``redis.Redis`` subclass that
talks to the real server as usual and restarts it before its Nth SCAN or MGET round trip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.backoff import ConstantBackoff, NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

import rp_toolkit as rp
from rp_toolkit import access, synth
from rp_toolkit.exceptions import RPToolkitError, ServerChangedError, ServerNotReadyError
from rp_toolkit.local import LocalCluster, RedisServer, free_port
from tests.support import MgetTrip, fill_keyspace, on_mget_trips

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

KEYS = 30_000
NAMES = [f"k:{i:06d}" for i in range(KEYS)]


def scan_settings(**more: Any) -> Any:
    """SCAN with COUNT 10: thousands of calls, so a restart lands mid-walk."""
    return rp.setup(use_scan=True, scan_count=10, scan_count_auto_tune=False, **more)


def saved(server: RedisServer, names: list[str], value: str = "v") -> redis.Redis:
    admin = redis.Redis.from_url(server.url)
    admin.flushall()
    fill_keyspace(admin, names, value, batch=5000)
    admin.save()  # what a restart comes back with
    return admin


class Hooked(redis.Redis):
    """A real client whose ``on_scan(n, cursor)``, ``on_keys(n)`` and ``on_trip(n)`` run
    before its nth SCAN call, KEYS call and MGET round trip."""

    scans = keys_calls = trips = 0
    walk_ended = walk_checked = False
    """A SCAN returned cursor 0; and the INFO that follows it (the walk's end check) ran."""
    on_scan: Callable[[int, int], None] | None = None
    on_keys: Callable[[int], None] | None = None
    on_trip: Callable[[int], None] | None = None

    @classmethod
    def for_url(cls, url: str, *, retry: Retry | None = None) -> Hooked:
        """Configured like rp_toolkit's own clients (no retries inside redis-py), or with
        ``retry`` (as a caller's client may be)."""
        if retry is None:
            retry = Retry(NoBackoff(), 0)
        client = cls.from_url(url, decode_responses=False, retry=retry)
        return on_mget_trips(client, client.before_trip)  # type: ignore[return-value]

    def scan(self, cursor: int = 0, *args: Any, **kwargs: Any) -> Any:
        self.scans += 1
        if self.on_scan is not None:
            self.on_scan(self.scans, int(cursor))
        reply = super().scan(cursor, *args, **kwargs)
        self.walk_ended = int(reply[0]) == 0
        return reply

    def info(self, *args: Any, **kwargs: Any) -> Any:
        reply = super().info(*args, **kwargs)
        self.walk_checked = self.walk_checked or self.walk_ended
        return reply

    def keys(self, *args: Any, **kwargs: Any) -> Any:
        self.keys_calls += 1
        if self.on_keys is not None:
            self.on_keys(self.keys_calls)
        return super().keys(*args, **kwargs)

    def before_trip(self, _commands: MgetTrip) -> None:
        self.trips += 1
        if self.on_trip is not None:
            self.on_trip(self.trips)


def at(n: int, action: Callable[[], object]) -> Callable[..., None]:
    """A hook that runs ``action`` on the nth call."""
    return lambda count, *_: action() if count == n else None


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        yield started


@pytest.fixture
def keyspace(server: RedisServer) -> RedisServer:
    """The module's server holding ``NAMES``, saved, and answering again."""
    saved(server, NAMES).close()
    return server


# ------------------------------------------------------------------- restarts during SCAN


@pytest.mark.parametrize(
    "how",
    [
        "between calls",  # back before the next SCAN: redis-py's pool reconnects silently
        "in flight",  # the next SCAN finds it down: rp_toolkit's retry reconnects
        "redis-py retries",  # a caller's client whose own retries (with backoff) hide the loss
    ],
)
def test_a_restart_mid_scan_walks_the_new_server_from_cursor_0(keyspace, how):
    """Fails without restart detection: the walk resumes an old cursor on the new server's
    table and about a fifth of the keys never come back, without a word."""
    retry = Retry(ConstantBackoff(0.05), 40) if how == "redis-py retries" else None
    client = Hooked.for_url(keyspace.url, retry=retry)
    client.on_scan = at(1000, lambda: keyspace.restart(wait=how == "between calls"))
    with scan_settings(retries=6):
        result = rp.fetch_from_redis("k:*", client)
    assert result.keys == NAMES
    assert result.values == ["v"] * KEYS
    stats = result.stats
    assert stats.restarts == 1
    [event] = stats.restart_events
    assert event.server == stats.server == f"127.0.0.1:{keyspace.port}/0"
    assert event.during == "SCAN"
    assert event.action == "SCAN restarted from cursor 0"
    assert event.before.run_id != event.after.run_id
    assert stats.servers[stats.server].identity == event.after
    assert stats.extra["restarts"] == [event.as_dict()]  # the old dict view, still there
    assert stats.extra["servers"][stats.server]["run_id"] == event.after.run_id
    assert (stats.retries >= 1) == (how == "in flight")


@pytest.mark.slow
def test_kill_9_from_another_thread_mid_scan_of_200k_keys(server):
    """The issue's case at a smaller scale: a server killed and restarted while a long SCAN
    runs, at whatever moment the other thread gets to it."""
    names = [f"k:{i:07d}" for i in range(200_000)]
    admin = saved(server, names)
    admin.config_resetstat()
    restarted = threading.Event()

    def restart_when_busy() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            calls = admin.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
            if calls >= 3000:
                server.restart()
                restarted.set()
                return
            time.sleep(0.005)

    thread = threading.Thread(target=restart_when_busy, daemon=True)
    with scan_settings(retries=6):
        thread.start()
        result = rp.fetch_keys("k:*", server.url)
        thread.join(30)
    assert restarted.is_set()
    assert result == names
    admin.close()


def test_restart_is_counted_in_load_info(keyspace):
    """rp.load's summary counts the restarts of its fetches."""
    end = datetime(2026, 2, 4, 12, tzinfo=UTC)
    admin = redis.Redis.from_url(keyspace.url)
    admin.flushall()
    synth.write(keyspace.url, hours=0.25, rps=4, end=end, progress=False)
    admin.save()
    expected = rp.load("requests", keyspace.url, start=end - timedelta(hours=1), end=end)
    assert expected.attrs["rp"].summary()["restarts"] == 0
    client = Hooked.for_url(keyspace.url)
    client.on_scan = at(50, keyspace.restart)
    with scan_settings():
        frame = rp.load("requests", client, start=end - timedelta(hours=1), end=end)
    summary = frame.attrs["rp"].summary()
    assert summary["restarts"] == 1
    assert summary["records"] == len(expected) > 0
    assert sorted(frame["request_id"]) == sorted(expected["request_id"])
    admin.close()


# ------------------------------------------------------------- restarts during value reads


@pytest.mark.parametrize("wait", [True, False], ids=["between trips", "in flight"])
def test_a_restart_during_value_reads_is_recorded(keyspace, wait):
    """The walk has ended on the old server (and checked it); the server restarts between
    two of the MGET round trips still queued, or under one: every value still read, and the
    restart recorded once, by the read stage."""
    client = Hooked.for_url(keyspace.url)
    restarted = []

    def slow_reads_then_restart(_: int) -> None:
        if not client.walk_checked:
            time.sleep(0.005)  # reads slower than the walk: round trips queue up behind it
        elif not restarted:
            restarted.append(keyspace.restart(wait=wait))

    client.on_trip = slow_reads_then_restart
    with scan_settings(mget_chunk=10, pipeline_depth=1, retries=6):
        result = rp.fetch_from_redis("k:*", client)
    assert result.keys == NAMES
    assert result.values == ["v"] * KEYS  # MGET is idempotent: nothing lost or doubled
    [event] = result.stats.restart_events
    assert result.stats.restarts == 1
    assert event.during == "MGET"
    assert event.action == "recorded"
    assert result.stats.values_missing == 0


@pytest.mark.parametrize("wait", [True, False], ids=["between trips", "in flight"])
def test_a_restart_while_walk_and_reads_overlap_is_recorded_once(keyspace, wait):
    """The server restarts under the 100th MGET round trip, while the walk goes on: the
    walk starts over on the new server whichever stage noticed first, every key comes
    back once with its value, and the restart is counted once."""
    client = Hooked.for_url(keyspace.url)
    client.on_trip = at(100, lambda: keyspace.restart(wait=wait))
    with scan_settings(mget_chunk=10, pipeline_depth=1, retries=6):
        result = rp.fetch_from_redis("k:*", client)
    assert result.keys == NAMES
    assert result.values == ["v"] * KEYS
    assert result.stats.restarts == 1
    [event] = result.stats.restart_events
    assert event.during in ("SCAN", "MGET")
    assert result.stats.duplicates_dropped > 0  # the walk did start over: keys came twice


def test_keys_lost_in_a_restart_during_reads_are_missing_values(keyspace):
    """Keys written after the last SAVE are listed and handed to the reads, then gone with
    the restart: read as None, counted as values_missing, never dropped without a word;
    the restart recorded; the walk, started over, lists only what the new server has."""
    admin = redis.Redis.from_url(keyspace.url)
    new = [f"k:new:{i:04d}" for i in range(5000)]
    fill_keyspace(admin, new, "new")  # not saved
    client = Hooked.for_url(keyspace.url)
    client.on_trip = at(1, keyspace.restart)
    with scan_settings(mget_chunk=100, pipeline_depth=1):
        result = rp.fetch_from_redis("k:*", client)
    assert set(NAMES) <= set(result.keys)
    missing = [k for k, v in zip(result.keys, result.values, strict=True) if v is None]
    # The first round trip alone (100 keys, 1 in 7 of them new) holds some with p > 1 - 1e-6.
    assert 0 < len(missing) == result.stats.values_missing
    assert set(missing) <= set(new)
    assert [v for k, v in zip(result.keys, result.values, strict=True) if k in set(NAMES)] == [
        "v"
    ] * KEYS
    assert result.stats.restarts == 1
    admin.close()


def test_a_restart_during_keys_runs_it_again_and_is_recorded(keyspace):
    """KEYS lost with its connection simply runs again on the new server."""
    client = Hooked.for_url(keyspace.url)
    client.on_keys = at(1, lambda: keyspace.restart(wait=False))
    with rp.setup(use_scan=False, retries=6):
        result = rp.fetch_from_redis("k:*", client)
    assert result.keys == NAMES
    assert client.keys_calls == 2  # the lost one, and the retry on the new server
    assert result.stats.retries >= 1
    assert result.stats.restarts == 1
    assert result.stats.restart_events[0].during == "KEYS"


# ----------------------------------------------------------------- beyond the retry budget


def test_with_retries_0_a_restart_mid_scan_is_an_error_not_fewer_keys(keyspace):
    client = Hooked.for_url(keyspace.url)
    client.on_scan = at(1000, keyspace.restart)
    with scan_settings(retries=0), pytest.raises(ServerChangedError) as caught:
        rp.fetch_from_redis("k:*", client)
    message = str(caught.value)
    assert "\n" not in message
    assert "restarted" in message and "mid-scan" in message
    assert f"127.0.0.1:{keyspace.port}" in message
    assert "retries" in message
    assert isinstance(caught.value, rp.RedisUnavailableError)


def test_a_server_restarting_on_every_walk_exhausts_the_budget(keyspace):
    """retries=2: two walks start over, the third restart is an error."""
    client = Hooked.for_url(keyspace.url)
    calls_in_walk = 0

    def restart_each_walk(_n: int, cursor: int) -> None:
        nonlocal calls_in_walk
        calls_in_walk = 1 if cursor == 0 else calls_in_walk + 1
        if calls_in_walk == 1000:
            keyspace.restart()

    client.on_scan = restart_each_walk
    with scan_settings(retries=2), pytest.raises(ServerChangedError, match=r"3 time\(s\)"):
        rp.fetch_keys("k:*", client)
    assert client.scans > 3 * 1000


# ------------------------------------------------------------------ servers not ready


@pytest.fixture
def replica() -> Iterator[RedisServer]:
    with RedisServer() as started:
        yield started


def test_a_replica_before_its_first_sync_is_not_ready(replica):
    """Its primary is busy writing the RDB for it (rdb-key-save-delay): master_sync_in_progress
    is 1 and the replica holds nothing yet. Without the check: an empty result."""
    with RedisServer({"repl-diskless-sync": "no", "rdb-key-save-delay": 1000}) as primary:
        fill_keyspace(redis.Redis.from_url(primary.url), NAMES[:20_000], "v", batch=5000)
        admin = redis.Redis.from_url(replica.url)
        admin.replicaof("127.0.0.1", primary.port)
        deadline = time.monotonic() + 10
        while admin.info("replication").get("master_sync_in_progress") != 1:
            assert time.monotonic() < deadline, "the replica did not start syncing"
            time.sleep(0.02)
        for use_scan in (True, False):
            with rp.setup(use_scan=use_scan), pytest.raises(ServerNotReadyError) as caught:
                rp.fetch_from_redis("k:*", replica.url)
            message = str(caught.value)
            assert "replica" in message and "full sync from it is in progress" in message
            assert f"127.0.0.1:{primary.port}" in message
            assert "allow_stale_replica" in message and "\n" not in message
        with rp.setup(use_scan=True, allow_stale_replica=True):
            result = rp.fetch_from_redis("k:*", replica.url)
        assert result.keys == []  # read as it is, and said so
        note = result.stats.servers[result.stats.server].stale_replica
        assert note is not None and note.master_sync_in_progress is True
        admin.replicaof("NO", "ONE")
        admin.close()


def test_a_replica_whose_primary_is_gone_is_not_ready_unless_allowed(replica, caplog):
    with RedisServer({"repl-diskless-sync-delay": 0}) as primary:
        fill_keyspace(redis.Redis.from_url(primary.url), NAMES, "v", batch=5000)
        admin = redis.Redis.from_url(replica.url)
        admin.replicaof("127.0.0.1", primary.port)
        deadline = time.monotonic() + 10
        while admin.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.02)
        with rp.setup(use_scan=True):
            assert rp.fetch_keys("k:*", replica.url) == NAMES  # in sync: read as usual
    # the primary is gone: the link is down
    while admin.info("replication").get("master_link_status") != "down":
        time.sleep(0.02)
    with rp.setup(use_scan=True), pytest.raises(ServerNotReadyError, match="its link is down"):
        rp.fetch_keys("k:*", replica.url)
    with rp.setup(use_scan=True, allow_stale_replica=True):
        result = rp.fetch_from_redis("k:*", replica.url)
        frame = rp.load("requests", replica.url)  # no records of that kind, but read
    assert result.keys == NAMES
    assert result.stats.extra["stale_replica"][result.stats.server]["master_link_status"] == "down"
    assert "allow_stale_replica" in caplog.text
    assert frame.attrs["rp"].fetches[0].extra["stale_replica"]
    admin.close()


def test_a_replica_that_never_reached_its_primary_is_not_ready(replica):
    admin = redis.Redis.from_url(replica.url)
    fill_keyspace(admin, NAMES[:100], "v")
    admin.replicaof("127.0.0.1", free_port())  # nothing listens there
    with rp.setup(use_scan=True), pytest.raises(ServerNotReadyError, match="its link is down"):
        rp.fetch_keys("k:*", replica.url)
    with rp.setup(use_scan=True, allow_stale_replica=True):
        assert rp.fetch_keys("k:*", replica.url) == NAMES[:100]
    admin.replicaof("NO", "ONE")
    admin.close()


@pytest.fixture
def slow_loader() -> Iterator[RedisServer]:
    """A server that loads its RDB slowly after a restart (key-load-delay: 100 us a key,
    about 2 s for its 20,000 keys, saved)."""
    config = {"key-load-delay": 100, "loading-process-events-interval-bytes": 1024}
    try:
        started = RedisServer(config).start()
    except RPToolkitError as error:  # a server without these (test-only) options
        pytest.skip(f"this redis-server cannot load slowly: {error}")
    try:
        saved(started, NAMES[:20_000]).close()
        yield started
    finally:
        started.stop()


def wait_until_loading(server: RedisServer) -> None:
    probe = redis.Redis(port=server.port, retry=Retry(NoBackoff(), 0))
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "the server never showed loading:1"
        try:
            if probe.info("persistence").get("loading") == 1:
                break
        except redis.ConnectionError:
            pass
        time.sleep(0.01)
    probe.close()


@pytest.mark.parametrize("use_scan", [True, False], ids=["SCAN", "KEYS"])
def test_a_server_loading_its_data_is_not_ready(slow_loader, use_scan):
    """Without the check: SCAN/KEYS answer LOADING, retried, then a connection error (or,
    had it finished loading meanwhile, a fetch that began before the data was there)."""
    slow_loader.restart(wait=False)
    wait_until_loading(slow_loader)
    started = time.monotonic()
    with rp.setup(use_scan=use_scan), pytest.raises(ServerNotReadyError) as caught:
        rp.fetch_from_redis("k:*", slow_loader.url)
    assert time.monotonic() - started < 1.5  # at once, not after the retries
    message = str(caught.value)
    assert "loading" in message and f"127.0.0.1:{slow_loader.port}" in message
    assert "\n" not in message


def test_a_restart_mid_scan_that_loads_longer_than_the_retries_is_not_ready(slow_loader):
    """The server comes back, but loads its data for longer than retries=2 wait (0.3 s):
    still loading is "not ready", not "could not talk to Redis"."""
    client = Hooked.for_url(slow_loader.url)
    client.on_scan = at(200, lambda: slow_loader.restart(wait=False))
    with scan_settings(retries=2), pytest.raises(ServerNotReadyError, match="loading"):
        rp.fetch_keys("k:*", client)


def test_info_refused_reads_on_unchecked_and_says_so(keyspace):
    """An ACL user without INFO: no identity, no readiness check, but the read works."""
    admin = redis.Redis.from_url(keyspace.url)
    admin.execute_command(*access.acl_setuser_args("no_info", "pw"))
    admin.execute_command("ACL", "SETUSER", "no_info", "~k:*", "-info")
    url = keyspace.url.replace("redis://", "redis://no_info:pw@")
    try:
        with scan_settings():
            result = rp.fetch_from_redis("k:*", url)
        assert result.keys == NAMES
        assert "INFO refused" in result.stats.servers[result.stats.server].unchecked
    finally:
        admin.acl_deluser("no_info")
        admin.close()


# -------------------------------------------------------------------------- the cluster


CLUSTER_KEYS = [f"c:{i:06d}" for i in range(60_000)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(primaries=3) as started:
        client = RedisCluster(host="127.0.0.1", port=started.servers[0].port)
        pipe = client.pipeline()
        for key in CLUSTER_KEYS:
            pipe.set(key, "v")
        pipe.execute()
        client.close()
        for node in started.servers:
            redis.Redis(port=node.port).save()
        yield started


def wait_until_ok(cluster: LocalCluster) -> None:
    """A node that restarted says cluster_state:fail for about 2 s (it waits before taking
    writes again)."""
    deadline = time.monotonic() + 15
    for node in cluster.servers:
        admin = redis.Redis(port=node.port)
        while b"cluster_state:ok" not in admin.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the cluster did not come back"
            time.sleep(0.05)
        admin.close()


@pytest.mark.slow
def test_a_cluster_node_restarted_mid_scan_is_walked_again(cluster):
    wait_until_ok(cluster)
    victim = cluster.servers[1]
    admin = redis.Redis(port=victim.port)
    admin.config_resetstat()
    restarted = threading.Event()

    def restart_when_busy() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if admin.info("commandstats").get("cmdstat_scan", {}).get("calls", 0) >= 300:
                victim.restart()
                restarted.set()
                return
            time.sleep(0.002)

    thread = threading.Thread(target=restart_when_busy, daemon=True)
    client = RedisCluster(host="127.0.0.1", port=cluster.servers[0].port)
    with scan_settings(retries=6):  # the reads may wait out its 2 s of cluster_state:fail
        thread.start()
        result = rp.fetch_from_redis("c:*", client)
        thread.join(30)
    assert restarted.is_set()
    assert result.keys == CLUSTER_KEYS
    assert result.values == ["v"] * len(CLUSTER_KEYS)
    stats = result.stats
    assert stats.restarts == 1
    name = f"127.0.0.1:{victim.port}"
    assert stats.nodes[name].restarts == 1
    [event] = stats.restart_events
    assert event.server == name and event.during == "SCAN"
    assert event.before.node_id == event.after.node_id  # same node, new process
    assert event.before.slots == event.after.slots
    client.close()
    admin.close()


def test_a_cluster_whose_node_is_not_ok_is_not_ready(cluster):
    """Right after its restart a node says cluster_state:fail: the fetch refuses at once,
    naming it, instead of listing it and failing (or not) on its reads."""
    wait_until_ok(cluster)
    victim = cluster.servers[2]
    victim.restart()
    client = RedisCluster(host="127.0.0.1", port=cluster.servers[0].port)
    with rp.setup(use_scan=True), pytest.raises(ServerNotReadyError) as caught:
        rp.fetch_from_redis("c:*", client)
    message = str(caught.value)
    assert f"127.0.0.1:{victim.port}" in message and "cluster_state:fail" in message
    wait_until_ok(cluster)
    with rp.setup(use_scan=True):
        assert rp.fetch_keys("c:*", client) == CLUSTER_KEYS
    client.close()

"""The read path's stages (walk → read → caller) overlap, stay bounded, stop when the caller
stops, and end with the caller's error when a stage fails; against real servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit import store
from rp_toolkit.exceptions import RedisUnavailableError
from rp_toolkit.local import RedisServer
from tests.support import MgetTrip, fill_keyspace, on_mget_trips

KEYS = 30_000
NAMES = [f"s:{i:06d}" for i in range(KEYS)]


class Logged(redis.Redis):
    """A real client that logs, in order, each SCAN call (with the keys it returned) and each
    pipeline executed (an MGET round trip)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, int]] = []
        self.walked = 0
        self.lock = threading.Lock()
        on_mget_trips(self, self.log_trip)

    def scan(self, *args: Any, **kwargs: Any) -> Any:
        reply = super().scan(*args, **kwargs)
        with self.lock:
            self.walked += len(reply[1])
            self.events.append(("scan", len(reply[1])))
        return reply

    def log_trip(self, commands: MgetTrip) -> None:
        with self.lock:
            self.events.append(("mget", len(commands)))


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        admin = redis.Redis.from_url(started.url)
        fill_keyspace(admin, NAMES, "v", batch=5000)
        yield started


def logged_client(server: RedisServer) -> Logged:
    return Logged.from_url(server.url)


def test_reads_start_before_the_walk_ends(server: RedisServer) -> None:
    """Fails for a path that lists every key before reading any: MGET round trips are sent
    while SCAN calls are still to come, and every key comes back once with its value."""
    client = logged_client(server)
    with rp.setup(use_scan=True, scan_count=500, scan_count_auto_tune=False, mget_chunk=100,
                  pipeline_depth=2, progress=False):  # fmt: skip
        result = rp.fetch_from_redis("s:*", client)
    assert result.keys == NAMES and result.values == ["v"] * KEYS
    kinds = [kind for kind, _ in client.events]
    last_scan = len(kinds) - 1 - kinds[::-1].index("scan")
    assert "mget" in kinds[:last_scan]
    assert kinds.count("mget") == KEYS // 200  # 200 keys per round trip, none twice


def test_a_slow_caller_holds_the_walk_back(server: RedisServer) -> None:
    """The stages are joined by bounded queues: however slow the caller, the walk is never
    more than a few round trips ahead of it (memory stays bounded)."""
    client = logged_client(server)
    trip = 100
    ahead: list[int] = []
    consumed = 0
    with rp.setup(use_scan=True, scan_count=100, scan_count_auto_tune=False, mget_chunk=trip,
                  pipeline_depth=1, progress=False):  # fmt: skip
        for batch in store.FetchStream("s:*", client):
            consumed += len(batch.keys)
            time.sleep(0.002)
            with client.lock:
                ahead.append(client.walked - consumed)
    assert consumed == KEYS
    # Queued between walk and read, between read and caller, one in each stage, and what
    # one SCAN call adds to the walk's buffer.
    bound = (2 * store.STAGE_QUEUE_TRIPS + 3) * trip + 2 * 100
    assert max(ahead) <= bound
    assert max(ahead) > trip  # it does run ahead: the stages overlap


def test_a_caller_that_stops_early_stops_the_stages(server: RedisServer) -> None:
    client = logged_client(server)
    before = threading.active_count()
    with rp.setup(use_scan=True, scan_count=10, scan_count_auto_tune=False, mget_chunk=10,
                  pipeline_depth=1, progress=False):  # fmt: skip
        batches = iter(store.FetchStream("s:*", client))
        first = next(batches)
        assert len(first.keys) == 10
        assert threading.active_count() == before + 2  # a walk and a read stage
        batches.close()
    assert threading.active_count() == before
    calls = len(client.events)
    time.sleep(0.3)
    assert len(client.events) == calls  # nothing more is sent
    assert client.walked < KEYS


def test_a_server_lost_mid_stream_ends_it_with_one_clear_error() -> None:
    """The server is killed while the stages run: the caller gets rp_toolkit's one-line
    error (after the retries), and no stage is left running."""
    with RedisServer() as doomed:
        fill_keyspace(redis.Redis.from_url(doomed.url), NAMES, "v", batch=5000)
        client = redis.Redis.from_url(doomed.url)
        before = threading.active_count()
        seen = 0
        with (
            rp.setup(
                use_scan=True,
                scan_count=10,
                scan_count_auto_tune=False,
                mget_chunk=10,
                pipeline_depth=1,
                retries=1,
                progress=False,
            ),  # fmt: skip
            pytest.raises(RedisUnavailableError) as caught,
        ):
            for batch in store.FetchStream("s:*", client):
                seen += len(batch.keys)
                if seen == 100:
                    doomed.process.kill()
        assert "\n" not in str(caught.value)
        assert "Could not talk to Redis" in str(caught.value)
        assert threading.active_count() == before
        assert 100 <= seen < KEYS


def test_keys_only_and_cluster_free_statistics_add_up(server: RedisServer) -> None:
    client = logged_client(server)
    with rp.setup(use_scan=True, scan_count=1000, scan_count_auto_tune=False, progress=False):
        fetch = store.FetchStream("s:*", client, values=False)
        keys = [key for batch in fetch for key in batch.keys]
    assert sorted(keys) == [name.encode() for name in NAMES]
    assert fetch.stats.keys_found == KEYS
    assert fetch.stats.mget_calls == 0
    assert fetch.stats.scan_calls == sum(kind == "scan" for kind, _ in client.events)
    assert "mget" not in {kind for kind, _ in client.events}


batches_of_keys = st.lists(
    st.lists(st.binary(min_size=0, max_size=6), max_size=30), min_size=0, max_size=12
)


@settings(max_examples=200, derandomize=True)
@given(batches=batches_of_keys, exact=st.booleans())
def test_seen_keys_hands_each_key_on_once_in_first_seen_order(
    batches: list[list[bytes]], exact: bool
) -> None:
    """Exact, or by hash (a dozen batches make several sorted runs, merged)."""
    seen = store.SeenKeys(exact=exact)
    handed = [key for batch in batches for key in seen.fresh(batch)]
    every = [key for batch in batches for key in batch]
    assert handed == list(dict.fromkeys(every))
    assert seen.duplicates == len(every) - len(handed)


def test_a_stream_keeps_the_options_it_started_with(server: RedisServer) -> None:
    """rp.setup in another thread mid-stream changes the next call, not this one: every MGET
    still carries the stream's mget_chunk keys, and the walk stays SCAN."""
    client = redis.Redis.from_url(server.url)
    sizes: list[int] = []
    on_mget_trips(client, lambda commands: sizes.extend(len(c) - 1 for c in commands))
    with rp.setup(use_scan=True, scan_count=100, scan_count_auto_tune=False, mget_chunk=50,
                  pipeline_depth=1, progress=False):  # fmt: skip
        fetch = store.FetchStream("s:*", client)
        found = 0
        for batch in fetch:
            if not found:
                changer = threading.Thread(target=rp.setup, kwargs={"mget_chunk": 7,
                                                                    "use_scan": False})  # fmt: skip
                changer.start()
                changer.join()
                assert rp.settings.mget_chunk == 7 and rp.settings.use_scan is False
            found += len(batch.keys)
        assert found == KEYS
        assert set(sizes) == {50} and len(sizes) == KEYS // 50
        assert fetch.stats.method == "SCAN" and fetch.stats.scan_calls > 1
        assert fetch.options.mget_chunk == 50
        after = store.FetchStream("s:*", client, values=False)  # the next call: the new ones
        assert after.stats.method == "KEYS" and after.options.mget_chunk == 7

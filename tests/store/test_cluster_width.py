"""A cluster's reads at full width: each primary's read stage groups the walked keys by hash
slot (rp_toolkit.store._cluster.SlotBuffer) so that an MGET carries a slot's keys, not the
few of them one walk batch holds; against a real three-primary cluster and one server."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
import redis
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis.cluster import RedisCluster, key_slot

import rp_toolkit as rp
from rp_toolkit import store
from rp_toolkit.local import LocalCluster, RedisServer
from rp_toolkit.store import ClusterTopology
from rp_toolkit.store._cluster import SlotBuffer, ordered_runs, slots_of
from tests.support import fill_keyspace

TAGS = 24
PER_TAG = 300
"""Keys sharing a hash tag share a slot: 24 slots of 300 keys each (wide slots)..."""
PLAIN = 6000
"""...and keys without a tag, spread over the slots (a key or so each)."""
CHUNK = 100


def keyspace() -> dict[str, str]:
    wide = {f"wide|{{t{t:02d}}}|{i:05d}": f"v{t}.{i}" for t in range(TAGS) for i in range(PER_TAG)}
    plain = {f"plain|{i:06d}|END": f"p{i}" for i in range(PLAIN)}
    return {**wide, **plain}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """(cluster URL, single-server URL), both holding :func:`keyspace`."""
    with LocalCluster(primaries=3) as cluster, RedisServer() as single:
        client = RedisCluster.from_url(cluster.url)
        client.mset_nonatomic(keyspace())
        client.close()
        fill_keyspace(redis.Redis.from_url(single.url), keyspace(), batch=2000)
        yield cluster.url, single.url


def slot_counts(keys: list[str]) -> Counter[int]:
    return Counter(key_slot(key.encode()) for key in keys)


@pytest.mark.parametrize("use_scan", [True, False], ids=["SCAN", "KEYS"])
@pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")
def test_each_slot_is_read_in_mgets_as_wide_as_it_allows(servers, use_scan) -> None:
    """Fails for reads that take each walk batch as it comes: a batch holds part of a slot's
    keys (or a few keys of every slot), so one slot takes several MGETs. Here every slot's
    keys are read in one MGET (fewer keys than ``mget_chunk``), whatever order the walk
    lists them in, and the values equal one server's."""
    cluster_url, single_url = servers
    # The walk hands on 800 keys at a time (not a whole number of slots), the buffer holds
    # 6400, more than any primary's share: a slot is read when the walk has passed it, or at
    # the end, whole.
    chunk = 400
    with rp.setup(use_scan=use_scan, scan_count=100, scan_count_auto_tune=False,
                  mget_chunk=chunk, pipeline_depth=2, progress=False):  # fmt: skip
        on_cluster = store.fetch_from_redis("wide|*", cluster_url)
        on_single = store.fetch_from_redis("wide|*", single_url)
    assert on_cluster.keys == on_single.keys and on_cluster.values == on_single.values
    assert len(on_cluster.keys) == TAGS * PER_TAG and None not in on_cluster.values
    counts = slot_counts(on_cluster.keys)
    stats = on_cluster.stats
    assert stats.mget_calls == sum(math.ceil(n / chunk) for n in counts.values())
    assert len(on_cluster.keys) / stats.mget_calls >= chunk / 2
    nodes = stats.extra["nodes"]
    assert sum(entry["slots"] for entry in nodes.values()) == len(counts)
    assert sum(entry["values_read"] for entry in nodes.values()) == len(on_cluster.keys)


def test_everything_equals_one_server(servers) -> None:
    """Tagged and plain keys together (slots of hundreds of keys and of one or two)."""
    cluster_url, single_url = servers
    with rp.setup(use_scan=True, mget_chunk=CHUNK, pipeline_depth=3, progress=False):
        on_cluster = store.fetch_from_redis("*", cluster_url)
        on_single = store.fetch_from_redis("*", single_url)
    assert on_cluster.keys == on_single.keys and on_cluster.values == on_single.values
    assert len(on_cluster.keys) == TAGS * PER_TAG + PLAIN
    assert on_cluster.stats.mget_calls >= len(slot_counts(on_cluster.keys))


VALUES = {key.encode(): value.encode() for key, value in keyspace().items()}


def feed(buffer: SlotBuffer, batches: list[list[bytes]]) -> list[tuple[list[bytes], int]]:
    """Each batch added in turn, then the end: what was read at each step (its keys, and how
    many keys wait in the buffer after it); every value read is the key's."""
    out = []
    for batch in [*batches, None]:
        got = buffer.add(batch) if batch is not None else buffer.finish()
        if got is not None:
            assert got.values == [VALUES[key] for key in got.keys]
        out.append((got.keys if got is not None else [], buffer.size))
    return out


def a_buffer(url: str) -> tuple[SlotBuffer, list[bytes], store.FetchStats]:
    """A SlotBuffer on the primary of the real cluster that holds the most tagged keys, and
    those keys."""
    nodes = ClusterTopology(RedisCluster.from_url(url), rp.config.current_options()).nodes()
    node = max(nodes, key=lambda node: len(node.client.keys("wide|*")))
    stats = store.FetchStats("MGET", "test", node.name)
    buffer = node.reader(stats, node.check(stats))
    assert isinstance(buffer, SlotBuffer)
    return buffer, sorted(node.client.keys("wide|*")), stats


def test_a_walk_spread_over_every_slot_is_grouped_up_to_the_bound(servers) -> None:
    """SCAN on a server with one table for all slots (Redis before per-slot tables) spreads
    each batch over every slot: fed such batches, the buffer still reads a slot's keys
    together, and holds no more than its bound (then reads all it holds)."""
    cluster_url, _ = servers
    with rp.setup(mget_chunk=CHUNK, pipeline_depth=1):
        buffer, held, stats = a_buffer(cluster_url)
        random.Random(7).shuffle(held)
        trip = CHUNK
        batches = [held[i : i + trip] for i in range(0, len(held), trip)]
        steps = feed(buffer, batches)
    assert buffer.bound == 8 * trip < len(held)  # the bound is reached: reads before the end
    assert max(size for _, size in steps) <= buffer.bound
    read = [key for keys, _ in steps for key in keys]
    assert sorted(read) == sorted(held)  # each key read once
    assert sum(1 for keys, _ in steps[:-1] if keys) >= 1
    # Narrow reads (each batch as it came) would carry about trip / slots keys per MGET.
    slots = len(slot_counts([key.decode() for key in held]))
    assert len(held) / stats.mget_calls > 3 * trip / slots


def test_a_walk_in_slot_order_reads_each_slot_once_it_has_passed(servers) -> None:
    """Valkey 8+ walks one slot's table after another: the buffer reads a slot as soon as
    the walk has passed it (not at the end), whole, in one MGET per ``mget_chunk`` keys."""
    cluster_url, _ = servers
    with rp.setup(mget_chunk=1000, pipeline_depth=2):
        buffer, held, stats = a_buffer(cluster_url)
        held.sort(key=key_slot)
        batches = [held[i : i + 130] for i in range(0, len(held), 130)]
        steps = feed(buffer, batches)
    per_slot = Counter(map(key_slot, held))
    assert stats.mget_calls == len(per_slot)  # each slot whole (300 keys < mget_chunk)
    assert steps[-1][0] and len(steps[-1][0]) <= PER_TAG  # only the last slot waits to the end
    assert max(size for _, size in steps) <= 2 * 130 + PER_TAG


BRACES = [b"{", b"}", b"{}", b"a{b}c"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=12) | st.sampled_from([b"{", b"}", b"{}", b"a{b}c"]), max_size=20)
)
def test_slots_equal_the_cluster_rule_for_any_keys(parts: list[bytes]) -> None:
    """Keys of any bytes, hash tags or none (``{}`` empty, unclosed, several)."""
    keys = [b"".join(parts[i:]) for i in range(len(parts))] + parts
    assert slots_of(keys).tolist() == [key_slot(key) for key in keys]


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=6) | st.sampled_from(BRACES), max_size=12), st.integers(1, 50))
def test_runs_of_keys_in_slot_order_are_found_exactly(parts: list[bytes], guess: int) -> None:
    """Keys in slot order (as a walk of per-slot tables lists them), repeats of a slot in
    runs of any length: the runs found by probing a few keys are the exact ones."""
    keys = sorted(
        {b"".join(parts[i:j]) for i in range(len(parts)) for j in range(i, len(parts) + 1)}
    )
    keys = sorted(keys, key=key_slot)
    slots = np.array([key_slot(key) for key in keys])
    runs = runs_of(slots)
    exact = ([slot for slot, _, _ in runs], [0, *(start + n for _, start, n in runs)])
    assert ordered_runs(keys, guess) == exact


def runs_of(slots: np.ndarray) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    for index, slot in enumerate(slots.tolist()):
        if out and out[-1][0] == slot:
            out[-1] = (slot, out[-1][1], out[-1][2] + 1)
        else:
            out.append((slot, index, 1))
    return out


def test_a_key_of_another_slot_hidden_in_an_ordered_batch_is_read_by_its_slot(servers) -> None:
    """The probes of an ordered batch miss a key of another slot inside a run: the server
    answers that MGET CROSSSLOT, and its keys are read again by their exact slots."""
    cluster_url, _ = servers
    with rp.setup(mget_chunk=1000, pipeline_depth=2):
        buffer, held, stats = a_buffer(cluster_url)
        held.sort(key=key_slot)
        first, second = held[:PER_TAG], held[PER_TAG:]
        intruder = second[-1]  # of the last slot
        second.remove(intruder)
        for at in range(1, PER_TAG - 1):  # a place the probes miss
            batch = [*second[:at], intruder, *second[at:]]
            probed = ordered_runs(batch, PER_TAG)
            if probed is not None and probed[0] == ordered_runs(second, PER_TAG)[0]:
                break
        else:
            pytest.skip("every place of the intruder is probed")
        steps = feed(buffer, [first, batch])
    assert sorted(key for keys, _ in steps for key in keys) == sorted([*first, *batch])
    assert stats.extra["regrouped_chunks"] >= 1

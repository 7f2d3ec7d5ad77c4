"""Redis Cluster: key discovery on every primary, values read per slot.

The gem lists keys with one ``KEYS`` and reads them with one ``MGET``. On a cluster both break:
KEYS (and SCAN) see the keys of the one node they run on, and an MGET whose keys hash to
different slots fails with ``CROSSSLOT Keys in request don't hash to the same slot``. Here:

* **Which URLs are clusters**: :mod:`rp_toolkit.store.connection` decides.
* **Keys.** KEYS or SCAN (per ``use_scan`` and the COUNT rules) runs on every primary, up to
  :data:`MAX_THREADS` nodes at a time; the lists are merged, de-duplicated and sorted by the
  caller exactly as on one node.
* **Values.** Keys are grouped by hash slot; each slot's keys are read with MGETs of at most
  ``settings.mget_chunk`` keys (an MGET never spans two slots). A slot holds few keys, so the
  MGETs for one primary are pipelined about ``mget_chunk × pipeline_depth`` keys per round
  trip, as many as one trip to a single node; primaries are read in parallel. A chunk
  answered with a redirection (a slot moved while resharding) is re-read through redis-py's
  cluster client, which follows the redirection. A trip answered ``CLUSTERDOWN`` (a node
  that just restarted serves again only after about 2 s) is sent again with the backoff of
  a lost connection, then :class:`ServerNotReadyError`.
* **Readiness and restarts**: every primary is checked before any is listed, and each SCAN
  loop and read phase watches its own node (:mod:`rp_toolkit.store.identity`).

Keys listed while a slot migrates may come from both nodes (de-duplicated) or, rarely, be
missed; analysis during a resharding is best repeated afterwards.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis
from redis import exceptions as redis_errors
from redis.cluster import RedisCluster, key_slot

from ..config import settings
from ..exceptions import ServerNotReadyError
from ..kinds import encode_key
from .connection import translate_errors
from .identity import ServerWatch, fold_into
from .scan import scan_batches, warn_keys_deprecated
from .stats import FetchStats, merge_counts, progress_bar, timed_call

MAX_THREADS = 8
"""At most this many nodes are listed or read at the same time."""
_REDIRECTIONS = (redis_errors.MovedError, redis_errors.AskError, redis_errors.TryAgainError)

T = TypeVar("T")


def _primaries(client: RedisCluster) -> list[tuple[Any, redis.Redis]]:
    return [(node, client.get_redis_connection(node)) for node in client.get_primaries()]


def in_parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


def _node_entry(stats: FetchStats, name: str) -> dict[str, Any]:
    return stats.extra.setdefault("nodes", {}).setdefault(name, {})


def list_keys(client: RedisCluster, pattern: bytes, stats: FetchStats) -> list[bytes]:
    """Keys matching ``pattern`` on every primary (KEYS or SCAN per ``stats.method``),
    concatenated; ``stats`` gets the sums and maxima, ``stats.extra["nodes"]`` each node's.

    Every primary is first checked (one round trip each, in parallel: ready, and which
    server it is) before any of them is listed; each SCAN loop then watches its own node
    (:class:`ServerWatch`): a node that restarts mid-walk is walked again from cursor 0."""
    use_scan = stats.method == "SCAN"
    nodes = _primaries(client)
    if not use_scan:
        warn_keys_deprecated(stacklevel=5)
    mines = [
        FetchStats(method=stats.method, pattern=stats.pattern, server=node.name, count=stats.count)
        for node, _ in nodes
    ]

    def check(node: Any, conn: redis.Redis, mine: FetchStats) -> ServerWatch:
        with translate_errors(conn, "checking that the node is ready"):
            return ServerWatch.start(conn, mine, name=node.name, cluster=True)

    watches = in_parallel(
        [
            lambda n=node, c=conn, m=mine: check(n, c, m)
            for (node, conn), mine in zip(nodes, mines, strict=True)
        ]
    )
    lock = threading.Lock()
    total = 0
    if use_scan and settings.progress:
        total = sum(
            timed_call(conn.dbsize, stats) if watch.keys_at_start is None else watch.keys_at_start
            for (_, conn), watch in zip(nodes, watches, strict=True)
        )

    def list_node(conn: redis.Redis, mine: FetchStats, watch: ServerWatch, bar: Any) -> list[bytes]:
        started = time.perf_counter()
        with translate_errors(conn, f"listing keys matching {stats.pattern!r}"):
            if use_scan:
                found: list[bytes] = []
                for batch in scan_batches(conn, pattern, stats.count or 1, mine, watch=watch):
                    found.extend(batch)
                    step = mine.extra.get("counts", {}).get("final") or stats.count or 1
                    with lock:
                        bar.update(min(step, max(0, total - bar.n)))
            else:
                retries = mine.retries
                found = timed_call(lambda: conn.keys(pattern), mine)
                if mine.retries != retries:  # KEYS ran again: on whichever server answered
                    watch.changed("KEYS", rescan=False)
        mine.keys_found = len(found)
        mine.keys_seconds = time.perf_counter() - started
        return found

    label = f"{stats.method} {stats.pattern[:40]} ({len(nodes)} nodes)"
    with progress_bar(total, label, "keys") as bar:
        results = in_parallel(
            [
                lambda c=conn, m=mine, w=watch: list_node(c, m, w, bar)
                for (_, conn), mine, watch in zip(nodes, mines, watches, strict=True)
            ]
        )
    keys: list[bytes] = []
    for (node, _), mine, found in zip(nodes, mines, results, strict=True):
        keys.extend(found)
        stats.scan_calls += mine.scan_calls
        stats.retries += mine.retries
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, mine.slowest_call_seconds)
        entry = _node_entry(stats, node.name)
        entry.update(
            keys_found=mine.keys_found,
            scan_calls=mine.scan_calls,
            keys_seconds=mine.keys_seconds,
            slowest_call_seconds=mine.slowest_call_seconds,
            retries=mine.retries,
            restarts=mine.restarts,
        )
        if "counts" in mine.extra:  # the COUNTs SCAN sent to this node (adaptive or fixed)
            entry["counts"] = mine.extra["counts"]
        fold_into(stats, mine)
    counts = [mine.extra["counts"] for mine in mines if "counts" in mine.extra]
    if counts:
        stats.extra["counts"] = merge_counts(counts)
    return keys


def read_values(
    client: RedisCluster, keys: Sequence[str | bytes], stats: FetchStats
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone): MGETs within one slot each, in
    chunks of ``settings.mget_chunk``, pipelined about ``mget_chunk × pipeline_depth`` keys
    per round trip to each primary, primaries in parallel. Never a round trip per key or per
    slot. ``stats.extra["nodes"]`` gets each primary's MGETs, values, slots and time."""
    started = time.perf_counter()
    encoded = [encode_key(key) for key in keys]
    by_slot: dict[int, list[int]] = defaultdict(list)
    for index, key in enumerate(encoded):
        by_slot[key_slot(key)].append(index)
    chunk = settings.mget_chunk
    per_node: dict[str, list[list[int]]] = defaultdict(list)
    node_of: dict[str, Any] = {}
    slots_of: dict[str, int] = defaultdict(int)
    with translate_errors(client, "reading values"):
        for slot, indexes in by_slot.items():
            node = client.nodes_manager.get_node_from_slot(slot)
            node_of[node.name] = node
            slots_of[node.name] += 1
            for offset in range(0, len(indexes), chunk):
                per_node[node.name].append(indexes[offset : offset + chunk])
    values: list[bytes | None] = [None] * len(keys)
    lock = threading.Lock()

    listed = dict(stats.extra.get("servers", {}))  # each node's identity after the listing

    def read_node(name: str, bar: Any) -> Any:
        mine = FetchStats(method="MGET", pattern=stats.pattern, server=name)
        conn = client.get_redis_connection(node_of[name])
        node_started = time.perf_counter()
        with translate_errors(conn, "reading values"):
            watch = ServerWatch.resume(conn, mine, name=name, cluster=True, known=listed.get(name))
            for trip in _trips(per_node[name], chunk * settings.pipeline_depth):
                retries = mine.retries

                def send(trip: list[list[int]] = trip) -> list[Any]:
                    pipe = conn.pipeline(transaction=False)
                    for indexes in trip:
                        pipe.mget([encoded[i] for i in indexes])
                    replies = pipe.execute(raise_on_error=False)
                    for reply in replies:
                        if isinstance(reply, redis_errors.ClusterDownError):
                            raise reply  # not ready (yet): the trip is sent again
                    return replies

                try:
                    replies = timed_call(send, mine, also_retry=(redis_errors.ClusterDownError,))
                except redis_errors.ClusterDownError:
                    raise ServerNotReadyError(
                        f"Redis Cluster node {name} answers CLUSTERDOWN while reading values: "
                        "its cluster_state is not ok (a node that just restarted waits about "
                        "2 s before serving again; or slots are not covered). Retry in a "
                        "moment, or let reads wait longer with rp.setup(retries=N)."
                    ) from None
                for indexes, reply in zip(trip, replies, strict=True):
                    if isinstance(reply, _REDIRECTIONS):
                        # The slot moved (resharding): the cluster client follows it.
                        mine.extra["redirected_chunks"] = mine.extra.get("redirected_chunks", 0) + 1
                        reply = timed_call(
                            lambda i=indexes: client.mget_nonatomic([encoded[j] for j in i]), mine
                        )
                    elif isinstance(reply, Exception):
                        raise reply
                    for index, value in zip(indexes, reply, strict=True):
                        values[index] = value
                    mine.mget_calls += 1
                if mine.retries != retries:
                    watch.changed("MGET", rescan=False)
                with lock:
                    bar.update(sum(len(indexes) for indexes in trip))
            watch.changed("MGET", rescan=False)
        mine.values_seconds = time.perf_counter() - node_started
        return mine

    names = list(per_node)
    with (
        translate_errors(client, "reading values"),
        progress_bar(len(keys), f"MGET ({len(names)} nodes)", "values") as bar,
    ):
        results = in_parallel([lambda n=name: read_node(n, bar) for name in names])
    for name, mine in zip(names, results, strict=True):
        stats.mget_calls += mine.mget_calls
        stats.retries += mine.retries
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, mine.slowest_call_seconds)
        entry = _node_entry(stats, name)
        entry.update(
            mget_calls=mine.mget_calls,
            values_read=sum(len(indexes) for indexes in per_node[name]),
            values_seconds=mine.values_seconds,
            slots=slots_of[name],
        )
        if mine.restarts:
            entry["restarts"] = entry.get("restarts", 0) + mine.restarts
        fold_into(stats, mine)
        entry.update(mine.extra)
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values


def _trips(chunks: list[list[int]], keys_per_trip: int) -> list[list[list[int]]]:
    """Chunks grouped into round trips of about ``keys_per_trip`` keys: slots hold few keys
    each, so a trip carries many small MGETs, as many keys as one trip to a single node."""
    trips: list[list[list[int]]] = []
    current: list[list[int]] = []
    size = 0
    for indexes in chunks:
        current.append(indexes)
        size += len(indexes)
        if size >= keys_per_trip:
            trips.append(current)
            current, size = [], 0
    if current:
        trips.append(current)
    return trips

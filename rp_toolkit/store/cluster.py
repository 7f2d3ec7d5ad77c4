"""Redis Cluster: key discovery on every primary, values read per slot.

The gem lists keys with one ``KEYS`` and reads them with one ``MGET``. On a cluster both break:
KEYS (and SCAN) see the keys of the one node they run on, and an MGET whose keys hash to
different slots fails with ``CROSSSLOT Keys in request don't hash to the same slot``. Here:

* **Which URLs are clusters**: :mod:`rp_toolkit.store.connection` decides.
* **Keys.** KEYS or SCAN (per ``use_scan`` and the COUNT rules) runs on every primary, all at
  once: each primary is its own stream in :mod:`rp_toolkit.store.stream`, and the keys are
  de-duplicated and sorted by the caller exactly as on one node.
* **Values.** Keys are grouped by hash slot; each slot's keys are read with MGETs of at most
  ``settings.mget_chunk`` keys (an MGET never spans two slots). A slot holds few keys, so the
  MGETs for one primary are pipelined about ``mget_chunk × pipeline_depth`` keys per round
  trip, as many as one trip to a single node; primaries are read at the same time. A chunk
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

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.cluster import RedisCluster, key_slot

from ..config import settings
from ..exceptions import ServerNotReadyError
from .identity import ServerWatch
from .node import Node, RedisSource
from .stats import FetchStats, timed_call

MAX_THREADS = 8
"""At most this many nodes are checked at the same time (one thread each)."""
CLUSTER_TRIP_FACTOR = 8
"""A cluster node's read stage takes this many round trips' keys at a time."""
_REDIRECTIONS = (redis_errors.MovedError, redis_errors.AskError, redis_errors.TryAgainError)

T = TypeVar("T")


def in_parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


class ClusterNode(Node):
    """One primary of a cluster: walked like a single server, read per slot."""

    cluster = True

    def __init__(self, owner: RedisCluster, node: Any) -> None:
        super().__init__(owner.get_redis_connection(node), node.name)
        self.owner = owner

    def trip_keys(self) -> int:
        """A walk batch spreads over thousands of slots and an MGET may not span two: the
        read stage gets :data:`CLUSTER_TRIP_FACTOR` round trips' keys at a time, so that
        each MGET carries more than a key or two."""
        return super().trip_keys() * CLUSTER_TRIP_FACTOR

    def read(
        self, keys: Sequence[bytes], stats: FetchStats, watch: ServerWatch
    ) -> list[bytes | None]:
        """Values of ``keys``: MGETs within one slot each, in chunks of
        ``settings.mget_chunk``, pipelined about ``mget_chunk × pipeline_depth`` keys per
        round trip. A chunk answered with a redirection (the slot moved) is re-read through
        the cluster client; ``CLUSTERDOWN`` is retried, then ServerNotReadyError."""
        by_slot: dict[int, list[int]] = defaultdict(list)
        for index, key in enumerate(keys):
            by_slot[key_slot(key)].append(index)
        chunk = settings.mget_chunk
        chunks = [
            indexes[offset : offset + chunk]
            for indexes in by_slot.values()
            for offset in range(0, len(indexes), chunk)
        ]
        stats.extra.setdefault("slots", set()).update(by_slot)
        values: list[bytes | None] = [None] * len(keys)
        for trip in _trips(chunks, chunk * settings.pipeline_depth):
            retries = stats.retries
            for indexes, reply in zip(trip, self._send(keys, trip, stats), strict=True):
                if isinstance(reply, _REDIRECTIONS):
                    # The slot moved (resharding): the cluster client follows it.
                    stats.extra["redirected_chunks"] = stats.extra.get("redirected_chunks", 0) + 1
                    reply = timed_call(
                        lambda i=indexes: self.owner.mget_nonatomic([keys[j] for j in i]), stats
                    )
                elif isinstance(reply, Exception):
                    raise reply
                for index, value in zip(indexes, reply, strict=True):
                    values[index] = value
                stats.mget_calls += 1
            if stats.retries != retries:
                watch.changed("MGET", rescan=False)
        return values

    def _send(self, keys: Sequence[bytes], trip: list[list[int]], stats: FetchStats) -> list[Any]:
        def send() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for indexes in trip:
                pipe.mget([keys[i] for i in indexes])
            replies = pipe.execute(raise_on_error=False)
            for reply in replies:
                if isinstance(reply, redis_errors.ClusterDownError):
                    raise reply  # not ready (yet): the trip is sent again
            return replies

        try:
            return timed_call(send, stats, also_retry=(redis_errors.ClusterDownError,))
        except redis_errors.ClusterDownError:
            raise ServerNotReadyError(
                f"Redis Cluster node {self.name} answers CLUSTERDOWN while reading values: "
                "its cluster_state is not ok (a node that just restarted waits about 2 s "
                "before serving again; or slots are not covered). Retry in a moment, or let "
                "reads wait longer with rp.setup(retries=N)."
            ) from None


class ClusterSource(RedisSource):
    """Records in a Redis Cluster: every primary walked, each key read on its slot's owner."""

    cluster = True

    def __init__(self, client: RedisCluster) -> None:
        super().__init__(client)
        self._nodes: dict[str, ClusterNode] = {}

    def node(self, node: Any) -> ClusterNode:
        if node.name not in self._nodes:
            self._nodes[node.name] = ClusterNode(self.client, node)
        return self._nodes[node.name]

    def nodes(self) -> list[Node]:
        return [self.node(node) for node in self.client.get_primaries()]

    def route(self, keys: Sequence[str | bytes]) -> list[tuple[Node, list[int]]]:
        owners: dict[str, list[int]] = defaultdict(list)
        found: dict[str, Any] = {}
        for index, key in enumerate(self.encoded(keys)):
            owner = self.client.nodes_manager.get_node_from_slot(key_slot(key))
            found[owner.name] = owner
            owners[owner.name].append(index)
        return [(self.node(found[name]), indexes) for name, indexes in owners.items()]


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

"""One Redis server as the read path sees it: where keys are walked and values read.

A :class:`ServerTopology` is what a live source (:class:`~rp_toolkit.store.sources.LiveSource`)
holds: built once from its client and the call's options, it names
the :class:`Node` objects a walk runs on (one here; every primary for a cluster, see
:mod:`rp_toolkit.store._cluster`, whose classes subclass these) and which node reads which
keys. The type picks the behaviour; nothing above asks "is this a cluster?".

A :class:`Node` walks its keyspace (SCAN batches, or the gem's one KEYS) and reads values in
pipelined MGETs of ``options.mget_chunk`` keys, ``options.pipeline_depth`` per round trip,
packed in C and sent at once (:func:`send_mgets`; redis-py's pipeline does Python work per
key).
Both stages of one node share one :class:`~rp_toolkit.store._identity.ServerWatch`, so a
restart is recorded once, whichever stage notices it first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import redis
from hiredis import pack_command
from redis import exceptions as redis_errors

from ..config import Options
from ..kinds import KeysAndValues, encode_key
from ._connection import describe_server
from ._identity import ServerWatch
from ._scan import scan_batches
from ._stats import FetchStats, timed_call


class Node:
    """One server: a single Redis, or one primary of a cluster."""

    cluster = False

    def __init__(self, client: redis.Redis, options: Options, name: str | None = None) -> None:
        self.client, self.options = client, options
        self.name = name or describe_server(client)

    def trip_keys(self) -> int:
        """How many fresh keys the walk hands to the read stage at a time: one round trip."""
        return self.options.mget_chunk * self.options.pipeline_depth

    def buffer_keys(self) -> int:
        """At most how many keys a read waits for before it reads them: one round trip's."""
        return self.trip_keys()

    def reader(self, stats: FetchStats, watch: ServerWatch) -> Reader:
        """What this node's read stage hands the fresh keys to (see :class:`Reader`)."""
        return Reader(self, stats, watch)

    def check(self, stats: FetchStats) -> ServerWatch:
        """Ready, and which server it is (one round trip): the watch both stages share."""
        return ServerWatch.start(
            self.client, stats, self.options, name=self.name, cluster=self.cluster
        )

    def walk(
        self, pattern: bytes, count: int, stats: FetchStats, watch: ServerWatch, *, use_scan: bool
    ) -> Iterator[list[bytes]]:
        """Batches of keys matching ``pattern`` (duplicates possible): SCAN calls of
        ``count``, or one KEYS (run again on whichever server answers after a lost
        connection; a restart meanwhile is recorded)."""
        if use_scan:
            yield from scan_batches(
                self.client, pattern, count, stats, options=self.options, watch=watch
            )
            return
        retries = stats.retries
        keys = timed_call(lambda: self.client.keys(pattern), stats, retries=self.options.retries)
        if stats.retries != retries:
            watch.changed("KEYS", rescan=False)
        yield keys

    def read(
        self, keys: Sequence[bytes], stats: FetchStats, watch: ServerWatch
    ) -> list[bytes | None]:
        """Values of ``keys`` (``None`` where a key has gone), in pipelined MGETs
        (:func:`send_mgets`)."""
        chunk = self.options.mget_chunk
        per_trip = chunk * self.options.pipeline_depth
        values: list[bytes | None] = []
        for start in range(0, len(keys), per_trip):
            trip = keys[start : start + per_trip]
            cuts = [*range(0, len(trip), chunk), len(trip)]

            def send(trip: Sequence[bytes] = trip, cuts: list[int] = cuts) -> list[bytes | None]:
                found, errors = send_mgets(self.client, trip, cuts)
                if errors:
                    raise errors[min(errors)]  # as a pipeline raises its first error
                return found

            retries = stats.retries
            values += timed_call(send, stats, retries=self.options.retries)
            stats.mget_calls += len(cuts) - 1
            if stats.retries != retries:
                watch.changed("MGET", rescan=False)
        return values


class Reader:
    """A node's read stage: fresh keys in, ``(keys, values)`` batches out. One server reads
    each batch of keys at once (any keys share an MGET); a cluster node groups them by slot
    first (:class:`~rp_toolkit.store._cluster.SlotBuffer`), so a batch out may hold keys
    handed in earlier, in another order."""

    def __init__(self, node: Node, stats: FetchStats, watch: ServerWatch) -> None:
        self.node, self.stats, self.watch = node, stats, watch

    def add(self, keys: list[bytes]) -> KeysAndValues | None:
        """The keys worth reading now, with their values (``None``: nothing to read yet)."""
        return KeysAndValues(keys, self.node.read(keys, self.stats, self.watch)) if keys else None

    def finish(self) -> KeysAndValues | None:
        """The keys still waiting, read (the walk has ended)."""
        return None


class ServerTopology:
    """One Redis server as the read path sees it: the nodes a walk runs on and which node
    reads which keys. Built once by a live source, with the call's ``options``; its type
    picks the behaviour (:class:`~rp_toolkit.store._cluster.ClusterTopology` for a
    cluster)."""

    cluster = False

    def __init__(self, client: redis.Redis, options: Options) -> None:
        self.client, self.options = client, options
        self._node = Node(client, options)

    def nodes(self) -> list[Node]:
        """The servers a walk runs on, each walked and read by its own stages."""
        return [self._node]

    def route(self, keys: Sequence[str | bytes]) -> list[tuple[Node, list[int]]]:
        """Which node reads which of ``keys`` (their positions)."""
        return [(self.nodes()[0], list(range(len(keys))))]

    @staticmethod
    def encoded(keys: Sequence[str | bytes]) -> list[bytes]:
        """Keys as the bytes Redis knows them by."""
        if not set(map(type, keys)) - {bytes}:
            return list(keys)  # type: ignore[arg-type]
        return [encode_key(key) for key in keys]


def send_mgets(
    client: redis.Redis, keys: Sequence[bytes], cuts: list[int]
) -> tuple[list[bytes | None], dict[int, Exception]]:
    """One round trip: an MGET of ``keys[cuts[j]:cuts[j + 1]]`` for each ``j``, packed in C
    and sent at once, as redis-py's pipeline does without its Python work per key and per
    command (nor a list per MGET kept for the whole trip). The values of ``keys[cuts[0]:
    cuts[-1]]`` in order (``None`` for an MGET answered with an error), and each such
    MGET's error (a redirection, ``CLUSTERDOWN``...) by ``j``. A lost connection raises
    (every reply is read before that connection is reused)."""
    packed = b"".join(
        [pack_command((b"MGET", *keys[start:end])) for start, end in itertools.pairwise(cuts)]
    )
    values: list[bytes | None] = []
    errors: dict[int, Exception] = {}
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command([packed])
        for at, (start, end) in enumerate(itertools.pairwise(cuts)):
            try:
                values += connection.read_response()
            except redis_errors.ResponseError as error:  # one MGET's error, read off the wire
                errors[at] = error
                values += [None] * (end - start)
        return values, errors
    except BaseException:
        connection.disconnect()  # replies may be left on the socket
        raise
    finally:
        pool.release(connection)

"""A Redis server or cluster as a source (:class:`LiveSource`), and :func:`read_values`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import redis

from ...config import Options
from ...kinds import KeysAndValues, decode_key, encode_key
from .._cluster import ClusterTopology, in_parallel
from .._connection import describe_server, is_cluster, translate_errors
from .._identity import ServerWatch
from .._node import Node, ServerTopology
from .._scan import determine_scan_count, scan_count_rule, scan_match
from .._stats import FetchStats, NodeFigures, progress_bar
from .._stream import stream_batches
from ._base import Source


class LiveSource(Source):
    """A Redis server or cluster, read through the overlapped walk-and-read stages. Its
    topology (:class:`~rp_toolkit.store._node.ServerTopology`, or
    :class:`~rp_toolkit.store._cluster.ClusterTopology` for a cluster) is built once, here,
    with the source's options."""

    def __init__(
        self, client: redis.Redis | redis.RedisCluster, options: Options | None = None
    ) -> None:
        super().__init__(options)
        self.client = client
        self.topology: ServerTopology = (
            ClusterTopology(client, self.options)
            if is_cluster(client)
            else ServerTopology(client, self.options)
        )

    @property
    def one_walk(self) -> bool:  # type: ignore[override]
        """Whether one pattern should cover a whole window (SCAN); the gem's KEYS runs once
        per day instead, as the gem does."""
        return self.options.use_scan

    def describe(self) -> str:
        return describe_server(self.client)

    def now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")

    def place_name(self) -> str:
        """A short name for this server (no secret): its host, or a Unix socket's file
        name, with ``-db<N>`` when the database is not 0 (the archive's default ``app``)."""
        client = self.client
        if isinstance(client, redis.RedisCluster):
            return str(client.get_default_node().host)
        kwargs = client.connection_pool.connection_kwargs
        host = kwargs.get("host") or Path(str(kwargs.get("path") or "redis")).stem
        db = int(kwargs.get("db") or 0)
        return f"{host}-db{db}" if db else str(host)

    def new_stats(self, pattern: str, count_like: str | None = None) -> FetchStats:
        options = self.options
        use_scan = options.use_scan
        return FetchStats(
            method="SCAN" if use_scan else "KEYS",
            pattern=pattern,
            server=self.describe(),
            count=determine_scan_count(count_like or pattern, options) if use_scan else None,
            count_rule=scan_count_rule(options) if use_scan else None,
            pattern_sent=decode_key(scan_match(pattern)) if use_scan else pattern,
        )

    def batches(
        self, pattern: str, stats: FetchStats, *, values: bool = True, exact: bool = True
    ) -> Iterator[KeysAndValues]:
        with translate_errors(self.client, f"reading keys matching {pattern!r}"):
            yield from stream_batches(self.topology, pattern, stats, values=values, exact=exact)

    def get_many(self, keys: Sequence[str], what: str) -> list[bytes | None]:
        """The values of ``keys`` (``None`` where there is none): GETs in one pipeline, so a
        key of another type is Redis's WRONGTYPE error, not a silent gap."""
        with translate_errors(self.client, what):
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.get(encode_key(key))
            return pipe.execute()


def read_values(
    source: LiveSource | ServerTopology, keys: Sequence[str | bytes], stats: FetchStats
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone), read in short pipelined MGETs on
    the node that holds each (every primary at once on a cluster), with the source's
    options; each node's reads are folded into ``stats``."""
    topology = source.topology if isinstance(source, LiveSource) else source
    encoded = topology.encoded(keys)
    values: list[bytes | None] = [None] * len(keys)
    started = time.perf_counter()
    routes = topology.route(encoded) if keys else []
    with progress_bar(len(keys), "MGET", "values", topology.options) as bar:

        def read_node(node: Node, indexes: list[int]) -> FetchStats:
            mine = FetchStats("MGET", stats.pattern, node.name)
            known = stats.servers[node.name].identity if node.name in stats.servers else None
            with translate_errors(node.client, "reading values"):
                # The server the keys were listed on (or, read on their own, a check that it
                # is ready): a restart while reading is recorded.
                watch = ServerWatch.resume(
                    node.client,
                    mine,
                    node.options,
                    name=node.name,
                    cluster=node.cluster,
                    known=known,
                )
                trip = node.buffer_keys()  # a cluster node's keys grouped by slot, many at once
                for start in range(0, len(indexes), trip):
                    part = indexes[start : start + trip]
                    found = node.read([encoded[i] for i in part], mine, watch)
                    for index, value in zip(part, found, strict=True):
                        values[index] = value
                    bar.update(len(part))
                watch.changed("MGET", rescan=False)
            mine.values_seconds = time.perf_counter() - started
            return mine

        mines = in_parallel([lambda n=n, i=i: read_node(n, i) for n, i in routes])
    for (node, indexes), mine in zip(routes, mines, strict=True):
        if topology.cluster:
            stats.nodes.setdefault(node.name, NodeFigures()).note_reads(mine, len(indexes))
        stats.absorb(mine)
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values

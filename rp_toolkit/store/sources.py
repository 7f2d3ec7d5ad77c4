"""Where records come from: a live server (one node or a cluster) or an RDB snapshot file.

:func:`open_source` turns what a public function was given (a URL, a ``redis.Redis``, a
``redis.RedisCluster``, a :class:`~rp_toolkit.store.snapshot.Snapshot` or the path of an RDB
file) into one source, once, at the top of that function. The type then picks the behaviour,
so nothing above asks "is this a file?":

=================  ==============================  ========================================
                   :class:`LiveSource`             :class:`SnapshotSource`
=================  ==============================  ========================================
``describe()``     host:port (no secret)           file, server version, when it was taken
``now()``          the clock                       the snapshot's creation time
``one_walk``       with ``use_scan`` (the gem's    always: every walk reads the whole file,
                   KEYS runs once per day)         so one pattern covers the window
``batches()``      the overlapped walk and reads   the file's matching keys, values in hand
``get_many()``     pipelined MGETs                 one walk, keys picked out
=================  ==============================  ========================================
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from ..config import settings
from ..exceptions import SnapshotError
from ..kinds import KeysAndValues, decode_key, encode_key, escape_glob
from .cluster import in_parallel
from .connection import ClientLike, describe_server, get_client, translate_errors
from .identity import ServerWatch, fold_into
from .scan import determine_scan_count, scan_count_rule, scan_match
from .snapshot import Snapshot, SnapshotStats
from .stats import FetchStats, progress_bar
from .stream import note_node_reads, source_of, stream_batches

SourceLike = ClientLike | os.PathLike | Snapshot
"""Anything the public functions take as ``client``."""


class LiveSource:
    """A Redis server or cluster, read through the overlapped walk-and-read stages."""

    def __init__(self, client: redis.Redis | redis.RedisCluster) -> None:
        self.client = client

    @property
    def one_walk(self) -> bool:
        """Whether one pattern should cover a whole window (SCAN); the gem's KEYS runs once
        per day instead, as the gem does."""
        return settings.use_scan

    def describe(self) -> str:
        return describe_server(self.client)

    def now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")

    def snapshot_identity(self) -> None:
        """What tells a snapshot's contents from another's: a server is no snapshot."""
        return None

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
        use_scan = settings.use_scan
        return FetchStats(
            method="SCAN" if use_scan else "KEYS",
            pattern=pattern,
            server=self.describe(),
            count=determine_scan_count(count_like or pattern) if use_scan else None,
            count_rule=scan_count_rule() if use_scan else None,
            pattern_sent=decode_key(scan_match(pattern)) if use_scan else pattern,
        )

    def batches(
        self, pattern: str, stats: FetchStats, *, values: bool = True, exact: bool = True
    ) -> Iterator[KeysAndValues]:
        with translate_errors(self.client, f"reading keys matching {pattern!r}"):
            yield from stream_batches(
                source_of(self.client), pattern, stats, values=values, exact=exact
            )

    def get_many(self, keys: Sequence[str], what: str) -> list[bytes | None]:
        """The values of ``keys`` (``None`` where there is none): GETs in one pipeline, so a
        key of another type is Redis's WRONGTYPE error, not a silent gap."""
        with translate_errors(self.client, what):
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.get(encode_key(key))
            return pipe.execute()


class SnapshotSource:
    """An RDB snapshot file: records as they were when the snapshot was taken; no server is
    asked anything."""

    one_walk = True

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def describe(self) -> str:
        return self.snapshot.describe()

    def now(self) -> pd.Timestamp:
        return self.snapshot.now()

    def snapshot_identity(self) -> dict[str, Any]:
        """The file's path, size, CRC64, RDB version and creation time."""
        return self.snapshot.identity()

    def place_name(self) -> str:
        """The snapshot's file name without its suffix, with ``-db<N>`` when the database
        is not 0 (the archive's default ``app``)."""
        db = self.snapshot.db
        return f"{self.snapshot.path.stem}-db{db}" if db else self.snapshot.path.stem

    def new_stats(self, pattern: str, count_like: str | None = None) -> FetchStats:
        stats = FetchStats(method="RDB", pattern=pattern, server=self.describe())
        if self.snapshot.server_version:  # only Redis's RDB files are read (not Valkey's)
            stats.extra["software"] = {stats.server: f"redis {self.snapshot.server_version}"}
        return stats

    def batches(
        self, pattern: str, stats: FetchStats, *, values: bool = True, exact: bool = True
    ) -> Iterator[KeysAndValues]:
        """The file's keys matching ``pattern`` (each key is in a file once: nothing to
        de-duplicate); keys of other types come with no value, as MGET reads them live."""
        walked = SnapshotStats(pattern=pattern, db=self.snapshot.db)
        started = time.perf_counter()
        try:
            yield from self.snapshot.batches(pattern, values=values, stats=walked)
        finally:
            stats.keys_found = walked.keys_found
            stats.values_missing = walked.other_types if values else 0
            stats.keys_seconds = stats.elapsed_seconds = time.perf_counter() - started
            stats.extra["snapshot"] = {**self.snapshot.identity(), **walked.as_dict()}

    def get_many(self, keys: Sequence[str], what: str) -> list[bytes | None]:
        """The values of ``keys``, from one walk of the file over their common prefix; a key
        of another type is an error, as Redis's WRONGTYPE is on the live server."""
        wanted = {encode_key(key): index for index, key in enumerate(keys)}
        found: list[bytes | None] = [None] * len(keys)
        if not wanted:
            return found
        pattern = escape_glob(os.path.commonprefix(list(keys))) + "*"
        for batch in self.batches(pattern, self.new_stats(pattern)):
            for key, value in zip(batch.keys, batch.values or [], strict=True):
                index = wanted.get(key)
                if index is None:
                    continue
                if value is None:
                    raise SnapshotError(
                        f"{what} in the {self.describe()}: the key {keys[index]!r} holds "
                        "another type than a string (Redis would answer WRONGTYPE)."
                    )
                found[index] = value
        return found


def read_values(
    client: redis.Redis, keys: Sequence[str | bytes], stats: FetchStats
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone), read in short pipelined MGETs on
    the node that holds each (every primary at once on a cluster)."""
    source = source_of(client)
    encoded = source.encoded(keys)
    values: list[bytes | None] = [None] * len(keys)
    started = time.perf_counter()
    routes = source.route(encoded) if keys else []
    with progress_bar(len(keys), "MGET", "values") as bar:

        def read_node(node: Any, indexes: list[int]) -> FetchStats:
            mine = FetchStats("MGET", stats.pattern, node.name)
            known = stats.extra.get("servers", {}).get(node.name)
            with translate_errors(node.client, "reading values"):
                # The server the keys were listed on (or, read on their own, a check that it
                # is ready): a restart while reading is recorded.
                watch = ServerWatch.resume(
                    node.client, mine, name=node.name, cluster=node.cluster, known=known
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
            if source.cluster:
                note_node_reads(stats, node.name, mine, len(indexes))
            return mine

        mines = in_parallel([lambda n=n, i=i: read_node(n, i) for n, i in routes])
    for mine in mines:
        stats.mget_calls += mine.mget_calls
        stats.retries += mine.retries
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, mine.slowest_call_seconds)
        fold_into(stats, mine)
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values


Source = LiveSource | SnapshotSource


def is_snapshot_path(text: str) -> bool:
    """Whether a string names an RDB file rather than a server: no ``scheme://``, and it ends
    in ``.rdb`` or is an existing file. Anything else is checked as a Redis URL, whose errors
    name the part that is wrong."""
    if "://" in text:
        return False
    return text.lower().endswith(".rdb") or Path(text).is_file()


def open_source(client: SourceLike | Source = None) -> Source:
    """The source ``client`` names: a snapshot for a :class:`Snapshot`, a path object or a
    string naming an RDB file (:func:`is_snapshot_path`); else the server a URL or client names
    (``None``: ``settings.redis_url``)."""
    if isinstance(client, (LiveSource, SnapshotSource)):
        return client
    if isinstance(client, Snapshot):
        return SnapshotSource(client)
    if isinstance(client, os.PathLike) or (isinstance(client, str) and is_snapshot_path(client)):
        return SnapshotSource(Snapshot(client))
    return LiveSource(get_client(client))

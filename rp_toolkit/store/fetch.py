"""The fetchers: ``fetch_keys`` and ``fetch_from_redis``, as the gem has them, and
``read_values``.

The gem lists keys with ``KEYS pattern`` and reads every value with one ``MGET``. Both block
the whole Redis server for as long as they run: KEYS walks the whole keyspace in one command,
and one MGET of a million keys builds a reply of a hundred megabytes. Here keys come from SCAN
(with ``use_scan``; :mod:`rp_toolkit.store.scan`) and values are read with MGETs of
``settings.mget_chunk`` keys, several per round trip (pipelined, not transactional), so no
single command runs long. On a cluster every primary is listed and read
(:mod:`rp_toolkit.store.cluster`).

Every fetch first asks each server one ``INFO`` (:mod:`rp_toolkit.store.identity`): a server
that is loading, a replica out of sync or a cluster that is not ``ok`` raises
:class:`~rp_toolkit.exceptions.ServerNotReadyError` instead of answering with too few keys, and
a server that restarts or fails over mid-read is noticed (``stats.restarts``).

Key text: Redis keys are bytes. They are decoded as UTF-8 with ``surrogateescape``, which is
lossless (:func:`rp_toolkit.kinds.decode_key`), so keys that are not UTF-8 are listed and
their values read like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from ..config import settings
from ..kinds import decode_key, encode_key
from . import cluster
from .connection import ClientLike, describe_server, get_client, is_cluster, translate_errors
from .identity import ServerWatch
from .scan import determine_scan_count, list_keys_keys, list_keys_scan
from .stats import FetchResult, FetchStats, progress_bar, timed_call

logger = logging.getLogger("rp_toolkit")


def list_keys(
    pattern: str,
    client: redis.Redis,
    *,
    decode: bool = True,
    sort: bool = True,
    count_like: str | None = None,
) -> tuple[list[Any], FetchStats]:
    """Keys matching ``pattern`` and the fetch's statistics (``fetch_keys`` without the
    conveniences). ``count_like``: take the SCAN COUNT this other pattern would get (a walk
    for several kinds matches as much as a day-scoped query, though its glob does not say so).
    """
    use_scan = settings.use_scan
    stats = FetchStats(
        method="SCAN" if use_scan else "KEYS",
        pattern=pattern,
        server=describe_server(client),
        count=determine_scan_count(count_like or pattern) if use_scan else None,
    )
    if settings.debug:
        logger.info("[REDIS QUERY] %s", pattern)
    started = time.perf_counter()
    with translate_errors(client, f"listing keys matching {pattern!r}"):
        if is_cluster(client):  # every primary (rp_toolkit.cluster), each checked
            raw = cluster.list_keys(client, encode_key(pattern), stats)
        else:
            watch = ServerWatch.start(client, stats)  # ready? and which server (one INFO)
            lister = list_keys_scan if use_scan else list_keys_keys
            raw = lister(client, encode_key(pattern), stats, watch)
    # dict.fromkeys de-duplicates and keeps the server's order: values read in that order
    # touch Redis's hash table in sequence, measurably faster than in sorted order.
    unique = list(dict.fromkeys(raw))
    stats.duplicates_dropped = len(raw) - len(unique)
    if decode:
        unique = [decode_key(key) for key in unique]
    keys = sorted(unique) if sort else unique
    stats.keys_found = len(keys)
    stats.keys_seconds = time.perf_counter() - started
    if settings.debug:
        logger.info("[FOUND] %d", len(keys))
    return keys, stats


def fetch_keys(pattern: str, client: ClientLike = None) -> list[str]:
    """Keys matching ``pattern``, sorted and de-duplicated: KEYS, or SCAN with ``use_scan``.

    Both paths return the same list for the same keyspace.
    """
    keys, _ = list_keys(pattern, get_client(client))
    return keys


def read_values(
    client: redis.Redis, keys: Sequence[str | bytes], stats: FetchStats
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone), read in short pipelined MGETs."""
    if is_cluster(client):  # MGETs within one slot each (rp_toolkit.cluster)
        return cluster.read_values(client, keys, stats)
    chunk = settings.mget_chunk
    per_trip = chunk * settings.pipeline_depth
    values: list[bytes | None] = []
    started = time.perf_counter()
    all_bytes = not (set(map(type, keys)) - {bytes})  # raw keys need no encoding
    with (
        translate_errors(client, "reading values"),
        progress_bar(len(keys), "MGET", "values") as bar,
    ):
        # The server the keys were listed on (or, read on their own, a check that it is
        # ready): a restart while reading is recorded, after a reconnect and at the end.
        watch = ServerWatch.resume(client, stats) if keys else None
        for trip_start in range(0, len(keys), per_trip):
            trip = keys[trip_start : trip_start + per_trip]
            if not all_bytes:
                trip = [encode_key(k) for k in trip]

            def send(trip: list[bytes] = trip) -> list[list[bytes | None]]:
                pipe = client.pipeline(transaction=False)
                for offset in range(0, len(trip), chunk):
                    pipe.mget(trip[offset : offset + chunk])
                return pipe.execute()

            retries = stats.retries
            for reply in timed_call(send, stats):
                values.extend(reply)
                stats.mget_calls += 1
            if watch is not None and stats.retries != retries:
                watch.changed("MGET", rescan=False)
            bar.update(len(trip))
        if watch is not None:
            watch.changed("MGET", rescan=False)
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values


def fetch_from_redis(pattern: str, client: ClientLike = None, *, raw: bool = False) -> FetchResult:
    """``keys, values`` for ``pattern``, with the fetch's statistics in ``.stats``.

    Values are aligned with keys; ``None`` where a key expired between listing and reading.
    Keys and values are text (UTF-8, undecodable bytes escaped as by :func:`decode_key`), or
    with ``raw=True`` the bytes Redis returned (keys then sorted as bytes): the fastest way
    for code that parses them itself, as :func:`rp_toolkit.load` does.
    """
    redis_client = get_client(client)
    started = time.perf_counter()
    keys, stats = list_keys(pattern, redis_client, decode=not raw, sort=False)
    values: list[Any] = read_values(redis_client, keys, stats)
    # Read in the server's order (faster), then sort keys and values together.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    keys = [keys[i] for i in order]
    values = [values[i] for i in order]
    if not raw:
        values = [
            v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in values
        ]
    stats.elapsed_seconds = time.perf_counter() - started
    return FetchResult(keys, values, stats)

"""The public fetchers: ``fetch_keys`` and ``fetch_from_redis``, as the gem has them,
``list_keys``, and :class:`FetchStream`, the one read path all of them use.

The gem lists keys with ``KEYS pattern`` and reads every value with one ``MGET``. Both block
the whole Redis server for as long as they run: KEYS walks the whole keyspace in one command,
and one MGET of a million keys builds a reply of a hundred megabytes. Here keys come from SCAN
(with ``use_scan``; :mod:`rp_toolkit.store._scan`) and values are read with MGETs of
``mget_chunk`` keys, several per round trip (pipelined, not transactional), so no single
command runs long. On a cluster every primary is listed and read
(:mod:`rp_toolkit.store._cluster`). Walk and reads overlap (:mod:`rp_toolkit.store._stream`).
A snapshot file is read instead of a server when one is given
(:mod:`rp_toolkit.store.sources`).

Each public call takes the options in force once, when it starts
(:func:`~rp_toolkit.config.current_options`, through
:func:`~rp_toolkit.store.sources.open_source`), and runs with them to its end: ``rp.setup``
in another thread meanwhile changes the next call, not this one.

Every fetch first asks each server one ``INFO`` (:mod:`rp_toolkit.store._identity`): a server
that is loading, a replica out of sync or a cluster that is not ``ok`` raises
:class:`~rp_toolkit.exceptions.ServerNotReadyError` instead of answering with too few keys, and
a server that restarts or fails over mid-read is noticed (``stats.restarts``).

Key text: Redis keys are bytes. They are decoded as UTF-8 with ``surrogateescape``, which is
lossless (:func:`rp_toolkit.kinds.decode_key`), so keys that are not UTF-8 are listed and
their values read like any other.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from ..config import Options
from ..deprecation import renamed_parameter
from ..kinds import KeysAndValues, decode_key
from ._stats import FetchResult, FetchStats
from .sources import SourceLike, open_source

logger = logging.getLogger("rp_toolkit")


class FetchStream:
    """The records matching ``pattern``, as batches of raw ``(keys, values)``, walk and
    reads overlapped; ``.stats`` is complete once the batches are exhausted.

    ``source`` is opened once (:func:`~rp_toolkit.store.sources.open_source`, with
    ``options``, by default the settings in force now); ``values=False`` walks only (values
    None); ``exact=False`` de-duplicates by hash, for callers that keep no keys (see
    :class:`rp_toolkit.store._stream.SeenKeys`); ``count_like``: take the SCAN COUNT this
    other pattern would get (a walk for several kinds matches as much as a day-scoped query,
    though its glob does not say so).
    """

    @renamed_parameter("client", "source")
    def __init__(
        self,
        pattern: str,
        source: SourceLike = None,
        *,
        values: bool = True,
        exact: bool = True,
        count_like: str | None = None,
        options: Options | None = None,
    ) -> None:
        self.source = open_source(source, options)
        self.options = self.source.options
        self.pattern, self.values, self.exact = pattern, values, exact
        self.stats = self.source.new_stats(pattern, count_like)

    def __iter__(self) -> Iterator[KeysAndValues]:
        if self.options.debug:
            logger.info("[REDIS QUERY] %s", self.pattern)
        yield from self.source.batches(
            self.pattern, self.stats, values=self.values, exact=self.exact
        )
        if self.options.debug:
            logger.info("[FOUND] %d", self.stats.keys_found)


@renamed_parameter("client", "source")
def list_keys(
    pattern: str,
    source: SourceLike,
    *,
    decode: bool = True,
    sort: bool = True,
    count_like: str | None = None,
) -> tuple[list[Any], FetchStats]:
    """Keys matching ``pattern`` and the fetch's statistics (``fetch_keys`` without the
    conveniences); see :class:`FetchStream` for ``count_like``."""
    fetch = FetchStream(pattern, open_source(source), values=False, count_like=count_like)
    started = time.perf_counter()
    with contextlib.closing(iter(fetch)) as batches:  # stages stopped even if interrupted
        keys: list[Any] = [key for batch in batches for key in batch.keys]
    if decode:
        keys = [decode_key(key) for key in keys]
    if sort:
        keys.sort()
    fetch.stats.keys_seconds = fetch.stats.elapsed_seconds = time.perf_counter() - started
    return keys, fetch.stats


@renamed_parameter("client", "source")
def fetch_keys(pattern: str, source: SourceLike = None) -> list[str]:
    """Keys matching ``pattern``, sorted and de-duplicated: KEYS, or SCAN with ``use_scan``.

    Both paths return the same list for the same keyspace.
    """
    keys, _ = list_keys(pattern, open_source(source))
    return keys


@renamed_parameter("client", "source")
def fetch_from_redis(pattern: str, source: SourceLike = None, *, raw: bool = False) -> FetchResult:
    """``keys, values`` for ``pattern``, with the fetch's statistics in ``.stats``.

    Values are aligned with keys; ``None`` where a key expired between listing and reading.
    Keys and values are text (UTF-8, undecodable bytes escaped as by :func:`decode_key`), or
    with ``raw=True`` the bytes Redis returned (keys then sorted as bytes): the fastest way
    for code that parses them itself.
    """
    fetch = FetchStream(pattern, open_source(source))
    keys: list[Any] = []
    values: list[Any] = []
    with contextlib.closing(iter(fetch)) as batches:
        for batch in batches:
            keys += batch.keys
            values += batch.values
    if not raw:
        keys = [decode_key(key) for key in keys]
        values = [
            v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in values
        ]
    # Read in the servers' order (faster), then sort keys and values together.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return FetchResult([keys[i] for i in order], [values[i] for i in order], fetch.stats)

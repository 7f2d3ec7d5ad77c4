"""Where records come from: a live server (one node or a cluster) or an RDB snapshot file,
behind one face (:class:`Source`), as httpx's transports are.

:func:`open_source` is THE one conversion: it turns what a public function was given (a URL,
a ``redis.Redis``, a ``redis.RedisCluster``, a :class:`~rp_toolkit.store._snapshot.Snapshot`
or the path of an RDB file) into one source, once, at the top of that function, with the
call's options; a :class:`Source` (any subclass: the archive's too) is handed on as is. The
type then picks the behaviour, so nothing above asks "is this a file?":

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

Modules: ``_base`` (:class:`Source`), ``_live`` (:class:`LiveSource`, :func:`read_values`),
``_snapshot`` (:class:`SnapshotSource`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...config import Options, current_options
from .._connection import ClientLike, get_client
from .._snapshot import Snapshot
from ._base import Source
from ._live import LiveSource, read_values
from ._snapshot import SnapshotSource

SourceLike = ClientLike | os.PathLike | Snapshot | Source
"""Anything the public functions take as ``source``."""

__all__ = [
    "LiveSource",
    "SnapshotSource",
    "Source",
    "SourceLike",
    "open_source",
    "read_values",
]


def is_snapshot_path(text: str) -> bool:
    """Whether a string names an RDB file rather than a server: no ``scheme://``, and it ends
    in ``.rdb`` or is an existing file. Anything else is checked as a Redis URL, whose errors
    name the part that is wrong."""
    if "://" in text:
        return False
    return text.lower().endswith(".rdb") or Path(text).is_file()


def open_source(source: SourceLike = None, options: Options | None = None) -> Source:
    """The source ``source`` names, with ``options`` (``None``: the settings in force now,
    :func:`~rp_toolkit.config.current_options`): a :class:`Source` as is (it holds its
    own options); a snapshot for a :class:`Snapshot`, a path object or a string naming an
    RDB file (:func:`is_snapshot_path`); else the server a URL or client names (``None``:
    ``options.redis_url``)."""
    if isinstance(source, Source):
        return source
    options = current_options() if options is None else options
    if isinstance(source, Snapshot):
        return SnapshotSource(source, options)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and is_snapshot_path(source)):
        return SnapshotSource(Snapshot(source), options)
    return LiveSource(get_client(source, options), options)

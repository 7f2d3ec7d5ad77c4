"""An RDB snapshot file as a source (:class:`SnapshotSource`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from ...config import Options
from ...exceptions import SnapshotError
from ...kinds import KeysAndValues, encode_key, escape_glob
from .._snapshot import Snapshot, SnapshotStats
from .._stats import FetchStats, SnapshotFacts
from ._base import Source


class SnapshotSource(Source):
    """An RDB snapshot file: records as they were when the snapshot was taken; no server is
    asked anything. Every walk reads the whole file, so one pattern covers a window."""

    one_walk = True

    def __init__(self, snapshot: Snapshot, options: Options | None = None) -> None:
        super().__init__(options)
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
            stats.server_facts(stats.server).software = f"redis {self.snapshot.server_version}"
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
            stats.snapshot = SnapshotFacts(self.snapshot.identity(), walked.as_dict())

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

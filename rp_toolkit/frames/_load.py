"""``load`` and ``iter_load``: one kind's records from a source (:mod:`rp_toolkit.store`),
read and parsed batch by batch, with what the load did in ``frame.attrs["rp"]``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ..deprecation import renamed_parameter
from ..kinds import RecordKind, resolve_window
from ..store import FetchStream, Source, open_source
from ._batches import BatchParser, concat_batches
from ._info import LoadInfo
from ._parse import empty_frame
from ._parsed import ParsedRecords, RecordsLike
from ._question import check_batch_rows, tabular_kind

BATCH_ROWS = 50_000
"""Records :func:`load` parses at a time: large enough that Arrow's per-call costs vanish."""


ITER_BATCH_ROWS = 10_000
"""Records in each frame of :func:`iter_load` (by default): a smaller batch costs a little
more time and much less memory (parsing one takes several times its size)."""


@renamed_parameter("client", "source")
def load(
    kind: str,
    source: RecordsLike = None,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    **filters: Any,
) -> pd.DataFrame:
    """Load records of ``kind`` (``"requests"``, ``"sidekiq"``, ...) as a typed DataFrame.

    Builds the pattern (filters in key order, values escaped): with ``use_scan``, one pattern
    covering every UTC day of the window, so the keyspace is walked once; with KEYS, the gem's
    one pattern per day. Reads with the store (so ``use_scan`` and COUNT apply; the walk,
    the reads and the parsing overlap), and keeps the records in ``[start, end]`` that equal
    every filter exactly. ``frame.attrs["rp"]`` is a :class:`LoadInfo`: patterns, fetch
    statistics, problems. For data larger than memory, :func:`iter_load`.
    """
    if isinstance(source, ParsedRecords):
        return source.load(kind, start=start, end=end, on=on, **filters)
    batches = iter_load(
        kind, source, start=start, end=end, on=on, batch_rows=BATCH_ROWS, exact=True, **filters
    )
    with contextlib.closing(iter(batches)) as frames:  # the stages stop if interrupted
        return concat_batches(batches.kind, list(frames), batches.info)


@renamed_parameter("client", "source")
def iter_load(
    kind: str,
    source: RecordsLike = None,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    batch_rows: int | None = None,
    exact: bool = False,
    **filters: Any,
) -> LoadBatches:
    """What :func:`load` returns, as frames of at most ``batch_rows`` records each (default
    :data:`ITER_BATCH_ROWS`), parsed
    while the next ones are read: memory stays bounded whatever the number of records.

    Iterate it (once; at least one frame, empty when nothing matched); ``.info`` (a
    :class:`LoadInfo`) is complete when the iteration ends.
    Each frame carries only its own categories; :func:`concat_batches` joins frames as
    :func:`load` does. Keys are de-duplicated by their 64-bit hash (``exact=True``: by the
    keys themselves, which then stay in memory), see :class:`rp_toolkit.store.SeenKeys`.
    """
    record_kind = tabular_kind(kind)
    batch_rows = check_batch_rows(ITER_BATCH_ROWS if batch_rows is None else batch_rows)
    if isinstance(source, ParsedRecords):
        return source.iter_load(  # type: ignore[return-value]
            kind, start=start, end=end, on=on, batch_rows=batch_rows, **filters
        )
    opened = open_source(source)  # takes the options in force, once (the source holds them)
    window_start, window_end = resolve_window(record_kind, start, end, on, now=opened.now())
    unknown = set(filters) - set(record_kind.key_fields)
    if unknown:  # before any round trip (patterns() below says the same)
        record_kind.pattern(filters)
    info = LoadInfo(
        kind=record_kind.name,
        start=window_start,
        end=window_end,
        filters=dict(filters),
        filters_in_pattern=bool(filters),
    )
    # Only the days matter here (a datetime has no nanoseconds: floor, no warning).
    first, last = (bound.floor("us").to_pydatetime() for bound in (window_start, window_end))
    if opened.one_walk:
        info.patterns = [record_kind.covering_pattern(first, last, filters)]
    else:
        info.patterns = record_kind.patterns(first, last, filters)
    return LoadBatches(record_kind, opened, info, batch_rows, exact)


class LoadBatches:
    """The frames of one load, parsed batch by batch as the store reads them."""

    def __init__(
        self, kind: RecordKind, source: Source, info: LoadInfo, batch_rows: int, exact: bool
    ) -> None:
        self.kind, self.info = kind, info
        self._source, self._batch_rows, self._exact = source, batch_rows, exact
        self._started = False

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if self._started:
            raise RuntimeError("A load's batches can be iterated once; call iter_load again.")
        self._started = True
        parser = BatchParser(self.kind, self.info, self._batch_rows)
        try:
            for pattern in self.info.patterns:
                fetch = FetchStream(pattern, self._source, exact=self._exact)
                with contextlib.closing(iter(fetch)) as batches:
                    for batch in batches:
                        yield from parser.add(batch.keys, batch.values)
                self.info.fetches.append(fetch.stats)
            yield from parser.flush()
        finally:
            parser.close()
        if not self.info.keys_listed:
            yield empty_frame(self.kind)  # at least one frame: its columns and types

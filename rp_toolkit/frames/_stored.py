"""Every record of several kinds from one walk, as the archive stores them.

:class:`StoredBatches` is the archive's read of a source: one walk of the keyspace (or of a
snapshot file) for every kind asked for, events and traces included, parsed as
``rp.iter_load`` parses, in batches of :data:`~rp_toolkit.frames.ITER_BATCH_ROWS` records
that the archive writes and drops as they come (memory stays bounded whatever the window:
``rp.load``'s larger batches are a little faster and hold much more in memory), each
frame in the
stored form (``build_frame``'s ``stored``: ``custom_data`` as the
JSON text the gem wrote, and ``record_id``, the 64-bit identity of the record's key).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from ..exceptions import InvalidArgumentError
from ..kinds import (
    EVENTS,
    REQUESTS,
    TRACE,
    RecordKind,
    escape_glob,
    get_kind,
    resolve_window,
    utc_days,
)
from ..store import FetchStats, FetchStream, open_source
from ._batches import BatchParser
from ._documents import parse_events
from ._info import LoadInfo
from ._load import ITER_BATCH_ROWS
from ._parse import Problems, key_bytes, key_text, parse_key, record_ids
from ._parsed import RecordsLike
from ._question import split_by_kind, walk_pattern

EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
"""Where a window with no start begins: the gem's times are epoch seconds."""

TRACE_STORED_COLUMNS = ("request_id", "value", "record_id")
"""A stored trace: the request's id, the JSON the gem wrote (bytes), the key's identity."""


class StoredBatches:
    """The records of ``kinds`` (tabular kinds, ``"events"``, ``"trace"``) in ``[start,
    end]``, as ``(kind, frame)`` pairs, from one walk of ``source``.

    ``start`` None: every record the source holds; ``end`` None: the source's now (the clock,
    or a snapshot's creation time). Traces carry no time: every trace the source holds is
    read. With days to name (a start, and neither events nor traces), the walk's glob covers
    only those days; otherwise it matches every day and the window is applied after parsing.
    Iterate once; ``infos[kind]`` (a :class:`LoadInfo` per kind, sharing one fetch's
    statistics) is complete when the iteration ends.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        source: RecordsLike = None,
        *,
        start: Any = None,
        end: Any = None,
        batch_rows: int = ITER_BATCH_ROWS,
    ) -> None:
        self.kinds: list[RecordKind] = [get_kind(kind) for kind in dict.fromkeys(kinds)]
        if not self.kinds:
            raise InvalidArgumentError("No record kind to read.")
        self.source = open_source(source)  # takes the options in force, once
        self.now: pd.Timestamp = self.source.now()
        first, self.end = resolve_window(
            self.kinds[0], EARLIEST if start is None else start, end, now=self.now
        )
        self.start = None if start is None else first
        days = None if start is None else utc_days(first.to_pydatetime(), self.end.to_pydatetime())
        # One tabular kind: its own glob, every key it matches is that kind's (no split).
        self.single = len(self.kinds) == 1 and self.kinds[0].tabular
        if self.single:
            kind = self.kinds[0]
            every_day = f"{escape_glob(kind.prefix)}*|END|{kind.version}"
            self.pattern = kind.pattern(days=days) if days else every_day
        else:
            self.pattern = walk_pattern(self.kinds, days)
        count_days = days or [self.now.date()]
        self.fetch = FetchStream(
            self.pattern, self.source, exact=False, count_like=REQUESTS.pattern(days=count_days)
        )
        self.infos = {
            kind.name: LoadInfo(
                kind=kind.name,
                start=first,
                end=self.end,
                patterns=[self.pattern],
                fetches=[self.fetch.stats],
            )
            for kind in self.kinds
        }
        self.batch_rows = batch_rows
        self._started = False

    @property
    def stats(self) -> FetchStats:
        return self.fetch.stats

    def __iter__(self) -> Iterator[tuple[str, pd.DataFrame]]:
        if self._started:
            raise RuntimeError("A read's batches can be iterated once.")
        self._started = True
        parsers = {
            kind.name: BatchParser(kind, self.infos[kind.name], self.batch_rows, stored=True)
            for kind in self.kinds
            if kind.tabular
        }
        # Events are few and kept to the window once all are read; traces, many and timeless,
        # are written batch by batch.
        gathered = {kind.name: ([], []) for kind in self.kinds if kind.timed and not kind.tabular}
        with contextlib.ExitStack() as stack:
            for parser in parsers.values():
                stack.callback(parser.close)
            for batch in stack.enter_context(contextlib.closing(iter(self.fetch))):
                for name, (keys, values) in self._split(batch.keys, batch.values).items():
                    if name in parsers:
                        for frame in parsers[name].add(keys, values):
                            yield name, frame
                    elif name in gathered:
                        gathered[name][0].extend(keys)
                        gathered[name][1].extend(values)
                    else:
                        yield name, self._traces(keys, values)
            for name, parser in parsers.items():
                for frame in parser.flush():
                    yield name, frame
        for name, (keys, values) in gathered.items():
            yield name, self._events(keys, values)

    def _split(self, keys: list[bytes], values: list[Any]) -> dict[str, tuple[list, list]]:
        """A batch's keys and values by kind (one tabular kind: all of them are its)."""
        if self.single:
            return {self.kinds[0].name: (keys, values)}
        return split_by_kind(keys, values, self.kinds)

    def _traces(self, keys: list[bytes], values: list[Any]) -> pd.DataFrame:
        """Traces as stored: ``request_id``, ``value`` (the JSON the gem wrote, as bytes) and
        ``record_id``; keys that are not a trace's, or with no value, are problems."""
        info = self.infos[TRACE.name]
        found = Problems()
        kept: list[int] = []
        request_ids: list[str] = []
        for index, (key, value) in enumerate(zip(key_bytes(keys), values, strict=True)):
            text = key_text(key)
            fields, reason = parse_key(TRACE, text)
            if fields is None or value is None:
                found.add([text], reason or "no value (expired, or not a string)", None, False)
                continue
            kept.append(index)
            request_ids.append(fields["request_id"])
        frame = pd.DataFrame(
            {
                "request_id": pd.Series(request_ids, dtype="str"),
                "value": pd.Series([bytes(values[i]) for i in kept], dtype=object),
                "record_id": record_ids([keys[i] for i in kept]),
            }
        )
        info.keys_listed += len(keys)
        info.records += len(frame)
        if found.frames:
            info.problems = pd.concat([info.problems, found.frame()], ignore_index=True)
        return frame

    def _events(self, keys: list[bytes], values: list[Any]) -> pd.DataFrame:
        """Events in the window, ``options`` as the object the gem wrote, and ``record_id``
        (of the key each event's time names)."""
        info = self.infos[EVENTS.name]
        frame, problems = parse_events(keys, values)
        in_window = frame["datetime"].between(info.start, info.end).to_numpy(dtype=bool)
        frame = frame[in_window].reset_index(drop=True)
        frame["record_id"] = record_ids(
            [EVENTS.format_key({"datetimei": int(t)}).encode() for t in frame["datetimei"]]
        )
        info.keys_listed, info.records = len(keys), len(frame)
        info.outside_window = int((~in_window).sum())
        info.problems = problems
        return frame

"""``load_many``: several kinds (and events) from one walk of the keyspace."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..deprecation import renamed_parameter
from ..kinds import REQUESTS, RecordKind, get_kind, utc_days
from ..store import FetchStream, Source, open_source
from ._batches import BatchParser, concat_batches
from ._events import events_frame, load_events
from ._info import LoadInfo
from ._load import BATCH_ROWS, load
from ._parsed import ParsedRecords, RecordsLike
from ._question import kind_filters, kind_windows, split_by_kind, walk_pattern


@renamed_parameter("client", "source")
def load_many(
    kinds: Sequence[str],
    source: RecordsLike = None,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    windows: Mapping[str, tuple[Any, Any]] | None = None,
    filters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Several record kinds (and ``"events"``) from one walk of the keyspace.

    Each kind's window is ``start``/``end``/``on`` as for :func:`load` (its own default span
    when ``start`` is None: 24 hours for resources), or ``windows[kind]`` (a ``(start, end)``
    pair); ``filters[kind]`` are that kind's exact filters, as :func:`load` takes them. With
    ``use_scan``: one SCAN whose pattern covers every kind and day
    (:func:`walk_pattern`), its keys split by kind, all values read in one pipelined pass, each
    kind parsed and kept to its window; every frame's ``attrs["rp"].fetches`` holds the same,
    shared statistics. With KEYS: what the gem does, one KEYS per kind and day.
    """
    if isinstance(source, ParsedRecords):
        return source.load_many(
            kinds, start=start, end=end, on=on, windows=windows, filters=filters
        )
    wanted = [get_kind(kind) for kind in dict.fromkeys(kinds)]
    opened = open_source(source)  # takes the options in force, once (the source holds them)
    chosen = kind_filters(wanted, filters)
    spans = kind_windows(wanted, opened.now(), start=start, end=end, on=on, windows=windows)
    if opened.one_walk:
        return _load_in_one_walk(wanted, opened, spans, chosen)
    return {
        kind.name: _load_alone(kind, opened, spans[kind.name], chosen.get(kind.name, {}))
        for kind in wanted
    }


def _load_alone(
    kind: RecordKind,
    source: Source,
    span: tuple[pd.Timestamp, pd.Timestamp],
    filters: Mapping[str, Any],
) -> pd.DataFrame:
    """One kind of a :func:`load_many` read on its own (with KEYS, as the gem does)."""
    first, last = span
    if kind.tabular:
        return load(kind.name, source, start=first, end=last, **filters)
    return load_events(source, start=first, end=last)


def _load_in_one_walk(
    kinds: list[RecordKind],
    source: Source,
    spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]],
    filters: dict[str, dict[str, Any]],
) -> dict[str, pd.DataFrame]:
    """:func:`load_many` with ``use_scan``: one walk for every kind, its keys split by kind;
    tabular kinds parsed in batches as they come, events once the walk is done."""
    days = sorted(
        {day for a, b in spans.values() for day in utc_days(a.to_pydatetime(), b.to_pydatetime())}
    )
    pattern = walk_pattern(kinds, days)
    # The walk matches most of the gem's keys, as a day-scoped query does: the same COUNT.
    fetch = FetchStream(pattern, source, count_like=REQUESTS.pattern(days=days))
    parsers = {
        kind.name: BatchParser(
            kind,
            LoadInfo(
                kind=kind.name,
                start=spans[kind.name][0],
                end=spans[kind.name][1],
                patterns=[pattern],
                filters=filters.get(kind.name, {}),
                fetches=[fetch.stats],
            ),
            BATCH_ROWS,
        )
        for kind in kinds
        if kind.tabular
    }
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in parsers}
    gathered = {kind.name: ([], []) for kind in kinds if not kind.tabular}
    with contextlib.ExitStack() as stack:
        for parser in parsers.values():
            stack.callback(parser.close)
        for batch in stack.enter_context(contextlib.closing(iter(fetch))):
            for name, (keys, values) in split_by_kind(batch.keys, batch.values, kinds).items():
                if name in parsers:
                    parts[name].extend(parsers[name].add(keys, values))
                else:
                    gathered[name][0].extend(keys)
                    gathered[name][1].extend(values)
        for name, parser in parsers.items():
            parts[name].extend(parser.flush())
    return {
        kind.name: concat_batches(kind, parts[kind.name], parsers[kind.name].info)
        if kind.tabular
        else events_frame(*gathered[kind.name], fetch.stats, *spans[kind.name], pattern)
        for kind in kinds
    }

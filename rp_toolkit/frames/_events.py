"""Annotation events (deploys and the like): ``load_events``, and the events of a walk as a
frame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..deprecation import renamed_parameter
from ..kinds import EVENTS, window_bound
from ..store import FetchStats, fetch_from_redis, open_source
from ._documents import parse_events
from ._info import LoadInfo
from ._parsed import ParsedRecords, RecordsLike


@renamed_parameter("client", "source")
def load_events(source: RecordsLike = None, *, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Annotation events (deploys and the like): ``name``, ``datetime``, ``datetimei``,
    ``options``; all of them, or those in ``[start, end]`` (either bound may be left open)."""
    if isinstance(source, ParsedRecords):
        return source.load_events(start=start, end=end)
    opened = open_source(source)  # takes the options in force, once (the source holds them)
    now = opened.now()
    low = window_bound(start, name="start", now=now) if start is not None else None
    high = window_bound(end, name="end", now=now) if end is not None else None
    fetched = fetch_from_redis(EVENTS.pattern(), opened, raw=True)
    return events_frame(fetched.keys, fetched.values, fetched.stats, low, high, EVENTS.pattern())


def events_frame(
    keys: list[bytes],
    values: list[Any],
    stats: FetchStats,
    low: pd.Timestamp | None,
    high: pd.Timestamp | None,
    pattern: str,
) -> pd.DataFrame:
    """The events of ``keys`` and ``values`` in ``[low, high]`` (None: open), with their
    :class:`LoadInfo`."""
    events, problems = parse_events(keys, values)
    if low is not None or high is not None:
        low = events["datetime"].min() if low is None else low
        high = events["datetime"].max() if high is None else high
        events = events[events["datetime"].between(low, high)].reset_index(drop=True)
    info = LoadInfo(
        kind=EVENTS.name,
        patterns=[pattern],
        fetches=[stats],
        keys_listed=len(keys),
        records=len(events),
    )
    info.problems = problems
    events.attrs["rp"] = info
    return events

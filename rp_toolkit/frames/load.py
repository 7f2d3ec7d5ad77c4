"""Loading: the gem's records from Redis (:mod:`rp_toolkit.store`) through the parser
(:mod:`.parse`) into typed frames, with what the load did in ``frame.attrs["rp"]``.

Nothing is dropped silently: every record that is not in the frame, and every record kept
with a problem (a bad value keeps its key's dimensions), is listed in ``info.problems``,
where ``info = frame.attrs["rp"]`` (see :class:`LoadInfo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..config import settings
from ..kinds import (
    EVENTS,
    REQUESTS,
    SCHEMA_VERSION,
    TRACE,
    RecordKind,
    days_glob,
    encode_key,
    get_kind,
    utc_days,
    window_bound,
    window_of,
)
from ..store import (
    ClientLike,
    FetchStats,
    fetch_from_redis,
    get_client,
    list_keys,
    read_values,
    translate_errors,
)
from .parse import (
    TRACE_COLUMNS,
    Problems,
    build_frame,
    empty_problems,
    parse_events,
    parse_trace,
    split_keys,
)


@dataclass
class LoadInfo:
    """What a load did: the frame's ``attrs["rp"]``."""

    kind: str
    patterns: list[str] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    fetches: list[FetchStats] = field(default_factory=list)
    keys_listed: int = 0
    records: int = 0
    outside_window: int = 0
    problems: pd.DataFrame = field(default_factory=empty_problems)

    @property
    def skipped(self) -> pd.DataFrame:
        """Records that are not in the frame, with the reason."""
        return self.problems[~self.problems["kept"].astype(bool)]

    def problem_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.problems["reason"].value_counts().items()}

    def summary(self) -> dict[str, Any]:
        """A flat dict for notebooks and reports."""
        fetch = self.fetches[0] if self.fetches else None
        return {
            "kind": self.kind,
            "window_start": self.start,
            "window_end": self.end,
            "filters": dict(self.filters),
            "patterns": list(self.patterns),
            "method": fetch.method if fetch else None,
            "scan_count": fetch.count if fetch else None,
            "scan_calls": sum(f.scan_calls for f in self.fetches),
            "keys_listed": self.keys_listed,
            "records": self.records,
            "outside_window": self.outside_window,
            "skipped": int((~self.problems["kept"].astype(bool)).sum()),
            "kept_with_problems": int(self.problems["kept"].astype(bool).sum()),
            "values_missing": sum(f.values_missing for f in self.fetches),
            "duplicates_dropped": sum(f.duplicates_dropped for f in self.fetches),
            "restarts": sum(f.restarts for f in self.fetches),
            "walks": sum(walks(f) for f in self.fetches),
            "fetch_seconds": sum(f.elapsed_seconds for f in self.fetches),
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadInfo:
        # pandas deep-copies attrs on many operations; this record is read-only metadata.
        return self


def walks(stats: FetchStats) -> int:
    """How many times a fetch walked the keyspace: its SCAN loops (one per node on a
    cluster), or 1 for a KEYS."""
    return int(stats.extra.get("counts", {}).get("loops", 0)) if stats.method == "SCAN" else 1


def resolve_window(
    kind: str, start: Any = None, end: Any = None, on: Any = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC window of a load: ``on`` a whole day, or ``start``/``end``.

    Bounds are datetimes, dates, ISO strings or Timestamps (naive = UTC), or timedeltas
    relative to now (see :func:`rp_toolkit.kinds.window_bound`); anything else is an error.
    Defaults follow the gem: the last four hours (24 for resources), ending now.
    """
    now = pd.Timestamp.now(tz="UTC")
    if on is not None:
        if start is not None or end is not None:
            raise ValueError("Pass either on= (a day) or start=/end=, not both.")
        day = window_bound(on, name="on", now=now).normalize()
        return day, day + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    span = pd.Timedelta(window_of(kind))
    end_ts = window_bound(end, name="end", now=now) if end is not None else now
    start_ts = window_bound(start, name="start", now=now) if start is not None else end_ts - span
    if start_ts > end_ts:
        raise ValueError(f"The window starts ({start_ts}) after it ends ({end_ts}).")
    return start_ts, end_ts


def load(
    kind: str,
    client: ClientLike = None,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    **filters: Any,
) -> pd.DataFrame:
    """Load records of ``kind`` (``"requests"``, ``"sidekiq"``, ...) as a typed DataFrame.

    Builds the pattern (filters in key order, values escaped): with ``use_scan``, one pattern
    covering every UTC day of the window, so the keyspace is walked once; with KEYS, the gem's
    one pattern per day. Fetches with the store (so ``use_scan`` and COUNT apply), parses,
    and keeps the records in ``[start, end]`` that equal every filter exactly.
    ``frame.attrs["rp"]`` is a :class:`LoadInfo`: patterns, fetch statistics, problems.
    """
    record_kind = get_kind(kind)
    if record_kind.name in ("trace", "events"):
        raise ValueError(
            f"Use rp.load_{'trace' if record_kind is TRACE else 'events'}() for {record_kind.name}."
        )
    window_start, window_end = resolve_window(record_kind.name, start, end, on)
    unknown = set(filters) - set(record_kind.key_fields)
    if unknown:  # before any round trip (patterns() below says the same)
        record_kind.pattern(filters)
    redis_client = get_client(client)
    info = LoadInfo(
        kind=record_kind.name, start=window_start, end=window_end, filters=dict(filters)
    )
    first, last = window_start.to_pydatetime(), window_end.to_pydatetime()
    if settings.use_scan:
        info.patterns = [record_kind.covering_pattern(first, last, filters)]
    else:
        info.patterns = record_kind.patterns(first, last, filters)
    # fetch_from_redis(raw=True) without its final sort (a frame has no key order); the keys
    # are split (Arrow, which releases the GIL) while the values are being read.
    listed = [
        list_keys(pattern, redis_client, decode=False, sort=False) for pattern in info.patterns
    ]
    keys = [key for found, _ in listed for key in found]
    problems = Problems()
    with ThreadPoolExecutor(max_workers=1) as pool:
        split = pool.submit(split_keys, record_kind, keys, problems)
        values: list[Any] = []
        for found, stats in listed:
            values.extend(read_values(redis_client, found, stats))
            stats.elapsed_seconds = stats.keys_seconds + stats.values_seconds
            info.fetches.append(stats)
        return _records_frame(record_kind, keys, values, split.result(), problems, info)


def _records_frame(
    record_kind: RecordKind,
    keys: list[bytes],
    values: list[Any],
    split: Any,
    problems: Problems,
    info: LoadInfo,
) -> pd.DataFrame:
    """The frame of ``keys``/``values`` (split already), kept to ``info``'s window and
    filters, with ``info`` in ``attrs["rp"]``."""
    info.keys_listed = len(keys)
    frame, info.problems = build_frame(record_kind, keys, values, split, problems)
    in_window = frame["datetime"].between(info.start, info.end) if len(frame) else None
    if in_window is not None:
        for name, wanted in info.filters.items():
            in_window &= frame[name].astype(str) == str(wanted)
        info.outside_window = int((~in_window).sum())
        if info.outside_window:
            frame = frame[in_window.to_numpy()].reset_index(drop=True)
    for name in frame.select_dtypes("category"):  # the same frame, however the keys were read
        present = frame[name].cat.remove_unused_categories().cat.categories
        frame[name] = frame[name].cat.set_categories(sorted(present))
    info.records = len(frame)
    frame.attrs["rp"] = info
    return frame


def walk_pattern(kinds: list[RecordKind], days: list[Any]) -> str:
    """One glob for the records of several kinds (and annotation events), so that a question
    about all of them walks the keyspace once: the kinds' first letters as a class, then the
    days (:func:`rp_toolkit.kinds.days_glob`) and the version, or, with events, the versions
    only. Traces never match (their values are large and read one by one)."""
    firsts = sorted({kind.template[0] for kind in kinds})
    head = firsts[0] if len(firsts) == 1 else "[" + "".join(firsts) + "]"
    if EVENTS in kinds:
        versions = sorted({kind.version[-1] for kind in kinds})
        return f"{head}*|{SCHEMA_VERSION[:-1]}[{''.join(versions)}]"
    return f"{head}*|datetime|{days_glob(days)}*|END|{SCHEMA_VERSION}"


def load_many(
    kinds: Sequence[str],
    client: ClientLike = None,
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
    wanted = [get_kind(kind) for kind in dict.fromkeys(kinds)]
    if TRACE in wanted:
        raise ValueError("Traces are read one request at a time: use rp.load_trace().")
    filters = {name: dict(chosen) for name, chosen in (filters or {}).items()}
    for name, chosen in filters.items():
        if name not in {kind.name for kind in wanted} or name == "events":
            raise ValueError(f"filters for {name!r}, which is not a record kind asked for.")
        get_kind(name).pattern(chosen)  # unknown filter names: a clear error, before any I/O
    spans = {
        kind.name: (
            tuple(window_bound(b, name=f"windows[{kind.name!r}]") for b in windows[kind.name])
            if windows and kind.name in windows
            else resolve_window(kind.name, start, end, on)
        )
        for kind in wanted
    }
    if not settings.use_scan:
        return {
            kind.name: load_events(client, start=spans["events"][0], end=spans["events"][1])
            if kind is EVENTS
            else load(
                kind.name,
                client,
                start=spans[kind.name][0],
                end=spans[kind.name][1],
                **filters.get(kind.name, {}),
            )
            for kind in wanted
        }
    redis_client = get_client(client)
    days = sorted(
        {day for a, b in spans.values() for day in utc_days(a.to_pydatetime(), b.to_pydatetime())}
    )
    pattern = walk_pattern(wanted, days)
    # The walk matches most of the gem's keys, as a day-scoped query does: the same COUNT.
    like = REQUESTS.pattern(days=days)
    found, stats = list_keys(pattern, redis_client, decode=False, sort=False, count_like=like)
    by_kind = _keys_by_kind(found, wanted)
    keys = [key for kind in wanted for key in by_kind[kind.name]]
    values = read_values(redis_client, keys, stats)
    stats.elapsed_seconds = stats.keys_seconds + stats.values_seconds
    frames: dict[str, pd.DataFrame] = {}
    offset = 0
    for kind in wanted:
        mine = by_kind[kind.name]
        kind_values = values[offset : offset + len(mine)]
        offset += len(mine)
        first, last = spans[kind.name]
        if kind is EVENTS:
            frames[kind.name] = _events_frame(mine, kind_values, stats, first, last, pattern)
            continue
        info = LoadInfo(
            kind=kind.name,
            start=first,
            end=last,
            patterns=[pattern],
            filters=filters.get(kind.name, {}),
        )
        info.fetches.append(stats)
        problems = Problems()
        split = split_keys(kind, mine, problems)
        frames[kind.name] = _records_frame(kind, mine, kind_values, split, problems, info)
    return frames


def _keys_by_kind(keys: list[bytes], kinds: list[RecordKind]) -> dict[str, list[bytes]]:
    """``keys`` split by the kind their first part names; keys of no wanted kind dropped."""
    prefixes = {
        (
            kind.template.split(":{")[0] + ":" if kind is EVENTS else kind.parts[0].literal + "|"
        ).encode(): kind.name
        for kind in kinds
    }
    by_kind: dict[str, list[bytes]] = {kind.name: [] for kind in kinds}
    for key in keys:
        cut = (
            key.find(b"|") + 1 if not key.startswith(b"rails_performance:") else key.rfind(b":") + 1
        )
        name = prefixes.get(key[:cut])
        if name is not None:
            by_kind[name].append(key)
    return by_kind


def load_trace(request_id: str, client: ClientLike = None) -> pd.DataFrame:
    """The trace steps of one request: ``group`` (db/view), ``duration``, ``sql``, ``message``,
    ``time``. Empty (with those columns) when the trace has expired (after 60 minutes)."""
    redis_client = get_client(client)
    key = TRACE.format_key({"request_id": request_id})
    with translate_errors(redis_client, f"reading the trace of request {request_id!r}"):
        raw = redis_client.get(encode_key(key))
    return parse_trace(raw, key)


def slowest_trace(
    frame: pd.DataFrame, client: ClientLike = None, *, candidates: int = 50
) -> tuple[str | None, pd.DataFrame]:
    """The trace of the slowest request in ``frame`` that still has one (traces expire after
    60 minutes): ``(request_id, steps)``, or ``(None, empty steps)``."""
    slowest = frame.nlargest(candidates, "duration")["request_id"] if len(frame) else []
    for request_id in slowest:
        steps = load_trace(request_id, client)
        if len(steps):
            return request_id, steps
    return None, pd.DataFrame(columns=TRACE_COLUMNS)


def load_events(client: ClientLike = None, *, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Annotation events (deploys and the like): ``name``, ``datetime``, ``datetimei``,
    ``options``; all of them, or those in ``[start, end]``."""
    now = pd.Timestamp.now(tz="UTC")
    low = window_bound(start, name="start", now=now) if start is not None else None
    high = window_bound(end, name="end", now=now) if end is not None else None
    fetched = fetch_from_redis(EVENTS.pattern(), client, raw=True)
    return _events_frame(fetched.keys, fetched.values, fetched.stats, low, high, EVENTS.pattern())


def _events_frame(
    keys: list[bytes],
    values: list[Any],
    stats: FetchStats,
    low: pd.Timestamp | None,
    high: pd.Timestamp | None,
    pattern: str,
) -> pd.DataFrame:
    events, problems = parse_events(keys, values)
    if low is not None or high is not None:
        low = events["datetime"].min() if low is None else low
        high = events["datetime"].max() if high is None else high
        events = events[events["datetime"].between(low, high)].reset_index(drop=True)
    info = LoadInfo(
        kind="events",
        patterns=[pattern],
        fetches=[stats],
        keys_listed=len(keys),
        records=len(events),
    )
    info.problems = problems
    events.attrs["rp"] = info
    return events

"""Loading: the gem's records from Redis (:mod:`rp_toolkit.store`) through the parser
(:mod:`.parse`) into typed frames, with what the load did in ``frame.attrs["rp"]``.

Nothing is dropped silently: every record that is not in the frame, and every record kept
with a problem (a bad value keeps its key's dimensions), is listed in ``info.problems``,
where ``info = frame.attrs["rp"]`` (see :class:`LoadInfo`).
"""

from __future__ import annotations

import abc
import contextlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..deprecation import renamed_parameter
from ..exceptions import InvalidArgumentError
from ..kinds import (
    EVENTS,
    REQUESTS,
    SCHEMA_VERSION,
    TRACE,
    RecordKind,
    days_glob,
    get_kind,
    resolve_window,
    utc_days,
    window_bound,
)
from ..store import (
    FetchStats,
    FetchStream,
    Source,
    SourceLike,
    fetch_from_redis,
    open_source,
)
from .parse import (
    TRACE_COLUMNS,
    Problems,
    build_frame,
    empty_frame,
    empty_problems,
    parse_events,
    parse_trace,
    split_keys,
)

PARSE_THREADS = 2
"""Threads parsing batches at once (see :class:`BatchParser`)."""
BATCH_ROWS = 50_000
"""Records :func:`load` parses at a time: large enough that Arrow's per-call costs vanish."""
ITER_BATCH_ROWS = 10_000
"""Records in each frame of :func:`iter_load` (by default): a smaller batch costs a little
more time and much less memory (parsing one takes several times its size)."""


@dataclass
class LoadInfo:
    """What a load did: the frame's ``attrs["rp"]``.

    Every listed key is accounted for once: ``keys_listed == records + outside_window +
    sum(filtered_out.values()) + len(skipped)``. ``outside_window`` counts records whose
    time is outside ``[start, end]``; ``filtered_out[name]`` records in the window that
    filter ``name`` left out (a record several filters leave out counts under the first, in
    the order the filters were given); ``filter_matches[name]`` records in the window that
    equal filter ``name``, whatever the other filters say. :meth:`notes` says in words what
    left everything out.

    ``filters_in_pattern``: the filters were part of the pattern (``load``, ``iter_load``),
    so only keys matching all of them were listed and ``filtered_out`` stays 0; with several
    filters and no record, which of them matched nothing is then unknown. ``load_many``
    walks once for every kind and applies the filters to the records it parses.
    """

    kind: str
    patterns: list[str] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    fetches: list[FetchStats] = field(default_factory=list)
    keys_listed: int = 0
    records: int = 0
    outside_window: int = 0
    filtered_out: dict[str, int] = field(default_factory=dict)
    filter_matches: dict[str, int] = field(default_factory=dict)
    filters_in_pattern: bool = False
    problems: pd.DataFrame = field(default_factory=empty_problems)

    def __post_init__(self) -> None:
        for name in self.filters:
            self.filtered_out.setdefault(name, 0)
            self.filter_matches.setdefault(name, 0)

    @property
    def skipped(self) -> pd.DataFrame:
        """Records that are not in the frame, with the reason."""
        return self.problems[~self.problems["kept"].astype(bool)]

    @property
    def server(self) -> str | None:
        """Which server answered, named by what it is: ``valkey 9.1.2``, ``redis 7.0.15``
        (several, comma-separated, if the nodes differ; a snapshot: the Redis that wrote it;
        None when INFO was refused)."""
        names = {name for f in self.fetches for name in f.extra.get("software", {}).values()}
        return ", ".join(sorted(names)) or None

    def problem_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.problems["reason"].value_counts().items()}

    def unmatched_filters(self) -> list[str] | None:
        """The filters no record in the window matched (the load then holds no record); None
        when that cannot be told: several filters in the pattern, no record."""
        if self.filters_in_pattern and len(self.filters) > 1 and not self.records:
            return None
        return [name for name in self.filters if not self.filter_matches.get(name)]

    def notes(self) -> list[str]:
        """What left every record out, when filters did: each filter no record in the
        window matched, or the filters together. Values are quoted with ``repr`` (escape
        them again where Markdown or HTML shows them)."""
        if self.records or not self.filters:
            return []
        unmatched = self.unmatched_filters()
        if unmatched:
            return [
                f"no record in the window matched {name}={self.filters[name]!r}"
                for name in unmatched
            ]
        together = ", ".join(f"{name}={value!r}" for name, value in self.filters.items())
        each = "" if unmatched is None else ", though each matched some"
        return [f"no record in the window matched all the filters at once ({together}){each}"]

    def summary(self) -> dict[str, Any]:
        """A flat dict for notebooks and reports."""
        fetch = self.fetches[0] if self.fetches else None
        return {
            "kind": self.kind,
            "source": fetch.server if fetch else None,
            "server": self.server,
            "window_start": self.start,
            "window_end": self.end,
            "filters": dict(self.filters),
            "patterns": list(self.patterns),
            "patterns_sent": [f.pattern_sent for f in self.fetches],
            "method": fetch.method if fetch else None,
            "scan_count": fetch.count if fetch else None,
            "scan_count_rule": fetch.count_rule if fetch else None,
            "scan_calls": sum(f.scan_calls for f in self.fetches),
            "keys_listed": self.keys_listed,
            "records": self.records,
            "outside_window": self.outside_window,
            "filtered_out": dict(self.filtered_out),
            "filter_matches": dict(self.filter_matches),
            "filters_in_pattern": self.filters_in_pattern,
            "notes": self.notes(),
            "skipped": int((~self.problems["kept"].astype(bool)).sum()),
            "kept_with_problems": int(self.problems["kept"].astype(bool).sum()),
            "values_missing": sum(f.values_missing for f in self.fetches),
            "duplicates_dropped": sum(f.duplicates_dropped for f in self.fetches),
            "keys_filtered": sum(f.keys_filtered for f in self.fetches),
            "restarts": sum(f.restarts for f in self.fetches),
            "walks": sum(walks(f) for f in self.fetches),
            "fetch_seconds": sum(f.elapsed_seconds for f in self.fetches),
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadInfo:
        # pandas deep-copies attrs on many operations; this record is read-only metadata.
        return self


def walks(stats: FetchStats) -> int:
    """How many times a fetch walked the keyspace: its SCAN loops (one per node on a
    cluster), 1 for a KEYS or a snapshot's walk, 0 for an archive's read (no keyspace)."""
    if stats.method == "archive":
        return 0
    return int(stats.extra.get("counts", {}).get("loops", 0)) if stats.method == "SCAN" else 1


class ParsedRecords(abc.ABC):
    """A place that holds records already parsed: ``rp.open_archive``'s archive. The loaders
    (:func:`load`, :func:`iter_load`, :func:`load_many`, :func:`load_events`,
    :func:`load_trace`, :func:`slowest_trace`) hand a question about it to it, so it is
    accepted wherever a URL or a snapshot is; the type picks the behaviour, as a source's
    does."""

    @abc.abstractmethod
    def load(
        self, kind: str, *, start: Any = None, end: Any = None, on: Any = None, **filters: Any
    ) -> pd.DataFrame:
        """What :func:`load` returns for the same records."""

    @abc.abstractmethod
    def iter_load(
        self,
        kind: str,
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        batch_rows: int | None = None,
        **filters: Any,
    ) -> Iterable[pd.DataFrame]:
        """What :func:`iter_load` yields (``.kind`` and ``.info`` as :class:`LoadBatches`)."""

    @abc.abstractmethod
    def load_many(
        self,
        kinds: Sequence[str],
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        windows: Mapping[str, tuple[Any, Any]] | None = None,
        filters: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, pd.DataFrame]:
        """What :func:`load_many` returns."""

    @abc.abstractmethod
    def load_events(self, *, start: Any = None, end: Any = None) -> pd.DataFrame:
        """What :func:`load_events` returns."""

    @abc.abstractmethod
    def trace_values(self, request_ids: Sequence[str]) -> list[bytes | None]:
        """The stored trace of each request (the JSON the gem wrote), None where none is."""


RecordsLike = SourceLike | ParsedRecords
"""Anything the loaders take as ``source``: a source (:data:`rp_toolkit.store.SourceLike`)
or :class:`ParsedRecords`."""


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


def tabular_kind(kind: str | RecordKind) -> RecordKind:
    """``kind``'s description if :func:`load` reads it, else a clear error."""
    record_kind = get_kind(kind)
    if not record_kind.tabular:
        raise InvalidArgumentError(f"Use rp.load_{record_kind.name}() for {record_kind.name}.")
    return record_kind


def check_batch_rows(batch_rows: Any) -> int:
    """``batch_rows`` if it is a whole number of at least 1, else a clear error."""
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidArgumentError(
            f"batch_rows must be a whole number of at least 1, not {batch_rows!r}."
        )
    return batch_rows


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


@dataclass
class Parsed:
    """A parsed batch: the frame kept, problems, keys listed, records outside the window,
    records each filter left out and records in the window each filter matched."""

    frame: pd.DataFrame
    problems: pd.DataFrame
    listed: int
    outside: int
    filtered_out: dict[str, int]
    matches: dict[str, int]


class BatchParser:
    """One kind's keys and values gathered into batches of ``batch_rows``, each parsed into
    a frame kept to ``info``'s window and filters; ``info``'s counts follow.

    Batches are parsed by :data:`PARSE_THREADS` threads (Arrow's readers release the GIL, so
    one batch's Python work overlaps another's Arrow work) and come out in the order they
    went in; at most one batch per thread is waiting (memory stays bounded).
    """

    def __init__(
        self, kind: RecordKind, info: LoadInfo, batch_rows: int, *, stored: bool = False
    ) -> None:
        self.kind, self.info, self.batch_rows, self.stored = kind, info, batch_rows, stored
        self.keys: list[bytes] = []
        self.values: list[Any] = []
        self.problems: list[pd.DataFrame] = []
        self._pool = ThreadPoolExecutor(PARSE_THREADS) if PARSE_THREADS > 1 else None
        self._pending: deque[Future[Parsed]] = deque()

    def add(self, keys: list[bytes], values: list[Any]) -> Iterator[pd.DataFrame]:
        self.keys += keys
        self.values += values
        while len(self.keys) >= self.batch_rows:
            keys, self.keys = self.keys[: self.batch_rows], self.keys[self.batch_rows :]
            values, self.values = self.values[: self.batch_rows], self.values[self.batch_rows :]
            yield from self._submit(keys, values, waiting=PARSE_THREADS)

    def flush(self) -> Iterator[pd.DataFrame]:
        """The last frames; then ``info.problems`` holds every batch's problems."""
        if self.keys:
            keys, values, self.keys, self.values = self.keys, self.values, [], []
            yield from self._submit(keys, values, waiting=PARSE_THREADS)
        yield from self._done(waiting=0)
        self.close()
        if self.problems:
            self.info.problems = pd.concat(self.problems, ignore_index=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _submit(self, keys: list[bytes], values: list[Any], waiting: int) -> Iterator[pd.DataFrame]:
        if self._pool is None:
            yield self._counted(self._parse(keys, values))
            return
        self._pending.append(self._pool.submit(self._parse, keys, values))
        yield from self._done(waiting)

    def _done(self, waiting: int) -> Iterator[pd.DataFrame]:
        while len(self._pending) > waiting:
            yield self._counted(self._pending.popleft().result())

    def _counted(self, parsed: Parsed) -> pd.DataFrame:
        """Fold one parsed batch into ``info`` (in the caller's thread, in batch order)."""
        info = self.info
        info.keys_listed += parsed.listed
        info.outside_window += parsed.outside
        for name, n in parsed.filtered_out.items():
            info.filtered_out[name] = info.filtered_out.get(name, 0) + n
        for name, n in parsed.matches.items():
            info.filter_matches[name] = info.filter_matches.get(name, 0) + n
        if len(parsed.problems):
            self.problems.append(parsed.problems)
        info.records += len(parsed.frame)
        return parsed.frame

    def _parse(self, keys: list[bytes], values: list[Any]) -> Parsed:
        """One batch's frame (kept to the window and filters), problems and counts: run in
        a parsing thread, so it changes nothing shared."""
        info = self.info
        found = Problems()
        frame, problems = build_frame(
            self.kind, keys, values, split_keys(self.kind, keys, found), found, stored=self.stored
        )
        filtered_out = dict.fromkeys(info.filters, 0)
        matches = dict.fromkeys(info.filters, 0)
        if not len(frame):
            return Parsed(frame, problems, len(keys), 0, filtered_out, matches)
        in_window = frame["datetime"].between(info.start, info.end).to_numpy(dtype=bool)
        outside = int((~in_window).sum())
        kept = in_window
        for name, wanted in info.filters.items():
            equal = (frame[name].astype(str) == str(wanted)).to_numpy(dtype=bool)
            matches[name] = int((equal & in_window).sum())
            filtered_out[name] = int((kept & ~equal).sum())  # left out here first
            kept = kept & equal
        if not kept.all():
            frame = frame[kept].reset_index(drop=True)
        return Parsed(frame, problems, len(keys), outside, filtered_out, matches)


def concat_batches(
    kind: str | RecordKind, frames: Sequence[pd.DataFrame], info: LoadInfo | None = None
) -> pd.DataFrame:
    """Frames of :func:`iter_load` as one frame, as :func:`load` returns it: categories
    united and sorted (the same frame however the keys were read), ``info`` in the attrs."""
    frames = [frame for frame in frames if len(frame)] or [empty_frame(kind)]
    categorical = list(frames[0].select_dtypes("category").columns)
    if len(frames) == 1:
        frame = frames[0]
    else:
        # Each column's categories united once (codes recoded in one pass), not per frame.
        united = {name: _united([f[name] for f in frames]) for name in categorical}
        frame = pd.concat([f.drop(columns=categorical) for f in frames], ignore_index=True)
        for name, column in united.items():
            frame[name] = column
        frame = frame[list(frames[0].columns)]
    for name in categorical:
        frame[name] = _used_categories_sorted(frame[name])
    if info is not None:
        frame.attrs["rp"] = info
    return frame


def _united(columns: list[pd.Series]) -> pd.Categorical:
    """Categorical columns as one, their categories united."""
    try:
        return union_categoricals(columns, ignore_order=True)
    except TypeError:  # categories of different dtypes (a batch of nulls only)
        categories = sorted(set().union(*(column.cat.categories for column in columns)))
        parts = [column.cat.set_categories(categories) for column in columns]
        return pd.Categorical(pd.concat(parts, ignore_index=True))


def _used_categories_sorted(column: pd.Series) -> pd.Series:
    """A categorical column with only the categories it uses, in sorted order (counted with
    one pass over the codes, no sort of the rows)."""
    categories = column.cat.categories
    codes = column.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(categories)).astype(bool)
    if used.all() and categories.is_monotonic_increasing:
        return column
    return column.cat.set_categories(sorted(categories[used]))


def walk_pattern(kinds: Sequence[RecordKind], days: list[Any] | None) -> str:
    """One glob for the records of several kinds (and annotation events, traces), so that a
    question about all of them walks the keyspace once: the kinds' first letters as a class,
    then the days (:func:`rp_toolkit.kinds.days_glob`) and the version, or, with a kind whose
    keys name no day (events, traces) or no days (every day), the versions only."""
    firsts = sorted({kind.template[0] for kind in kinds})
    head = firsts[0] if len(firsts) == 1 else "[" + "".join(firsts) + "]"
    if days is None or any(kind.day_field is None for kind in kinds):
        versions = sorted({kind.version[-1] for kind in kinds})
        return f"{head}*|{SCHEMA_VERSION[:-1]}[{''.join(versions)}]"
    return f"{head}*|datetime|{days_glob(days)}*|END|{SCHEMA_VERSION}"


def kind_windows(
    kinds: Sequence[RecordKind],
    now: pd.Timestamp,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    windows: Mapping[str, tuple[Any, Any]] | None = None,
) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each kind's window in a :func:`load_many`: ``windows[kind]`` (a ``(start, end)``
    pair), else ``start``/``end``/``on`` as :func:`load` takes them (its own default span);
    both by :func:`rp_toolkit.kinds.resolve_window`."""
    spans = {}
    for kind in kinds:
        pair = (windows or {}).get(kind.name)
        if pair is None:
            spans[kind.name] = resolve_window(kind, start, end, on, now=now)
            continue
        named = f"windows[{kind.name!r}]"
        first, last = (window_bound(bound, name=named, now=now) for bound in pair)
        spans[kind.name] = resolve_window(kind, first, last, now=now)
    return spans


def kind_filters(
    kinds: Sequence[RecordKind], filters: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Each kind's exact filters in a :func:`load_many`, checked before any round trip: every
    kind carries a time (a window can hold it), and each filter names a tabular kind asked
    for and only its key fields."""
    for kind in kinds:
        if not kind.timed:
            raise InvalidArgumentError(
                f"{kind.name} records carry no time, so no window holds them: "
                f"read them one request at a time with rp.load_{kind.name}()."
            )
    asked = {kind.name: kind for kind in kinds}
    chosen = {name: dict(given) for name, given in (filters or {}).items()}
    for name, given in chosen.items():
        if name not in asked or not asked[name].tabular:
            raise InvalidArgumentError(
                f"filters for {name!r}, which is not a record kind asked for."
            )
        asked[name].pattern(given)  # unknown filter names: a clear error, before any I/O
    return chosen


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


def split_by_kind(
    keys: list[bytes], values: list[Any], kinds: list[RecordKind]
) -> dict[str, tuple[list[bytes], list[Any]]]:
    """``keys`` and their values split by the kind whose prefix
    (:attr:`~rp_toolkit.kinds.RecordKind.prefix`) they start with; keys of no wanted kind
    dropped."""
    prefixes = {kind.prefix.encode(): kind.name for kind in kinds}
    # Most prefixes end at a key's first '|' (one look-up); the others are tried in turn.
    others = [(prefix, name) for prefix, name in prefixes.items() if not prefix.endswith(b"|")]
    split: dict[str, tuple[list[bytes], list[Any]]] = {}
    for key, value in zip(keys, values, strict=True):
        name = prefixes.get(key[: key.find(b"|") + 1])
        if name is None and others:
            name = next((name for prefix, name in others if key.startswith(prefix)), None)
        if name is not None:
            mine = split.setdefault(name, ([], []))
            mine[0].append(key)
            mine[1].append(value)
    return split


def trace_values(source: RecordsLike, request_ids: Sequence[str], what: str) -> list[Any]:
    """The stored traces of ``request_ids`` (None where there is none), from a source or
    :class:`ParsedRecords`."""
    if isinstance(source, ParsedRecords):
        return source.trace_values(request_ids)
    keys = [TRACE.format_key({"request_id": request_id}) for request_id in request_ids]
    return open_source(source).get_many(keys, what)


@renamed_parameter("client", "source")
def load_trace(request_id: str, source: RecordsLike = None) -> pd.DataFrame:
    """The trace steps of one request: ``group`` (db/view), ``duration``, ``sql``, ``message``,
    ``time``. Empty (with those columns) when the trace has expired (after 60 minutes)."""
    key = TRACE.format_key({"request_id": request_id})
    (raw,) = trace_values(source, [request_id], f"reading the trace of request {request_id!r}")
    return parse_trace(raw, key)


@renamed_parameter("client", "source")
def slowest_trace(
    frame: pd.DataFrame, source: RecordsLike = None, *, candidates: int = 50
) -> tuple[str | None, pd.DataFrame]:
    """The trace of the slowest request in ``frame`` that still has one (traces expire after
    60 minutes): ``(request_id, steps)``, or ``(None, empty steps)``."""
    slowest = frame.nlargest(candidates, "duration")["request_id"].tolist() if len(frame) else []
    keys = [TRACE.format_key({"request_id": request_id}) for request_id in slowest]
    traces = trace_values(source, slowest, "reading the traces of the slowest requests")
    for request_id, key, raw in zip(slowest, keys, traces, strict=True):
        steps = parse_trace(raw, key)
        if len(steps):
            return request_id, steps
    return None, pd.DataFrame(columns=TRACE_COLUMNS)


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

"""Reading the archive with DuckDB, in-process: :func:`open_archive` gives an
:class:`Archive`, which the loaders accept wherever they accept a URL or a snapshot.

A load lists only the partitions its question needs (its app, the UTC days of its window),
hands those files to DuckDB with the window and the exact filters as conditions (row groups
outside them are skipped by their statistics), and turns the result into exactly the frame
``rp.load`` gives for the same records (:func:`rp_toolkit.archives._schema.to_frame`), rows in
time order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..exceptions import ArchiveError, InvalidArgumentError
from ..frames import (
    EARLIEST,
    ITER_BATCH_ROWS,
    LoadInfo,
    ParsedRecords,
    Problems,
    concat_batches,
    empty_frame,
    kind_windows,
    tabular_kind,
)
from ..kinds import (
    EVENTS,
    TRACE,
    RecordKind,
    get_kind,
    resolve_window,
    utc_days,
    window_bound,
)
from ..store import FetchStats
from ._layout import apps, check_app, check_format, days, files, manifest
from ._schema import ARCHIVED_KINDS, empty_table, stored_schema, to_frame
from ._write import ArchiveRun

PERCENTILES = (50, 95, 99)
ENDPOINT_PARTS = ("controller", "action", "format")


UNREADABLE = (duckdb.IOException, duckdb.InvalidInputException)
"""What DuckDB raises for a file it cannot read (damaged, not Parquet, gone)."""


@contextlib.contextmanager
def reading(root: Path) -> Iterator[None]:
    """DuckDB's error for an archive file it cannot read as a clear :class:`ArchiveError`
    (its message names the file)."""
    try:
        yield
    except UNREADABLE as error:
        raise ArchiveError(
            f"The archive {root} holds a file that cannot be read (damaged, or not Parquet): "
            f"{error}"
        ) from None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Archive(ParsedRecords):
    """An archive directory, read with DuckDB. ``app``: the application its loads read
    (needed when the archive holds several; :attr:`apps` lists them)."""

    def __init__(self, path: str | os.PathLike[str], app: str | None = None) -> None:
        super().__init__()
        self.root = Path(path)
        if not self.root.is_dir():
            raise ArchiveError(f"No archive at {self.root} (not a directory).")
        check_format(self.root)
        self.runs = [ArchiveRun.from_dict(record) for record in manifest(self.root)]
        self.apps = apps(self.root)
        self.app = check_app(app) if app is not None else None
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._views = False

    # -- what it is ---------------------------------------------------------------------

    def describe(self) -> str:
        newest = f", newest records as of {self.now():%Y-%m-%d %H:%M} UTC" if self.runs else ""
        apps = ", ".join(self.apps) or "none"
        runs = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        return f"archive {self.root.name} ({runs}, apps: {apps}{newest})"

    def place_name(self) -> str:
        """The app its loads read (the only one, when it holds one), else the archive
        directory's name."""
        if self.app is None and len(self.apps) == 1:
            return self.apps[0]
        return self.app or self.root.name

    def now(self) -> pd.Timestamp:
        """The time the archive's records are read as of: the latest ``now`` of the sources
        its runs read (a snapshot's creation time, a server's clock); the clock when empty."""
        if not self.runs:
            return pd.Timestamp.now(tz="UTC")
        return max(pd.Timestamp(run.source_now) for run in self.runs)

    def days(self, kind: str = "requests", app: str | None = None) -> list[Any]:
        """The UTC days of ``kind`` the archive holds for the app."""
        return days(self.root, get_kind(kind).name, self._app(app))

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect()
            self._connection.execute("SET TimeZone = 'UTC'")
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection, self._views = None, False

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r}, app={self.app!r})"

    def _app(self, app: str | None) -> str:
        if app is not None:
            return check_app(app)
        if self.app is not None:
            return self.app
        if len(self.apps) == 1:
            return self.apps[0]
        if not self.apps:
            return "-"  # an empty archive: nothing matches
        raise ArchiveError(
            f"The archive holds several apps ({', '.join(self.apps)}): say which with app= "
            "(or rp.open_archive(path, app=...); rp-toolkit --app)."
        )

    # -- reading ------------------------------------------------------------------------

    def _select(
        self,
        kind: str,
        app: str | None,
        start: pd.Timestamp | None,
        end: pd.Timestamp | None,
        *,
        filters: Mapping[str, Any] | None = None,
        select: str | None = None,
        where: str | None = None,
        tail: str = "ORDER BY datetime, record_id",
        params: Sequence[Any] = (),
    ) -> duckdb.DuckDBPyRelation | None:
        """``SELECT select`` over the rows of ``kind`` for the app in ``[start, end]`` that
        match ``filters`` (and ``where``, with ``params``), read from the window's partitions
        only; None when none of them holds a file."""
        name = get_kind(kind).name
        first = start if start is not None else EARLIEST
        chosen = None if start is None or end is None else utc_days(first, end)
        paths = files(self.root, name, self._app(app), chosen)
        if not paths:
            return None
        schema = stored_schema(name)
        conditions: list[str] = []
        values: list[Any] = [[str(path) for path in paths]]
        if "datetime" in schema.names and (start is not None or end is not None):
            conditions.append("datetime BETWEEN ? AND ?")
            last = end if end is not None else pd.Timestamp.max.tz_localize("UTC")
            # Parquet keeps microseconds: the bounds rounded inwards keep the same records
            # (pandas warns when nanoseconds are dropped).
            values += [first.ceil("us").to_pydatetime(), last.floor("us").to_pydatetime()]
        for field, wanted in (filters or {}).items():
            if field in schema.names and not pa.types.is_timestamp(schema.field(field).type):
                conditions.append(f"CAST({_quote(field)} AS VARCHAR) = ?")
                values.append(str(wanted))
        if where:
            conditions.append(where)
            values += list(params)
        columns = select or ", ".join(map(_quote, schema.names))
        query = f"SELECT {columns} FROM read_parquet(?)"
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        with reading(self.root):
            return self.connection.sql(f"{query} {tail}", params=values)

    def load(
        self,
        kind: str,
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        app: str | None = None,
        **filters: Any,
    ) -> pd.DataFrame:
        """The frame ``rp.load(kind, ...)`` gives for the archived records: the same window
        rules (``start``/``end``/``on``; by default the kind's span ending at :meth:`now`),
        exact filters, columns and dtypes; rows in time order."""
        batches = self.iter_load(
            kind, start=start, end=end, on=on, app=app, batch_rows=None, **filters
        )
        return concat_batches(batches.kind, list(batches), batches.info)

    def iter_load(
        self,
        kind: str,
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        batch_rows: int | None = ITER_BATCH_ROWS,
        app: str | None = None,
        **filters: Any,
    ) -> ArchiveBatches:
        """:meth:`load`'s frames, ``batch_rows`` records at a time (None: one frame)."""
        record_kind = tabular_kind(kind)
        record_kind.pattern(filters)  # unknown filter names: the error rp.load gives
        first, last = resolve_window(record_kind.name, start, end, on, now=self.now())
        info = LoadInfo(
            kind=record_kind.name,
            start=first,
            end=last,
            filters=dict(filters),
            filters_in_pattern=bool(filters),
            fetches=[FetchStats(method="archive", pattern="", server=self.describe())],
        )
        relation = self._select(record_kind.name, app, first, last, filters=filters)
        return ArchiveBatches(record_kind, relation, info, batch_rows, self.root)

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
        """What ``rp.load_many`` gives, each kind read as :meth:`load` reads it."""
        wanted = [get_kind(name) for name in dict.fromkeys(kinds)]
        if TRACE in wanted:
            raise InvalidArgumentError(
                "Traces are read one request at a time: use rp.load_trace()."
            )
        spans = kind_windows(wanted, self.now(), start=start, end=end, on=on, windows=windows)
        frames = {}
        for kind in wanted:
            first, last = spans[kind.name]
            if kind is EVENTS:
                frames[kind.name] = self.load_events(start=first, end=last)
            else:
                chosen = (filters or {}).get(kind.name, {})
                frames[kind.name] = self.load(kind.name, start=first, end=last, **chosen)
        return frames

    def load_events(
        self, *, start: Any = None, end: Any = None, app: str | None = None
    ) -> pd.DataFrame:
        """Annotation events as ``rp.load_events`` gives them: all, or those in
        ``[start, end]``."""
        now = self.now()
        first = window_bound(start, name="start", now=now) if start is not None else None
        last = window_bound(end, name="end", now=now) if end is not None else None
        relation = self._select(EVENTS.name, app, first, last, tail="ORDER BY datetime")
        with reading(self.root):
            table = empty_table(EVENTS.name) if relation is None else relation.to_arrow_table()
        frame = to_frame(table.select(["name", "datetime", "datetimei", "options"]), EVENTS.name)
        frame.attrs["rp"] = LoadInfo(kind=EVENTS.name, records=len(frame), keys_listed=len(frame))
        return frame

    def trace_values(
        self, request_ids: Sequence[str], app: str | None = None
    ) -> list[bytes | None]:
        """The archived trace of each request (the JSON the gem wrote), None where none is."""
        wanted = list(request_ids)
        relation = self._select(
            TRACE.name,
            app,
            None,
            None,
            select="request_id, value",
            where="list_contains(?, request_id)",
            params=[wanted],
            tail="",
        )
        with reading(self.root):
            values = dict(relation.fetchall()) if relation is not None and wanted else {}
        return [values.get(request_id) for request_id in wanted]

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """DuckDB SQL over the archive: one view per kind (``requests``, ``sidekiq``, ...,
        ``events``, ``trace``) with the stored columns plus ``app`` and ``date``, every app
        and day. The result as a pandas frame."""
        connection = self.connection
        for kind in ARCHIVED_KINDS if not self._views else ():
            paths = [str(p) for app in self.apps for p in files(self.root, kind, app)]
            if paths:
                listed = ", ".join(_literal(path) for path in paths)
                connection.execute(
                    f"CREATE OR REPLACE VIEW {_quote(kind)} AS SELECT * FROM read_parquet("
                    f"[{listed}], hive_partitioning = true, "
                    "hive_types = {'app': VARCHAR, 'date': DATE})"
                )
                continue
            empty = empty_table(kind)
            empty = empty.append_column("app", pa.array([], pa.string()))
            empty = empty.append_column("date", pa.array([], pa.date32()))
            connection.from_arrow(empty).create_view(kind, replace=True)
        self._views = True
        return connection.execute(query, params or []).df()

    def endpoint_days(
        self, *, start: Any = None, end: Any = None, app: str | None = None
    ) -> pd.DataFrame:
        """Per UTC day and endpoint (``Controller#action|format``): ``count`` and the gem's
        p50, p95 and p99 of ``duration``, computed by DuckDB over the partitions of the days
        asked for: ``start`` to ``end``, whole UTC days, both included (a time means its day;
        by default every day archived). The table ``rp.reports.endpoint_days`` gives from a
        frame and ``rp_toolkit.spark.endpoint_days_frame`` from Spark."""
        now = self.now()
        first = last = None
        if start is not None:
            first = window_bound(start, name="start", now=now).normalize()
        if end is not None:
            last = window_bound(end, name="end", now=now).normalize()
            last += pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        if first is not None and last is not None and first > last:
            raise InvalidArgumentError(f"start ({first.date()}) is after end ({last.date()}).")
        ps = ", ".join(f"quantile_cont(duration, {p / 100}) AS duration_p{p}" for p in PERCENTILES)
        parts = ", ".join(f"coalesce({name}, '') AS {name}" for name in ENDPOINT_PARTS)
        relation = self._select(
            "requests",
            app,
            first,
            last,
            select=f"date_trunc('day', datetime) AS date, {parts}, duration",
            tail="",
        )
        if relation is None:
            return endpoint_days_frame(None)
        query = f"""
            SELECT date, controller || '#' || action || '|' || format AS "group",
                   controller, action, format, count(*) AS count, {ps}
            FROM rows GROUP BY date, controller, action, format ORDER BY date, "group"
        """
        with reading(self.root):
            table = relation.query("rows", query).to_arrow_table()
        return endpoint_days_frame(table)


def endpoint_days_frame(table: pa.Table | None) -> pd.DataFrame:
    """The endpoint-days table in its documented dtypes."""
    columns = ["date", "group", "controller", "action", "format", "count"] + [
        f"duration_p{p}" for p in PERCENTILES
    ]
    frame = pd.DataFrame({name: [] for name in columns}) if table is None else table.to_pandas()
    frame["date"] = pd.to_datetime(frame["date"], utc=True).astype("datetime64[ns, UTC]")
    for name in ("group", "controller", "action", "format"):
        frame[name] = frame[name].astype("string")
    frame["count"] = frame["count"].astype("int64")
    for p in PERCENTILES:
        frame[f"duration_p{p}"] = frame[f"duration_p{p}"].astype("float64")
    return frame[columns].reset_index(drop=True)


class ArchiveBatches:
    """The frames of one archive load (``.kind``, a :class:`~rp_toolkit.kinds.RecordKind`,
    and ``.info`` as ``rp.iter_load``'s)."""

    def __init__(
        self,
        kind: RecordKind,
        relation: duckdb.DuckDBPyRelation | None,
        info: LoadInfo,
        batch_rows: int | None,
        root: Path,
    ) -> None:
        self.kind, self.info, self.root = kind, info, root
        self._relation, self._batch_rows = relation, batch_rows

    def __iter__(self) -> Iterator[pd.DataFrame]:
        with reading(self.root):
            yield from self._frames()

    def _frames(self) -> Iterator[pd.DataFrame]:
        problems = Problems()
        produced = False
        if self._relation is not None:
            columns = list(empty_frame(self.kind).columns)
            if self._batch_rows is None:
                tables: Any = [self._relation.to_arrow_table()]
            else:
                reader = self._relation.to_arrow_reader(self._batch_rows)
                tables = (pa.Table.from_batches([batch]) for batch in reader)
            for table in tables:
                if not table.num_rows:
                    continue
                frame = to_frame(table.select(columns), self.kind, problems)
                frame = self._filtered(frame)
                produced = True
                yield frame
        if not produced:
            yield empty_frame(self.kind)
        self.info.problems = problems.frame()

    def _filtered(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The exact filters as ``rp.load`` applies them (the SQL pre-selected the rows)."""
        info = self.info
        keep = pd.Series(True, index=frame.index)
        for name, wanted in info.filters.items():
            keep &= frame[name].astype(str) == str(wanted)
        frame = frame[keep.to_numpy()].reset_index(drop=True) if not keep.all() else frame
        info.records += len(frame)
        info.keys_listed += len(frame)
        for name in info.filters:
            info.filter_matches[name] = info.filter_matches.get(name, 0) + len(frame)
        return frame


def open_archive(path: str | os.PathLike[str], app: str | None = None) -> Archive:
    """The archive at ``path`` (made by ``rp.archive`` / ``rp-toolkit archive``), for loads,
    reports and SQL. ``app`` chooses the application when it holds several."""
    return Archive(path, app=app)

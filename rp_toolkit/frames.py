"""Records as typed pandas DataFrames: ``load``, ``load_trace``, ``load_events`` and ``parse``.

Parsing is vectorised with Arrow: keys are split on ``|`` with ``pyarrow.compute`` and their
parts picked by position (anchored at both ends of the key, so a ``path`` holding ``|``
still parses), and values are read by Arrow's JSON reader over the newline-joined values.
Only rows that need it (a ``path`` with ``|``, a block holding a bad value, a non-null
``custom_data``) take a Python path.

Nothing is dropped silently: every record that is not in the frame, and every record kept
with a problem (a bad value keeps its key's dimensions), is listed in ``info.problems``,
where ``info = frame.attrs["rp"]`` (see :class:`LoadInfo`).

Key text: keys that are not UTF-8 are kept; in frames their undecodable bytes show as
``\\xNN`` escapes (Arrow and pandas text must be valid UTF-8).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .connection import ClientLike, get_client, translate_errors
from .fetching import FetchStats, encode_key, fetch_from_redis
from .kinds import EVENTS, TRACE, RecordKind, get_kind

DEFAULT_WINDOW = timedelta(hours=4)
"""The gem's ``duration``: dashboards look at the last four hours."""
KIND_WINDOWS = {"resources": timedelta(hours=24)}
JSON_BLOCK_ROWS = 65_536
TIMESTAMP = "datetime64[ns, UTC]"
PROBLEM_VALUE_CHARS = 200

MISSING_VALUE = "value missing: the key expired between listing and reading"


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
    problems: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["key", "reason", "value", "kept"])
    )

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
            "fetch_seconds": sum(f.elapsed_seconds for f in self.fetches),
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadInfo:
        # pandas deep-copies attrs on many operations; this record is read-only metadata.
        return self


class _Problems:
    """Collects problem rows (vectorised where the caller has arrays)."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []

    def add(self, keys: Sequence[str], reason: str | Sequence[str], values: Any, kept: bool):
        if len(keys) == 0:
            return
        self.frames.append(
            pd.DataFrame(
                {
                    "key": list(keys),
                    "reason": reason if not isinstance(reason, str) else [reason] * len(keys),
                    "value": [_preview(v) for v in values] if values is not None else None,
                    "kept": kept,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame(columns=["key", "reason", "value", "kept"])
        return pd.concat(self.frames, ignore_index=True)


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = str(value)
    return text if len(text) <= PROBLEM_VALUE_CHARS else text[:PROBLEM_VALUE_CHARS] + "…"


# --------------------------------------------------------------------------- keys


def _text_array(keys: Sequence[str]) -> pa.Array:
    try:
        return pa.array(keys, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return pa.array(
            [encode_key(k).decode("utf-8", "backslashreplace") for k in keys], type=pa.string()
        )


def _split_keys(kind: RecordKind, keys: pa.Array, problems: _Problems) -> tuple[np.ndarray, dict]:
    """Pick every key field by position; returns (rows that parsed, {field: arrow array})."""
    parts = pc.split_pattern(keys, "|")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = parts.offsets.to_numpy()[:-1].astype(np.int64)
    flat = parts.values
    template = kind.parts
    n_parts = len(template)
    free = (
        next(i for i, p in enumerate(template) if p.field == kind.free_field)
        if kind.free_field
        else None
    )
    ok = lengths >= n_parts if free is not None else lengths == n_parts
    reasons = np.full(len(keys), None, dtype=object)
    reasons[~ok] = f"malformed key: expected {n_parts} '|'-separated parts"

    def position(i: int) -> np.ndarray:
        if free is None or i <= free:
            return offsets + i
        return offsets + lengths - (n_parts - i)

    rows = np.flatnonzero(ok)
    columns: dict[str, pa.Array] = {}
    for i, part in enumerate(template):
        values = pc.take(flat, pa.array(position(i)[rows]))
        if part.literal:
            matches = (
                pc.starts_with(values, part.literal)
                if part.is_field
                else pc.equal(values, part.literal)
            )
            bad = ~matches.to_numpy(zero_copy_only=False)
            if bad.any():
                if i == n_parts - 1:
                    found = np.asarray(values.to_pylist(), dtype=object)[bad]
                    reasons[rows[bad]] = [
                        f"schema version {v!r}, expected {part.literal!r}" for v in found
                    ]
                else:
                    reasons[rows[bad]] = f"malformed key: expected {part.literal!r} at part {i}"
        if part.is_field:
            if part.literal:
                values = pc.utf8_slice_codeunits(values, len(part.literal))
            columns[part.field] = values
    if free is not None:
        long_rows = np.flatnonzero(lengths[rows] > n_parts)
        if len(long_rows):
            # Only keys whose free field holds '|' take this Python path.
            right = n_parts - free - 1
            joined = []
            for r in rows[long_rows]:
                pieces = keys[int(r)].as_py().split("|")
                joined.append("|".join(pieces[free : len(pieces) - right]))
            mask = np.zeros(len(rows), dtype=bool)
            mask[long_rows] = True
            columns[kind.free_field] = pc.replace_with_mask(
                columns[kind.free_field], pa.array(mask), pa.array(joined, type=pa.string())
            )
    bad_rows = np.flatnonzero(reasons != None)  # noqa: E711 (element-wise comparison)
    if len(bad_rows):
        problems.add(
            pc.take(keys, pa.array(bad_rows)).to_pylist(), list(reasons[bad_rows]), None, kept=False
        )
    keep_in_rows = reasons[rows] == None  # noqa: E711
    columns = {name: col.filter(pa.array(keep_in_rows)) for name, col in columns.items()}
    return rows[keep_in_rows], columns


def _typed_key_columns(
    kind: RecordKind, columns: dict[str, pa.Array], keys: list[str], problems: _Problems
) -> tuple[np.ndarray, dict[str, Any]]:
    """Convert key fields to their types; rows whose fields do not convert are skipped."""
    n = len(keys)
    good = np.ones(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    typed: dict[str, Any] = {}
    for name in kind.key_fields:
        kind_of = kind.key_types[name]
        col = columns[name]
        if kind_of in ("int", "epoch"):
            valid = pc.match_substring_regex(col, r"^-?\d{1,18}$").to_numpy(zero_copy_only=False)
            reasons[~valid & good] = f"malformed key: {name} is not a whole number"
            good &= valid
            typed[name] = pc.if_else(pa.array(valid), col, "0").cast(pa.int64()).to_numpy()
        elif kind_of == "minute":
            parsed = pc.strptime(col, format="%Y%m%dT%H%M", unit="s", error_is_null=True)
            valid = parsed.is_valid().to_numpy(zero_copy_only=False)
            reasons[~valid & good] = f"malformed key: {name} is not YYYYMMDDTHHMM"
            good &= valid
            typed[name] = parsed
        elif kind_of == "json_list":
            typed[name] = _json_list_text(col.to_pylist())
        else:
            typed[name] = col
    bad = np.flatnonzero(~good)
    if len(bad):
        problems.add([keys[i] for i in bad], list(reasons[bad]), None, kept=False)
    return good, typed


def _json_list_text(texts: list[str | None]) -> list[str | None]:
    # Rake task lists are few (one record per task run); a Python loop is fine here.
    out = []
    for text in texts:
        try:
            items = json.loads(text) if text is not None else None
        except ValueError:
            items = None
        out.append(", ".join(map(str, items)) if isinstance(items, list) else text)
    return out


# --------------------------------------------------------------------------- values


def _read_values(
    schema: pa.Schema, values: list[bytes], keys: list[str], problems: _Problems
) -> pa.Table:
    """Values as one Arrow table aligned with ``values``; bad values give null rows."""
    if len(schema) == 0:
        return pa.table({})
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    tables = []
    reported: list[int] = []
    for start in range(0, len(values), JSON_BLOCK_ROWS):
        block = values[start : start + JSON_BLOCK_ROWS]
        joined = b"\n".join(block)
        table = None
        if joined.count(b"\n") == len(block) - 1:  # no newline inside a value
            try:
                table = pa_json.read_json(io.BytesIO(joined), parse_options=options)
            except pa.ArrowInvalid:
                table = None
            if table is not None and table.num_rows != len(block):
                table = None  # an empty value: rows would not line up
        if table is None:
            table, bad = _read_values_slowly(
                schema, block, keys[start : start + len(block)], problems
            )
            reported.extend(start + i for i in bad)
        tables.append(table.select(schema.names).cast(schema))
    if not tables:
        return schema.empty_table()
    table = pa.concat_tables(tables)
    all_null = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        all_null &= column.is_null().to_numpy(zero_copy_only=False)
    all_null[reported] = False  # already reported with a more precise reason
    suspicious = np.flatnonzero(all_null)
    if len(suspicious):
        problems.add(
            [keys[i] for i in suspicious],
            "value has none of the expected fields",
            [values[i] for i in suspicious],
            kept=True,
        )
    return table


def _read_values_slowly(
    schema: pa.Schema, block: list[bytes], keys: list[str], problems: _Problems
) -> tuple[pa.Table, list[int]]:
    """The per-record path for a block that Arrow refused: find and report the bad values."""
    rows: list[dict[str, Any]] = []
    bad: list[int] = []
    for position, (key, raw) in enumerate(zip(keys, block, strict=True)):
        reason = None
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            document, reason = {}, "value is not JSON"
        if not isinstance(document, dict):
            document, reason = {}, reason or "value is JSON but not an object"
        row = {}
        for fld in schema:
            try:
                row[fld.name] = pa.scalar(document.get(fld.name), type=fld.type).as_py()
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                row[fld.name] = None
                reason = reason or f"value field {fld.name!r} has the wrong type"
        rows.append(row)
        if reason:
            problems.add([key], reason, [raw], kept=True)
            bad.append(position)
    return pa.Table.from_pylist(rows, schema=schema), bad


def _decode_json_text(column: pd.Series, keys: list[str], problems: _Problems) -> pd.Series:
    """``custom_data`` is a JSON document encoded as a string; decode the non-null ones."""
    result = pd.Series(np.full(len(column), None, dtype=object), index=column.index)
    present = column.notna() & (column != "null")
    bad_keys, bad_values = [], []
    for position in np.flatnonzero(present.to_numpy()):
        text = column.iat[position]
        try:
            result.iat[position] = json.loads(text)
        except ValueError:
            result.iat[position] = text
            bad_keys.append(keys[position])
            bad_values.append(text)
    problems.add(bad_keys, "custom_data is not JSON (kept as text)", bad_values, kept=True)
    return result


def _list_column(column: pa.ChunkedArray) -> pd.Series:
    series = column.to_pandas()
    present = np.flatnonzero(series.notna().to_numpy())
    values = series.to_numpy(dtype=object).copy()
    for i in present:
        values[i] = list(values[i])
    return pd.Series(values, dtype=object)


# --------------------------------------------------------------------------- frames


def empty_frame(kind: str | RecordKind) -> pd.DataFrame:
    """The frame ``parse`` returns for no records: right columns and types, no rows."""
    frame, _ = parse(kind, [], [])
    return frame


def parse(
    kind: str | RecordKind, keys: Sequence[str], values: Sequence[bytes | str | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records of ``kind`` as a typed frame, plus the problems found (see module docs)."""
    kind = get_kind(kind)
    problems = _Problems()
    keys = list(keys)
    present = np.array([v is not None for v in values], dtype=bool)
    missing = np.flatnonzero(~present)
    if len(missing):
        problems.add([keys[i] for i in missing], MISSING_VALUE, None, kept=False)
    keys = [keys[i] for i in np.flatnonzero(present)] if len(missing) else keys
    values = [v for v in values if v is not None] if len(missing) else list(values)

    key_text = _text_array(keys)
    rows, columns = _split_keys(kind, key_text, problems)
    kept_keys = (
        pc.take(key_text, pa.array(rows)).to_pylist()
        if len(rows) != len(keys)
        else (key_text.to_pylist())
    )
    good, typed = _typed_key_columns(kind, columns, kept_keys, problems)
    rows = rows[good]
    kept_keys = (
        [k for k, g in zip(kept_keys, good, strict=True) if g] if not good.all() else kept_keys
    )
    good_mask = pa.array(good)
    raw_values = [values[i] for i in rows]
    raw_values = [
        v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in raw_values
    ]
    value_table = _read_values(kind.value_schema, raw_values, kept_keys, problems)

    data: dict[str, Any] = {}
    for name in kind.key_fields:
        column = typed[name]
        kind_of = kind.key_types[name]
        if isinstance(column, (pa.Array, pa.ChunkedArray)):
            column = column.filter(good_mask)
        else:
            column = (
                np.asarray(column, dtype=object)[good]
                if kind_of == "json_list"
                else (np.asarray(column)[good])
            )
        if kind_of == "minute":
            data["minute"] = (
                pd.to_datetime(column.to_pandas()).dt.tz_localize("UTC").astype(TIMESTAMP)
            )
        elif kind_of == "epoch":
            data[name] = pd.Series(column, dtype="int64")
            if name == "datetimei":
                data["datetime"] = pd.to_datetime(column, unit="s", utc=True).astype(TIMESTAMP)
        elif kind_of == "int":
            data[name] = pd.Series(column, dtype="int64")
        elif kind_of == "category":
            data[name] = pd.Series(column.to_pandas(), dtype="category")
        elif kind_of == "json_list":
            data[name] = pd.Series(column, dtype="str")
        else:
            data[name] = pd.Series(column.to_pandas(), dtype="str")
    for name in kind.value_schema.names:
        column = value_table.column(name)
        if pa.types.is_struct(column.type):
            for child in column.type:
                data[f"{name}_{child.name}"] = pc.struct_field(column, child.name).to_pandas()
        elif pa.types.is_list(column.type):
            data[name] = _list_column(column)
        elif pa.types.is_string(column.type):
            data[name] = pd.Series(column.to_pandas(), dtype="str")
        else:
            data[name] = column.to_pandas()
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in data.items()})
    if "custom_data" in frame:
        frame["custom_data"] = _decode_json_text(frame["custom_data"], kept_keys, problems)
    if "datetime" in frame:
        frame = frame.sort_values("datetime", kind="stable", ignore_index=True)
    return frame, problems.frame()


def _timestamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def resolve_window(
    kind: str, start: Any = None, end: Any = None, on: Any = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC window of a load: ``on`` a whole day, or ``start``/``end`` (naive = UTC).

    Defaults follow the gem: the last four hours (24 for resources), ending now.
    """
    if on is not None:
        if start is not None or end is not None:
            raise ValueError("Pass either on= (a day) or start=/end=, not both.")
        day = _timestamp(pd.Timestamp(on).date() if not isinstance(on, date) else on)
        return day, day + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    span = KIND_WINDOWS.get(kind, DEFAULT_WINDOW)
    end_ts = _timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC")
    start_ts = _timestamp(start) if start is not None else end_ts - span
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

    Builds the gem's patterns (one per UTC day in the window, filters in key order, values
    escaped), fetches them with :func:`fetch_from_redis` (so ``use_scan`` and COUNT apply),
    parses, and keeps the records in ``[start, end]`` that equal every filter exactly.
    ``frame.attrs["rp"]`` is a :class:`LoadInfo`: patterns, fetch statistics, problems.
    """
    record_kind = get_kind(kind)
    if record_kind.name in ("trace", "events"):
        raise ValueError(
            f"Use rp.load_{'trace' if record_kind is TRACE else 'events'}() for {record_kind.name}."
        )
    redis_client = get_client(client)
    window_start, window_end = resolve_window(record_kind.name, start, end, on)
    info = LoadInfo(
        kind=record_kind.name, start=window_start, end=window_end, filters=dict(filters)
    )
    info.patterns = record_kind.patterns(
        window_start.to_pydatetime(), window_end.to_pydatetime(), filters
    )
    keys: list[str] = []
    values: list[Any] = []
    for pattern in info.patterns:
        fetched = fetch_from_redis(pattern, redis_client, raw=True)
        keys.extend(fetched.keys)
        values.extend(fetched.values)
        info.fetches.append(fetched.stats)
    info.keys_listed = len(keys)
    frame, problems = parse(record_kind, keys, values)
    in_window = frame["datetime"].between(window_start, window_end) if len(frame) else None
    if in_window is not None:
        for name, wanted in filters.items():
            in_window &= frame[name].astype(str) == str(wanted)
        info.outside_window = int((~in_window).sum())
        frame = frame[in_window.to_numpy()].reset_index(drop=True)
    info.records = len(frame)
    info.problems = problems
    frame.attrs["rp"] = info
    return frame


def load_trace(request_id: str, client: ClientLike = None) -> pd.DataFrame:
    """The trace steps of one request: ``group`` (db/view), ``duration``, ``sql``, ``message``,
    ``time``. Empty (with those columns) when the trace has expired (after 60 minutes)."""
    redis_client = get_client(client)
    key = TRACE.format_key({"request_id": request_id})
    with translate_errors(redis_client, f"reading the trace of request {request_id!r}"):
        raw = redis_client.get(encode_key(key))
    columns = ["group", "duration", "sql", "message", "time"]
    if raw is None:
        return pd.DataFrame(columns=columns)
    try:
        steps = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"The trace at {key!r} is not JSON ({error}).") from None
    if not isinstance(steps, list):
        raise ValueError(f"The trace at {key!r} is not a JSON array of steps.")
    frame = pd.DataFrame([s for s in steps if isinstance(s, dict)])
    for column in columns:
        if column not in frame:
            frame[column] = None
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce")
    return frame


def load_events(client: ClientLike = None, *, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Annotation events (deploys and the like): ``name``, ``datetime``, ``datetimei``,
    ``options``; all of them, or those in ``[start, end]``."""
    fetched = fetch_from_redis(EVENTS.pattern(), client, raw=True)
    problems = _Problems()
    frame, key_problems = parse(
        EVENTS, fetched.keys, [b"{}" if v is not None else None for v in fetched.values]
    )
    by_key = dict(zip(fetched.keys, fetched.values, strict=True))
    names, options = [], []
    keys_in_frame = [EVENTS.format_key({"datetimei": int(e)}) for e in frame["datetimei"]]
    for key in keys_in_frame:
        raw = by_key.get(key)
        try:
            document = json.loads(raw) if raw is not None else {}
        except ValueError:
            document = {}
            problems.add([key], "value is not JSON", [raw], kept=True)
        if not isinstance(document, dict):
            document = {}
            problems.add([key], "value is JSON but not an object", [raw], kept=True)
        names.append(document.get("name"))
        options.append(document.get("options") or {})
    events = pd.DataFrame(
        {
            "name": pd.Series(names, dtype="str"),
            "datetime": frame["datetime"],
            "datetimei": frame["datetimei"],
            "options": pd.Series(options, dtype=object),
        }
    )
    if start is not None or end is not None:
        low = _timestamp(start) if start is not None else events["datetime"].min()
        high = _timestamp(end) if end is not None else events["datetime"].max()
        events = events[events["datetime"].between(low, high)].reset_index(drop=True)
    info = LoadInfo(
        kind="events",
        patterns=[EVENTS.pattern()],
        fetches=[fetched.stats],
        keys_listed=len(fetched.keys),
        records=len(events),
    )
    info.problems = pd.concat([key_problems, problems.frame()], ignore_index=True)
    events.attrs["rp"] = info
    return events

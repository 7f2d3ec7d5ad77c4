"""Parsing, pure: the gem's keys and values (bytes) in, typed pandas frames and problems out.

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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from ..kinds import EVENTS, RecordKind, encode_key, get_kind

JSON_BLOCK_ROWS = 65_536
TIMESTAMP = "datetime64[ns, UTC]"
PROBLEM_VALUE_CHARS = 200
PROBLEM_COLUMNS = ["key", "reason", "value", "kept"]

TRACE_COLUMNS = ["group", "duration", "sql", "message", "time"]
KeyLookup = Callable[[int], str]
"""Key text of a record by its position, built only for the few records with problems."""

MISSING_VALUE = "value missing: the key expired between listing and reading"


def empty_problems() -> pd.DataFrame:
    """A problems table with no rows."""
    return pd.DataFrame(columns=PROBLEM_COLUMNS)


class Problems:
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
            return empty_problems()
        return pd.concat(self.frames, ignore_index=True)


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = str(value)
    return text if len(text) <= PROBLEM_VALUE_CHARS else text[:PROBLEM_VALUE_CHARS] + "…"


# --------------------------------------------------------------------------- keys


def key_text(key: bytes | str) -> str:
    """A key as text for frames and problem lists; undecodable bytes show as ``\\xNN``."""
    return key if isinstance(key, str) else key.decode("utf-8", "backslashreplace")


def parse_key(kind: RecordKind, text: str) -> tuple[dict[str, str] | None, str | None]:
    """One key's fields by the template, or ``(None, reason)``.

    The per-key path for keys the vectorised reader leaves (a free field holding ``|``, a
    newline, a malformed key) and for telling why a key does not parse.
    """
    parts = kind.parts
    pieces = text.split("|")
    if len(pieces) >= 2 and pieces[-2] == "END" and pieces[-1] != kind.version:
        return None, f"schema version {pieces[-1]!r}, expected {kind.version!r}"
    free = kind.free_index
    if len(pieces) < len(parts) or (free is None and len(pieces) != len(parts)):
        return None, f"malformed key: expected {len(parts)} '|'-separated parts"
    if free is not None and len(pieces) > len(parts):
        right = len(parts) - free - 1
        middle = "|".join(pieces[free : len(pieces) - right])
        pieces = [*pieces[:free], middle, *pieces[len(pieces) - right :]]
    fields = {}
    for i, (part, piece) in enumerate(zip(parts, pieces, strict=True)):
        if part.is_field and piece.startswith(part.literal):
            fields[part.field] = piece[len(part.literal) :]
        elif part.is_field or piece != part.literal:
            return None, f"malformed key: expected {part.literal!r} at part {i}"
    return fields, None


def _csv_fields(kind: RecordKind, lines: bytes) -> tuple[pa.Table, set[bytes]]:
    """Split newline-separated keys on '|' with Arrow's multi-threaded CSV reader (no quoting).

    Returns the table of keys with exactly the template's parts, and the keys it left out.
    """
    names = [f"part{i}" for i in range(len(kind.parts))]
    left_out: set[bytes] = set()
    if not lines:
        return pa.table({name: pa.array([], pa.string()) for name in names}), left_out

    def leave_out(row: pa_csv.InvalidRow) -> str:
        left_out.add(row.text.encode("utf-8"))
        return "skip"

    table = pa_csv.read_csv(
        pa.py_buffer(lines),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=1 << 22),
        parse_options=pa_csv.ParseOptions(
            delimiter="|", quote_char=False, escape_char=False, invalid_row_handler=leave_out
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # checked once per column by _valid_text, much faster
        ),
    )
    return table, left_out


def _lines(keys: list[bytes], rows: np.ndarray, every: bytes) -> bytes:
    """The keys at ``rows``, one per line (``every`` when that is all of them)."""
    return every if len(rows) == len(keys) else b"\n".join(keys[i] for i in rows.tolist())


def _odd_key_rows(keys: list[bytes], lines: bytes, *, utf8: bool = True) -> list[int]:
    """Rows the CSV path cannot take: keys holding a newline (and, with ``utf8=False``, keys
    whose bytes are not UTF-8)."""
    if lines.count(b"\n") == len(keys) - 1 and utf8:
        return []
    return [
        i
        for i, k in enumerate(keys)
        if b"\n" in k or (not utf8 and not k.isascii() and not _is_utf8(k))
    ]


def _valid_text(table: pa.Table) -> bool:
    """Whether every column holds valid UTF-8 (the CSV reader was told not to check)."""
    try:
        for column in table.columns:
            column.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def split_keys(
    kind: RecordKind, keys: list[bytes], problems: Problems
) -> tuple[np.ndarray, dict[str, pa.ChunkedArray]]:
    """Every key field as an Arrow column; returns (row of each parsed key, columns).

    Regular keys go through Arrow's CSV reader; the rest (a path holding '|', a newline,
    bytes that are not UTF-8, a malformed key) through :func:`parse_key`, key by key.
    """
    lines = b"\n".join(keys)
    odd = _odd_key_rows(keys, lines)
    regular_rows = np.delete(np.arange(len(keys), dtype=np.int64), odd)
    table, left_out = _csv_fields(kind, _lines(keys, regular_rows, lines))
    if not _valid_text(table):  # some key is not UTF-8: set it aside, read the rest again
        odd = _odd_key_rows(keys, lines, utf8=False)
        regular_rows = np.delete(np.arange(len(keys), dtype=np.int64), odd)
        table, left_out = _csv_fields(kind, _lines(keys, regular_rows, lines))
    if left_out:
        # A few keys (a path holding '|') went the CSV reader's invalid-row way; find them.
        is_left_out = np.array([keys[i] in left_out for i in regular_rows.tolist()], dtype=bool)
        odd = [*odd, *regular_rows[is_left_out].tolist()]
        regular_rows = regular_rows[~is_left_out]
    ok = np.ones(table.num_rows, dtype=bool)
    columns: dict[str, Any] = {}
    for part, column in zip(kind.parts, table.columns, strict=True):
        if part.literal:
            same = (
                pc.starts_with(column, part.literal)
                if part.is_field
                else pc.equal(column, part.literal)
            )
            ok &= same.to_numpy(zero_copy_only=False)
        if part.is_field:
            columns[part.field] = (
                pc.utf8_slice_codeunits(column, len(part.literal)) if part.literal else column
            )
    odd = [*odd, *regular_rows[~ok].tolist()]
    odd_fields: dict[str, list[str]] = {name: [] for name in kind.key_fields}
    parsed_odd, bad_keys, bad_reasons = [], [], []
    for row in odd:
        text = key_text(keys[row])
        fields, reason = parse_key(kind, text)
        if fields is None:
            bad_keys.append(text)
            bad_reasons.append(reason)
            continue
        parsed_odd.append(row)
        for name in kind.key_fields:
            odd_fields[name].append(fields[name])
    problems.add(bad_keys, bad_reasons, None, kept=False)
    ok_mask = pa.array(ok)
    merged = {
        name: pa.chunked_array(
            [*column.filter(ok_mask).chunks, pa.array(odd_fields[name], type=pa.string())],
            type=pa.string(),
        )
        for name, column in columns.items()
    }
    rows = np.concatenate([regular_rows[ok], np.asarray(parsed_odd, dtype=np.int64)])
    return rows.astype(np.int64), merged


def _typed_key_columns(
    kind: RecordKind, columns: dict[str, pa.ChunkedArray], key_of: KeyLookup, problems: Problems
) -> tuple[np.ndarray, dict[str, Any]]:
    """Convert key fields to their types; rows whose fields do not convert are skipped."""
    n = len(next(iter(columns.values())))
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
        problems.add([key_of(i) for i in bad], list(reasons[bad]), None, kept=False)
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
    schema: pa.Schema, values: list[bytes], key_of: KeyLookup, problems: Problems
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
                schema, block, lambda i, start=start: key_of(start + i), problems
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
            [key_of(i) for i in suspicious],
            "value has none of the expected fields",
            [values[i] for i in suspicious],
            kept=True,
        )
    return table


def _read_values_slowly(
    schema: pa.Schema, block: list[bytes], key_of: KeyLookup, problems: Problems
) -> tuple[pa.Table, list[int]]:
    """The per-record path for a block that Arrow refused: find and report the bad values."""
    rows: list[dict[str, Any]] = []
    bad: list[int] = []
    for position, raw in enumerate(block):
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
            problems.add([key_of(position)], reason, [raw], kept=True)
            bad.append(position)
    return pa.Table.from_pylist(rows, schema=schema), bad


def _decode_json_text(column: pd.Series, key_of: KeyLookup, problems: Problems) -> pd.Series:
    """``custom_data`` is a JSON document encoded as a string; decode the non-null ones."""
    texts = column.to_numpy(dtype=object, na_value=None)
    result = np.full(len(texts), None, dtype=object)
    present = np.flatnonzero(column.notna().to_numpy() & (column != "null").to_numpy())
    bad_keys, bad_values = [], []
    # Only the records that carry custom data take this loop (a JSON parser per document).
    for position in present:
        text = texts[position]
        try:
            result[position] = json.loads(text)
        except ValueError:
            result[position] = text
            bad_keys.append(key_of(position))
            bad_values.append(text)
    problems.add(bad_keys, "custom_data is not JSON (kept as text)", bad_values, kept=True)
    return pd.Series(result, index=column.index, dtype=object)


def _list_column(column: pa.ChunkedArray) -> pd.Series:
    """A list column (``backtrace``) as Python lists, None where absent; only the few
    present values are converted."""
    values = np.full(len(column), None, dtype=object)
    present = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    if len(present):
        taken = column.take(pa.array(present)).to_pylist()
        values[present] = np.array(taken + [None], dtype=object)[:-1]
    return pd.Series(values, dtype=object)


# --------------------------------------------------------------------------- frames


def empty_frame(kind: str | RecordKind) -> pd.DataFrame:
    """The frame ``parse`` returns for no records: right columns and types, no rows."""
    frame, _ = parse(kind, [], [])
    return frame


def parse(
    kind: str | RecordKind,
    keys: Sequence[bytes | str],
    values: Sequence[bytes | str | None],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records of ``kind`` as a typed frame, plus the problems found (see module docs).

    Rows come in no particular order (sorting a million rows costs more than most reports
    need); ``frame.sort_values("datetime")`` where order matters.

    ``keys`` and ``values`` as :func:`fetch_from_redis` returns them (bytes or text).
    """
    kind = get_kind(kind)
    keys = key_bytes(keys)
    values = list(values)
    if len(values) != len(keys):
        raise ValueError(f"{len(keys)} keys but {len(values)} values.")
    problems = Problems()
    return build_frame(kind, keys, values, split_keys(kind, keys, problems), problems)


def key_bytes(keys: Sequence[bytes | str]) -> list[bytes]:
    keys = list(keys)
    if set(map(type, keys)) - {bytes}:  # map(type) runs in C: cheap at a million keys
        keys = [encode_key(k) for k in keys]
    return keys


def build_frame(
    kind: RecordKind,
    keys: list[bytes],
    values: list[Any],
    split: tuple[np.ndarray, dict[str, pa.ChunkedArray]],
    problems: Problems,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed frame from split keys (see :func:`split_keys`) and their values."""
    rows, columns = split
    if None in values:
        present = np.array([values[row] is not None for row in rows.tolist()], dtype=bool)
        missing = rows[~present].tolist()
        problems.add([key_text(keys[i]) for i in missing], MISSING_VALUE, None, kept=False)
        rows = rows[present]
        columns = {name: column.filter(pa.array(present)) for name, column in columns.items()}
    good, typed = _typed_key_columns(kind, columns, lambda i: key_text(keys[rows[i]]), problems)
    rows = rows[good]
    good_mask = pa.array(good)

    def key_of(position: int) -> str:
        return key_text(keys[rows[position]])

    in_order = values if np.array_equal(rows, np.arange(len(values))) else [values[i] for i in rows]
    if set(map(type, in_order)) - {bytes}:
        in_order = [
            v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in in_order
        ]
    value_table = _read_values(kind.value_schema, in_order, key_of, problems)

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
            data[name] = column.dictionary_encode().to_pandas()
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
        frame["custom_data"] = _decode_json_text(frame["custom_data"], key_of, problems)
    return frame, problems.frame()


# --------------------------------------------------------------------------- traces, events


def parse_trace(raw: bytes | str | None, key: str) -> pd.DataFrame:
    """A trace value (a JSON array of steps) as a frame of ``TRACE_COLUMNS``; empty for
    ``None`` (an expired trace); a clear error for a value that is not such an array."""
    if raw is None:
        return pd.DataFrame(columns=TRACE_COLUMNS)
    try:
        steps = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"The trace at {key!r} is not JSON ({error}).") from None
    if not isinstance(steps, list):
        raise ValueError(f"The trace at {key!r} is not a JSON array of steps.")
    frame = pd.DataFrame([s for s in steps if isinstance(s, dict)])
    for column in TRACE_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce")
    return frame


def parse_events(
    keys: Sequence[bytes | str], values: Sequence[bytes | str | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Annotation events (``name``, ``datetime``, ``datetimei``, ``options``), oldest first,
    and the problems found."""
    problems = Problems()
    rows = []
    # Events are few (a deploy or two a day): a plain loop reads them.
    for key, raw in zip(keys, values, strict=True):
        text = key_text(key)
        fields, reason = parse_key(EVENTS, text)
        if raw is None:
            reason = MISSING_VALUE
        if reason is None and not fields["datetimei"].isdigit():
            reason = "malformed key: datetimei is not a whole number"
        if reason is not None:
            problems.add([text], reason, None, kept=False)
            continue
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
            problems.add([text], "value is not JSON", [raw], kept=True)
        if document is not None and not isinstance(document, dict):
            problems.add([text], "value is JSON but not an object", [raw], kept=True)
        document = document if isinstance(document, dict) else {}
        rows.append((document.get("name"), int(fields["datetimei"]), document.get("options")))
    epochs = np.array([row[1] for row in rows], dtype=np.int64)
    events = pd.DataFrame(
        {
            "name": pd.Series([row[0] for row in rows], dtype="str"),
            "datetime": pd.to_datetime(epochs, unit="s", utc=True).astype(TIMESTAMP),
            "datetimei": epochs,
            "options": pd.Series([row[2] or {} for row in rows], dtype=object),
        }
    )
    return events.sort_values("datetime", ignore_index=True), problems.frame()

"""Parsing, pure: the gem's keys and values (bytes) in, typed pandas frames and problems out.

Parsing is vectorised with Arrow: keys are split on ``|`` with Arrow's CSV reader and their
parts picked by position (anchored at both ends of the key, so a ``path`` holding ``|``
still parses), and values are read by Arrow's JSON reader over the newline-joined values.
Only rows that need it take a Python path, the reference for what they mean: a key Arrow's
CSV reader cannot split (a ``path`` with ``|`` or a line break, bytes that are not UTF-8, a
malformed key) goes through :func:`parse_key`; a value Arrow would misread (one holding a
newline, a blank one, one with a token such as ``Inf`` that is not JSON) is read on its own,
and a run of values that Arrow refuses or reads with a number that is not finite is halved
until the bad values are found, which are checked one by one (:mod:`._values`).

Parsing is total: any key and any value parse without raising. Every record comes back
exactly, or is kept with its bad value fields set to null, or is skipped; everything not read
exactly is listed in ``info.problems`` (``info = frame.attrs["rp"]``, see :class:`LoadInfo`),
with a reason that names the field. No number that is not finite reaches a frame.

Why Arrow's readers (issue 22, measured on 1M request records of the synthetic writer, CPU
seconds on one core): Arrow's JSON reader 0.63, Polars' ``read_ndjson`` 0.41, DuckDB's
``json_transform`` 0.21; but Polars and DuckDB read a value that does not fit its field by
converting it without a word (``"2.5"`` and ``true`` as numbers, a number or an object as
text, the first of two equal names), where the exact problem accounting needs a refusal.
For keys, Arrow's CSV reader 0.43 against ``pyarrow.compute.split_pattern`` 0.38 (then
each part to pick out), Polars' ``split_exact`` 0.53 and one regular expression 2.2.

Key text: keys that are not UTF-8 are kept; in frames their undecodable bytes show as
``\\xNN`` escapes (Arrow and pandas text must be valid UTF-8).
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from ..exceptions import InvalidArgumentError
from ..kinds import RecordKind, get_kind
from ._values import (
    FIRST_SECOND,
    LAST_SECOND,
    NOT_AN_OBJECT,
    as_bytes,
    check_document,
    decode,
    decode_strictly,
    finite_runs,
    float_leaves,
    is_text,
    is_utf8,
    minute_seconds,
    misread_rows,
    printable,
    whole_number,
)

JSON_BLOCK_ROWS = 65_536
SLOW_RUN_ROWS = 16
"""A run of values this short that Arrow refuses is read value by value, not halved again."""
TIMESTAMP = "datetime64[ns, UTC]"
PROBLEM_VALUE_CHARS = 200
PROBLEM_COLUMNS = ["key", "reason", "value", "kept"]

KeyLookup = Callable[[int], str]
"""Key text of a record by its position, built only for the few records with problems."""
Run = tuple[int, int, "pa.Table | None"]
"""Rows ``start`` to ``stop`` of a block of values, and Arrow's table of them (None: rows
to read one by one)."""

MISSING_VALUE = "value missing: the key expired between listing and reading"
NO_EXPECTED_FIELD = "value has none of the expected fields"

_ERROR_ROW = re.compile(r"in row (\d+)")
_BOM = b"\xef\xbb\xbf"


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
                    "key": [printable(key) for key in keys],
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
    text = printable(str(value))
    return text if len(text) <= PROBLEM_VALUE_CHARS else text[:PROBLEM_VALUE_CHARS] + "…"


# --------------------------------------------------------------------------- keys


def key_text(key: bytes | str) -> str:
    """A key as text for frames and problem lists; undecodable bytes show as ``\\xNN``."""
    return printable(key) if isinstance(key, str) else key.decode("utf-8", "backslashreplace")


def parse_key(kind: RecordKind, text: str) -> tuple[dict[str, str] | None, str | None]:
    """One key's fields by the template, or ``(None, reason)``.

    The per-key path for keys the vectorised reader leaves (a free field holding ``|``, a
    line break, a malformed key) and for telling why a key does not parse.
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


ARROW_THREADS = False
"""Whether Arrow's CSV and JSON readers use their own threads. They do not: :func:`load`
parses two batches at once already, a reader without threads costs less CPU, and only
without threads does the CSV reader say which rows it left out."""


def _csv_fields(kind: RecordKind, lines: bytes) -> tuple[pa.Table, list[int]]:
    """Split newline-separated keys on '|' with Arrow's CSV reader (no quoting).

    Returns the table of the lines with exactly the template's parts, and the positions
    (from 0) of the lines it left out (-1 where the reader could not say).
    """
    names = [f"part{i}" for i in range(len(kind.parts))]
    left_out: list[int] = []
    if not lines:
        return pa.table({name: pa.array([], pa.string()) for name in names}), left_out

    def leave_out(row: pa_csv.InvalidRow) -> str:
        left_out.append(row.number - 1 if row.number else -1)  # numbered from 1
        return "skip"

    table = pa_csv.read_csv(
        pa.py_buffer(lines),
        read_options=pa_csv.ReadOptions(
            column_names=names, block_size=1 << 22, use_threads=ARROW_THREADS
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter="|",
            quote_char=False,
            escape_char=False,
            invalid_row_handler=leave_out,
            ignore_empty_lines=False,  # an empty line is a row: every line is one row
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # the whole buffer was checked once by is_utf8, much faster
        ),
    )
    return table, left_out


def _lines(keys: list[bytes], rows: np.ndarray, every: bytes) -> bytes:
    """The keys at ``rows``, one per line (``every`` when that is all of them)."""
    if len(rows) == len(keys):
        return every
    wanted = np.zeros(len(keys), dtype=bool)
    wanted[rows] = True
    return b"\n".join(itertools.compress(keys, wanted.tolist()))


def _odd_key_rows(keys: list[bytes], *, utf8: bool) -> list[int]:
    """Rows the CSV path cannot take: empty keys, keys holding a line break (``\\n``,
    ``\\r``) or starting with a byte order mark (which the reader drops), and, unless
    ``utf8``, keys whose bytes are not UTF-8."""
    return [
        i
        for i, k in enumerate(keys)
        if not k or b"\n" in k or b"\r" in k or k.startswith(_BOM) or (not utf8 and not is_utf8(k))
    ]


def _regular_keys(
    kind: RecordKind, keys: list[bytes], lines: bytes
) -> tuple[np.ndarray, pa.Table, list[int]]:
    """The keys Arrow's CSV reader splits: (their rows, their parts, the other rows).

    The reader is first given every key; it reads each line as one row, so a key holding a
    line break shows as more rows than keys, and then the keys are looked at one by one
    (:func:`_odd_key_rows`). The rows the reader leaves out (a ``path`` holding '|') are
    known by their line numbers. Should the rows still not line up, every key is left to
    :func:`parse_key`.
    """
    every = np.arange(len(keys), dtype=np.int64)
    utf8 = is_utf8(lines)
    careful = not utf8 or lines.startswith(_BOM) or lines.endswith((b"\n", b"\r"))
    for odd in [None] if careful else [[], None]:  # None: look at the keys one by one
        odd = _odd_key_rows(keys, utf8=utf8) if odd is None else odd
        regular_rows = np.delete(every, odd)
        try:
            table, left_out = _csv_fields(kind, _lines(keys, regular_rows, lines))
        except (pa.ArrowException, ValueError):
            continue
        is_left_out = np.zeros(len(regular_rows), dtype=bool)
        at = np.asarray(left_out, dtype=np.int64)
        if len(at) and (at.min() < 0 or at.max() >= len(regular_rows)):
            continue  # lines that are not keys: the keys are looked at one by one
        is_left_out[at] = True
        if table.num_rows + len(at) == len(regular_rows) == table.num_rows + is_left_out.sum():
            return regular_rows[~is_left_out], table, [*odd, *regular_rows[is_left_out].tolist()]
    empty = pa.table({f"part{i}": pa.array([], pa.string()) for i in range(len(kind.parts))})
    return every[:0], empty, every.tolist()


def split_keys(
    kind: RecordKind, keys: list[bytes], problems: Problems
) -> tuple[np.ndarray, dict[str, pa.ChunkedArray]]:
    """Every key field as an Arrow column; returns (row of each parsed key, columns).

    Regular keys go through Arrow's CSV reader; the rest (a path holding '|', a line break,
    bytes that are not UTF-8, a malformed key) through :func:`parse_key`, key by key.
    """
    regular_rows, table, odd = _regular_keys(kind, keys, b"\n".join(keys))
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
    """Convert key fields to their types; rows whose fields do not convert are skipped (a
    task list that is not a JSON list of strings is kept as text, with a problem)."""
    n = len(next(iter(columns.values())))
    good = np.ones(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    typed: dict[str, Any] = {}
    as_text: dict[str, np.ndarray] = {}
    for name in kind.key_fields:
        kind_of = kind.key_types[name]
        col = columns[name]
        failures: list[tuple[np.ndarray, str]] = []
        if kind_of in ("int", "epoch"):
            typed[name], failures = _whole_numbers(col, timestamp=name == "datetimei")
        elif kind_of == "minute":
            typed[name], failures = minute_seconds(col)
        elif kind_of == "json_list":
            typed[name], as_text[name] = _json_list_text(col.to_pylist())
        else:
            typed[name] = col
        for failing, why in failures:
            reasons[failing & good] = f"malformed key: {name} {why}"
            good &= ~failing
    bad = np.flatnonzero(~good)
    if len(bad):
        problems.add([key_of(i) for i in bad], list(reasons[bad]), None, kept=False)
    for name, kept_as_text in as_text.items():
        problems.add(
            [key_of(i) for i in np.flatnonzero(kept_as_text & good)],
            f"key field {name!r} is not a JSON list of strings (kept as text)",
            None,
            kept=True,
        )
    return good, typed


def _whole_numbers(
    col: pa.ChunkedArray, *, timestamp: bool
) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """Integer key fields as int64, and the rows that are not, with why (see
    :func:`whole_number`)."""
    # One to 18 ASCII digits always make an int64; the rest (a sign, more digits, anything
    # else) are few and go through whole_number.
    short = pc.and_(pc.ascii_is_decimal(col), pc.less_equal(pc.binary_length(col), 18))
    valid = short.to_numpy(zero_copy_only=False)
    numbers = (col if valid.all() else pc.if_else(short, col, "0")).cast(pa.int64()).to_numpy()
    failures = []
    others = np.flatnonzero(~valid)  # few: not one to 18 digits
    if len(others):
        numbers = numbers.copy()  # Arrow's buffer is read-only
        whys = np.full(len(numbers), None, dtype=object)
        for i, text in zip(others.tolist(), col.take(pa.array(others)).to_pylist(), strict=True):
            number, whys[i] = whole_number(text)
            numbers[i] = 0 if number is None else number
        failures = [(whys == why, why) for why in ("is not a whole number", "is out of range")]
    if timestamp:
        failures.append(((numbers < FIRST_SECOND) | (numbers > LAST_SECOND), "is out of range"))
    return numbers, failures


def _json_list_text(texts: list[str | None]) -> tuple[list[str | None], np.ndarray]:
    """Task lists (a JSON array of strings) as ``"a, b"``; the others kept as their text,
    marked in the mask."""
    # Rake task lists are few (one record per task run); a Python loop is fine here.
    out, as_text = [], np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        try:
            items = json.loads(text) if text is not None else None
        except (ValueError, RecursionError):
            items = None
        if isinstance(items, list) and all(map(is_text, items)):
            out.append(", ".join(items))
        else:
            out.append(text)
            as_text[i] = True
    return out, as_text


# --------------------------------------------------------------------------- values


def _read_values(
    schema: pa.Schema, values: list[bytes], key_of: KeyLookup, problems: Problems
) -> pa.Table:
    """Values as one Arrow table aligned with ``values``; bad value fields give nulls."""
    if len(schema) == 0:
        return pa.table({})
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    leaves = float_leaves(schema)
    tables = []
    reported: dict[int, str] = {}  # row: why, for the values read one by one
    for start in range(0, len(values), JSON_BLOCK_ROWS):
        block = values[start : start + JSON_BLOCK_ROWS]
        for lo, hi, table in _value_runs(block, options, leaves):
            if table is None:
                table, why = _read_values_slowly(schema, block[lo:hi])
                reported.update((start + lo + i, reason) for i, reason in why.items())
            tables.append(table.select(schema.names).cast(schema))
    rows = list(reported)
    keys = [key_of(i) for i in rows]
    problems.add(keys, list(reported.values()), [values[i] for i in rows], kept=True)
    if not tables:
        return schema.empty_table()
    table = pa.concat_tables(tables)
    all_null = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        all_null &= column.is_null().to_numpy(zero_copy_only=False)
    all_null[rows] = False  # already reported with a more precise reason
    suspicious = np.flatnonzero(all_null)
    if len(suspicious):
        # Arrow reads a JSON null as a row of nulls: say so, as the per-value path does.
        objects = [isinstance(decode(values[i])[0], dict) for i in suspicious.tolist()]
        problems.add(
            [key_of(i) for i in suspicious],
            [NO_EXPECTED_FIELD if is_object else NOT_AN_OBJECT for is_object in objects],
            [values[i] for i in suspicious],
            kept=True,
        )
    return table


def _value_runs(
    block: list[bytes], options: pa_json.ParseOptions, leaves: list[tuple[str, str | None]]
) -> list[Run]:
    """``block`` as consecutive runs ``(start, stop, table)``: Arrow's table of the run, or
    None for a run to read value by value (adjacent such runs merged)."""
    joined = b"\n".join(block)
    odd = misread_rows(block, joined)
    edges = [-1, *odd, len(block)]
    runs: list[Run] = []
    for before, after in zip(edges[:-1], edges[1:], strict=True):
        if after - before > 1:
            whole = joined if not odd else None
            runs += _arrow_runs(block, before + 1, after, options, leaves, whole)
        if after < len(block):
            runs.append((after, after + 1, None))
    merged: list[Run] = []
    for run in runs:
        if merged and run[2] is None and merged[-1][2] is None:
            merged[-1] = (merged[-1][0], run[1], None)
        else:
            merged.append(run)
    return merged


def _arrow_runs(
    block: list[bytes],
    start: int,
    stop: int,
    options: pa_json.ParseOptions,
    leaves: list[tuple[str, str | None]],
    joined: bytes | None = None,
) -> list[Run]:
    """Arrow's tables of ``block[start:stop]`` and the rows left to the per-value path.

    Where Arrow refuses a run, its error names the first row it could not read: the rows
    before it are read again, that row is left, and the rows after it go on (a run is halved
    when the error names no row), down to runs of :data:`SLOW_RUN_ROWS`. Where Arrow reads a
    number that is not finite, its row is left. A whole block (``joined``) goes to Arrow
    however short; it is read in parallel, then, if refused, again in one piece, where the
    row an error names counts from its start. Runs are slices of one buffer, never copied.
    """
    runs: list[Run] = []
    lines: list[Any] = []  # the run's values, one per line, and where each line starts

    def data(lo: int, hi: int) -> pa.Buffer:
        if not lines:
            lines.append(pa.py_buffer(joined or b"\n".join(block[start:stop])))
        if (lo, hi) == (start, stop):
            return lines[0]
        if len(lines) == 1:  # only once Arrow refused some of them
            lines.append(np.cumsum([0, *(len(v) + 1 for v in block[start:stop])]).tolist())
        begin, end = lines[1][lo - start], lines[1][hi - start] - 1
        return lines[0].slice(begin, end - begin)

    pending, named = [(start, stop, "first")], 0
    while pending:  # the leftmost run last: runs come out in order
        lo, hi, how = pending.pop()
        short = hi - lo <= SLOW_RUN_ROWS
        if lo == hi:
            continue
        if how == "slow" or (short and not (how == "first" and joined is not None)):
            runs.append((lo, hi, None))
            continue
        table, refused = _read_json(data(lo, hi), hi - lo, options, exact=how == "exact")
        if table is not None:
            runs += finite_runs(table, lo, leaves)
        elif how == "first":
            pending.append((lo, hi, "exact"))
        elif short:
            runs.append((lo, hi, None))
        elif refused is not None and refused < hi - lo:
            row, named = lo + refused, named + 1
            # Refused rows this close together: reading the rest value by value is cheaper.
            rest = "slow" if named >= 8 and row - start < named * 4 * SLOW_RUN_ROWS else "exact"
            pending += [(row + 1, hi, rest), (row, row + 1, "slow"), (lo, row, "exact")]
        else:
            middle = (lo + hi) // 2
            pending += [(middle, hi, "exact"), (lo, middle, "exact")]
    return runs


def _read_json(
    data: pa.Buffer, rows: int, options: pa_json.ParseOptions, *, exact: bool
) -> tuple[pa.Table | None, int | None]:
    """Arrow's table of ``rows`` values (one per line); or None if Arrow refuses them or reads
    another number of rows, and, if ``exact`` (read in one piece), the row its error names."""
    size = min(max(data.size + 1, 1 << 20), 1 << 30)
    read = pa_json.ReadOptions(use_threads=ARROW_THREADS and not exact, block_size=size)
    try:
        table = pa_json.read_json(pa.BufferReader(data), read_options=read, parse_options=options)
    except (pa.ArrowException, ValueError) as error:  # also text that is not UTF-8
        named = _ERROR_ROW.search(str(error)) if exact else None
        return None, int(named.group(1)) if named else None
    return (table, None) if table.num_rows == rows else (None, None)


def _read_values_slowly(schema: pa.Schema, block: list[bytes]) -> tuple[pa.Table, dict[int, str]]:
    """The per-value path for the values Arrow refused: each read exactly, or its bad fields
    null, with why by position (see :func:`.values.check_document`)."""
    rows: list[dict[str, Any]] = []
    reasons: dict[int, str] = {}
    for position, raw in enumerate(block):
        row, why = check_document(schema, raw)
        rows.append(row)
        if why:
            reasons[position] = "; ".join(why)
    return pa.Table.from_pylist(rows, schema=schema), reasons


def decode_json_text(
    column: pd.Series | pa.Array | pa.ChunkedArray, key_of: KeyLookup, problems: Problems
) -> pd.Series:
    """``custom_data`` is a JSON document encoded as a string; decode the non-null ones
    (standard JSON only: ``NaN`` or ``1e400`` leave the text as it is, with a problem)."""
    if isinstance(column, pd.Series):
        index = column.index
        column = pa.array(column.astype(object), type=pa.string(), from_pandas=True)
    else:
        index = None
    result = np.full(len(column), None, dtype=object)
    carried = pc.fill_null(pc.not_equal(column, "null"), False).to_numpy(zero_copy_only=False)
    present = np.flatnonzero(carried)
    bad_keys, bad_values = [], []
    # Only the records that carry custom data take this loop (a JSON parser per document).
    texts = column.take(pa.array(present)).to_pylist() if len(present) else []
    for position, text in zip(present.tolist(), texts, strict=True):
        try:
            result[position] = decode_strictly(text)
        except (ValueError, RecursionError):
            result[position] = text
            bad_keys.append(key_of(position))
            bad_values.append(text)
    problems.add(bad_keys, "custom_data is not JSON (kept as text)", bad_values, kept=True)
    return pd.Series(result, index=index, dtype=object)


def list_column(column: pa.ChunkedArray) -> pd.Series:
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
        raise InvalidArgumentError(f"{len(keys)} keys but {len(values)} values.")
    problems = Problems()
    return build_frame(kind, keys, values, split_keys(kind, keys, problems), problems)


def key_bytes(keys: Sequence[bytes | str]) -> list[bytes]:
    """Keys as bytes (text as :func:`rp_toolkit.kinds.encode_key` encodes it; a lone
    surrogate it cannot encode as its UTF-8-like bytes)."""
    keys = list(keys)
    if set(map(type, keys)) - {bytes}:  # map(type) runs in C: cheap at a million keys
        keys = [as_bytes(k) for k in keys]
    return keys


def record_ids(keys: Sequence[bytes]) -> np.ndarray:
    """Each key's 64-bit identity (uint64): SipHash-2-4 of its bytes under a fixed key
    (``pandas.util.hash_array``), the same in every process and run. The archive stores it
    to tell a record it already holds; two of a million keys share one with a probability of
    about 3e-8."""
    return pd.util.hash_array(np.asarray(list(keys), dtype=object), categorize=False)


def build_frame(
    kind: RecordKind,
    keys: list[bytes],
    values: list[Any],
    split: tuple[np.ndarray, dict[str, pa.ChunkedArray]],
    problems: Problems,
    *,
    stored: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The typed frame from split keys (see :func:`split_keys`) and their values.

    ``stored``: the frame as the archive stores it: ``custom_data`` kept as the JSON text
    the gem wrote (:func:`decode_json_text` decodes it when the archive is read), and a last
    column ``record_id``, each row's key's :func:`record_ids`."""
    rows, columns = _with_values(keys, values, *split, problems)
    good, typed = _typed_key_columns(kind, columns, lambda i: key_text(keys[rows[i]]), problems)
    rows = rows[good]

    def key_of(position: int) -> str:
        return key_text(keys[rows[position]])

    in_order = values if np.array_equal(rows, np.arange(len(values))) else _taken(values, rows)
    if set(map(type, in_order)) - {bytes}:
        in_order = [as_bytes(v) for v in in_order]
    value_table = _read_values(kind.value_schema, in_order, key_of, problems)
    data = _key_data(kind, typed, good)
    data.update(_value_data(kind.value_schema, value_table, key_of, problems, stored=stored))
    frame = pd.DataFrame(data)  # copied: columns Arrow lent read-only become the frame's own
    if stored:
        frame["record_id"] = record_ids(_taken(keys, rows))
    return frame, problems.frame()


def _with_values(
    keys: list[bytes],
    values: list[Any],
    rows: np.ndarray,
    columns: dict[str, pa.ChunkedArray],
    problems: Problems,
) -> tuple[np.ndarray, dict[str, pa.ChunkedArray]]:
    """The split keys whose value was read; the others (expired in between) are problems."""
    if None not in values:
        return rows, columns
    present = np.array([values[row] is not None for row in rows.tolist()], dtype=bool)
    missing = rows[~present].tolist()
    problems.add([key_text(keys[i]) for i in missing], MISSING_VALUE, None, kept=False)
    kept = pa.array(present)
    return rows[present], {name: column.filter(kept) for name, column in columns.items()}


def _key_data(kind: RecordKind, typed: dict[str, Any], good: np.ndarray) -> dict[str, Any]:
    """The frame's key columns, in key order, of the rows whose key fields converted."""
    good_mask = pa.array(good)
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
            data["minute"] = pd.to_datetime(column, unit="s", utc=True).astype(TIMESTAMP)
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
    return data


def _value_data(
    schema: pa.Schema, table: pa.Table, key_of: KeyLookup, problems: Problems, *, stored: bool
) -> dict[str, Any]:
    """The frame's value columns: a struct's fields flattened (``cpu_one_min``), lists as
    Python lists, ``custom_data`` decoded (unless ``stored``)."""
    data: dict[str, Any] = {}
    for name in schema.names:
        column = table.column(name)
        if pa.types.is_struct(column.type):
            for child in column.type:
                data[f"{name}_{child.name}"] = pc.struct_field(column, child.name).to_pandas()
        elif pa.types.is_list(column.type):
            data[name] = list_column(column)
        elif name == "custom_data" and not stored:
            data[name] = decode_json_text(column, key_of, problems)
        elif pa.types.is_string(column.type):
            data[name] = pd.Series(column.to_pandas(), dtype="str")
        else:
            data[name] = column.to_pandas()
    return data


def _taken(items: list[Any], rows: np.ndarray) -> list[Any]:
    """``items`` at ``rows``, without a Python loop."""
    if len(rows) == 0:
        return []
    taken = operator.itemgetter(*rows.tolist())(items)
    return [taken] if len(rows) == 1 else list(taken)

"""Field values checked one by one, for the few records the vectorised reader leaves (pure).

:mod:`._parse` reads keys and values with Arrow. The records Arrow cannot take (or takes but
should not: a number that is not finite, a minute that does not exist) come here, to checks
that are the reference for what a field means:

* value fields: Python's JSON decoder, then one check per field (:func:`check_document`). A
  field that does not hold its type becomes null and yields a reason that names it;
* key fields: whole numbers and the gem's minutes (:func:`whole_number`,
  :func:`minute_seconds`, the latter vectorised with numpy);
* events and trace steps, which have no Arrow schema (:func:`event_value`,
  :func:`check_step`);
* which values those are: the ones Arrow would misread (:func:`misread_rows`) or reads
  with a number that is not finite (:func:`finite_runs`).

Nothing here raises for bad data, and no number that is not finite passes a check.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NOT_JSON = "value is not JSON"
NOT_AN_OBJECT = "value is JSON but not an object"
LONG_INT_DIGITS = 400
"""An integer this long cannot be a float64 (the largest is 309 digits): decode it as ``inf``
instead of building a huge int (Python refuses past 4300 digits anyway)."""
FIRST_SECOND = -(-pd.Timestamp.min.value // 10**9)
LAST_SECOND = pd.Timestamp.max.value // 10**9
"""The epoch seconds a ``datetime64[ns]`` holds (1677-09-21 to 2262-04-11)."""

# Arrow's JSON reader skips a blank line (spaces, tabs, carriage returns): a line that
# starts with one of these bytes is a sign of one.
_BLANK_BYTES = np.isin(np.arange(256), list(b"\n \t\r"))
# A token Arrow reads as a number but Python's decoder (and JSON) does not: a bare Inf,
# -Inf or -NaN (NaN and Infinity both read, and are checked per field).
_NOT_JSON_TOKEN = re.compile(rb"[:,\[][ \t\r]*(?:-NaN|-?Inf(?!inity))")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_MINUTE_PARTS = ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13))  # YYYYMMDDTHHMM, but the T


def wrong_type(name: str) -> str:
    return f"value field {name!r} has the wrong type"


def not_finite(name: str) -> str:
    return f"value field {name!r} is not a finite number"


def a_boolean(name: str) -> str:
    return f"value field {name!r} is a boolean, not a number"


def holds_non_finite_number(name: str) -> str:
    return f"value field {name!r} holds a number that is not finite"


def not_text(name: str) -> str:
    return f"value field {name!r} is not valid Unicode text"


def not_a_list_of_strings(name: str) -> str:
    return f"value field {name!r} is not a list of strings"


def as_bytes(raw: bytes | str) -> bytes:
    """A key or value as bytes: text as UTF-8, undecodable bytes (``surrogateescape``) given
    back; any other lone surrogate kept as its UTF-8-like bytes, which are not valid UTF-8."""
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if not isinstance(raw, str):
        raw = repr(raw)
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogatepass")


def printable(text: str) -> str:
    """``text`` as valid Unicode: a lone surrogate shows as a ``\\x``/``\\u`` escape (frames
    and problem tables hold Arrow strings, which must be valid UTF-8)."""
    if is_text(text):
        return text
    return as_bytes(text).decode("utf-8", "backslashreplace")


def is_text(value: Any) -> bool:
    """Whether ``value`` is a string that is valid Unicode (no lone surrogate)."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (a large buffer is checked by Arrow, without a copy)."""
    if data.isascii():
        return True
    if len(data) < 1 << 16:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _int_or_inf(text: str) -> int | float:
    return int(text) if len(text) < LONG_INT_DIGITS else float(text)


def decode(raw: bytes) -> tuple[Any, str | None]:
    """A value as Python's JSON decoder reads it, or ``(None, NOT_JSON)``.

    Read like Arrow reads it: bytes that are not UTF-8 only matter where a field needs text
    (they decode to lone surrogates, which :func:`check_field` rejects), and ``NaN`` and
    ``Infinity`` decode, so that the field holding them can be named.
    """
    try:
        return _DECODER.decode(raw.decode("utf-8", "surrogateescape")), None
    except (ValueError, RecursionError):
        return None, NOT_JSON


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise json.JSONDecodeError(f"{text} is too large for a float", text, 0)
    return number


_DECODER = json.JSONDecoder(parse_int=_int_or_inf)
_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_SCAN_STRICTLY = _STRICT_DECODER.scan_once


def decode_strictly(text: str) -> Any:
    """Standard JSON only: ``NaN``, ``Infinity`` and numbers too large for a float are errors
    (ValueError), so no non-finite number hides in a decoded document."""
    try:  # the decoder's scanner alone: a third of json.loads's cost per document
        document, end = _SCAN_STRICTLY(text, 0)
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end == len(text):
        return document
    return _STRICT_DECODER.decode(text)  # white space around, or an error to raise


def holds_non_finite(document: Any) -> bool:
    """Whether a decoded JSON document holds a float that is not finite (iterative: documents
    nest as deep as the decoder allowed)."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_number(value: Any, name: str) -> tuple[float | None, list[str]]:
    """A float field: a JSON number (not a boolean) that a float64 holds, finite."""
    if value is None:
        return None, []
    if isinstance(value, bool):
        return None, [a_boolean(name)]
    if not isinstance(value, (int, float)):
        return None, [wrong_type(name)]
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    return (number, []) if math.isfinite(number) else (None, [not_finite(name)])


def check_text(value: Any, name: str) -> tuple[str | None, list[str]]:
    """A string field: a JSON string that is valid Unicode."""
    if value is None:
        return None, []
    if not isinstance(value, str):
        return None, [wrong_type(name)]
    return (value, []) if is_text(value) else (None, [not_text(name)])


def check_field(value: Any, dtype: pa.DataType, name: str) -> tuple[Any, list[str]]:
    """``value`` (decoded JSON) as a field of type ``dtype``: ``(value, [])`` when it holds
    the type (as Arrow would read it), else ``(None, reasons)`` naming ``name`` (for a struct,
    only the children that do not hold their types are null, each named ``name.child``)."""
    if value is None:
        return None, []
    if pa.types.is_floating(dtype):
        return check_number(value, name)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return check_text(value, name)
    if pa.types.is_list(dtype) and pa.types.is_string(dtype.value_type):
        if isinstance(value, list) and all(item is None or is_text(item) for item in value):
            return value, []
        return None, [not_a_list_of_strings(name)]
    if pa.types.is_struct(dtype):
        if not isinstance(value, dict):
            return None, [wrong_type(name)]
        struct, reasons = {}, []
        for child in dtype:
            struct[child.name], bad = check_field(
                value.get(child.name), child.type, f"{name}.{child.name}"
            )
            reasons += bad
        return struct, reasons
    if isinstance(value, bool) and not pa.types.is_boolean(dtype):
        return None, [wrong_type(name)]
    try:  # a type no kind uses today: Arrow's own conversion decides
        return pa.scalar(value, type=dtype).as_py(), []
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None, [wrong_type(name)]


def check_document(schema: pa.Schema, raw: bytes) -> tuple[dict[str, Any], list[str]]:
    """One value as a row of ``schema``: the fields that hold their types, null for the
    others, and the reasons (none when the value is read exactly)."""
    document, reason = decode(raw)
    if reason is None and not isinstance(document, dict):
        reason = NOT_AN_OBJECT
    if reason is not None:
        return dict.fromkeys(schema.names), [reason]
    row, reasons = {}, []
    for field in schema:
        row[field.name], bad = check_field(document.get(field.name), field.type, field.name)
        reasons += bad
    return row, reasons


def check_step(step: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """One trace step: ``duration`` a finite number, text valid Unicode, no non-finite float;
    other fields as they are. A field whose name is not valid Unicode is left out."""
    row, reasons = {}, []
    for name, value in step.items():
        if not is_text(name):
            reasons.append(f"field name {printable(name)!r} is not valid Unicode text")
            continue
        if name == "duration":
            row[name], bad = check_number(value, name)
        elif isinstance(value, str):
            row[name], bad = check_text(value, name)
        elif isinstance(value, float) and not math.isfinite(value):
            row[name], bad = None, [not_finite(name)]
        elif holds_non_finite(value):
            row[name], bad = None, [holds_non_finite_number(name)]
        else:
            row[name], bad = value, []
        reasons += bad
    return row, reasons


def misread_rows(block: list[bytes], joined: bytes) -> list[int]:
    """Values that Arrow's JSON reader, reading ``joined`` (the block's values, one per
    line), would not read as Python's decoder does: holding a newline or blank (Arrow skips a
    blank line: the rows would not line up), holding ``Inf``, ``-Inf`` or ``-NaN`` (not JSON,
    but Arrow takes them, in a field it does not keep without a trace), or not UTF-8 (Arrow
    does not check the text it reads). A look at the whole block with numpy first; values are
    looked at one by one only when it finds a sign of one of these. Values that are not JSON
    objects go the same way: Arrow has nothing to read in them, and a bare ``null`` crashes it."""
    data = np.frombuffer(joined, dtype=np.uint8)
    breaks = np.flatnonzero(data == ord("\n"))
    inner = breaks[breaks < len(data) - 1]
    lines = (
        len(breaks) != len(block) - 1
        or len(inner) != len(breaks)
        or not len(data)
        or bool(_BLANK_BYTES[data[0]] or _BLANK_BYTES[data[inner + 1]].any())
    )
    at = np.flatnonzero(data[:-2] == ord("I"))  # Inf
    tokens = bool(((data[at + 1] == ord("n")) & (data[at + 2] == ord("f"))).any())
    at = np.flatnonzero(data[1:-2] == ord("N")) + 1  # -NaN
    follows = (data[at - 1] == ord("-")) & (data[at + 1] == ord("a")) & (data[at + 2] == ord("N"))
    tokens = tokens or bool(follows.any())
    text = not is_utf8(joined)
    # A value that is not an object (a bare null, number, string or array): pyarrow's reader
    # crashes the whole process on a bare "null" line under an explicit schema (pyarrow 26).
    starts = np.concatenate(([0], inner + 1)) if len(data) else np.zeros(0, dtype=np.int64)
    scalars = bool((data[starts] != ord("{")).any()) if len(data) else False
    if not lines and not tokens and not text and not scalars:
        return []
    return [
        i
        for i, v in enumerate(block)
        if (lines and (b"\n" in v or not v.strip(b" \t\r")))
        or (tokens and _NOT_JSON_TOKEN.search(v) is not None)
        or (text and not is_utf8(v))
        or (scalars and not v.startswith(b"{"))
    ]


def float_leaves(schema: pa.Schema) -> list[tuple[str, str | None]]:
    """The float fields of a value schema, as (field, child of a struct field or None)."""
    leaves: list[tuple[str, str | None]] = []
    for field in schema:
        if pa.types.is_floating(field.type):
            leaves.append((field.name, None))
        elif pa.types.is_struct(field.type):
            leaves += [(field.name, c.name) for c in field.type if pa.types.is_floating(c.type)]
    return leaves


def finite_runs(
    table: pa.Table, start: int, leaves: list[tuple[str, str | None]]
) -> list[tuple[int, int, pa.Table | None]]:
    """Arrow's table of the rows from ``start`` (a run of :mod:`._parse`) as runs, leaving
    out (None: to the per-value path) the rows where it read a number that is not finite
    (``NaN``, ``Infinity``, or too large) in a float field (``leaves``, see
    :func:`float_leaves`)."""
    bad = np.zeros(table.num_rows, dtype=bool)
    for name, child in leaves:
        column = table.column(name)
        column = pc.struct_field(column, child) if child is not None else column
        finite = pc.fill_null(pc.is_finite(column), True)
        if not pc.all(finite).as_py():
            bad |= ~finite.to_numpy(zero_copy_only=False)
    runs: list[tuple[int, int, pa.Table | None]] = []
    done = 0
    for row in [*np.flatnonzero(bad).tolist(), table.num_rows]:
        if row > done:
            runs.append((start + done, start + row, table.slice(done, row - done)))
        if row < table.num_rows:
            runs.append((start + row, start + row + 1, None))
        done = row + 1
    return runs


def event_value(raw: bytes) -> tuple[str | None, dict[str, Any], list[str]]:
    """An event's ``name`` (text) and ``options`` (an object, ``{}`` when absent or bad)."""
    document, reason = decode(raw)
    if reason is None and not isinstance(document, dict):
        reason = NOT_AN_OBJECT
    if reason is not None:
        return None, {}, [reason]
    name, why = check_text(document.get("name"), "name")
    options = document.get("options")
    if options is not None and not isinstance(options, dict):
        why.append(wrong_type("options"))
        options = None
    elif holds_non_finite(options):
        why.append(holds_non_finite_number("options"))
        options = None
    return name, options or {}, why


# --------------------------------------------------------------------------- key fields


def whole_number(text: str, *, timestamp: bool = False) -> tuple[int | None, str | None]:
    """A key's integer field (ASCII digits, an optional ``-``) or ``(None, why)``: "is not a
    whole number", or "is out of range" (of int64; with ``timestamp``, of a ``datetime64[ns]``)."""
    if not _WHOLE_NUMBER.fullmatch(text):
        return None, "is not a whole number"
    low, high = (FIRST_SECOND, LAST_SECOND) if timestamp else (-(2**63), 2**63 - 1)
    number = int(text) if len(text) <= 20 else None
    if number is None or not low <= number <= high:
        return None, "is out of range"
    return number, None


def minute_seconds(col: pa.ChunkedArray) -> tuple[np.ndarray, list[tuple[np.ndarray, str]]]:
    """The gem's minutes (exactly YYYYMMDDTHHMM, a real date and time) as epoch seconds, and
    the rows that are not, with why. Read digit by digit with numpy: Arrow's strptime takes
    fewer digits and spaces, and rolls 30 February over to March."""
    shaped = pc.equal(pc.binary_length(col), 13).to_numpy(zero_copy_only=False)
    fixed = pc.if_else(pa.array(shaped), col, "19700101T0000").cast(pa.binary(13))
    fixed = fixed.combine_chunks() if isinstance(fixed, pa.ChunkedArray) else fixed
    chars = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
    chars = chars[fixed.offset * 13 : (fixed.offset + len(fixed)) * 13].reshape(-1, 13)
    ok = shaped & (chars[:, 8] == ord("T"))
    parts = []
    for start, stop in _MINUTE_PARTS:  # year, month, day, hour, minute
        value = np.zeros(len(chars), dtype=np.int32)
        for i in range(start, stop):
            digit = chars[:, i] - np.uint8(ord("0"))  # wraps around below "0"
            ok &= digit <= 9
            value = value * 10 + digit
        parts.append(value)
    year, month, day, hour, minute = parts
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (dates.astype("datetime64[M]") == months)
    ok &= (hour < 24) & (minute < 60)  # and the day is in its month: 30 February is not
    seconds = dates.astype(np.int64) * 86_400 + hour * 3_600 + minute * 60
    in_range = (seconds >= FIRST_SECOND) & (seconds <= LAST_SECOND)
    return np.where(ok & in_range, seconds, 0), [
        (~ok, "is not YYYYMMDDTHHMM"),
        (~in_range, "is out of range"),
    ]

"""The archive's files: one fixed Arrow schema per record kind, and the conversions between
the frames :mod:`rp_toolkit.frames` gives and the tables stored. Pure: no I/O.

A stored table holds the columns of ``rp.load(kind)``, in order, with types any Parquet
reader understands (categories as plain text, times as ``timestamp[us, UTC]``, ``custom_data``
as the JSON text the gem wrote), then ``record_id`` (uint64, the identity of the record's
key). :func:`to_frame` turns it back into exactly the frame ``rp.load`` gives.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..frames import (
    TIMESTAMP,
    Problems,
    concat_batches,
    decode_json_text,
    empty_frame,
    list_column,
)
from ..kinds import EVENTS, TABULAR_KINDS, TRACE, get_kind

FORMAT = 1
"""The archive's format version: the layout, the manifest and the schemas below. A reader
refuses an archive of a newer format."""

ARCHIVED_KINDS = (*TABULAR_KINDS, EVENTS.name, TRACE.name)
"""Every kind the gem writes, in the order an archive run lists them."""

TIME = pa.timestamp("us", tz="UTC")
RECORD_ID = pa.field("record_id", pa.uint64(), nullable=False)


def _field(name: str, dtype: Any, kind: str) -> pa.Field:
    """The stored type of one column of ``rp.load(kind)``."""
    text = str(dtype)
    if name == "backtrace":
        return pa.field(name, pa.list_(pa.string()))
    if text in ("category", "str", "object"):
        return pa.field(name, pa.string())
    if text.startswith("datetime64"):
        return pa.field(name, TIME)
    if text == "int64":
        return pa.field(name, pa.int64())
    if text == "float64":
        return pa.field(name, pa.float64())
    raise TypeError(f"No stored type for {kind}.{name} ({text}).")  # a new column: decide here


def _schemas() -> dict[str, pa.Schema]:
    schemas = {}
    for name in TABULAR_KINDS:
        frame = empty_frame(name)
        fields = [_field(column, frame[column].dtype, name) for column in frame.columns]
        schemas[name] = pa.schema([*fields, RECORD_ID])
    schemas[EVENTS.name] = pa.schema(
        [
            pa.field("name", pa.string()),
            pa.field("datetime", TIME),
            pa.field("datetimei", pa.int64()),
            pa.field("options", pa.string()),  # the options object as JSON text
            RECORD_ID,
        ]
    )
    schemas[TRACE.name] = pa.schema(
        [pa.field("request_id", pa.string()), pa.field("value", pa.binary()), RECORD_ID]
    )
    return {
        name: schema.with_metadata(
            {"rp_toolkit.archive_format": str(FORMAT), "rp_toolkit.kind": name}
        )
        for name, schema in schemas.items()
    }


SCHEMAS: dict[str, pa.Schema] = _schemas()
"""The stored schema of each kind (``docs/ARCHIVE.md`` lists them)."""


def stored_schema(kind: str) -> pa.Schema:
    return SCHEMAS[get_kind(kind).name]


def schema_table() -> str:
    """The stored schemas as the Markdown table ``docs/ARCHIVE.md`` shows (a test checks the
    page holds it)."""
    rows = ["| kind | columns, in order (Arrow types) |", "|---|---|"]
    for name in ARCHIVED_KINDS:
        columns = ", ".join(f"`{field.name}` {field.type}" for field in SCHEMAS[name])
        rows.append(f"| `{name}` | {columns} |")
    return "\n".join(rows)


def to_table(frame: pd.DataFrame, kind: str) -> pa.Table:
    """A stored-form frame (:class:`rp_toolkit.frames.StoredBatches`) as a table of
    ``kind``'s stored schema."""
    schema = stored_schema(kind)
    arrays = []
    for field in schema:
        column = frame[field.name]
        if field.name == "options":
            column = column.map(lambda value: json.dumps(value, allow_nan=False)).astype(object)
        if field.name == "record_id":
            arrays.append(pa.array(column.to_numpy(dtype=np.uint64), type=pa.uint64()))
        elif column.dtype == object:
            values = column.to_numpy(dtype=object)
            arrays.append(pa.array(values, type=field.type, from_pandas=True))
        else:
            arrays.append(pa.array(column, from_pandas=True).cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def to_frame(table: pa.Table, kind: str, problems: Problems | None = None) -> pd.DataFrame:
    """A stored table (any of ``kind``'s columns, ``record_id`` left out) as the frame
    ``rp.load(kind)`` gives for the same records: its columns, dtypes and sorted categories.
    ``custom_data`` that is not JSON is kept as text, with a problem in ``problems``."""
    if get_kind(kind) is EVENTS:
        return events_frame(table)
    kind = get_kind(kind).name
    empty = empty_frame(kind)
    data: dict[str, Any] = {}
    for name in empty.columns:
        column = table.column(name)
        dtype = str(empty[name].dtype)
        if name == "backtrace":
            data[name] = list_column(column)
        elif dtype == "category":
            data[name] = column.dictionary_encode().to_pandas()
        elif dtype.startswith("datetime64"):
            data[name] = column.to_pandas().astype(TIMESTAMP)
        elif dtype in ("str", "object"):
            data[name] = pd.Series(column.to_pandas(), dtype="str")
        else:
            data[name] = column.to_pandas()
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in data.items()})
    if "custom_data" in frame:
        found = problems if problems is not None else Problems()
        frame["custom_data"] = decode_json_text(
            frame["custom_data"], lambda position: f"(archived {kind} record)", found
        )
    return concat_batches(kind, [frame])


def events_frame(table: pa.Table) -> pd.DataFrame:
    """Stored events as ``rp.load_events`` gives them, oldest first."""
    options = table.column("options").to_pylist()
    frame = pd.DataFrame(
        {
            "name": pd.Series(table.column("name").to_pandas(), dtype="str"),
            "datetime": table.column("datetime").to_pandas().astype(TIMESTAMP),
            "datetimei": table.column("datetimei").to_numpy().astype(np.int64),
            "options": pd.Series([json.loads(o) for o in options], dtype=object),
        }
    )
    return frame.sort_values("datetime", ignore_index=True)


def empty_table(kind: str) -> pa.Table:
    return stored_schema(kind).empty_table()

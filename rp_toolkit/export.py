"""Reports and frames to CSV or Parquet, full precision. Pure: pandas in, files out; no Redis.

Every file is written whole or not at all (:func:`rp_toolkit.files.atomic_files`): under a
temporary name beside it, renamed when complete. An error or an interruption (Ctrl-C, a
SIGTERM the caller turned into an exception, a server lost mid-stream) leaves no file at the
path, and a file already there as it was."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .exceptions import InvalidArgumentError
from .files import atomic_files
from .kinds import KINDS, RecordKind, get_kind

__all__ = [
    "SUFFIXES",
    "check_export_path",
    "export",
    "export_batches",
    "is_missing",
    "json_default",
    "to_json",
]


def is_missing(value: Any) -> bool:
    """None, ``pd.NA``, ``NaT`` or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default=``: numpy values, arrays and timestamps as JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    return str(value)


def to_json(value: Any) -> Any:
    """``value`` as JSON text, or None when it is missing."""
    return None if is_missing(value) else json.dumps(value, default=json_default)


def _string_list(value: Any) -> list[str] | None:
    """``value`` as a list of str (lists, tuples, arrays of str), else None."""
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _prepare(frame: pd.DataFrame, parquet: bool) -> pd.DataFrame:
    """A copy fit for the file: named/non-default index as columns, nested values as JSON."""
    out = frame
    if out.index.name is not None or not isinstance(out.index, pd.RangeIndex):
        out = out.reset_index()
    out = out.copy()
    out.attrs = {}  # load metadata (rp.LoadInfo) is not file content; Parquet would store it
    for column in out.columns:
        series = out[column]
        if series.dtype != object:
            continue
        present = [v for v in series if not is_missing(v)]
        if all(isinstance(v, str) for v in present):
            continue
        if parquet and all(_string_list(v) is not None for v in present):
            out[column] = [None if is_missing(v) else _string_list(v) for v in series]
        else:
            out[column] = series.map(to_json).astype(object)
    return out


def _write(frame: pd.DataFrame, path: Path, *, csv: bool) -> None:
    if csv:
        _prepare(frame, parquet=False).to_csv(path, index=False)
        return
    info = frame.attrs.get("rp")
    kind = getattr(info, "kind", None)
    lists = _list_fields(get_kind(kind)) if kind in KINDS else set()
    table = pa.Table.from_pandas(_prepare(frame, parquet=True), preserve_index=False)
    pq.write_table(table.cast(_file_schema(table.schema, lists)), path)


def _list_fields(kind: RecordKind) -> set[str]:
    return {field.name for field in kind.value_schema if pa.types.is_list(field.type)}


SUFFIXES = (".csv", ".parquet")
_UNSAFE = re.compile(r"[^\w.-]+")


def _frames(report: Any) -> dict[str | None, pd.DataFrame]:
    if isinstance(report, pd.DataFrame):
        return {None: report}
    if isinstance(report, pd.Series):
        return {None: report.to_frame()}
    if is_dataclass(report) and not isinstance(report, type):
        report = {f.name: getattr(report, f.name) for f in fields(report)}
    if isinstance(report, Mapping):
        if all(isinstance(v, (pd.DataFrame, pd.Series)) for v in report.values()) and report:
            return {
                str(k): v.to_frame() if isinstance(v, pd.Series) else v for k, v in report.items()
            }
        if not any(isinstance(v, (pd.DataFrame, pd.Series)) for v in report.values()):
            return {None: pd.DataFrame([dict(report)])}
    raise TypeError(
        "export() takes a DataFrame, a Series, a JobsReport, a dict of DataFrames or a dict of "
        f"scalars (such as rp.reports.percentiles()), not {type(report).__name__}."
    )


def check_export_path(path: str | Path) -> Path:
    """``path`` as a Path if its suffix is one :func:`export` writes, else an
    :class:`InvalidArgumentError`."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise InvalidArgumentError(
            f"Cannot export to {path.name!r}: unknown suffix {path.suffix!r}; "
            f"use one of {', '.join(SUFFIXES)}."
        )
    return path


def export(frame_or_report: Any, path: str | Path) -> list[Path]:
    """Write a report to CSV or Parquet, chosen by ``path``'s suffix (``.csv``, ``.parquet``).

    * A DataFrame (or Series) goes to ``path``; a dict of scalars (``reports.percentiles``) to
      one row at ``path``.
    * A dict of DataFrames, or a dataclass of them (``reports.JobsReport``), writes one file
      per entry, named ``<stem>.<key><suffix>`` next to ``path`` (``jobs.throughput.csv``).

    A named or non-default index (the per-minute ``minute``) becomes a column. Columns holding
    lists or dicts are written as JSON text (null stays null), except that in Parquet a column
    of lists of strings (``backtrace``) is stored natively as ``list<string>``. Returns the
    paths written; parent directories are created.

    All or nothing: each file is written under a temporary name beside it, and they are
    renamed into place once every one is complete; after an error none is.
    """
    path = check_export_path(path)
    frames = _frames(frame_or_report)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv = path.suffix.lower() == ".csv"
    targets = [
        path if key is None else path.with_name(f"{path.stem}.{_UNSAFE.sub('_', key)}{path.suffix}")
        for key in frames
    ]
    with atomic_files(*targets) as temporaries:
        for frame, temporary in zip(frames.values(), temporaries, strict=True):
            _write(frame, temporary, csv=csv)
    return targets


def export_batches(frames: Iterable[pd.DataFrame], path: str | Path, kind: RecordKind) -> Path:
    """Write frames of one record kind (``rp.iter_load``'s batches) to one CSV or Parquet file
    as they come, holding one batch at a time; the file is what :func:`export` writes for
    their concatenation. ``kind`` fixes the Parquet schema: categories as dictionaries, list
    fields as ``list<string>``, other columns absent from a batch's values as text.

    All or nothing: the file is written under a temporary name beside ``path`` and renamed
    once the last frame is in; if the frames stop with an error (a server lost, Ctrl-C) it is
    removed, and ``path`` is as it was."""
    path = check_export_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv = path.suffix.lower() == ".csv"
    lists = _list_fields(kind)
    with atomic_files(path) as (temporary,):
        writer: pq.ParquetWriter | None = None
        written = False
        try:
            for frame in frames:
                if not len(frame) and written:
                    continue
                prepared = _prepare(frame, parquet=not csv)
                if csv:
                    prepared.to_csv(
                        temporary, index=False, mode="a" if written else "w", header=not written
                    )
                else:
                    table = pa.Table.from_pandas(prepared, preserve_index=False)
                    if writer is None:
                        schema = _file_schema(table.schema, lists)
                        writer = pq.ParquetWriter(temporary, schema)
                    writer.write_table(table.cast(writer.schema))
                written = True
        finally:
            if writer is not None:
                writer.close()
        if not written:
            raise InvalidArgumentError(
                "export_batches() was given no frames, not even an empty one."
            )
    return path


def _file_schema(schema: pa.Schema, lists: set[str]) -> pa.Schema:
    """``schema`` with types that do not depend on which values a batch holds (a column
    with no value in it is text, or a list of text for a kind's list fields), so that a
    file's schema is the same whichever rows it got, and every batch can be cast to it."""
    fields = []
    for field in schema:
        kind_of = field.type
        if pa.types.is_dictionary(kind_of):
            kind_of = pa.dictionary(pa.int32(), pa.string())
        elif pa.types.is_null(kind_of):
            kind_of = pa.list_(pa.string()) if field.name in lists else pa.string()
        fields.append(pa.field(field.name, kind_of))
    return pa.schema(fields, metadata=schema.metadata)  # pandas' own: dtypes read back

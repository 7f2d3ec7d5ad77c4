"""Benchmark results: one typed row per measurement, saved as ``bench.csv`` and ``bench.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..export import is_missing, json_default
from ..files import atomic_files

COLUMNS: dict[str, str] = {
    "size": "int64",  # request records in the keyspace
    "noise_keys": "int64",  # unrelated keys written next to them
    "dbsize": "int64",  # every key in the database during the measurement
    "query": "string",  # day, controller, request_id
    "pattern": "string",  # the glob pattern fetched
    "method": "string",  # KEYS, SCAN, gem_keys_mget, scan_chunked_mget
    "count": "string",  # "10", ..., "auto", "adaptive"; NA for KEYS and gem_keys_mget
    "scan_count": "Int64",  # the COUNT hint actually sent (auto-tune resolved); NA for KEYS
    # (adaptive: the COUNT it starts from). The COUNTs the SCANs carried, last repeat:
    "scan_count_min": "Int64",
    "scan_count_mean": "float64",
    "scan_count_max": "Int64",
    "repeats_done": "int64",
    "wall_median_s": "float64",
    "wall_min_s": "float64",
    "wall_max_s": "float64",
    "overhead": "float64",  # wall_median_s / the baseline's (KEYS, or gem_keys_mget)
    "keys_found": "int64",
    "scan_calls": "int64",  # SCAN commands sent in one repeat (0 for KEYS)
    "mget_calls": "int64",  # MGET commands sent in one repeat (0 when only keys are listed)
    "redis_usec": "float64",  # server time of KEYS+SCAN+MGET per repeat (commandstats, median)
    "redis_keys_usec": "float64",
    "redis_scan_usec": "float64",
    "redis_mget_usec": "float64",
    "slowlog_threshold_us": "float64",  # NaN: slowlog not available (CONFIG refused)
    "slowlog_entries": "float64",  # KEYS/SCAN/MGET entries logged, most in one repeat
    "slowlog_max_us": "float64",  # slowest single KEYS/SCAN/MGET; NaN when none was logged
    "slowlog_max_command": "string",
    "probe_samples": "int64",  # PINGs answered during the repeats (0 with probe=False)
    "probe_p50_ms": "float64",
    "probe_p99_ms": "float64",
    "probe_max_ms": "float64",
    "probe_idle_p50_ms": "float64",  # the probe with no fetch running (per size)
    "probe_idle_p99_ms": "float64",
    "probe_idle_max_ms": "float64",
    "scan_budget_ms": "float64",  # adaptive rows: settings.scan_budget_ms; NaN otherwise
    "best_fixed_count": "Int64",  # adaptive rows: the fixed COUNT with the lowest median
    "vs_best_fixed": "float64",  # adaptive rows: wall_median_s / that COUNT's wall_median_s
    "error": "string",  # why the method cannot work here (gem_keys_mget on a cluster); NA
}
"""Every column of the results, in order, with its pandas dtype."""


def to_frame(rows: Sequence[dict[str, Any]], environment: dict[str, Any]) -> pd.DataFrame:
    """``rows`` as a frame with exactly the :data:`COLUMNS` and their dtypes; ``environment``
    in ``frame.attrs["environment"]``."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for name, dtype in COLUMNS.items():
        column = frame[name]
        if dtype == "string":
            frame[name] = column.astype(object).where(column.notna(), None).astype("string")
        elif dtype == "Int64":
            frame[name] = pd.array(
                [None if is_missing(v) else int(v) for v in column], dtype="Int64"
            )
        else:
            frame[name] = column.astype(dtype)
    frame.attrs["environment"] = environment
    return frame


def save(frame: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``bench.csv`` (rows) and ``bench.json`` (environment and rows) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_files(out / "bench.csv", out / "bench.json") as (csv, written):
        frame.to_csv(csv, index=False)
        _write_json(frame, written)
    return out


def _write_json(frame: pd.DataFrame, path: Path) -> None:
    rows = [
        {name: None if is_missing(value) else value for name, value in record.items()}
        for record in frame.to_dict(orient="records")
    ]
    document = {"environment": frame.attrs.get("environment", {}), "columns": COLUMNS, "rows": rows}
    path.write_text(json.dumps(document, indent=1, allow_nan=False, default=json_default) + "\n")


def load_results(path: str | Path) -> pd.DataFrame:
    """Results saved by :func:`save`: a folder, its ``bench.json`` or its ``bench.csv``."""
    path = Path(path)
    if path.is_dir():
        path = path / "bench.json"
    if path.suffix == ".csv":
        sibling = path.with_suffix(".json")
        environment = json.loads(sibling.read_text())["environment"] if sibling.exists() else {}
        rows = pd.read_csv(path, dtype={"count": str}).to_dict(orient="records")
        return to_frame(rows, environment)
    document = json.loads(path.read_text())
    return to_frame(document["rows"], document.get("environment", {}))

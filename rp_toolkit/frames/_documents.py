"""Traces and events: values with no Arrow schema, read one by one (pure; they are few or
read one request at a time). Total, as :mod:`._parse` is: bad data gives problems, never an
error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..kinds import EVENTS
from ._parse import MISSING_VALUE, TIMESTAMP, Problems, key_bytes, key_text, parse_key
from ._values import as_bytes, check_step, decode, event_value, whole_number

TRACE_COLUMNS = ["group", "duration", "sql", "message", "time"]


def parse_trace(
    raw: bytes | str | None, key: str, problems: Problems | None = None
) -> pd.DataFrame:
    """A trace value (a JSON array of steps) as a frame of ``TRACE_COLUMNS``; empty for
    ``None`` (an expired trace). Never raises for bad data: a value that is not such an array
    gives no steps, a step that is not an object is left out, a step field that does not
    hold its type (``duration`` a finite number, text valid Unicode, no ``NaN``) is null.

    What was not read exactly goes to ``problems``, or, without it, to
    ``frame.attrs["problems"]`` (a problems table, only set when there are some).
    """
    found = problems if problems is not None else Problems()
    steps: list[dict[str, Any]] = []
    if raw is not None:
        raw = as_bytes(raw)
        document, reason = decode(raw)
        if reason is None and not isinstance(document, list):
            reason = "value is JSON but not an array"
        if reason is not None:
            found.add([key], reason, [raw], kept=False)
        for index, step in enumerate(document if reason is None else []):
            if not isinstance(step, dict):
                found.add([key], f"trace step {index} is not an object", [repr(step)], False)
                continue
            row, why = check_step(step)
            steps.append(row)
            if why:
                found.add([key], f"trace step {index}: {'; '.join(why)}", [repr(step)], True)
    frame = pd.DataFrame(steps)
    for column in TRACE_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce")
    if problems is None and found.frames:
        frame.attrs["problems"] = found.frame()
    return frame


def parse_events(
    keys: Sequence[bytes | str], values: Sequence[bytes | str | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Annotation events (``name``, ``datetime``, ``datetimei``, ``options``), oldest first,
    and the problems found."""
    problems = Problems()
    rows = []
    # Events are few (a deploy or two a day): a plain loop reads them.
    for key, raw in zip(key_bytes(keys), values, strict=True):
        text = key_text(key)
        fields, reason = parse_key(EVENTS, text)
        epoch = None
        if fields is not None:
            epoch, why = whole_number(fields["datetimei"], timestamp=True)
            reason = f"malformed key: datetimei {why}" if why else None
        if raw is None:
            reason = MISSING_VALUE
        if reason is not None or epoch is None:
            problems.add([text], reason, None, kept=False)
            continue
        name, options, why = event_value(as_bytes(raw))
        if why:
            problems.add([text], "; ".join(why), [raw], kept=True)
        rows.append((name, epoch, options))
    epochs = np.array([row[1] for row in rows], dtype=np.int64)
    events = pd.DataFrame(
        {
            "name": pd.Series([row[0] for row in rows], dtype="str"),
            "datetime": pd.to_datetime(epochs, unit="s", utc=True).astype(TIMESTAMP),
            "datetimei": epochs,
            "options": pd.Series([row[2] for row in rows], dtype=object),
        }
    )
    return events.sort_values("datetime", ignore_index=True), problems.frame()

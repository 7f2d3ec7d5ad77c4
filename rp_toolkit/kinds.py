"""One declarative description per record kind the gem writes.

Each :class:`RecordKind` is the single place where a key layout is written down. It drives:

* parsing (:mod:`rp_toolkit.frames` splits keys by the template's parts),
* query building (:meth:`RecordKind.patterns` builds the gem's glob patterns),
* writing (:mod:`rp_toolkit.synth` formats keys with :meth:`RecordKind.format_key`).

It also holds what every layer shares about keys and time: the key codec
(:func:`encode_key`/:func:`decode_key`), glob escaping, the schema version and the dashboard's
time windows (:func:`resolve_window`, the one rule for a question's window). Pure: no I/O.

A template is the key with ``{field}`` where a value goes. Parts are separated by ``|``; a
part is a literal, a ``{field}``, or a literal prefix followed by a ``{field}``. One field may
be *free*: its value can itself hold ``|`` (a request path with its query string), and parsing
anchors the other parts at both ends of the key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from .exceptions import InvalidArgumentError

SCHEMA_VERSION = "1.0.2"
"""The version the gem writes at the end of every record key (``...|END|1.0.2``)."""
EVENTS_SCHEMA_VERSION = "1.0.0"
"""The version at the end of annotation event keys."""

DEFAULT_WINDOW = timedelta(hours=4)
"""The gem's ``RailsPerformance.duration``: dashboards look at the last four hours."""
RESOURCES_WINDOW = timedelta(hours=24)
"""The gem's ``system_monitor_duration``: the window of the resources charts."""

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def escape_glob(value: str) -> str:
    """Escape ``* ? [ ] \\`` so that ``value`` matches itself literally in a Redis pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", value)


def decode_key(raw: bytes | str) -> str:
    """Key bytes as text, losslessly (UTF-8 with ``surrogateescape``).

    Redis keys are bytes; ``decode_key(k).encode("utf-8", "surrogateescape")`` gives them back,
    so keys that are not UTF-8 are listed and read like any other.
    """
    return raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")


def encode_key(key: str | bytes) -> bytes:
    """The inverse of :func:`decode_key`."""
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


class KeysAndValues(NamedTuple):
    """Keys and the values aligned with them: what a fetch returns and a writer takes."""

    keys: list[Any]
    values: list[Any]


def utc_timestamp(value: Any) -> pd.Timestamp:
    """``value`` (datetime, date, string, Timestamp) as a UTC Timestamp; naive means UTC."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def window_bound(value: Any, *, name: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """A window bound as a UTC Timestamp; one meaning for each kind of value.

    A datetime, a date (its midnight), an ISO 8601 string or a pandas Timestamp is that moment
    (naive means UTC); a timedelta is relative to ``now`` (``timedelta(hours=-2)``: two hours
    ago). Anything else, a bare number for one (seconds? nanoseconds?), is an
    :class:`~rp_toolkit.exceptions.InvalidArgumentError` naming ``name``.
    """
    if isinstance(value, (timedelta, pd.Timedelta)):
        return (now if now is not None else pd.Timestamp.now(tz="UTC")) + pd.Timedelta(value)
    if isinstance(value, bool) or not isinstance(
        value, (str, date, datetime, pd.Timestamp, np.datetime64)
    ):
        raise InvalidArgumentError(
            f"{name}={value!r} is not a time. Pass a datetime, a date, an ISO 8601 string "
            "('2026-11-27 08:00', naive = UTC) or a timedelta relative to now "
            "(timedelta(hours=-2))."
        )
    try:
        stamp = utc_timestamp(value)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise InvalidArgumentError(
            f"{name}={value!r} is not a time pandas can read; use ISO 8601, e.g. "
            "'2026-11-27 08:00' or '2026-11-27T08:00:00Z'."
        ) from None
    if stamp is pd.NaT:
        raise InvalidArgumentError(f"{name}={value!r} is not a time.")
    return stamp


def resolve_window(
    kind: str | RecordKind,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    *,
    now: pd.Timestamp | None = None,
    span: timedelta | pd.Timedelta | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC window ``[start, end]`` (both included) of a question about ``kind``: the one
    rule every loader, the archive and the notebooks follow.

    * ``on``: that whole UTC day, ``00:00:00`` to ``23:59:59`` (not with ``start``/``end``);
    * each bound is read by :func:`window_bound` (a moment, naive = UTC, or a timedelta
      relative to ``now``: the clock, or a snapshot's creation time);
    * ``end`` defaults to ``now``; ``start`` to ``end - span``, ``span`` defaulting to the
      kind's :attr:`RecordKind.window` (the gem's: four hours, 24 for resources);
    * a window that starts after it ends is an error; ``start == end`` is one instant.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    if on is not None:
        if start is not None or end is not None:
            raise InvalidArgumentError("Pass either on= (a day) or start=/end=, not both.")
        day = window_bound(on, name="on", now=now).normalize()
        return day, day + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    span = pd.Timedelta(get_kind(kind).window if span is None else span)
    last = window_bound(end, name="end", now=now) if end is not None else now
    first = window_bound(start, name="start", now=now) if start is not None else last - span
    if first > last:
        raise InvalidArgumentError(f"The window starts ({first}) after it ends ({last}).")
    return first, last


def window_before(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window of the same length just before ``[start, end]``: it ends one microsecond
    before ``start`` (windows include both ends), so no record is in both."""
    return start - (end - start), start - pd.Timedelta(microseconds=1)


def window_of(kind: str | RecordKind) -> timedelta:
    """The dashboard's default window for ``kind`` (:attr:`RecordKind.window`)."""
    return get_kind(kind).window


# Key field types. "category": a low-cardinality dimension; "text": high-cardinality text;
# "int": an integer (an HTTP status); "epoch": integer epoch seconds; "minute": the gem's
# YYYYMMDDTHHMM minute; "json_list": a JSON array of strings (a rake task list).
KEY_FIELD_TYPES = {"category", "text", "int", "epoch", "minute", "json_list"}

_PART = re.compile(r"^(?P<prefix>[^{}]*)\{(?P<field>\w+)\}$")


@dataclass(frozen=True)
class TemplatePart:
    """One ``|``-separated part of a key template."""

    literal: str
    field: str | None = None

    @property
    def is_field(self) -> bool:
        return self.field is not None


@dataclass(frozen=True)
class RecordKind:
    """How one kind of record is keyed, valued, typed and kept."""

    name: str
    template: str
    key_types: Mapping[str, str]
    value_schema: pa.Schema
    ttl_seconds: int
    free_field: str | None = None
    day_field: str | None = "datetime"
    description: str = ""
    window: timedelta = DEFAULT_WINDOW
    """The dashboard's default window for this kind (resources: 24 hours, else 4)."""
    duration_field: str | None = "duration"
    """The value field that says how long one record took (Grape: the whole endpoint's span,
    ``endpoint_run.grape``); None for a kind without one (resources, traces, events)."""
    tabular: bool = True
    """One row per key, typed from the key and the value (traces and events are not: a trace
    is a list of steps, an event a document of its own)."""
    parts: tuple[TemplatePart, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = []
        for text in self.template.split("|"):
            match = _PART.match(text)
            if match:
                parts.append(TemplatePart(match["prefix"], match["field"]))
            elif "{" in text or "}" in text:
                raise InvalidArgumentError(f"{self.name}: bad template part {text!r}")
            else:
                parts.append(TemplatePart(text))
        object.__setattr__(self, "parts", tuple(parts))
        unknown = set(self.key_fields) ^ set(self.key_types)
        if unknown:
            raise InvalidArgumentError(f"{self.name}: key_types and template disagree on {unknown}")
        if self.free_field is not None and self.free_field not in self.key_fields:
            raise InvalidArgumentError(
                f"{self.name}: free field {self.free_field!r} not in template"
            )

    @functools.cached_property
    def key_fields(self) -> tuple[str, ...]:
        """Key fields in key order."""
        return tuple(part.field for part in self.parts if part.field is not None)

    @property
    def free_index(self) -> int | None:
        """Position of the free field's part, if the kind has one."""
        if self.free_field is None:
            return None
        return next(i for i, part in enumerate(self.parts) if part.field == self.free_field)

    def part_index(self, name: str) -> int:
        """Where field ``name`` sits among a key's ``|``-separated parts: counted from the
        start up to the free field, from the end (negative) after it, so it holds for a
        free field that itself contains ``|``."""
        index = next(i for i, part in enumerate(self.parts) if part.field == name)
        free = self.free_index
        return index if free is None or index <= free else index - len(self.parts)

    @property
    def prefix(self) -> str:
        """The text every key of this kind starts with (``performance|``, ``resource|``,
        ``rails_performance:records:events:``): what an ACL grants and a walk starts from."""
        first = self.parts[0]
        return first.literal if first.is_field else first.literal + "|"

    @property
    def timed(self) -> bool:
        """Whether each record carries its time (``datetimei``), so that a window can hold it:
        every kind but traces, which are read one request at a time."""
        return "datetimei" in self.key_types

    @property
    def version(self) -> str:
        return self.parts[-1].literal

    def format_key(self, values: Mapping[str, Any]) -> str:
        """The key for one record (``values`` holds every key field)."""
        return self.template.format(**{name: values[name] for name in self.key_fields})

    def _field_name_in_key(self, name: str) -> str | None:
        """The literal before a field, which the gem uses as its name in filters (or None)."""
        index = next(i for i, part in enumerate(self.parts) if part.field == name)
        before = self.parts[index - 1] if index >= 2 else None
        return before.literal if before is not None and not before.is_field else None

    @property
    def filterable(self) -> bool:
        """True when every key field is named in the key (``name|VALUE``), as the gem's are."""
        return all(self._field_name_in_key(name) for name in self.key_fields)

    def pattern(
        self,
        filters: Mapping[str, Any] | None = None,
        day: date | None = None,
        *,
        days: list[date] | None = None,
    ) -> str:
        """The gem's glob pattern for one query.

        Filters appear in key order as ``name|VALUE|``, joined by ``*`` and wrapped as
        ``KIND|*FILTERS*|END|version``; values are escaped with :func:`escape_glob`; ``day``
        adds ``datetime|YYYYMMDD*|``, ``days`` one glob covering all of them
        (:func:`days_glob`). With neither, the template with ``*`` for every field.
        """
        if day is not None:
            days = [day]
        filters = dict(filters or {})
        unknown = set(filters) - set(self.key_fields)
        if unknown:
            raise InvalidArgumentError(
                f"{self.name} records cannot be filtered by {sorted(unknown)}; "
                f"their key fields are {list(self.key_fields)}."
            )
        if not filters and not days:
            return "|".join(
                escape_glob(part.literal) + ("*" if part.is_field else "") for part in self.parts
            )
        if not self.filterable:
            raise InvalidArgumentError(
                f"{self.name} records have no named key fields to filter on."
            )
        fragments = []
        for name in self.key_fields:
            if name == self.day_field and days:
                fragments.append(f"{self._field_name_in_key(name)}|{days_glob(days)}*|")
            elif name in filters:
                value = escape_glob(str(filters[name]))
                fragments.append(f"{self._field_name_in_key(name)}|{value}|")
        head = escape_glob(self.parts[0].literal)
        tail = "|".join(escape_glob(part.literal) for part in self.parts[-2:])
        if self.key_fields[-1] in filters:
            # The last field sits right before END: "status|x|*|END" could never match it.
            return f"{head}|*{'*'.join(fragments)}{tail}"
        return f"{head}|*{'*'.join(fragments)}*|{tail}"

    def patterns(
        self, start: datetime, end: datetime, filters: Mapping[str, Any] | None = None
    ) -> list[str]:
        """One pattern per UTC day in ``[start, end]``, as the gem's dashboard queries."""
        if self.day_field is None:
            return [self.pattern(filters)]
        return [self.pattern(filters, day) for day in utc_days(start, end)]

    def covering_pattern(
        self, start: datetime, end: datetime, filters: Mapping[str, Any] | None = None
    ) -> str:
        """One pattern for every UTC day in ``[start, end]``: one walk of the keyspace where
        :meth:`patterns` needs one per day. It may match a few days more (see
        :func:`days_glob`); the caller keeps the records in its window."""
        if self.day_field is None:
            return self.pattern(filters)
        return self.pattern(filters, days=utc_days(start, end))


def days_glob(days: list[date]) -> str:
    """A glob matching every ``YYYYMMDD`` of ``days``, position by position: the digit they
    share, or a class of the digits they have there (27 and 28 November: ``2026112[78]``).
    Across a month end it also matches a few other days (30 November and 1 December:
    ``20261[12][03][01]``); the reader keeps only the records in its window."""
    texts = sorted({f"{day:%Y%m%d}" for day in days})
    if not texts:
        raise InvalidArgumentError("days_glob needs at least one day.")
    glob = []
    for position in range(8):
        digits = sorted({text[position] for text in texts})
        glob.append(digits[0] if len(digits) == 1 else "[" + "".join(digits) + "]")
    return "".join(glob)


def utc_days(start: datetime, end: datetime) -> list[date]:
    """Every UTC calendar day touched by ``[start, end]``."""
    first = start.astimezone(timezone.utc).date()
    last = end.astimezone(timezone.utc).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _schema(**fields: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(name, dtype) for name, dtype in fields.items()])


_DURATION = {"duration": pa.float64()}
_HOURS = 3600

REQUESTS = RecordKind(
    name="requests",
    template=(
        "performance|controller|{controller}|action|{action}|format|{format}|status|{status}"
        "|datetime|{datetime}|datetimei|{datetimei}|method|{method}|path|{path}"
        "|request_id|{request_id}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "controller": "category",
        "action": "category",
        "format": "category",
        "status": "int",
        "datetime": "minute",
        "datetimei": "epoch",
        "method": "category",
        "path": "text",
        "request_id": "text",
    },
    value_schema=_schema(
        view_runtime=pa.float64(),
        db_runtime=pa.float64(),
        duration=pa.float64(),
        http_referer=pa.string(),
        custom_data=pa.string(),
        exception=pa.string(),
        backtrace=pa.list_(pa.string()),
    ),
    ttl_seconds=4 * _HOURS,
    free_field="path",
    description="Rails controller requests",
)

SIDEKIQ = RecordKind(
    name="sidekiq",
    template=(
        "sidekiq|queue|{queue}|worker|{worker}|jid|{jid}|datetime|{datetime}"
        "|datetimei|{datetimei}|enqueued_ati|{enqueued_ati}|start_timei|{start_timei}"
        "|status|{status}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "queue": "category",
        "worker": "category",
        "jid": "text",
        "datetime": "minute",
        "datetimei": "epoch",
        "enqueued_ati": "epoch",
        "start_timei": "epoch",
        "status": "category",
    },
    value_schema=_schema(duration=pa.float64(), message=pa.string()),
    ttl_seconds=4 * _HOURS,
    description="Sidekiq jobs",
)

DELAYED_JOB = RecordKind(
    name="delayed_job",
    template=(
        "delayed_job|jid|{jid}|datetime|{datetime}|datetimei|{datetimei}"
        "|source_type|{source_type}|class_name|{class_name}|method_name|{method_name}"
        "|status|{status}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "jid": "text",
        "datetime": "minute",
        "datetimei": "epoch",
        "source_type": "category",
        "class_name": "category",
        "method_name": "category",
        "status": "category",
    },
    value_schema=_schema(**_DURATION),
    ttl_seconds=4 * _HOURS,
    description="Delayed::Job jobs",
)

GRAPE = RecordKind(
    name="grape",
    template=(
        "grape|datetime|{datetime}|datetimei|{datetimei}|format|{format}|path|{path}"
        "|status|{status}|method|{method}|request_id|{request_id}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "datetime": "minute",
        "datetimei": "epoch",
        "format": "category",
        "path": "text",
        "status": "int",
        "method": "category",
        "request_id": "text",
    },
    value_schema=_schema(
        **{
            "endpoint_render.grape": pa.float64(),
            "endpoint_run.grape": pa.float64(),
            "format_response.grape": pa.float64(),
        }
    ),
    ttl_seconds=4 * _HOURS,
    free_field="path",
    description="Grape API requests",
    duration_field="endpoint_run.grape",
)

RAKE = RecordKind(
    name="rake",
    template="rake|task|{task}|datetime|{datetime}|datetimei|{datetimei}|status|{status}|END|"
    + SCHEMA_VERSION,
    key_types={
        "task": "json_list",
        "datetime": "minute",
        "datetimei": "epoch",
        "status": "category",
    },
    value_schema=_schema(**_DURATION),
    ttl_seconds=4 * _HOURS,
    free_field="task",
    description="Rake tasks",
)

CUSTOM = RecordKind(
    name="custom",
    template=(
        "custom|tag_name|{tag_name}|namespace_name|{namespace_name}|datetime|{datetime}"
        "|datetimei|{datetimei}|status|{status}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "tag_name": "category",
        "namespace_name": "category",
        "datetime": "minute",
        "datetimei": "epoch",
        "status": "category",
    },
    value_schema=_schema(**_DURATION),
    ttl_seconds=4 * _HOURS,
    description="Custom measured blocks (RailsPerformance.measure)",
)

RESOURCES = RecordKind(
    name="resources",
    template=(
        "resource|server|{server}|context|{context}|role|{role}|datetime|{datetime}"
        "|datetimei|{datetimei}|END|" + SCHEMA_VERSION
    ),
    key_types={
        "server": "category",
        "context": "category",
        "role": "category",
        "datetime": "minute",
        "datetimei": "epoch",
    },
    value_schema=_schema(
        cpu=pa.struct(
            [("one_min", pa.float64()), ("five_min", pa.float64()), ("fifteen_min", pa.float64())]
        ),
        memory=pa.float64(),
        disk=pa.struct(
            [("available", pa.float64()), ("total", pa.float64()), ("used", pa.float64())]
        ),
    ),
    ttl_seconds=24 * _HOURS,
    description="Server resource samples (CPU, memory, disk)",
    window=RESOURCES_WINDOW,
    duration_field=None,
)

TRACE = RecordKind(
    name="trace",
    template="trace|{request_id}|END|" + SCHEMA_VERSION,
    key_types={"request_id": "text"},
    value_schema=_schema(),  # a JSON array of steps; see rp.load_trace
    ttl_seconds=1 * _HOURS,
    day_field=None,
    description="Per-request traces: SQL and view steps",
    duration_field=None,
    tabular=False,
)

EVENTS = RecordKind(
    name="events",
    template="rails_performance:records:events:{datetimei}|" + EVENTS_SCHEMA_VERSION,
    key_types={"datetimei": "epoch"},
    value_schema=_schema(),  # {name, datetime, datetimei, options}; see rp.load_events
    ttl_seconds=0,  # events do not expire
    day_field=None,
    description="Annotations such as deploy markers",
    duration_field=None,
    tabular=False,
)

KINDS: dict[str, RecordKind] = {
    kind.name: kind
    for kind in (REQUESTS, SIDEKIQ, DELAYED_JOB, GRAPE, RAKE, CUSTOM, RESOURCES, TRACE, EVENTS)
}
TABULAR_KINDS = tuple(name for name, kind in KINDS.items() if kind.tabular)


def get_kind(kind: str | RecordKind) -> RecordKind:
    """The description of ``kind`` (a name such as ``"requests"``), or a clear error."""
    if isinstance(kind, RecordKind):
        return kind
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidArgumentError(
            f"Unknown record kind {kind!r}; known kinds: {', '.join(KINDS)}."
        ) from None

"""How much Redis the gem needs: bytes per record by kind, records per minute, and the memory
the gem's records take for a given ``duration`` and request rate.

:func:`memory_profile` walks every key the gem writes (one SCAN walk of the keyspace, or one
walk of an RDB file) and counts them by kind. The bytes a record takes come from:

* **a live server**: ``MEMORY USAGE`` on a uniform sample of each kind's keys (a reservoir of
  ``sample`` keys per kind, so memory stays bounded whatever the keyspace), pipelined in
  batches of :data:`MEMORY_USAGE_BATCH`, on the node that holds each key (every primary of a
  cluster). What the server reports for a key: its entry, its name and its value, as
  allocated.
* **an RDB snapshot**: every record's exact key and value lengths (``data_bytes_per_record``),
  and from them what Redis 7's ``MEMORY USAGE`` reports for a string key of those lengths
  (:func:`string_key_bytes`: jemalloc's size classes; Valkey 8 and later lay keys out more
  tightly and report a few percent less).

Neither counts what a key costs the keyspace beyond itself: its slot in the keyspace's hash
table and its entry in the table of expiry times. The projections add
:data:`KEYSPACE_OVERHEAD_BYTES` per record for them (the server's own baseline, its buffers
and fragmentation come on top of all this).

Records per minute are counted over the span the records' times cover (``datetimei`` in the
key: ``(records - 1) / (newest - oldest)``). Traces carry no time in their key: their rate is
their count over their TTL (a server that has run for at least an hour holds one hour of
them). Events (deploy markers) never expire: projections keep them as counted.

Nothing here writes to Redis.
"""

from __future__ import annotations

import array
import contextlib
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import redis
from redis import exceptions as redis_errors

from . import units
from .exceptions import InvalidArgumentError, RedisUnavailableError
from .frames import split_by_kind, walk_pattern
from .kinds import (
    DEFAULT_WINDOW,
    KINDS,
    REQUESTS,
    TRACE,
    RecordKind,
    utc_days,
)
from .store import (
    FetchStream,
    LiveSource,
    SourceLike,
    describe_server,
    open_source,
    translate_errors,
)

DEFAULT_SAMPLE = 1000
"""Keys per kind whose ``MEMORY USAGE`` a live profile reads."""
MEMORY_USAGE_BATCH = 1000
"""``MEMORY USAGE`` commands per round trip (pipelined, not transactional)."""
KEYSPACE_OVERHEAD_BYTES = 64
"""What a key with a TTL costs beyond what ``MEMORY USAGE`` reports for it: its slot in the
keyspace's hash table and its entry in the expiry table (on Redis 7, an entry of 24 bytes
allocated as 32, plus a slot of 8 bytes in each table, whose sizes are powers of two: 1 to 2
slots per key). Projections add it to every record."""
DURATION_KINDS = tuple(
    name for name, kind in KINDS.items() if kind.ttl_seconds == DEFAULT_WINDOW.total_seconds()
)
"""The kinds the gem keeps for its ``config.duration`` (default 4 hours): requests, jobs,
rake, custom, grape. Traces keep 60 minutes and resources 24 hours, whatever it is."""
RATE_KIND = REQUESTS
"""The kind whose measured rate a request rate (``rate=``) replaces."""
RATE_KINDS = (REQUESTS.name, TRACE.name)
"""The kinds a request rate scales: requests, and traces (one per traced request). Jobs,
rake tasks, custom blocks, Grape requests and resource samples keep their measured rates."""

COLUMNS = [
    "kind",
    "records",
    "sampled",
    "bytes_per_record",
    "bytes_per_record_p95",
    "data_bytes_per_record",
    "bytes",
    "first",
    "last",
    "records_per_minute",
    "ttl_seconds",
]
PROJECTION_COLUMNS = ["kind", "records_per_minute", "ttl_seconds", "records", "bytes_per_record"]
_RATE = re.compile(r"^\s*([0-9.eE+]+)\s*(?:/\s*(s|sec|second|min|minute|m|h|hour))?\s*$")
_PER_MINUTE = {None: 1.0, "min": 1.0, "minute": 1.0, "m": 1.0, "s": 60.0, "sec": 60.0}
_PER_MINUTE |= {"second": 60.0, "h": 1 / 60, "hour": 1 / 60}


@dataclass
class MemoryProfile:
    """What :func:`memory_profile` measured: ``kinds``, one row per record kind found.

    Columns: ``records`` (keys of that kind, all counted), ``sampled`` (whose bytes were
    measured: a sample live, all of them in a snapshot), ``bytes_per_record`` (mean) and
    ``bytes_per_record_p95`` (what ``MEMORY USAGE`` reports, or would on Redis 7),
    ``data_bytes_per_record`` (snapshot only: key and value bytes as stored, exact),
    ``bytes`` (``records × bytes_per_record``; the exact sum in a snapshot), ``first`` and
    ``last`` (the oldest and newest record's time, UTC), ``records_per_minute`` and
    ``ttl_seconds`` (how long the gem keeps the kind; 0: never expires).
    """

    kinds: pd.DataFrame
    source: str
    method: str
    """``"MEMORY USAGE"`` (a live server, sampled) or ``"RDB"`` (exact sizes)."""
    now: pd.Timestamp
    keys_walked: int
    sample: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """The memory the records hold now: what their keys report, plus
        :data:`KEYSPACE_OVERHEAD_BYTES` each."""
        frame = self.kinds
        return int(round(frame["bytes"].sum() + frame["records"].sum() * KEYSPACE_OVERHEAD_BYTES))

    def projection(self, duration: Any = None, rate: Any = None) -> pd.DataFrame:
        """The records the gem keeps, by kind, once it has run for longer than every TTL.

        ``duration``: the gem's ``config.duration`` (how long requests, jobs, rake, custom
        and Grape records live; default 4 hours), a timedelta, seconds or text pandas reads
        (``"8h"``). ``rate``: Rails requests per minute (a number, or text such as ``"20/s"``,
        ``"1200/min"``); requests and traces are scaled to it (:data:`RATE_KINDS`), the other
        kinds keep their measured rates. Columns: ``kind``, ``records_per_minute``,
        ``ttl_seconds``, ``records`` (held at once), ``bytes_per_record`` (with
        :data:`KEYSPACE_OVERHEAD_BYTES`) and ``bytes``.
        """
        seconds = parse_duration(duration)
        per_minute = parse_rate(rate)
        frame = self.kinds.set_index("kind")
        scale = 1.0
        if per_minute is not None:
            rates = frame["records_per_minute"]
            measured = rates.get(RATE_KIND.name, math.nan)
            if not measured > 0:
                raise InvalidArgumentError(
                    f"rate={rate!r} scales the requests' rate, but {self.source} holds no "
                    "requests records spread over time to measure their size and rate from."
                )
            scale = per_minute / measured
        rows = []
        for kind, row in frame.iterrows():
            ttl = float(row["ttl_seconds"])
            if kind in DURATION_KINDS and seconds is not None:
                ttl = seconds
            rpm = float(row["records_per_minute"])
            if kind in RATE_KINDS:
                rpm *= scale
            held = float(row["records"]) if not ttl or math.isnan(rpm) else rpm * ttl / 60
            per_record = float(row["bytes_per_record"]) + KEYSPACE_OVERHEAD_BYTES
            rows.append((kind, rpm, ttl, held, per_record))
        out = pd.DataFrame(rows, columns=PROJECTION_COLUMNS)
        out["bytes"] = out["records"] * out["bytes_per_record"]
        return out

    def needed_bytes(self, duration: Any = None, rate: Any = None) -> int:
        """The memory the gem's records take for ``duration`` and ``rate`` (see
        :meth:`projection`): the sum of its ``bytes``."""
        return int(round(self.projection(duration, rate)["bytes"].sum()))

    def summary(self, duration: Any = None, rate: Any = None) -> dict[str, Any]:
        """A flat dict (``--json``): what was measured, by kind, and the projection."""
        projection = self.projection(duration, rate)
        seconds = parse_duration(duration)
        return {
            "source": self.source,
            "method": self.method,
            "now": self.now.isoformat(),
            "keys_walked": self.keys_walked,
            "sample": self.sample,
            "keyspace_overhead_bytes": KEYSPACE_OVERHEAD_BYTES,
            "bytes_now": self.bytes,
            "duration_seconds": seconds,
            "rate_per_minute": parse_rate(rate),
            "needed_bytes": int(round(projection["bytes"].sum())),
            "kinds": _records(self.kinds),
            "projection": _records(projection),
            "notes": list(self.notes),
        }


def render(profile: MemoryProfile, duration: Any = None, rate: Any = None) -> str:
    """The profile as text for a terminal: one line per kind, then one sentence with the
    memory needed for ``duration`` and ``rate`` (see :meth:`MemoryProfile.projection`)."""
    projection = profile.projection(duration, rate).set_index("kind")
    seconds = parse_duration(duration)
    per_minute = parse_rate(rate)
    table = _kind_table(profile, projection)
    how = (
        f"MEMORY USAGE of up to {profile.sample:,} keys per kind"
        if profile.method == "MEMORY USAGE"
        else "every record's key and value sizes (as Redis 7 would hold them)"
    )
    kept_for = (
        f"duration {_span(seconds)}"
        if seconds is not None
        else f"the gem's default duration ({_span(DEFAULT_WINDOW.total_seconds())})"
    )
    at = (
        f"{units.short(per_minute)} requests a minute"
        if per_minute is not None
        else "the measured rates"
    )
    needed = units.human_bytes(projection["bytes"].sum())
    return "\n".join(
        [
            f"{profile.source}: {profile.keys_walked:,} keys walked; bytes from {how}.",
            "",
            *table,
            "",
            f"The gem's records need about {needed} of Redis for {kept_for} at {at} "
            f"(each record with {KEYSPACE_OVERHEAD_BYTES} bytes of keyspace overhead; the "
            "server's own baseline comes on top). For history longer than that, "
            "`rp-toolkit archive` keeps the records in Parquet files.",
            *(f"Note: {note}." for note in profile.notes),
        ]
    )


def _kind_table(profile: MemoryProfile, projection: pd.DataFrame) -> list[str]:
    """One aligned line per kind (and a header): what was measured and what is needed."""
    header = ("kind", "records", "measured", "B/record", "p95 B", "per min", "kept", "needed")
    lines = [header]
    for row in profile.kinds.itertuples(index=False):
        projected = projection.loc[row.kind]
        per_minute = row.records_per_minute
        lines.append(
            (
                row.kind,
                units.count(row.records),
                units.count(row.sampled),
                units.count(row.bytes_per_record),
                units.count(row.bytes_per_record_p95),
                units.MISSING if units.missing(per_minute) else units.short(per_minute),
                _span(projected["ttl_seconds"]),
                units.human_bytes(projected["bytes"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]


def _span(seconds: float) -> str:
    """How long records are kept: ``4 h``, ``90 min``, ``forever`` (0)."""
    if not seconds:
        return "forever"
    if seconds < 3600:
        return f"{units.short(seconds / 60)} min"
    return f"{units.short(seconds / 3600)} h"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append(
            {
                name: (
                    None
                    if value is None or (isinstance(value, float) and math.isnan(value))
                    else value.isoformat()
                    if isinstance(value, pd.Timestamp)
                    else value.item()
                    if isinstance(value, np.generic)
                    else value
                )
                for name, value in row.items()
            }
        )
    return out


def parse_duration(value: Any) -> float | None:
    """``value`` as seconds (None stays None): a timedelta, a number of seconds, or text pandas
    reads (``"8h"``, ``"90min"``, ``"2 days"``); it must be positive."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArgumentError(f"duration={value!r} is not a duration.")
    try:
        if isinstance(value, (int, float, np.integer, np.floating)):
            seconds = float(value)
        else:
            seconds = pd.Timedelta(value).total_seconds()
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgumentError(
            f"duration={value!r} is not a duration: give seconds, a timedelta or text such "
            "as '4h' or '90min'."
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError(f"duration={value!r} must be a positive, finite duration.")
    return seconds


def parse_rate(value: Any) -> float | None:
    """``value`` as requests per minute (None stays None): a number (per minute) or text
    ``N``, ``N/min``, ``N/s`` or ``N/h``; it must be finite and not negative."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArgumentError(f"rate={value!r} is not a rate.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        per_minute = float(value)
    else:
        match = _RATE.match(str(value))
        try:
            per_minute = float(match[1]) * _PER_MINUTE[match[2]] if match else math.nan
        except ValueError:
            per_minute = math.nan
        if math.isnan(per_minute):
            raise InvalidArgumentError(
                f"rate={value!r} is not a rate: give requests per minute (1200), or "
                "'20/s', '1200/min', '72000/h'."
            )
    if not math.isfinite(per_minute) or per_minute < 0:
        raise InvalidArgumentError(
            f"rate={value!r} must be a finite number of requests, 0 or more."
        )
    return per_minute


# -- sizes -----------------------------------------------------------------------------


def size_class(size: int) -> int:
    """The bytes jemalloc allocates for ``size``: 8, then multiples of 16 up to 128, then four
    classes per doubling (160, 192, 224, 256, 320, ...)."""
    if size <= 8:
        return 8
    if size <= 128:
        return (size + 15) // 16 * 16
    step = (1 << (size - 1).bit_length()) // 8
    return (size + step - 1) // step * step


def _sds_bytes(length: int) -> int:
    header = 3 if length < 1 << 8 else 5 if length < 1 << 16 else 9 if length < 1 << 32 else 17
    return size_class(header + length + 1)


def string_key_bytes(key_length: int, value_length: int) -> int:
    """What Redis 7's ``MEMORY USAGE`` reports for a string key: the keyspace entry (24
    bytes), the key's name (an SDS string as allocated) and the value (an object of 16 bytes
    and its SDS string; up to 44 bytes both in one allocation)."""
    embedded = value_length <= 44
    value = size_class(16 + 3 + value_length + 1) if embedded else 16 + _sds_bytes(value_length)
    return 24 + _sds_bytes(key_length) + value


# -- counting ---------------------------------------------------------------------------


class Reservoir:
    """A uniform sample of at most ``size`` items from a stream of batches (Li's algorithm
    L: work per batch proportional to the items taken, not the items seen)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng = size, rng
        self.items: list[Any] = []
        self.seen = 0
        self._w = math.exp(math.log(self._uniform()) / size)
        self._next = size + self._skip()

    def _uniform(self) -> float:
        """A number in (0, 1): its logarithm is finite."""
        value = self.rng.random()
        while value == 0.0:
            value = self.rng.random()
        return value

    def _skip(self) -> int:
        return int(math.log(self._uniform()) / math.log1p(-self._w))

    def add(self, batch: Sequence[Any]) -> None:
        start = self.seen
        self.seen += len(batch)
        room = self.size - len(self.items)
        if room > 0:
            self.items.extend(batch[:room])
        while self._next < self.seen:
            self.items[self.rng.randrange(self.size)] = batch[self._next - start]
            self._w *= math.exp(math.log(self._uniform()) / self.size)
            self._next += self._skip() + 1


class KindCount:
    """One kind's keys as the walk hands them on: how many, their times' range, and a sample
    (live) or every record's size (snapshot)."""

    def __init__(self, kind: RecordKind, sample: int | None, rng: random.Random) -> None:
        self.kind = kind
        self.records = 0
        self.timed = 0
        self.first: int | None = None
        self.last: int | None = None
        self.reservoir = Reservoir(sample, rng) if sample else None
        self.sizes = array.array("q")
        self.data_bytes = 0
        self._time_at = kind.part_index("datetimei") if "datetimei" in kind.key_fields else None
        self._time_prefix = (
            kind.parts[kind.part_index("datetimei")].literal.encode()
            if self._time_at is not None
            else b""
        )

    def add(self, keys: list[bytes], values: list[Any] | None) -> None:
        self.records += len(keys)
        if self._time_at is not None:
            self._times(keys)
        if self.reservoir is not None:
            self.reservoir.add(keys)
        if values is not None:
            for key, value in zip(keys, values, strict=True):
                self.sizes.append(string_key_bytes(len(key), len(value)))
                self.data_bytes += len(key) + len(value)

    def _times(self, keys: Iterable[bytes]) -> None:
        at, prefix = self._time_at, self._time_prefix
        times = []
        for key in keys:
            parts = key.split(b"|")
            try:
                part = parts[at]  # type: ignore[index]
                times.append(int(part[len(prefix) :] if prefix else part))
            except (IndexError, ValueError):
                continue  # a malformed key: counted, not timed
        if times:
            self.timed += len(times)
            low, high = min(times), max(times)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)

    def per_minute(self) -> float:
        if not self.kind.ttl_seconds:  # kept forever (events): no rate to project
            return math.nan
        if self._time_at is None:  # traces: the count over their TTL
            return self.records / (self.kind.ttl_seconds / 60)
        if self.timed < 2 or self.first is None or self.last is None or self.last <= self.first:
            return math.nan
        return (self.timed - 1) / ((self.last - self.first) / 60)

    def row(self, sizes: Sequence[int]) -> dict[str, Any]:
        measured = np.asarray(sizes, dtype=np.float64)
        mean = float(measured.mean()) if len(measured) else math.nan
        exact = self.reservoir is None
        stamp = lambda t: pd.NaT if t is None else pd.Timestamp(t, unit="s", tz="UTC")  # noqa: E731
        return {
            "kind": self.kind.name,
            "records": self.records,
            "sampled": len(measured),
            "bytes_per_record": mean,
            "bytes_per_record_p95": float(np.percentile(measured, 95)) if len(measured) else mean,
            "data_bytes_per_record": self.data_bytes / self.records
            if exact and self.records
            else math.nan,
            "bytes": float(measured.sum()) if exact else self.records * mean,
            "first": stamp(self.first),
            "last": stamp(self.last),
            "records_per_minute": self.per_minute(),
            "ttl_seconds": self.kind.ttl_seconds,
        }


def memory_profile(
    source: SourceLike = None, *, sample: int = DEFAULT_SAMPLE, seed: int | None = 0
) -> MemoryProfile:
    """How much memory the gem's records take in ``source`` (a URL, client, cluster,
    :class:`~rp_toolkit.store.Snapshot` or RDB path; None: ``settings.redis_url``), by kind.

    One walk of every key the gem writes; on a live server ``MEMORY USAGE`` of up to
    ``sample`` keys per kind (chosen uniformly, ``seed`` for the choice; None: a new one each
    time), in a snapshot every record's exact size. Never writes. See :class:`MemoryProfile`
    for the result and :meth:`MemoryProfile.needed_bytes` for a projection.
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise InvalidArgumentError(
            f"sample must be a whole number of keys, 1 or more, not {sample!r}."
        )
    opened = open_source(source)
    live = isinstance(opened, LiveSource)
    rng = random.Random(seed)
    counts = {name: KindCount(kind, sample if live else None, rng) for name, kind in KINDS.items()}
    kinds = list(KINDS.values())
    pattern = walk_pattern(kinds, [])
    now = opened.now()
    day_scoped = REQUESTS.pattern(days=utc_days(now.to_pydatetime(), now.to_pydatetime()))
    fetch = FetchStream(pattern, opened, values=not live, exact=False, count_like=day_scoped)
    walked, other_types = _count_keys(fetch, counts, kinds, live=live)
    notes: list[str] = []
    if other_types:
        notes.append(f"{other_types:,} matching keys hold another type than a string: left out")
    frame = _kinds_frame(counts.values(), opened if isinstance(opened, LiveSource) else None, notes)
    return MemoryProfile(
        kinds=frame,
        source=opened.describe(),
        method="MEMORY USAGE" if live else "RDB",
        now=now,
        keys_walked=walked,
        sample=sample if live else None,
        notes=notes,
    )


def _count_keys(
    fetch: FetchStream, counts: dict[str, KindCount], kinds: list[RecordKind], *, live: bool
) -> tuple[int, int]:
    """Walk ``fetch`` once, counting each key into its kind's :class:`KindCount`; the keys
    walked and (in a snapshot) how many hold another type than a string, left out."""
    walked = 0
    other_types = 0
    with contextlib.closing(iter(fetch)) as batches:
        for batch in batches:
            walked += len(batch.keys)
            values = batch.values if batch.values is not None else [b""] * len(batch.keys)
            for name, (keys, found) in split_by_kind(batch.keys, values, kinds).items():
                if not live:
                    strings = [(k, v) for k, v in zip(keys, found, strict=True) if v is not None]
                    other_types += len(keys) - len(strings)
                    keys, found = [k for k, _ in strings], [v for _, v in strings]
                counts[name].add(keys, None if live else found)
    return walked, other_types


def _kinds_frame(
    counts: Iterable[KindCount], live: LiveSource | None, notes: list[str]
) -> pd.DataFrame:
    """One row per kind found (:data:`COLUMNS`): sizes measured on ``live`` (``MEMORY
    USAGE`` of each sample; a note for sampled keys gone since) or, without it, the exact
    sizes counted."""
    rows = []
    for count in counts:
        if not count.records:
            continue
        if live is not None:
            assert count.reservoir is not None
            sizes, gone = _memory_usage(live, count.reservoir.items)
            if gone:
                notes.append(f"{gone:,} sampled {count.kind.name} keys expired before measured")
        else:
            sizes = count.sizes
        rows.append(count.row(sizes))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for name in ("records", "sampled", "ttl_seconds"):
        frame[name] = frame[name].astype("int64")
    for name in ("first", "last"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _memory_usage(source: LiveSource, keys: list[bytes]) -> tuple[list[int], int]:
    """``MEMORY USAGE`` of ``keys`` (those still there) on the node holding each, pipelined
    :data:`MEMORY_USAGE_BATCH` at a time; and how many had gone."""
    sizes: list[int] = []
    gone = 0
    for node, indexes in source.topology.route(keys):
        with translate_errors(node.client, "reading MEMORY USAGE of sampled keys"):
            for start in range(0, len(indexes), MEMORY_USAGE_BATCH):
                pipe = node.client.pipeline(transaction=False)
                for index in indexes[start : start + MEMORY_USAGE_BATCH]:
                    pipe.memory_usage(keys[index])
                for reply in pipe.execute(raise_on_error=False):
                    if isinstance(reply, Exception):
                        raise _refused(node.client, reply)
                    if reply is None:
                        gone += 1
                    else:
                        sizes.append(int(reply))
    return sizes, gone


def _refused(client: redis.Redis, error: Exception) -> Exception:
    """MEMORY USAGE refused: by the ACL (what to grant, or a snapshot instead), or else the
    error as it came (translated by the caller)."""
    if isinstance(error, redis_errors.NoPermissionError):
        return RedisUnavailableError(
            f"Redis at {describe_server(client)} refused MEMORY USAGE (the ACL user lacks "
            "+memory|usage; docs/PRODUCTION.md's analysis user has it). Grant it, or measure "
            "an RDB snapshot instead (--rdb FILE), which needs no server."
        )
    return error


__all__ = [
    "DEFAULT_SAMPLE",
    "DURATION_KINDS",
    "KEYSPACE_OVERHEAD_BYTES",
    "MEMORY_USAGE_BATCH",
    "RATE_KINDS",
    "MemoryProfile",
    "Reservoir",
    "memory_profile",
    "parse_duration",
    "parse_rate",
    "render",
    "size_class",
    "string_key_bytes",
]

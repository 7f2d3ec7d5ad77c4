"""Time and randomness: the window, records spread over its minutes, TTLs, random streams.

Every kind draws from its own ``numpy.random.default_rng([seed, stream, chunk])``
(:func:`stream_rng`), so a kind's records do not depend on which other kinds are generated.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..exceptions import InvalidArgumentError
from ..kinds import RecordKind

CHUNK_RECORDS = 20_000
"""Records generated per time slice (a slice is whole minutes; one busy minute may hold more)."""
MIN_TTL_SECONDS = 60
"""Floor of the TTL left to a record (the gem's TTL minus the record's age at ``end``)."""

# One random stream per kind (fixed numbers, independent of the order of kinds.KINDS).
_STREAMS = {
    "requests": 1,
    "sidekiq": 2,
    "delayed_job": 3,
    "grape": 4,
    "rake": 5,
    "custom": 6,
    "resources": 7,
    "trace": 8,
    "events": 9,
}
COUNTS_STREAM = 0  # sub-stream for the per-minute counts; chunks use 1, 2, ...


def _floor_end(end: datetime | float | None) -> int:
    """``end`` (default: now) as epoch seconds, floored to the UTC minute."""
    if end is None:
        epoch = time.time()
    elif isinstance(end, datetime):
        aware = end if end.tzinfo is not None else end.replace(tzinfo=timezone.utc)
        epoch = aware.timestamp()
    elif isinstance(end, (int, float)) and not isinstance(end, bool):
        epoch = float(end)
    else:
        raise TypeError(f"end must be a datetime, epoch seconds or None, not {type(end).__name__}.")
    return int(math.floor(epoch / 60.0)) * 60


def utc_datetime(epoch: int) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def minute_text(epochs: np.ndarray) -> list[str]:
    """The gem's ``YYYYMMDDTHHMM`` for each epoch (computed once per distinct minute)."""
    minutes = epochs // 60
    distinct = np.unique(minutes)
    text = {int(m): utc_datetime(int(m) * 60).strftime("%Y%m%dT%H%M") for m in distinct}
    return [text[m] for m in minutes.tolist()]


def stream_rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    """The random stream of kind ``stream``; ``more``: :data:`COUNTS_STREAM` or a chunk number."""
    return np.random.default_rng([seed, _STREAMS[stream], *more])


@dataclass(frozen=True)
class Window:
    """The span records are generated for: ``[end - hours, end)``, ``end`` on a minute."""

    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive, on a minute

    @classmethod
    def of(cls, end: datetime | float | None, hours: float) -> Window:
        """The window of ``hours`` before ``end`` (default now), floored to the minute."""
        if not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
            raise InvalidArgumentError(f"hours must be a positive number, not {hours!r}.")
        stop = _floor_end(end)
        return cls(stop - max(1, round(hours * 3600)), stop)

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass
class Timeline:
    """``n`` records spread over a window: how many fall into each minute, and slices."""

    lo: np.ndarray  # first second of each minute's overlap with the window
    length: np.ndarray  # seconds of that overlap
    counts: np.ndarray  # records per minute

    @classmethod
    def build(cls, n: int, window: Window, rng: np.random.Generator, spiky: bool) -> Timeline:
        first = window.start - window.start % 60
        minute = np.arange(first, window.end, 60, dtype=np.int64)
        lo = np.maximum(minute, window.start)
        length = np.minimum(minute + 60, window.end) - lo
        hour = (minute % 86400) / 3600.0
        # Busier in the (UTC) afternoon, quieter at night, a little noise every minute ...
        weight = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
        weight = weight * np.exp(0.12 * rng.standard_normal(len(minute)))
        if spiky:  # ... and the odd traffic spike.
            weight = weight * np.where(rng.random(len(minute)) < 0.01, 2.5, 1.0)
        weight = weight * length
        counts = rng.multinomial(n, weight / weight.sum()) if n else np.zeros(len(minute), int)
        return cls(lo, length, counts.astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def count_since(self, epoch: int) -> int:
        """Records at or after ``epoch`` (a minute boundary)."""
        return int(self.counts[self.lo >= epoch].sum())

    def slices(self, max_records: int) -> list[tuple[int, int]]:
        """Consecutive minute ranges ``[i, j)`` of at most ``max_records`` (or one minute)."""
        out: list[tuple[int, int]] = []
        start, running = 0, 0
        for index, count in enumerate(self.counts.tolist()):
            if running and running + count > max_records:
                out.append((start, index))
                start, running = index, 0
            running += count
        if running:
            out.append((start, len(self.counts)))
        return out

    def times(self, rng: np.random.Generator, i: int, j: int, distinct: bool = False) -> np.ndarray:
        """Sorted epoch seconds of the records in minutes ``[i, j)``.

        ``distinct``: no two records share a second (while a minute has room), for kinds whose
        keys have no id and would otherwise collide (the gem would overwrite one with the other).
        """
        counts = self.counts[i:j]
        if distinct:
            parts = [
                lo + rng.choice(length, size=count, replace=count > length)
                for lo, length, count in zip(
                    self.lo[i:j].tolist(), self.length[i:j].tolist(), counts.tolist(), strict=True
                )
                if count
            ]
            return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        lo = np.repeat(self.lo[i:j], counts)
        length = np.repeat(self.length[i:j], counts)
        return np.sort(lo + (rng.random(len(lo)) * length).astype(np.int64))


def remaining_ttls(kind: RecordKind, epochs: np.ndarray, end: int) -> list[int] | None:
    """The TTL the gem would still have left at ``end``; ``None`` when the kind never expires."""
    if not kind.ttl_seconds:
        return None
    return np.maximum(MIN_TTL_SECONDS, kind.ttl_seconds - (end - epochs)).tolist()


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> list[str]:
    """``n`` ids like Ruby's ``SecureRandom.hex(nbytes)``."""
    text = rng.bytes(n * nbytes).hex()
    width = 2 * nbytes
    return [text[i : i + width] for i in range(0, n * width, width)]


def lognormal(rng: np.random.Generator, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """One lognormal draw per element: ``median * exp(sigma * N(0, 1))``."""
    return median * np.exp(sigma * rng.standard_normal(len(median)))


def rounded_list(values: np.ndarray, digits: int = 3) -> list[float]:
    """``values`` rounded (milliseconds to the microsecond by default), as a list."""
    return np.round(values, digits).tolist()


def check_seed(seed: int) -> int:
    """``seed`` as an int; an :class:`~rp_toolkit.exceptions.InvalidArgumentError` unless it
    is a whole number >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgumentError(f"seed must be an integer >= 0, not {seed!r}.")
    return int(seed)

"""What to generate: the records of every kind for a window, a rate and a seed.

Output is deterministic for a given seed, end, span, rate and server list: every kind draws
from its own random stream (:func:`.stream_rng`), so the same arguments give the same keys and
values byte for byte, whatever other kinds are chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from ..exceptions import InvalidArgumentError
from ..kinds import EVENTS, KINDS, REQUESTS, RESOURCES, TRACE, RecordKind, get_kind
from ._catalogue import DEFAULT_SERVERS, RATE_PER_MINUTE, RATE_PER_RPS
from ._encoding import RecordBatch
from ._events import deploy_times, event_batches
from ._jobs import TIMED_BUILDERS, timed_batches
from ._requests import request_batches
from ._resources import resource_batches
from ._timeline import COUNTS_STREAM, Timeline, Window, check_seed, stream_rng

ALL_KINDS: tuple[str, ...] = tuple(KINDS)
"""Every kind's name, in :data:`rp_toolkit.kinds.KINDS` order (the default: write them all)."""


def kind_names(kinds: Iterable[str | RecordKind]) -> tuple[str, ...]:
    """The names of ``kinds`` (one kind or several, names or kinds), in :data:`ALL_KINDS` order."""
    if isinstance(kinds, (str, RecordKind)):
        kinds = [kinds]
    names = {get_kind(kind).name for kind in kinds}
    return tuple(name for name in ALL_KINDS if name in names)


def _totals(window: Window, rps: float) -> dict[str, int]:
    if not (isinstance(rps, (int, float)) and math.isfinite(rps) and rps >= 0):
        raise InvalidArgumentError(f"rps must be a number >= 0, not {rps!r}.")
    totals = {name: round(rps * share * window.seconds) for name, share in RATE_PER_RPS.items()}
    totals.update(
        {
            name: round(per_minute * window.seconds / 60)
            for name, per_minute in RATE_PER_MINUTE.items()
        }
    )
    return totals


def _trace_count(window: Window, seed: int, totals: dict[str, int], servers: Sequence[str]) -> int:
    """The requests of the trace TTL's last stretch of the window (an upper bound)."""
    timeline = Timeline.build(
        totals[REQUESTS.name], window, stream_rng(seed, "requests", COUNTS_STREAM), spiky=True
    )
    return timeline.count_since(window.end - TRACE.ttl_seconds)


def _resource_count(
    window: Window, seed: int, totals: dict[str, int], servers: Sequence[str]
) -> int:
    """One sample per whole minute of the window per server."""
    first = -(-window.start // 60) * 60
    return len(range(first, window.end, 60)) * len(servers)


def _event_count(window: Window, seed: int, totals: dict[str, int], servers: Sequence[str]) -> int:
    """One deploy event per deploy in the window."""
    return len(deploy_times(window, seed)[0])


_DERIVED_COUNTS: dict[str, Callable[[Window, int, dict[str, int], Sequence[str]], int]] = {
    TRACE.name: _trace_count,
    RESOURCES.name: _resource_count,
    EVENTS.name: _event_count,
}
"""How many records :func:`write` writes of the kinds whose count is not a rate times the
window, by kind name."""


def planned_counts(
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
) -> dict[str, int]:
    """How many records :func:`write` would write per kind, without generating them.

    Exact for every kind but ``trace``, which gets the number of requests in the last 60
    minutes: an upper bound, as the few requests with neither SQL nor a view get no trace.
    """
    window = Window.of(end, hours)
    seed = check_seed(seed)
    names = kind_names(kinds)
    totals = _totals(window, rps)
    counts: dict[str, int] = {}
    for name in names:
        if name in totals:
            counts[name] = totals[name]
        elif name in _DERIVED_COUNTS:
            counts[name] = _DERIVED_COUNTS[name](window, seed, totals, servers)
    return counts


def generate(
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
) -> Iterator[RecordBatch]:
    """The records :func:`write` writes, as :class:`RecordBatch` es (at most ~20,000 each)."""
    window = Window.of(end, hours)
    seed = check_seed(seed)
    names = kind_names(kinds)
    totals = _totals(window, rps)
    requests, traces = REQUESTS.name in names, TRACE.name in names
    if requests or traces:
        yield from request_batches(
            totals[REQUESTS.name], window, seed, requests=requests, traces=traces
        )
    for name, (kind, build, distinct) in TIMED_BUILDERS.items():
        if name in names and totals[name]:
            yield from timed_batches(kind, totals[name], window, seed, build, distinct=distinct)
    if RESOURCES.name in names:
        yield from resource_batches(window, seed, tuple(servers))
    if EVENTS.name in names:
        yield from event_batches(window, seed)

"""What to generate: the records of every kind for a window, a rate and a seed.

Output is deterministic for a given seed, end, span, rate and server list: every kind draws
from its own random stream (:func:`.stream_rng`), so the same arguments give the same keys and
values byte for byte, whatever other kinds are chosen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from ..kinds import KINDS, TRACE, RecordKind, get_kind
from .catalogue import DEFAULT_SERVERS, RATE_PER_MINUTE, RATE_PER_RPS
from .encoding import RecordBatch
from .events import deploy_times, event_batches
from .jobs import TIMED_BUILDERS, timed_batches
from .requests import request_batches
from .resources import resource_batches
from .timeline import COUNTS_STREAM, Timeline, Window, check_seed, stream_rng

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
        raise ValueError(f"rps must be a number >= 0, not {rps!r}.")
    totals = {name: round(rps * share * window.seconds) for name, share in RATE_PER_RPS.items()}
    totals.update(
        {
            name: round(per_minute * window.seconds / 60)
            for name, per_minute in RATE_PER_MINUTE.items()
        }
    )
    return totals


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
        elif name == "trace":
            timeline = Timeline.build(
                totals["requests"], window, stream_rng(seed, "requests", COUNTS_STREAM), spiky=True
            )
            counts[name] = timeline.count_since(window.end - TRACE.ttl_seconds)
        elif name == "resources":
            first = -(-window.start // 60) * 60
            counts[name] = len(range(first, window.end, 60)) * len(servers)
        elif name == "events":
            counts[name] = len(deploy_times(window, seed)[0])
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
    if "requests" in names or "trace" in names:
        yield from request_batches(
            totals["requests"], window, seed, requests="requests" in names, traces="trace" in names
        )
    for name, (kind, build, distinct) in TIMED_BUILDERS.items():
        if name in names and totals[name]:
            yield from timed_batches(kind, totals[name], window, seed, build, distinct=distinct)
    if "resources" in names:
        yield from resource_batches(window, seed, tuple(servers))
    if "events" in names:
        yield from event_batches(window, seed)

"""What a fetch did (:class:`FetchStats`), and the one way every Redis round trip is made.

:func:`timed_call` runs one round trip, retries a lost connection with backoff (SCAN resumes
from its cursor if the server is still the same one, see :mod:`.identity`; MGETs are
idempotent) and records the slowest call; :func:`progress_bar` is
the bar every long fetch shows after about a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.backoff import ExponentialBackoff
from tqdm.auto import tqdm

from ..config import settings
from ..kinds import KeysAndValues
from .connection import is_tls_failure

logger = logging.getLogger("rp_toolkit")

PROGRESS_DELAY_S = 1.0
"""A fetch shows its progress bar only once it has run this long."""
_BACKOFF = ExponentialBackoff(cap=2.0, base=0.1)

T = TypeVar("T")


@dataclass
class FetchStats:
    """What one fetch did; shown by notebooks and used by the benchmark."""

    method: str
    pattern: str
    """The pattern asked for (the gem's)."""
    server: str
    count: int | None = None
    count_rule: str | None = None
    """How ``count`` was chosen (SCAN only): ``"auto-tune"`` (the table), ``"fixed"``
    (``scan_count``) or ``"adaptive"`` (``count`` is where it started)."""
    scan_calls: int = 0
    pattern_sent: str | None = None
    """The pattern sent to the server: with SCAN the cheap one
    (:func:`rp_toolkit.store.scan.scan_match`), whose keys are filtered with ``pattern`` on
    the client; with KEYS ``pattern`` itself; None when no server is asked (a snapshot)."""
    keys_filtered: int = 0
    """Keys SCAN returned for ``pattern_sent`` that ``pattern`` does not match, dropped by
    the client's filter (not in ``keys_found``)."""
    keys_found: int = 0
    duplicates_dropped: int = 0
    values_missing: int = 0
    mget_calls: int = 0
    retries: int = 0
    restarts: int = 0
    """Times a server was found restarted or failed over mid-fetch (``extra["restarts"]``
    says which, when, and what was done: see :mod:`rp_toolkit.store.identity`)."""
    keys_seconds: float = 0.0
    values_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    slowest_call_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FetchResult(KeysAndValues):
    """``(keys, values)`` like the gem's ``fetch_from_redis``, plus ``.stats``."""

    stats: FetchStats

    def __new__(cls, keys: list[str], values: list[Any], stats: FetchStats) -> FetchResult:
        result = super().__new__(cls, keys, values)
        result.stats = stats
        return result


def timed_call(
    call: Callable[[], T], stats: FetchStats, *, also_retry: tuple[type[Exception], ...] = ()
) -> T:
    """Run one Redis round trip, retrying lost connections (and ``also_retry`` errors: a
    cluster that is briefly down) with backoff, and time it.

    A retry is counted in ``stats.retries``; the callers that care whether the server is
    still the same one look at that count (:mod:`rp_toolkit.store.identity`)."""
    retryable = (redis_errors.ConnectionError, redis_errors.TimeoutError, *also_retry)
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            result = call()
        except redis_errors.AuthenticationError:
            raise
        except retryable as error:
            if attempt >= settings.retries or is_tls_failure(error):
                raise  # a certificate that fails now fails on every retry too
            delay = _BACKOFF.compute(attempt)
            lost = isinstance(error, (redis_errors.ConnectionError, redis_errors.TimeoutError))
            logger.warning(
                "%s (%s); retrying in %.1f s (%d of %d).",
                "Lost the connection to Redis" if lost else "Redis is not ready",
                type(error).__name__,
                delay,
                attempt + 1,
                settings.retries,
            )
            stats.retries += 1
            attempt += 1
            time.sleep(delay)
            continue
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, time.perf_counter() - started)
        return result


def progress_bar(total: int, desc: str, unit: str) -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        delay=PROGRESS_DELAY_S,
        disable=not settings.progress,
        leave=False,
    )


def merge_counts(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``counts`` summary (see :func:`rp_toolkit.store.scan.scan_batches`) for many
    SCAN loops (one per node)."""
    merged = dict(summaries[0])
    for name in ("calls", "slots", "over_budget", "loops"):
        merged[name] = sum(s.get(name) or 0 for s in summaries)
    lows = [s["min"] for s in summaries if s.get("min") is not None]
    highs = [s["max"] for s in summaries if s.get("max") is not None]
    merged["min"] = min(lows) if lows else None
    merged["max"] = max(highs) if highs else None
    merged["mean"] = merged["slots"] / merged["calls"] if merged["calls"] else None
    return merged

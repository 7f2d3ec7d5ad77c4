"""Key discovery (KEYS or SCAN, per the flags) and chunked value reads.

The gem lists keys with ``KEYS pattern`` and reads every value with one ``MGET``. Both block
the whole Redis server for as long as they run: KEYS walks the whole keyspace in one command,
and one MGET of a million keys builds a reply of a hundred megabytes. Here:

* ``use_scan`` on: keys come from ``SCAN cursor MATCH pattern COUNT n`` until the cursor is 0;
  each call touches about ``n`` slots, so no call runs long.
* ``scan_count="adaptive"``: COUNT is re-sized after every SCAN call to keep each call
  under ``settings.scan_budget_ms`` (:class:`AdaptiveCount`, one per SCAN loop).
* values are read with MGETs of ``settings.mget_chunk`` keys, several per round trip
  (pipelined, not transactional), so no single command runs long either.

Key text: Redis keys are bytes. They are decoded as UTF-8 with ``surrogateescape``, which is
lossless: ``key.encode("utf-8", "surrogateescape")`` gives the original bytes back, so keys
that are not UTF-8 are listed and their values read like any other.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, TypeVar

import redis
from redis import exceptions as redis_errors
from redis.backoff import ExponentialBackoff
from tqdm.auto import tqdm

from . import cluster
from .connection import (
    ClientLike,
    describe_server,
    get_client,
    is_tls_failure,
    translate_errors,
)
from .exceptions import KeysDeprecationWarning
from .settings import ADAPTIVE, MAX_RECOMMENDED_SCAN_COUNT, settings, validate_scan_count

logger = logging.getLogger("rp_toolkit")

KEYS_DEPRECATION_NOTICE = (
    "[DEPRECATION] Using KEYS command. Set use_scan = True (rp.setup(use_scan=True) or "
    "RP_USE_SCAN=true) to use the non-blocking SCAN command instead; KEYS blocks the whole "
    "Redis server while it walks the keyspace."
)
PROGRESS_DELAY_S = 1.0
"""A fetch shows its progress bar only once it has run this long."""

AUTO_COUNT_DAY_SCOPED = 1000
AUTO_COUNT_REQUEST_ID = 10
AUTO_COUNT_OTHER = 100
ADAPTIVE_MIN_COUNT = 10
ADAPTIVE_MAX_COUNT = MAX_RECOMMENDED_SCAN_COUNT
ADAPTIVE_MAX_GROWTH = 4.0
"""An adaptive COUNT at most quadruples from one call to the next..."""
ADAPTIVE_MAX_SHRINK = 0.5
"""...and at most halves (one call slowed down by the OS does not collapse it)."""

_REQUEST_ID_FIELD = re.compile(r"(?:^|[|*])request_id\|([^|]*)")
_DAY_SCOPED_FIELD = re.compile(r"(?:^|[|*])datetime\|\d{8}")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")
_BACKOFF = ExponentialBackoff(cap=2.0, base=0.1)
_keys_warning_issued = False

T = TypeVar("T")


def escape_glob(value: str) -> str:
    """Escape ``* ? [ ] \\`` so that ``value`` matches itself literally in a Redis pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", value)


def is_request_id_lookup(pattern: str) -> bool:
    """True when the pattern pins a ``request_id`` to a value (not just ``*``)."""
    match = _REQUEST_ID_FIELD.search(pattern)
    return bool(match and match.group(1).strip("*"))


def determine_scan_count(pattern: str) -> int:
    """The COUNT hint for ``pattern``: the gem's auto-tune table, or ``settings.scan_count``.

    Auto-tune: 10 for request-id lookups (checked first, so an id with eight digits in a row
    is still a lookup), 1000 for day-scoped queries (``datetime|YYYYMMDD``), 100 otherwise.
    With ``scan_count="adaptive"`` this is the COUNT the adaptive loop starts from: the same
    table, whether ``scan_count_auto_tune`` is on or off.
    """
    if not settings.scan_count_auto_tune and settings.scan_count != ADAPTIVE:
        return validate_scan_count(settings.scan_count)
    if is_request_id_lookup(pattern):
        return AUTO_COUNT_REQUEST_ID
    if _DAY_SCOPED_FIELD.search(pattern):
        return AUTO_COUNT_DAY_SCOPED
    return AUTO_COUNT_OTHER


def decode_key(raw: bytes | str) -> str:
    """Key bytes as text, losslessly (UTF-8 with ``surrogateescape``)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")


def encode_key(key: str | bytes) -> bytes:
    """The inverse of :func:`decode_key`."""
    return key if isinstance(key, bytes) else key.encode("utf-8", "surrogateescape")


@dataclass
class FetchStats:
    """What one fetch did; shown by notebooks and used by the benchmark."""

    method: str
    pattern: str
    server: str
    count: int | None = None
    scan_calls: int = 0
    keys_found: int = 0
    duplicates_dropped: int = 0
    values_missing: int = 0
    mget_calls: int = 0
    retries: int = 0
    keys_seconds: float = 0.0
    values_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    slowest_call_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _KeysAndValues(NamedTuple):
    keys: list[str]
    values: list[Any]


class FetchResult(_KeysAndValues):
    """``(keys, values)`` like the gem's ``fetch_from_redis``, plus ``.stats``."""

    stats: FetchStats

    def __new__(cls, keys: list[str], values: list[Any], stats: FetchStats) -> FetchResult:
        result = super().__new__(cls, keys, values)
        result.stats = stats
        return result


def _timed_call(call: Callable[[], T], stats: FetchStats) -> T:
    """Run one Redis round trip, retrying lost connections with backoff, and time it."""
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            result = call()
        except redis_errors.AuthenticationError:
            raise
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as error:
            if attempt >= settings.retries or is_tls_failure(error):
                raise  # a certificate that fails now fails on every retry too
            delay = _BACKOFF.compute(attempt)
            logger.warning(
                "Lost the connection to Redis (%s); retrying in %.1f s (%d of %d).",
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


def _progress(total: int, desc: str, unit: str) -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        delay=PROGRESS_DELAY_S,
        disable=not settings.progress,
        leave=False,
    )


class AdaptiveCount:
    """A SCAN COUNT sized to a time budget per call, for one SCAN loop (one node).

    After a call that took ``t`` (wall time seen by the client: network, Redis, reply
    parsing, so at least what Redis spent on it), COUNT becomes ``COUNT x budget / t``, the
    factor kept within [1/2, 4] and COUNT within [``floor``, ``ceiling``] (10 and 10,000):
    multiplicative increase while calls stay under the budget, multiplicative decrease when
    one goes over. A call costs about a fixed round trip plus a per-slot cost x COUNT, so the
    COUNT settles where a call takes about the budget. Calls that needed a reconnect are not
    used to adapt (their time includes the backoff).
    """

    def __init__(
        self,
        start: int,
        budget_ms: float,
        floor: int = ADAPTIVE_MIN_COUNT,
        ceiling: int = ADAPTIVE_MAX_COUNT,
    ) -> None:
        self.floor, self.ceiling = floor, ceiling
        self.budget_s = budget_ms / 1000.0
        self.count = min(max(int(start), floor), ceiling)

    def observe(self, seconds: float) -> int:
        """Adapt to one call of the current COUNT that took ``seconds``; the next COUNT."""
        factor = self.budget_s / seconds if seconds > 0 else ADAPTIVE_MAX_GROWTH
        factor = min(max(factor, ADAPTIVE_MAX_SHRINK), ADAPTIVE_MAX_GROWTH)
        self.count = min(max(round(self.count * factor), self.floor), self.ceiling)
        return self.count


def _record_count(stats: FetchStats, count: int, over_budget: bool) -> None:
    """Fold one SCAN call's COUNT into ``stats.extra["counts"]`` (over every SCAN loop)."""
    summary = stats.extra["counts"]
    if summary["calls"] == 0:
        summary.update(min=count, max=count)
    summary["calls"] += 1
    summary["slots"] += count
    summary["min"] = min(summary["min"], count)
    summary["max"] = max(summary["max"], count)
    summary["final"] = count
    summary["mean"] = summary["slots"] / summary["calls"]
    summary["over_budget"] += over_budget


def scan_batches(
    client: redis.Redis,
    pattern: bytes,
    count: int,
    stats: FetchStats,
    *,
    adaptive: bool | None = None,
    budget_ms: float | None = None,
) -> Iterator[list[bytes]]:
    """Yield each SCAN call's keys until the cursor returns to 0 (duplicates possible).

    A lost connection resumes from the last cursor: SCAN cursors are stateless on the server.
    ``adaptive`` (default: ``settings.scan_count == "adaptive"``) re-sizes COUNT after each
    call, starting from ``count``, to stay under ``budget_ms`` (default
    ``settings.scan_budget_ms``); the state is this invocation's, so loops over several
    nodes adapt independently. ``stats.extra["counts"]`` sums up the COUNTs sent: start, min,
    max, mean, final (the last call's), calls, over_budget (calls slower than the budget,
    adaptive only), budget_ms (None when fixed), loops.
    """
    if adaptive is None:
        adaptive = settings.scan_count == ADAPTIVE
    budget = settings.scan_budget_ms if budget_ms is None else budget_ms
    control = AdaptiveCount(count, budget) if adaptive else None
    summary = stats.extra.setdefault(
        "counts",
        {
            "adaptive": adaptive,
            "budget_ms": budget if adaptive else None,
            "start": control.count if control else count,
            "min": None,
            "max": None,
            "mean": None,
            "final": None,
            "calls": 0,
            "slots": 0,
            "over_budget": 0,
            "loops": 0,
        },
    )
    summary["loops"] += 1
    cursor = 0
    while True:
        now = control.count if control else count
        retries = stats.retries
        started = time.perf_counter()
        cursor, batch = _timed_call(
            lambda c=cursor, n=now: client.scan(c, match=pattern, count=n), stats
        )
        seconds = time.perf_counter() - started
        stats.scan_calls += 1
        _record_count(stats, now, control is not None and seconds > control.budget_s)
        if control is not None and stats.retries == retries:
            control.observe(seconds)
        yield batch
        if int(cursor) == 0:
            return


def _list_keys_scan(client: redis.Redis, pattern: bytes, stats: FetchStats) -> list[bytes]:
    total = _timed_call(client.dbsize, stats) if settings.progress else 0
    found: list[bytes] = []
    with _progress(total, f"SCAN {stats.pattern[:40]}", "keys") as bar:
        for batch in scan_batches(client, pattern, stats.count or 1, stats):
            found.extend(batch)
            step = stats.extra.get("counts", {}).get("final") or stats.count or 1
            bar.update(min(step, max(0, total - bar.n)))
    return found


def _warn_keys_deprecated(stacklevel: int) -> None:
    """Log the gem's KEYS notice; warn once per process, at ``stacklevel`` (the caller's)."""
    global _keys_warning_issued
    logger.warning(KEYS_DEPRECATION_NOTICE)
    if not _keys_warning_issued:
        _keys_warning_issued = True
        warnings.warn(KEYS_DEPRECATION_NOTICE, KeysDeprecationWarning, stacklevel=stacklevel)


def _list_keys_keys(client: redis.Redis, pattern: bytes, stats: FetchStats) -> list[bytes]:
    _warn_keys_deprecated(stacklevel=5)
    return _timed_call(lambda: client.keys(pattern), stats)


def _list_keys(
    pattern: str, client: redis.Redis, *, decode: bool = True, sort: bool = True
) -> tuple[list[Any], FetchStats]:
    use_scan = settings.use_scan
    stats = FetchStats(
        method="SCAN" if use_scan else "KEYS",
        pattern=pattern,
        server=describe_server(client),
        count=determine_scan_count(pattern) if use_scan else None,
    )
    if settings.debug:
        logger.info("[REDIS QUERY] %s", pattern)
    started = time.perf_counter()
    with translate_errors(client, f"listing keys matching {pattern!r}"):
        if cluster.is_cluster(client):  # every primary (rp_toolkit.cluster)
            lister = cluster.list_keys
        else:
            lister = _list_keys_scan if use_scan else _list_keys_keys
        raw = lister(client, encode_key(pattern), stats)
    # dict.fromkeys de-duplicates and keeps the server's order: values read in that order
    # touch Redis's hash table in sequence, measurably faster than in sorted order.
    unique = list(dict.fromkeys(raw))
    stats.duplicates_dropped = len(raw) - len(unique)
    if decode:
        unique = [decode_key(key) for key in unique]
    keys = sorted(unique) if sort else unique
    stats.keys_found = len(keys)
    stats.keys_seconds = time.perf_counter() - started
    if settings.debug:
        logger.info("[FOUND] %d", len(keys))
    return keys, stats


def fetch_keys(pattern: str, client: ClientLike = None) -> list[str]:
    """Keys matching ``pattern``, sorted and de-duplicated: KEYS, or SCAN with ``use_scan``.

    Both paths return the same list for the same keyspace.
    """
    keys, _ = _list_keys(pattern, get_client(client))
    return keys


def read_values(
    client: redis.Redis, keys: Sequence[str | bytes], stats: FetchStats
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone), read in short pipelined MGETs."""
    if cluster.is_cluster(client):  # MGETs within one slot each (rp_toolkit.cluster)
        return cluster.read_values(client, keys, stats)
    chunk = settings.mget_chunk
    per_trip = chunk * settings.pipeline_depth
    values: list[bytes | None] = []
    started = time.perf_counter()
    all_bytes = not (set(map(type, keys)) - {bytes})  # raw keys need no encoding
    with translate_errors(client, "reading values"), _progress(len(keys), "MGET", "values") as bar:
        for trip_start in range(0, len(keys), per_trip):
            trip = keys[trip_start : trip_start + per_trip]
            if not all_bytes:
                trip = [encode_key(k) for k in trip]

            def send(trip: list[bytes] = trip) -> list[list[bytes | None]]:
                pipe = client.pipeline(transaction=False)
                for offset in range(0, len(trip), chunk):
                    pipe.mget(trip[offset : offset + chunk])
                return pipe.execute()

            for reply in _timed_call(send, stats):
                values.extend(reply)
                stats.mget_calls += 1
            bar.update(len(trip))
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values


def fetch_from_redis(pattern: str, client: ClientLike = None, *, raw: bool = False) -> FetchResult:
    """``keys, values`` for ``pattern``, with the fetch's statistics in ``.stats``.

    Values are aligned with keys; ``None`` where a key expired between listing and reading.
    Keys and values are text (UTF-8, undecodable bytes escaped as by :func:`decode_key`), or
    with ``raw=True`` the bytes Redis returned (keys then sorted as bytes): the fastest way
    for code that parses them itself, as :func:`rp_toolkit.load` does.
    """
    redis_client = get_client(client)
    started = time.perf_counter()
    keys, stats = _list_keys(pattern, redis_client, decode=not raw, sort=False)
    values: list[Any] = read_values(redis_client, keys, stats)
    # Read in the server's order (faster), then sort keys and values together.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    keys = [keys[i] for i in order]
    values = [values[i] for i in order]
    if not raw:
        values = [
            v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v for v in values
        ]
    stats.elapsed_seconds = time.perf_counter() - started
    return FetchResult(keys, values, stats)

"""What a fetch did (:class:`FetchStats`), and the one way every Redis round trip is made.

:func:`timed_call` runs one round trip, retries a lost connection with backoff (SCAN resumes
from its cursor if the server is still the same one, see :mod:`._identity`; MGETs are
idempotent) and records the slowest call; :func:`progress_bar` is
the bar every long fetch shows after about a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.backoff import ExponentialBackoff
from tqdm.auto import tqdm

from ..config import Options
from ..kinds import KeysAndValues
from ._connection import is_tls_failure

logger = logging.getLogger("rp_toolkit")

PROGRESS_DELAY_S = 1.0
"""A fetch shows its progress bar only once it has run this long."""
_BACKOFF = ExponentialBackoff(cap=2.0, base=0.1)

T = TypeVar("T")


def _differ(mine: str | None, theirs: str | None) -> bool:
    return mine is not None and theirs is not None and mine != theirs


def _short(value: str | None) -> str:
    return (value or "?")[:8]


@dataclass(frozen=True)
class ServerIdentity:
    """What tells one server process (and its data set) from another at the same address."""

    run_id: str | None = None
    """A new random id every time the process starts."""
    replid: str | None = None
    """``master_replid``: changes on a failover (promotion, or becoming a replica)."""
    role: str | None = None
    node_id: str | None = None
    """A cluster node's id (kept in ``nodes.conf`` across restarts)."""
    slots: str | None = None
    """The slots a cluster node serves, as ``CLUSTER NODES`` lists them."""

    def differs_from(self, other: ServerIdentity) -> bool:
        """Whether ``other`` is another server (or the same one after a restart or failover,
        or a cluster node that serves other slots now); a part either side could not learn
        is not compared."""
        return any(
            _differ(mine, theirs)
            for mine, theirs in (
                (self.run_id, other.run_id),
                (self.replid, other.replid),
                (self.node_id, other.node_id),
                (self.slots, other.slots),
            )
        )

    def change_to(self, other: ServerIdentity) -> str:
        """What differs in ``other``, in a few words: ``restarted (run_id 1a2b3c4d ->
        5e6f7a8b)``, ``failed over (...)``, ``its slots changed (...)``."""
        if _differ(self.run_id, other.run_id):
            return f"restarted (run_id {_short(self.run_id)} -> {_short(other.run_id)})"
        if _differ(self.replid, other.replid) or _differ(self.node_id, other.node_id):
            return (
                f"failed over (role {self.role} -> {other.role}, replication id "
                f"{_short(self.replid)} -> {_short(other.replid)})"
            )
        return f"its slots changed ({self.slots} -> {other.slots})"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ServerIdentity:
        return cls(**{name: values.get(name) for name in cls.__dataclass_fields__})


@dataclass
class StaleReplica:
    """A replica read though its link to its primary was down or syncing
    (``allow_stale_replica``)."""

    primary: str
    master_link_status: str
    master_sync_in_progress: bool
    master_link_down_since_seconds: Any = None


@dataclass
class ServerFacts:
    """What a fetch learned about one server (``None``: not learned)."""

    identity: ServerIdentity | None = None
    """The identity it last had (a read after a listing compares against it)."""
    software: str | None = None
    """Which server answered: ``valkey 9.1.2``, ``redis 7.0.15``."""
    unchecked: str | None = None
    """What could not be asked (an ACL without ``+info``), so was not checked."""
    stale_replica: StaleReplica | None = None

    def absorb(self, other: ServerFacts) -> None:
        """Take what ``other`` learned (the later look wins)."""
        for name in ("identity", "software", "unchecked", "stale_replica"):
            if getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))


@dataclass
class Restart:
    """A server found restarted or failed over mid-fetch, and what was done."""

    server: str
    during: str
    before: ServerIdentity
    after: ServerIdentity
    action: str
    """``"SCAN restarted from cursor 0"``, ``"recorded"`` or ``"gave up"``."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScanCounts:
    """The COUNTs SCAN sent, over one or more SCAN loops (see
    :func:`rp_toolkit.store._scan.scan_batches`)."""

    adaptive: bool
    budget_ms: float | None
    """None when COUNT is fixed."""
    start: int
    min: int | None = None
    max: int | None = None
    mean: float | None = None
    final: int | None = None
    """The last call's COUNT."""
    calls: int = 0
    slots: int = 0
    over_budget: int = 0
    """Calls slower than the budget (adaptive only)."""
    loops: int = 0

    def record(self, count: int, over_budget: bool) -> None:
        """One SCAN call of ``count``."""
        self.calls += 1
        self.slots += count
        self.min = count if self.min is None else min(self.min, count)
        self.max = count if self.max is None else max(self.max, count)
        self.final = count
        self.mean = self.slots / self.calls
        self.over_budget += over_budget

    def absorb(self, other: ScanCounts) -> None:
        """Add another loop's figures (``adaptive``, ``budget_ms``, ``start`` and ``final``
        stay this one's)."""
        self.calls += other.calls
        self.slots += other.slots
        self.over_budget += other.over_budget
        self.loops += other.loops
        lows = [low for low in (self.min, other.min) if low is not None]
        highs = [high for high in (self.max, other.max) if high is not None]
        self.min = min(lows) if lows else None
        self.max = max(highs) if highs else None
        self.mean = self.slots / self.calls if self.calls else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NodeFigures:
    """What one cluster node's stages did (``None``: not measured by the read that made
    it, e.g. values read on their own)."""

    mget_calls: int = 0
    values_read: int = 0
    values_seconds: float = 0.0
    slots: int = 0
    """Slots its values were read from."""
    redirected_chunks: int | None = None
    """MGETs re-read through the cluster client: their slot had moved."""
    regrouped_chunks: int | None = None
    """MGETs answered ``CROSSSLOT``, re-read by exact slots."""
    keys_found: int | None = None
    keys_filtered: int | None = None
    scan_calls: int | None = None
    keys_seconds: float | None = None
    walk_window_s: tuple[float, float] | None = None
    """When its walk ran, in seconds from the stream's start."""
    slowest_call_seconds: float | None = None
    retries: int | None = None
    restarts: int | None = None
    counts: ScanCounts | None = None
    """The COUNTs SCAN sent to it."""

    def note_reads(self, read: FetchStats, values_read: int) -> None:
        """What a read stage (``read``) did on this node."""
        self.mget_calls, self.values_read = read.mget_calls, values_read
        self.values_seconds, self.slots = read.values_seconds, len(read.slots_read)
        if read.redirected_chunks:
            self.redirected_chunks = read.redirected_chunks
        if read.regrouped_chunks:
            self.regrouped_chunks = read.regrouped_chunks

    def as_dict(self) -> dict[str, Any]:
        found = {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }
        if self.counts is not None:
            found["counts"] = self.counts.as_dict()
        return found


@dataclass
class SnapshotFacts:
    """The snapshot file a fetch read and what its walk counted."""

    identity: dict[str, Any]
    """Path, size, CRC64, RDB version, creation time (``Snapshot.identity()``)."""
    walk: dict[str, Any]
    """The walk's :class:`~rp_toolkit.store._snapshot.SnapshotStats`, as a dict."""

    def as_dict(self) -> dict[str, Any]:
        return {**self.identity, **self.walk}


_SUMMED = (
    "scan_calls",
    "keys_filtered",
    "keys_found",
    "duplicates_dropped",
    "values_missing",
    "mget_calls",
    "retries",
    "restarts",
)
_LONGEST = ("keys_seconds", "values_seconds", "elapsed_seconds", "slowest_call_seconds")
_SERVER_FACTS = ("servers", "software", "stale_replica", "unchecked")


@dataclass
class FetchStats:
    """What one fetch did; shown by notebooks and used by the benchmark.

    Each stage (a node's walk or reads) counts into its own; :meth:`absorb` folds them into
    the fetch's. :attr:`extra` is the structured part as plain dicts (as it was before
    these fields were typed)."""

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
    (:func:`rp_toolkit.store.scan_match`), whose keys are filtered with ``pattern`` on
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
    """Times a server was found restarted or failed over mid-fetch (``restart_events`` says
    which, when, and what was done: see :mod:`rp_toolkit.store._identity`)."""
    keys_seconds: float = 0.0
    values_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    slowest_call_seconds: float = 0.0
    servers: dict[str, ServerFacts] = field(default_factory=dict)
    """What was learned about each server, by name."""
    restart_events: list[Restart] = field(default_factory=list)
    scan_counts: ScanCounts | None = None
    """The COUNTs SCAN sent (SCAN only)."""
    nodes: dict[str, NodeFigures] = field(default_factory=dict)
    """Each node's figures, on a cluster."""
    snapshot: SnapshotFacts | None = None
    """The file read, when the source is a snapshot."""
    slots_read: set[int] = field(default_factory=set)
    """A cluster node's read stage: the slots it read (summed up in ``nodes``)."""
    redirected_chunks: int = 0
    """A cluster node's read stage: MGETs re-read because their slot moved."""
    regrouped_chunks: int = 0
    """A cluster node's read stage: MGETs answered ``CROSSSLOT``, re-read by exact slots."""

    def server_facts(self, name: str) -> ServerFacts:
        """The facts about server ``name`` (created empty on first use)."""
        return self.servers.setdefault(name, ServerFacts())

    def absorb(self, other: FetchStats) -> None:
        """Fold what a stage or node counted (``other``, left unchanged) into this total:
        counts summed, durations the longest (stages run at once), restarts and server
        facts gathered, SCAN COUNTs and node figures merged. A read stage's own figures
        (``slots_read``, re-read chunks) stay in ``nodes`` (:meth:`NodeFigures.note_reads`)."""
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _LONGEST:
            setattr(self, name, max(getattr(self, name), getattr(other, name)))
        for server, facts in other.servers.items():
            self.server_facts(server).absorb(facts)
        self.restart_events += other.restart_events
        if other.scan_counts is not None:
            if self.scan_counts is None:
                self.scan_counts = replace(other.scan_counts)
            else:
                self.scan_counts.absorb(other.scan_counts)
        self.nodes.update(other.nodes)
        if other.snapshot is not None:
            self.snapshot = other.snapshot

    @property
    def extra(self) -> dict[str, Any]:
        """The structured figures as plain dicts (read-only; a new dict each time): the
        typed fields under the names they always had (``servers``, ``software``,
        ``stale_replica``, ``unchecked``, ``restarts``, ``counts``, ``nodes``,
        ``snapshot``)."""
        found: dict[str, Any] = {}
        for key in _SERVER_FACTS:
            attribute = "identity" if key == "servers" else key
            by_server = {
                name: getattr(facts, attribute)
                for name, facts in self.servers.items()
                if getattr(facts, attribute) is not None
            }
            if by_server:
                found[key] = {
                    name: value if isinstance(value, str) else asdict(value)
                    for name, value in by_server.items()
                }
        if self.restart_events:
            found["restarts"] = [event.as_dict() for event in self.restart_events]
        if self.scan_counts is not None:
            found["counts"] = self.scan_counts.as_dict()
        if self.nodes:
            found["nodes"] = {name: node.as_dict() for name, node in self.nodes.items()}
        if self.snapshot is not None:
            found["snapshot"] = self.snapshot.as_dict()
        if self.slots_read:
            found["slots"] = set(self.slots_read)
        for name in ("redirected_chunks", "regrouped_chunks"):
            if getattr(self, name):
                found[name] = getattr(self, name)
        return found

    def as_dict(self) -> dict[str, Any]:
        """The scalar figures and :attr:`extra`, as plain values."""
        found = {name: getattr(self, name) for name in _SCALARS}
        found["extra"] = self.extra
        return found


_SCALARS = (
    "method",
    "pattern",
    "server",
    "count",
    "count_rule",
    "scan_calls",
    "pattern_sent",
    "keys_filtered",
    "keys_found",
    "duplicates_dropped",
    "values_missing",
    "mget_calls",
    "retries",
    "restarts",
    "keys_seconds",
    "values_seconds",
    "elapsed_seconds",
    "slowest_call_seconds",
)
"""The fields :meth:`FetchStats.as_dict` gives besides ``extra``, in their order."""


class FetchResult(KeysAndValues):
    """``(keys, values)`` like the gem's ``fetch_from_redis``, plus ``.stats``."""

    stats: FetchStats

    def __new__(cls, keys: list[str], values: list[Any], stats: FetchStats) -> FetchResult:
        result = super().__new__(cls, keys, values)
        result.stats = stats
        return result


def timed_call(
    call: Callable[[], T],
    stats: FetchStats,
    *,
    retries: int,
    also_retry: tuple[type[Exception], ...] = (),
) -> T:
    """Run one Redis round trip, retrying lost connections (and ``also_retry`` errors: a
    cluster that is briefly down) with backoff, at most ``retries`` times (the call's
    ``options.retries``), and time it.

    A retry is counted in ``stats.retries``; the callers that care whether the server is
    still the same one look at that count (:mod:`rp_toolkit.store._identity`)."""
    retryable = (redis_errors.ConnectionError, redis_errors.TimeoutError, *also_retry)
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            result = call()
        except redis_errors.AuthenticationError:
            raise
        except retryable as error:
            if attempt >= retries or is_tls_failure(error):
                raise  # a certificate that fails now fails on every retry too
            delay = _BACKOFF.compute(attempt)
            lost = isinstance(error, (redis_errors.ConnectionError, redis_errors.TimeoutError))
            logger.warning(
                "%s (%s); retrying in %.1f s (%d of %d).",
                "Lost the connection to Redis" if lost else "Redis is not ready",
                type(error).__name__,
                delay,
                attempt + 1,
                retries,
            )
            stats.retries += 1
            attempt += 1
            time.sleep(delay)
            continue
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, time.perf_counter() - started)
        return result


def progress_bar(total: int, desc: str, unit: str, options: Options) -> tqdm:
    """The bar a long fetch shows after :data:`PROGRESS_DELAY_S`, if ``options.progress`` (the
    options of the call it belongs to)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        delay=PROGRESS_DELAY_S,
        disable=not options.progress,
        leave=False,
    )

"""SCAN and KEYS on one node: the COUNT to send (the gem's auto-tune table, or adaptive),
the SCAN loop, and the gem's KEYS deprecation notice.

* ``use_scan`` on: keys come from ``SCAN cursor MATCH pattern COUNT n`` until the cursor is 0;
  each call touches about ``n`` slots, so no call runs long.
* **The pattern sent is the cheap one** (:func:`scan_match`): the gem's pattern
  (``performance|*datetime|20261204*|*|END|1.0.2``) makes Redis's glob backtrack at every
  ``*`` on every key a SCAN call examines; its head and ``*`` (``performance|*``) is tested
  with one compare and costs Redis little more than SCAN without MATCH. The keys it lets
  through are filtered on the client with the whole pattern, a batch at a time
  (:func:`rp_toolkit.glob.batch_filter`, Redis's exact semantics), so the keys found are the
  same; the keys dropped are counted in ``stats.keys_filtered``. KEYS sends the pattern as
  asked (it is the gem's command).
* ``scan_count="adaptive"``: COUNT is re-sized after every SCAN call to keep each call
  under ``options.scan_budget_ms`` (:class:`AdaptiveCount`, one per SCAN loop).
* A cursor is only valid on the server process that issued it: each SCAN loop holds a
  :class:`~rp_toolkit.store._identity.ServerWatch` and walks again from cursor 0 when the
  server restarted or failed over (see :mod:`rp_toolkit.store._identity`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
import warnings
from collections.abc import Iterator

import redis

from ..config import (
    ADAPTIVE,
    MAX_RECOMMENDED_SCAN_COUNT,
    Options,
    current_options,
    validate_scan_count,
)
from ..exceptions import KeysDeprecationWarning
from ..glob import batch_filter, head_pattern
from ..kinds import decode_key, encode_key
from ._identity import ServerWatch
from ._stats import FetchStats, ScanCounts, timed_call

logger = logging.getLogger("rp_toolkit")
keys_logger = logging.getLogger("rp_toolkit.keys")
"""Where every KEYS call logs the gem's notice, as the gem logs it to the Rails log. It has a
NullHandler, so the records reach the application's handlers (``logging.basicConfig``, a
notebook's or a framework's) but never fall through to logging's last-resort stderr printer: a
script or a report shows the notice once, as the warning below."""
keys_logger.addHandler(logging.NullHandler())

KEYS_DEPRECATION_NOTICE = (
    "[DEPRECATION] Using KEYS command. Set use_scan = True (rp.setup(use_scan=True) or "
    "RP_USE_SCAN=true) to use the non-blocking SCAN command instead; KEYS blocks the whole "
    "Redis server while it walks the keyspace."
)

AUTO_COUNT_DAY_SCOPED = 1000
AUTO_COUNT_REQUEST_ID = 1000
"""The gem's table says 10; rp_toolkit says 1000. A lookup matches one key, but its SCAN still
makes about keys/COUNT calls: COUNT 10 makes a hundred times as many as COUNT 1000, whose calls
examine no more slots than a day query's (docs/SCAN_MIGRATION.md, `scan_count_auto_tune`,
measures both on each server)."""
AUTO_COUNT_OTHER = 100
ADAPTIVE_MIN_COUNT = 10
ADAPTIVE_MAX_COUNT = MAX_RECOMMENDED_SCAN_COUNT
ADAPTIVE_MAX_GROWTH = 4.0
"""An adaptive COUNT at most quadruples from one call to the next..."""
ADAPTIVE_MAX_SHRINK = 0.5
"""...and at most halves (one call slowed down by the OS does not collapse it)."""

_REQUEST_ID_FIELD = re.compile(r"(?:^|[|*])request_id\|([^|]*)")
_DAY_SCOPED_FIELD = re.compile(r"(?:^|[|*])datetime\|(?:\d|\[\d+\]){8}")
"""``datetime|YYYYMMDD``, digits or classes of digits (one pattern covering several days)."""
_keys_warning_issued = False


def is_request_id_lookup(pattern: str) -> bool:
    """True when the pattern pins a ``request_id`` to a value (not just ``*``)."""
    match = _REQUEST_ID_FIELD.search(pattern)
    return bool(match and match.group(1).strip("*"))


def determine_scan_count(pattern: str, options: Options | None = None) -> int:
    """The COUNT hint for ``pattern``: the gem's auto-tune table, or ``options.scan_count``
    (``options``: the settings in force when not given).

    Auto-tune: 1000 for request-id lookups (the gem: 10; see ``AUTO_COUNT_REQUEST_ID``;
    checked first, so an id with eight digits in a row is still a lookup), 1000 for
    day-scoped queries (``datetime|YYYYMMDD``), 100 otherwise.
    With ``scan_count="adaptive"`` this is the COUNT the adaptive loop starts from: the same
    table, whether ``scan_count_auto_tune`` is on or off.
    """
    options = current_options() if options is None else options
    if not options.scan_count_auto_tune and options.scan_count != ADAPTIVE:
        return validate_scan_count(options.scan_count)
    if is_request_id_lookup(pattern):
        return AUTO_COUNT_REQUEST_ID
    if _DAY_SCOPED_FIELD.search(pattern):
        return AUTO_COUNT_DAY_SCOPED
    return AUTO_COUNT_OTHER


def scan_match(pattern: bytes | str) -> bytes:
    """The MATCH pattern SCAN sends for ``pattern``: its head and ``*``
    (:func:`rp_toolkit.glob.head_pattern`), whose keys the client filters exactly with the
    whole pattern; the pattern itself when it has no head to cut at (no ``*``, a leading
    ``*``, nothing after its first ``*``) or pins a ``request_id`` (a lookup matches one key:
    sending the head would bring back every key of its kind to filter)."""
    raw = encode_key(pattern)
    if is_request_id_lookup(decode_key(raw)):
        return raw
    return head_pattern(raw) or raw


def scan_count_rule(options: Options | None = None) -> str:
    """How :func:`determine_scan_count` and the SCAN loop choose COUNT under ``options`` (the
    settings in force when not given): ``"adaptive"``, ``"auto-tune"`` (the table) or
    ``"fixed"`` (``scan_count``)."""
    options = current_options() if options is None else options
    if options.scan_count == ADAPTIVE:
        return "adaptive"
    return "auto-tune" if options.scan_count_auto_tune else "fixed"


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


def scan_batches(
    client: redis.Redis,
    pattern: bytes,
    count: int,
    stats: FetchStats,
    *,
    options: Options | None = None,
    adaptive: bool | None = None,
    budget_ms: float | None = None,
    watch: ServerWatch | None = None,
    match: bytes | None = None,
) -> Iterator[list[bytes]]:
    """Yield each SCAN call's keys until the cursor returns to 0 (duplicates possible).

    A lost connection resumes from the last cursor when the server is still the same one:
    ``watch`` (default: a new :class:`ServerWatch`, which first checks that the server is
    ready) identifies it after every reconnect and once more at the end. A server that
    restarted or failed over is walked again from cursor 0, at most ``options.retries``
    times (then :class:`ServerChangedError`): its cursors mean nothing on the new server.
    ``options``: the call's (default: the settings in force). ``adaptive`` (default:
    ``options.scan_count == "adaptive"``) re-sizes COUNT after each call, starting from
    ``count``, to stay under ``budget_ms`` (default ``options.scan_budget_ms``); the state
    is this invocation's, so loops over several nodes adapt independently. SCAN sends
    :func:`scan_match` of ``pattern`` and filters each call's keys with ``pattern`` itself
    (dropped keys counted in ``stats.keys_filtered``); ``match`` sends another pattern
    (``pattern`` itself: sent as it is, nothing to filter). ``stats.scan_counts`` sums up
    the COUNTs sent (:class:`~._stats.ScanCounts`)."""
    options = current_options() if options is None else options
    if adaptive is None:
        adaptive = options.scan_count == ADAPTIVE
    budget = options.scan_budget_ms if budget_ms is None else budget_ms
    control = AdaptiveCount(count, budget) if adaptive else None
    if stats.scan_counts is None:
        start = control.count if control else count
        stats.scan_counts = ScanCounts(adaptive, budget if adaptive else None, start)
    stats.scan_counts.loops += 1
    if watch is None:
        watch = ServerWatch.start(client, stats, options)
    sent = scan_match(pattern) if match is None else match
    keep = batch_filter(pattern) if sent != encode_key(pattern) else None
    loop = _ScanLoop(client, sent, stats, options.retries, control, count)
    since = watch.generation
    cursor = 0
    while True:
        cursor, batch, reconnected = loop.call(cursor)
        if keep is not None and batch:
            kept = keep(batch)
            stats.keys_filtered += len(batch) - len(kept)
            batch = kept
        yield batch  # its keys exist, whichever server answered
        if (reconnected or cursor == 0 or watch.generation != since) and watch.changed(
            "SCAN", rescan=True, since=since
        ):
            # Another server (seen after our retry, by redis-py's own reconnect at the end,
            # or by the read stage sharing the watch): its cursors start over.
            cursor, since = 0, watch.generation
            continue
        if cursor == 0:
            return  # the server that ended the walk is the one it began on


class _ScanLoop:
    """One SCAN loop's calls: each timed, counted into ``stats`` and, adaptive, sizing the
    next COUNT (``control``; else ``count`` every time)."""

    def __init__(
        self,
        client: redis.Redis,
        sent: bytes,
        stats: FetchStats,
        retries: int,
        control: AdaptiveCount | None,
        count: int,
    ) -> None:
        self.client, self.sent, self.stats, self.retries = client, sent, stats, retries
        self.control, self.count = control, count

    def call(self, cursor: int) -> tuple[int, list[bytes], bool]:
        """``(next cursor, keys, whether it needed a reconnect)`` of one SCAN call."""
        control, stats = self.control, self.stats
        now = control.count if control else self.count
        retries = stats.retries
        started = time.perf_counter()
        cursor, batch = timed_call(
            lambda: self.client.scan(cursor, match=self.sent, count=now),
            stats,
            retries=self.retries,
        )
        seconds = time.perf_counter() - started
        stats.scan_calls += 1
        assert stats.scan_counts is not None
        stats.scan_counts.record(now, control is not None and seconds > control.budget_s)
        reconnected = stats.retries != retries
        if control is not None and not reconnected:
            control.observe(seconds)
        return int(cursor), batch, reconnected


def warn_keys_deprecated() -> None:
    """Log the gem's KEYS notice (to ``rp_toolkit.keys``, on every call); warn once per process,
    pointing at the first caller outside rp_toolkit (however deep the read path's stages are)."""
    global _keys_warning_issued
    keys_logger.warning(KEYS_DEPRECATION_NOTICE)
    if not _keys_warning_issued:
        _keys_warning_issued = True
        warnings.warn(KEYS_DEPRECATION_NOTICE, KeysDeprecationWarning, stacklevel=_callers_level())


def _callers_level() -> int:
    """The ``stacklevel`` of the first frame outside this package, seen from the caller."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("rp_toolkit"):
        frame, level = frame.f_back, level + 1
    return level


class _WithoutKeysNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != KEYS_DEPRECATION_NOTICE


@contextlib.contextmanager
def quiet_keys_notices() -> Iterator[None]:
    """No KEYS deprecation notice inside the block (the benchmark runs KEYS on purpose)."""
    quiet = _WithoutKeysNotice()
    keys_logger.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KeysDeprecationWarning)
            yield
    finally:
        keys_logger.removeFilter(quiet)

"""KEYS versus SCAN, measured: what the SCAN migration costs and what it saves.

``run()`` builds keyspaces of synthetic request records in the gem's format, then times the
real :func:`rp_toolkit.fetch_keys` with KEYS and with SCAN at several COUNT hints, while a
second connection PINGs Redis in a tight loop to see how long other clients are kept waiting.
One row per measurement; ``save`` / ``load_results`` / ``to_markdown`` turn the rows into
files and the docs table; ``rp_toolkit.plots`` draws them.

Method
======

Datasets
    Sizes are measured in ascending order on one keyspace that grows: going from 10,000 to
    100,000 records writes 90,000 more. Records come from
    :func:`rp_toolkit.synth.iter_request_records` (the gem's exact keys and values, realistic
    controllers, statuses and paths, some with ``|``, ``*`` or ``[`` in their query strings),
    spread over one UTC day (today by default), one seed per growth step, without expiry.
    ``noise × size`` unrelated keys (``cache:...``, ``queue:...``, ``session:...``) are added
    because SCAN and KEYS both walk the whole keyspace, not just the gem's keys. Every fetch
    is checked against the dataset: it must find exactly the records its pattern matches
    (counted in Python, with the same glob rules, as they are written).

Queries (patterns from :meth:`rp_toolkit.kinds.RecordKind.pattern`, as the gem builds them)
    ``day``          ``performance|*datetime|YYYYMMDD*|*|END|1.0.2``: every record of the day;
                     auto-tune COUNT 1000.
    ``controller``   ``performance|*controller|HomeController|*|END|1.0.2`` (about 15 % of the
                     records); auto COUNT 100.
    ``request_id``   ``performance|*request_id|<an existing id>|END|1.0.2``; auto COUNT 10.

Methods (column ``method``)
    ``KEYS``                ``fetch_keys`` with ``use_scan=False``: the baseline of the same run.
    ``SCAN``                ``fetch_keys`` with ``use_scan=True`` and a fixed COUNT
                            (``scan_count_auto_tune=False``) or auto-tune (``count == "auto"``)
                            or the adaptive COUNT (``count == "adaptive"``: ``scan_count=
                            "adaptive"``, budget ``settings.scan_budget_ms``, which
                            ``RP_SCAN_BUDGET_MS`` sets for a run).
    ``gem_keys_mget``       the gem's full fetch, done with redis-py: KEYS, then ONE MGET of
                            every key found.
    ``scan_chunked_mget``   rp_toolkit's ``fetch_from_redis`` with SCAN (auto-tune) and chunked,
                            pipelined MGETs.
    Progress bars of the fetches are off while measuring (``progress=False``).

Repeats and the time budget
    Every cell (size, query, method, COUNT) runs ``repeats`` times, except that another repeat
    is started only while ``time spent in the cell + the last repeat's time <= cell_budget_s``
    (30 s by default); at least one repeat always runs. Slow cells (COUNT 10 over a million
    keys: 100,000 round trips) therefore get fewer repeats; ``repeats_done`` says how many.
    ``gc.collect()`` runs before each repeat, outside the timing.

Measured per cell (``COLUMNS`` lists them all)
    wall time median/min/max over repeats (``time.perf_counter`` around the call);
    ``overhead`` = this cell's median / the KEYS median of the same size and query (for
    ``scan_chunked_mget``: / the ``gem_keys_mget`` median); ``keys_found`` (checked: every
    method must find exactly the keys KEYS found, and exactly the records the dataset holds
    for the query, else :class:`BenchmarkError`); ``scan_calls`` (SCAN commands the client
    sent); ``scan_count_min`` / ``_mean`` / ``_max`` (the COUNTs those SCANs carried, read off
    the wire; last repeat); ``mget_calls``; Redis-side time from ``INFO commandstats``
    deltas (usec of KEYS, SCAN, MGET; median over repeats); the slowest single
    KEYS/SCAN/MGET per ``SLOWLOG`` (``slowlog-log-slower-than`` = ``slowlog_threshold_us``,
    1 ms by default; entries newer than before the repeat; NaN when no command was that
    slow). SLOWLOG times are wall clock inside Redis, so on a busy machine a command
    descheduled by the OS looks slower than it is (a few ms on the 2-core reference
    machine); and the blocking probe.

Adaptive against the best fixed COUNT
    On ``adaptive`` rows, ``best_fixed_count`` is the fixed COUNT (among the run's integer
    counts) with the lowest median for the same size and query, and ``vs_best_fixed`` the
    adaptive median over that one (1.0 = as fast); ``scan_budget_ms`` is the budget used.
    The probe's maximum during the adaptive fetch is ``probe_max_ms`` as for every row.

The blocking probe
    A separate process (``probe_mode="process"``, the default) with its own connection sends
    PING in a tight loop from just before the fetch starts (the fetch waits for the probe's
    "started") until just after it ends (an Event stops it; its in-flight PING completes), and
    records each round trip. ``probe_p50_ms`` / ``probe_p99_ms`` / ``probe_max_ms`` pool every
    repeat's samples; ``probe_idle_*`` is the same probe with no fetch running, per size.

    Why a process and not a thread: a probe thread shares the GIL with the fetch, so it
    cannot run while the fetch does Python work (decoding and sorting 100,000 keys holds the
    GIL for tens of milliseconds), and it reports that as Redis latency. Measured on the
    reference machine (2 cores, Redis 6.2, 100,000 records, day query, 3 trials of 5 repeats
    per mode, medians): during SCAN (COUNT 100 and auto) the thread probe's maximum was
    58 ms, the process probe's 4-7 ms; during KEYS both saw the same 95 ms (the server really
    is blocked); the thread probe also got 5x fewer samples. The process probe is one more
    busy client: on a small machine it competes for CPU with Redis and the fetch (which shows
    as a few ms of probe maximum even for short commands), equally for every method.
    ``probe_mode="thread"`` reproduces the comparison; ``probe=False`` turns the probe off.

Safety
    By default a throwaway Redis (:class:`rp_toolkit.server.RedisServer`) is started and
    stopped at the end. ``redis_url`` points at an existing server only with
    ``allow_existing_server=True``. There, every key the benchmark writes carries a marker
    ``RpBench<uuid4 hex>``: in the controller name, the format, the path and the request id of
    each record and in each noise key. Before each batch is written, EXISTS checks that none
    of its keys exists (one that does aborts the run: it is not ours to overwrite or delete);
    they are written with ``SET ... NX`` and expire after ``EXISTING_SERVER_TTL_S`` (a day) as
    a safety net. The queries are scoped to the marker while keeping their type (and so their
    auto-tuned COUNT):

    ``day``          ``performance|*format|RpBench<id>|*datetime|YYYYMMDD*|*|END|1.0.2``
    ``controller``   ``performance|*controller|RpBench<id>HomeController|*|END|1.0.2``
    ``request_id``   ``performance|*request_id|RpBench<id>-<hex id>|END|1.0.2``

    (the format of a marked record is the marker itself, so the day query can name it).

    Every fetched key is checked to carry the marker. At the end (also after an error or
    Ctrl-C) exactly the keys written are removed with UNLINK in chunks; nothing is ever
    flushed. The slowlog settings are restored, the slowlog is not reset (entries newer than
    the last one seen are read instead), so it keeps the benchmark's entries afterwards.
    ``INFO commandstats`` deltas include other clients' commands on a shared server.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from redis import exceptions as redis_errors
from tqdm.auto import tqdm

from . import _probe, synth
from .connection import redact_url
from .exceptions import KeysDeprecationWarning, RPToolkitError
from .fetching import KEYS_DEPRECATION_NOTICE, determine_scan_count, fetch_from_redis, fetch_keys
from .kinds import REQUESTS
from .server import RedisServer
from .settings import setup

logger = logging.getLogger("rp_toolkit")

DEFAULT_SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
DEFAULT_COUNTS: tuple[int | str, ...] = (10, 100, 1000, 10_000, "auto")
QUERIES = ("day", "controller", "request_id")
GEM_RUBY_READ_1M_S = 41.6  # KEYS + one MGET + per-record split and JSON.parse, 1M records
CELL_BUDGET_S = 30.0
SLOWLOG_THRESHOLD_US = 1000
SLOWLOG_MAX_LEN = 10_000
IDLE_PROBE_S = 0.5
EXISTING_SERVER_TTL_S = 24 * 3600
"""Benchmark keys on a server we did not start expire after this, should cleanup ever fail."""
KEY_CHUNK = 1000
"""Keys per UNLINK / EXISTS command when removing or checking the dataset."""
PIPELINE_COMMANDS = 20
PROBE_WARM_UP_S = 0.1
QUERY_CONTROLLER = "HomeController"
"""The controller query's controller (about 15 % of synthetic requests)."""

_NOISE_PREFIXES = ("cache:views/", "queue:default:", "session:", "rack::attack:")

COLUMNS: dict[str, str] = {
    "size": "int64",  # request records in the keyspace
    "noise_keys": "int64",  # unrelated keys written next to them
    "dbsize": "int64",  # every key in the database during the measurement
    "query": "string",  # day, controller, request_id
    "pattern": "string",  # the glob pattern fetched
    "method": "string",  # KEYS, SCAN, gem_keys_mget, scan_chunked_mget
    "count": "string",  # "10", ..., "auto", "adaptive"; NA for KEYS and gem_keys_mget
    "scan_count": "Int64",  # the COUNT hint actually sent (auto-tune resolved); NA for KEYS
    # (adaptive: the COUNT it starts from). The COUNTs the SCANs carried, last repeat:
    "scan_count_min": "Int64",
    "scan_count_mean": "float64",
    "scan_count_max": "Int64",
    "repeats_done": "int64",
    "wall_median_s": "float64",
    "wall_min_s": "float64",
    "wall_max_s": "float64",
    "overhead": "float64",  # wall_median_s / the baseline's (KEYS, or gem_keys_mget)
    "keys_found": "int64",
    "scan_calls": "int64",  # SCAN commands sent in one repeat (0 for KEYS)
    "mget_calls": "int64",  # MGET commands sent in one repeat (0 when only keys are listed)
    "redis_usec": "float64",  # server time of KEYS+SCAN+MGET per repeat (commandstats, median)
    "redis_keys_usec": "float64",
    "redis_scan_usec": "float64",
    "redis_mget_usec": "float64",
    "slowlog_threshold_us": "float64",  # NaN: slowlog not available (CONFIG refused)
    "slowlog_entries": "float64",  # KEYS/SCAN/MGET entries logged, most in one repeat
    "slowlog_max_us": "float64",  # slowest single KEYS/SCAN/MGET; NaN when none was logged
    "slowlog_max_command": "string",
    "probe_samples": "int64",  # PINGs answered during the repeats (0 with probe=False)
    "probe_p50_ms": "float64",
    "probe_p99_ms": "float64",
    "probe_max_ms": "float64",
    "probe_idle_p50_ms": "float64",  # the probe with no fetch running (per size)
    "probe_idle_p99_ms": "float64",
    "probe_idle_max_ms": "float64",
    "scan_budget_ms": "float64",  # adaptive rows: settings.scan_budget_ms; NaN otherwise
    "best_fixed_count": "Int64",  # adaptive rows: the fixed COUNT with the lowest median
    "vs_best_fixed": "float64",  # adaptive rows: wall_median_s / that COUNT's wall_median_s
}


class BenchmarkError(RPToolkitError):
    """The benchmark refused to run, or found results that cannot be right."""


# --------------------------------------------------------------------------- the dataset


def _mark(key: str, marker: str) -> str:
    """A request key with ``marker`` in its controller, format, path and request id.

    Fields are found by position from both ends, so a path holding ``|`` is handled.
    """
    parts = key.split("|")
    at = REQUESTS.part_index
    parts[at("controller")] = marker + parts[at("controller")]
    parts[at("format")] = marker  # the day query of a marked run filters on it
    parts[at("path")] = f"/rpbench-{marker}{parts[at('path')]}"  # its first |-separated piece
    parts[at("request_id")] = f"{marker}-{parts[at('request_id')]}"
    return "|".join(parts)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A Redis glob (``*``, ``?`` and ``\\`` escapes; no ``[...]``) as an anchored regex."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "[":
            raise ValueError("character classes are not used by the benchmark's patterns")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _noise(start: int, stop: int, marker: str) -> tuple[list[str], list[str]]:
    """Unrelated keys (caches, queues, sessions) ``start..stop-1``."""
    tag = f"{marker}:" if marker else ""
    keys = [f"{_NOISE_PREFIXES[i % len(_NOISE_PREFIXES)]}{tag}{i:08x}" for i in range(start, stop)]
    return keys, ["x" * 64] * len(keys)


def unlink_keys(client: redis.Redis, keys: Sequence[str]) -> int:
    """UNLINK ``keys`` in chunks; returns how many existed."""
    removed = 0
    per_trip = KEY_CHUNK * PIPELINE_COMMANDS
    for trip in range(0, len(keys), per_trip):
        pipe = client.pipeline(transaction=False)
        for start in range(trip, min(trip + per_trip, len(keys)), KEY_CHUNK):
            pipe.unlink(*keys[start : start + KEY_CHUNK])
        removed += sum(pipe.execute())
    return removed


def _existing(client: redis.Redis, keys: Sequence[str]) -> int:
    """How many of ``keys`` exist (EXISTS in chunks)."""
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(keys), KEY_CHUNK):
        pipe.exists(*keys[start : start + KEY_CHUNK])
    return sum(pipe.execute())


@dataclass
class _Keyspace:
    """The growing dataset on one server, and what each query must find in it.

    Records come from :func:`rp_toolkit.synth.iter_request_records` over one UTC day, one
    seed per growth step; with a ``marker`` their keys are marked by :func:`_mark`.
    """

    client: redis.Redis
    day: date
    seed: int
    marker: str
    ttl: int | None
    track: bool
    size: int = 0
    noise_keys: int = 0
    steps: int = 0
    request_id: str = ""
    matches: dict[str, int] = field(default_factory=dict)
    written: list[Sequence[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        controller = self.marker + QUERY_CONTROLLER
        self.patterns = {
            "day": REQUESTS.pattern({"format": self.marker} if self.marker else {}, day=self.day),
            "controller": REQUESTS.pattern({"controller": controller}),
        }
        self._regexes = {name: _glob_regex(p) for name, p in self.patterns.items()}
        self.matches = dict.fromkeys(self.patterns, 0)
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=timezone.utc)
        self._day_end = midnight + timedelta(days=1)

    def grow(self, size: int, noise: float) -> None:
        if size > self.size:
            self.steps += 1
            batches = synth.iter_request_records(
                size - self.size, seed=self.seed * 1000 + self.steps, end=self._day_end, hours=24
            )
            for number, batch in enumerate(batches):
                keys = batch.keys
                if self.marker:
                    keys = [_mark(key, self.marker) for key in keys]
                if number == 0:  # an existing id for the request_id query
                    self.request_id = keys[len(keys) // 2].split("|")[-3]
                for name, regex in self._regexes.items():
                    self.matches[name] += sum(1 for key in keys if regex.fullmatch(key))
                self._write(keys, batch.values)
                self.size += len(keys)
        target = int(round(noise * size))
        for start in range(self.noise_keys, target, 100_000):
            stop = min(target, start + 100_000)
            self._write(*_noise(start, stop, self.marker))
            self.noise_keys = stop

    def _write(self, keys: list[str], values: list[str]) -> None:
        if self.track:
            if _existing(self.client, keys):
                raise BenchmarkError(
                    "A key the benchmark meant to write already exists; nothing was "
                    "overwritten, and it will not be deleted."
                )
            self.written.append(keys)  # before writing: a write cut short is cleaned up too
        written = synth.write_records(self.client, keys, values, self.ttl)
        if written != len(keys):
            raise BenchmarkError(f"Only {written} of {len(keys)} benchmark keys were new.")

    def remove(self) -> int:
        removed = 0
        while self.written:
            removed += unlink_keys(self.client, self.written[-1])
            self.written.pop()
        return removed

    def queries(self, names: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{query: (pattern, records it must find)}`` for the current size."""
        result = {}
        for name in names:
            if name == "request_id":
                result[name] = (REQUESTS.pattern({"request_id": self.request_id}), 1)
            elif name in self.patterns:
                result[name] = (self.patterns[name], self.matches[name])
            else:
                raise BenchmarkError(f"Unknown query {name!r}; known: {', '.join(QUERIES)}.")
        return result


# --------------------------------------------------------------------------- the probe


@dataclass
class ProbeStats:
    samples: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan

    @classmethod
    def of(cls, latencies_ns: Sequence[np.ndarray]) -> ProbeStats:
        pooled = np.concatenate(list(latencies_ns)) if latencies_ns else np.array([])
        if pooled.size == 0:
            return cls()
        ms = pooled / 1e6
        return cls(
            int(ms.size),
            float(np.percentile(ms, 50)),
            float(np.percentile(ms, 99)),
            float(ms.max()),
        )


class Probe:
    """A second client PINGing Redis in a tight loop while something else runs.

    ``mode="process"`` (default) runs it as a separate Python process (``_probe.py`` run as a
    script: no GIL shared with the fetch, and none of the caller's ``__main__`` re-imported);
    ``"thread"`` runs it in a thread of this process, sharing the GIL with the fetch.
    """

    def __init__(self, url: str, mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise BenchmarkError(f"probe_mode must be 'process' or 'thread', not {mode!r}.")
        self.mode = mode
        self._process: subprocess.Popen[bytes] | None = None
        if mode == "process":
            self._process = subprocess.Popen(
                [sys.executable, "-u", _probe.__file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self._send(url)
            line = self._read_line()
            if line != "ready":
                detail = line or self._process.stderr.read().decode(errors="replace")[-500:]
                self.close()
                raise BenchmarkError(f"The blocking probe could not start: {detail}")
        else:
            self._client = redis.Redis.from_url(url, socket_timeout=3600)
            self._client.ping()
        self.idle(PROBE_WARM_UP_S)  # the first PINGs of a fresh interpreter are slow

    def _send(self, line: str) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(line.encode() + b"\n")
        self._process.stdin.flush()

    def _read_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout.readline().decode(errors="replace").strip()

    def _read_latencies(self) -> np.ndarray:
        assert self._process is not None and self._process.stdout is not None
        length = int.from_bytes(self._process.stdout.read(8), "little")
        return np.frombuffer(self._process.stdout.read(length), dtype=np.int64)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[list[np.ndarray]]:
        """PING from before the block starts until after it ends; the latencies (ns) are
        appended to the yielded list on exit."""
        collected: list[np.ndarray] = []
        if self._process is not None:
            self._send("start")
            if self._read_line() != "started":
                raise BenchmarkError("The blocking probe stopped answering.")
            try:
                yield collected
            finally:
                self._send("stop")
                collected.append(self._read_latencies())
            return
        stop, began = threading.Event(), threading.Event()
        result: list[array] = []

        def probe() -> None:
            began.set()
            result.append(_probe.ping_until(self._client, stop))

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        began.wait()
        try:
            yield collected
        finally:
            stop.set()
            thread.join()
            collected.append(
                np.frombuffer(result[0], dtype=np.int64) if result else np.array([], dtype=np.int64)
            )

    def idle(self, seconds: float) -> ProbeStats:
        with self.sampling() as collected:
            time.sleep(seconds)
        return ProbeStats.of(collected)

    def close(self) -> None:
        if self._process is None:
            self._client.close()
            return
        with contextlib.suppress(OSError, ValueError):
            self._send("quit")
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


class _NoProbe:
    @contextlib.contextmanager
    def sampling(self) -> Iterator[list[np.ndarray]]:
        yield []

    def idle(self, seconds: float) -> ProbeStats:
        return ProbeStats()

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- Redis-side stats


class _CountingRedis(redis.Redis):
    """A ``redis.Redis`` that counts the commands it sends (pipelines aside)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_counts: collections.Counter[str] = collections.Counter()
        self.scan_counts: list[int] = []  # the COUNT of every SCAN sent

    def execute_command(self, *args: Any, **options: Any) -> Any:
        name = str(args[0]).upper()
        self.command_counts[name] += 1
        if name == "SCAN" and b"COUNT" in args:
            self.scan_counts.append(int(args[args.index(b"COUNT") + 1]))
        return super().execute_command(*args, **options)


_WATCHED = ("keys", "scan", "mget")
_WATCHED_NAMES = tuple(name.upper() for name in _WATCHED)


class _ServerStats:
    """INFO commandstats deltas and SLOWLOG entries around one repeat, on an admin connection."""

    def __init__(self, admin: redis.Redis, owns_server: bool, threshold_us: int) -> None:
        self.admin = admin
        self.owns_server = owns_server
        self.threshold_us: float = math.nan
        self._saved: dict[str, str] = {}
        try:
            saved = {}
            for name in ("slowlog-log-slower-than", "slowlog-max-len"):
                saved.update({str(k): str(v) for k, v in admin.config_get(name).items()})
            self._saved = saved
            admin.config_set("slowlog-log-slower-than", threshold_us)
            admin.config_set(
                "slowlog-max-len", max(SLOWLOG_MAX_LEN, int(saved.get("slowlog-max-len", 0)))
            )
            self.threshold_us = float(threshold_us)
        except redis_errors.ResponseError as error:
            logger.warning("SLOWLOG not measured: CONFIG refused (%s).", error)
        self._mark = -1

    @property
    def slowlog(self) -> bool:
        return not math.isnan(self.threshold_us)

    def restore(self) -> None:
        for name, value in self._saved.items():
            with contextlib.suppress(redis_errors.RedisError):
                self.admin.config_set(name, value)

    def _commandstats(self) -> dict[str, tuple[int, int]]:
        info = self.admin.info("commandstats")
        return {
            name: (
                int(info.get(f"cmdstat_{name}", {}).get("calls", 0)),
                int(info.get(f"cmdstat_{name}", {}).get("usec", 0)),
            )
            for name in _WATCHED
        }

    def before(self) -> dict[str, tuple[int, int]]:
        if self.slowlog:
            if self.owns_server:
                self.admin.slowlog_reset()
            last = self.admin.slowlog_get(1)
            self._mark = int(last[0]["id"]) if last else -1
        return self._commandstats()

    def after(self, before: dict[str, tuple[int, int]]) -> dict[str, Any]:
        now = self._commandstats()
        result: dict[str, Any] = {
            f"redis_{name}_usec": float(now[name][1] - before[name][1]) for name in _WATCHED
        }
        result["slowlog_entries"] = math.nan
        result["slowlog_max_us"] = math.nan
        result["slowlog_max_command"] = None
        if self.slowlog:
            entries = [
                entry
                for entry in self.admin.slowlog_get(SLOWLOG_MAX_LEN)
                if int(entry["id"]) > self._mark and _command_name(entry) in _WATCHED_NAMES
            ]
            result["slowlog_entries"] = float(len(entries))
            if len(entries) >= SLOWLOG_MAX_LEN:
                logger.warning(
                    "The slowlog filled up (%d entries) during one repeat: the slowest command "
                    "may be missing. Raise slowlog_threshold_us.",
                    len(entries),
                )
            if entries:
                slowest = max(entries, key=lambda entry: int(entry["duration"]))
                result["slowlog_max_us"] = float(slowest["duration"])
                result["slowlog_max_command"] = _command_name(slowest)
        return result


def _command_name(entry: dict[str, Any]) -> str:
    command = entry.get("command", b"")
    if isinstance(command, bytes):
        command = command.decode("utf-8", "replace")
    return str(command).split(" ", 1)[0].upper()


# --------------------------------------------------------------------------- measuring


@dataclass
class _Outcome:
    """What one repeat of a measured action returns."""

    keys: list[Any]
    scan_calls: int = 0
    mget_calls: int = 0
    values: list[Any] | None = None
    scan_counts: list[int] = field(default_factory=list)


class _Silenced(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != KEYS_DEPRECATION_NOTICE


@contextlib.contextmanager
def _quiet_keys_notices() -> Iterator[None]:
    """No KEYS deprecation notice per measurement (the baseline runs KEYS on purpose)."""
    quiet = _Silenced()
    logger.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KeysDeprecationWarning)
            yield
    finally:
        logger.removeFilter(quiet)


class _Runner:
    def __init__(
        self,
        *,
        client: _CountingRedis,
        stats: _ServerStats,
        probe: Probe | _NoProbe,
        keyspace: _Keyspace,
        repeats: int,
        cell_budget_s: float,
    ) -> None:
        self.client = client
        self.stats = stats
        self.probe = probe
        self.keyspace = keyspace
        self.repeats = repeats
        self.cell_budget_s = cell_budget_s

    def measure(
        self, flags: dict[str, Any], action: Callable[[], _Outcome], expected_keys: int
    ) -> dict[str, Any]:
        """Run ``action`` (with the settings ``flags``) repeatedly; one result row."""
        walls: list[float] = []
        latencies: list[np.ndarray] = []
        server: list[dict[str, Any]] = []
        outcome = _Outcome([])
        while len(walls) < self.repeats:
            if walls and sum(walls) + walls[-1] > self.cell_budget_s:
                break
            gc.collect()
            self.client.command_counts.clear()
            self.client.scan_counts.clear()
            before = self.stats.before()
            with setup(progress=False, **flags), self.probe.sampling() as collected:
                started = time.perf_counter()
                outcome = action()
                walls.append(time.perf_counter() - started)
            latencies.extend(collected)
            server.append(self.stats.after(before))
            self._check(outcome, expected_keys)
        probe = ProbeStats.of(latencies)
        row: dict[str, Any] = {
            "repeats_done": len(walls),
            "wall_median_s": statistics.median(walls),
            "wall_min_s": min(walls),
            "wall_max_s": max(walls),
            "keys_found": len(outcome.keys),
            "scan_calls": outcome.scan_calls,
            "scan_count_min": min(outcome.scan_counts, default=None),
            "scan_count_mean": statistics.fmean(outcome.scan_counts)
            if outcome.scan_counts
            else math.nan,
            "scan_count_max": max(outcome.scan_counts, default=None),
            "mget_calls": outcome.mget_calls,
            "probe_samples": probe.samples,
            "probe_p50_ms": probe.p50_ms,
            "probe_p99_ms": probe.p99_ms,
            "probe_max_ms": probe.max_ms,
            "slowlog_threshold_us": self.stats.threshold_us,
        }
        for name in _WATCHED:
            row[f"redis_{name}_usec"] = statistics.median(s[f"redis_{name}_usec"] for s in server)
        row["redis_usec"] = statistics.median(
            sum(s[f"redis_{name}_usec"] for name in _WATCHED) for s in server
        )
        slowest = max(
            (s for s in server if not math.isnan(s["slowlog_max_us"])),
            key=lambda s: s["slowlog_max_us"],
            default=None,
        )
        row["slowlog_max_us"] = slowest["slowlog_max_us"] if slowest else math.nan
        row["slowlog_max_command"] = slowest["slowlog_max_command"] if slowest else None
        entries = [s["slowlog_entries"] for s in server if not math.isnan(s["slowlog_entries"])]
        row["slowlog_entries"] = max(entries) if entries else math.nan
        row["_keys"] = outcome.keys
        return row

    def _check(self, outcome: _Outcome, expected: int) -> None:
        if len(outcome.keys) != expected:
            raise BenchmarkError(
                f"Found {len(outcome.keys)} keys where the dataset holds {expected} matching "
                "records."
            )
        marker = self.keyspace.marker
        if marker and not all(marker in _text(key) for key in outcome.keys):
            raise BenchmarkError("A fetch matched a key the benchmark did not write.")
        if outcome.values is not None and (
            len(outcome.values) != expected or any(value is None for value in outcome.values)
        ):
            raise BenchmarkError("A full fetch read fewer values than it listed keys.")

    # The measured actions: each is what a user (or the gem) runs, and the settings it runs
    # with (applied outside the timing).

    def keys_action(self, pattern: str) -> tuple[dict[str, Any], Callable[[], _Outcome]]:
        return {"use_scan": False}, lambda: _Outcome(fetch_keys(pattern, self.client))

    def scan_action(
        self, pattern: str, count: int | str
    ) -> tuple[dict[str, Any], Callable[[], _Outcome]]:
        flags: dict[str, Any] = {"use_scan": True}
        if count == "auto":
            flags["scan_count_auto_tune"] = True
        elif count == "adaptive":
            flags.update(scan_count_auto_tune=True, scan_count="adaptive")
        else:
            flags.update(scan_count_auto_tune=False, scan_count=count)

        def action() -> _Outcome:
            keys = fetch_keys(pattern, self.client)
            return _Outcome(
                keys,
                scan_calls=self.client.command_counts["SCAN"],
                scan_counts=list(self.client.scan_counts),
            )

        return flags, action

    def gem_action(self, pattern: str) -> tuple[dict[str, Any], Callable[[], _Outcome]]:
        def action() -> _Outcome:
            keys = self.client.keys(pattern)
            values = self.client.mget(keys) if keys else []
            return _Outcome(keys, mget_calls=1 if keys else 0, values=values)

        return {}, action

    def rp_full_action(self, pattern: str) -> tuple[dict[str, Any], Callable[[], _Outcome]]:
        def action() -> _Outcome:
            result = fetch_from_redis(pattern, self.client)
            return _Outcome(
                result.keys,
                scan_calls=result.stats.scan_calls,
                mget_calls=result.stats.mget_calls,
                values=result.values,
                scan_counts=list(self.client.scan_counts),
            )

        return {"use_scan": True, "scan_count_auto_tune": True}, action


def _text(key: str | bytes) -> str:
    return key if isinstance(key, str) else key.decode("utf-8", "surrogateescape")


def _count_label(count: int | str) -> str:
    return str(count)


def validate_parameters(
    sizes: Iterable[int],
    counts: Iterable[int | str],
    queries: Iterable[str],
    repeats: int,
    noise: float,
) -> tuple[list[int], list[int | str], list[str]]:
    """Check ``run``'s parameters; sizes sorted and de-duplicated, counts and queries as lists.

    Raises :class:`BenchmarkError` (an :class:`RPToolkitError`) on a bad value.
    """
    size_list = sorted({int(size) for size in sizes})
    if not size_list or size_list[0] < 1:
        raise BenchmarkError("sizes must be whole numbers of at least 1.")
    count_list: list[int | str] = []
    for count in counts:
        if count in ("auto", "adaptive"):
            count_list.append(count)
            continue
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise BenchmarkError(
                f"counts must be whole numbers of at least 1, 'auto' or 'adaptive': {count!r}"
            )
        count_list.append(int(count))
    query_list = list(dict.fromkeys(queries))
    unknown = [q for q in query_list if q not in QUERIES]
    if unknown:
        raise BenchmarkError(f"Unknown queries {unknown}; known: {', '.join(QUERIES)}.")
    if repeats < 1:
        raise BenchmarkError("repeats must be at least 1.")
    if noise < 0:
        raise BenchmarkError("noise must be 0 or more (unrelated keys per record).")
    return size_list, count_list, query_list


_validate = validate_parameters  # the name rp_toolkit.notebooks imports


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _environment(admin: redis.Redis, binary: str | None, url: str | None) -> dict[str, Any]:
    from . import __version__

    server = admin.info("server")
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # pragma: no cover - very old redis-py
        HIREDIS_AVAILABLE = False
    return {
        "redis_version": str(server.get("redis_version")),
        "redis_mode": str(server.get("redis_mode", "")),
        "server": "throwaway" if url is None else redact_url(url),
        "server_binary": binary or str(server.get("executable") or "unknown (existing server)"),
        "server_os": str(server.get("os", "")),
        "redis_py": redis.__version__,
        "hiredis": _package_version("hiredis"),
        "hiredis_parser": bool(HIREDIS_AVAILABLE),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "rp_toolkit": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": _load_average(),
    }


def _load_average() -> list[float] | None:
    """The machine's 1/5/15-minute load averages (other work skews timings), if known."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    counts: Sequence[int | str] = DEFAULT_COUNTS,
    repeats: int = 5,
    noise: float = 0.0,
    queries: Sequence[str] = QUERIES,
    redis_url: str | None = None,
    allow_existing_server: bool = False,
    probe: bool = True,
    progress: bool = True,
    full_fetch: bool = True,
    *,
    cell_budget_s: float = CELL_BUDGET_S,
    slowlog_threshold_us: int = SLOWLOG_THRESHOLD_US,
    probe_mode: str = "process",
    idle_probe_s: float = IDLE_PROBE_S,
    day: date | None = None,
    seed: int = 1,
) -> pd.DataFrame:
    """Measure KEYS against SCAN (each COUNT) on growing keyspaces; one row per measurement.

    See the module's documentation for the method. The environment (Redis, redis-py, hiredis,
    Python, CPUs, platform, date, server binary, parameters, run time) is in
    ``frame.attrs["environment"]``.
    """
    size_list, count_list, query_list = validate_parameters(sizes, counts, queries, repeats, noise)
    if redis_url is not None and not allow_existing_server:
        raise BenchmarkError(
            f"Refusing to benchmark the existing Redis at {redact_url(redis_url)}: the "
            "benchmark writes up to millions of keys and runs KEYS, which blocks that server. "
            "Pass allow_existing_server=True (--allow-existing-server) if that is really "
            "what you want (it writes only keys marked RpBench<id> and removes them at the "
            "end), or leave redis_url unset to use a throwaway server."
        )
    day = day or datetime.now(timezone.utc).date()
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        server: RedisServer | None = None
        if redis_url is None:
            server = stack.enter_context(RedisServer())
            url = server.url
        else:
            url = redis_url
        client = _CountingRedis.from_url(url, socket_timeout=3600, decode_responses=False)
        admin = redis.Redis.from_url(url, socket_timeout=600)
        stack.callback(client.close)
        stack.callback(admin.close)
        environment = _environment(admin, server.binary if server else None, redis_url)
        owns = server is not None
        marker = "" if owns else f"RpBench{uuid.uuid4().hex}"
        keyspace = _Keyspace(
            client,
            day=day,
            seed=seed,
            marker=marker,
            ttl=None if owns else EXISTING_SERVER_TTL_S,
            track=not owns,
        )
        if not owns:
            stack.callback(_remove_keys, keyspace)
        stats = _ServerStats(admin, owns, slowlog_threshold_us)
        stack.callback(stats.restore)
        the_probe: Probe | _NoProbe = Probe(url, probe_mode) if probe else _NoProbe()
        stack.callback(the_probe.close)
        stack.enter_context(_quiet_keys_notices())
        runner = _Runner(
            client=client,
            stats=stats,
            probe=the_probe,
            keyspace=keyspace,
            repeats=repeats,
            cell_budget_s=cell_budget_s,
        )
        per_query = 1 + len(count_list) + (2 if full_fetch else 0)
        bar = stack.enter_context(
            tqdm(
                total=len(size_list) * len(query_list) * per_query,
                desc="bench",
                unit="cell",
                disable=not progress,
            )
        )
        rows = []
        for size in size_list:
            bar.set_postfix_str(f"writing {size:,} records")
            keyspace.grow(size, noise)
            idle = the_probe.idle(idle_probe_s)
            common = {
                "size": size,
                "noise_keys": keyspace.noise_keys,
                "dbsize": int(admin.dbsize()),
                "probe_idle_p50_ms": idle.p50_ms,
                "probe_idle_p99_ms": idle.p99_ms,
                "probe_idle_max_ms": idle.max_ms,
            }
            for query, (pattern, expected) in keyspace.queries(query_list).items():
                cells: list[tuple[str, int | str | None, Any]] = [
                    ("KEYS", None, runner.keys_action(pattern))
                ]
                cells += [("SCAN", c, runner.scan_action(pattern, c)) for c in count_list]
                if full_fetch:
                    cells.append(("gem_keys_mget", None, runner.gem_action(pattern)))
                    cells.append(("scan_chunked_mget", "auto", runner.rp_full_action(pattern)))
                baseline: dict[str, Any] = {}
                for method, count, (flags, action) in cells:
                    bar.set_postfix_str(f"{size:,} {query} {method} {count or ''}".strip())
                    row = runner.measure(flags, action, expected)
                    keys = row.pop("_keys")
                    if method in ("KEYS", "gem_keys_mget"):
                        baseline[method] = (row["wall_median_s"], sorted(map(_text, keys)))
                    reference = "gem_keys_mget" if method.endswith("mget") else "KEYS"
                    base_time, base_keys = baseline[reference]
                    if method not in baseline and sorted(map(_text, keys)) != base_keys:
                        raise BenchmarkError(
                            f"{method} (COUNT {count}) and {reference} found different keys for "
                            f"{pattern!r} at {size:,} records: {len(keys)} against "
                            f"{len(base_keys)}."
                        )
                    rows.append(
                        {
                            **common,
                            "query": query,
                            "pattern": pattern,
                            "method": method,
                            "count": None if count is None else _count_label(count),
                            "scan_count": _scan_count(pattern, count),
                            **row,
                            "overhead": row["wall_median_s"] / base_time if base_time else math.nan,
                        }
                    )
                    bar.update(1)
                _compare_adaptive(rows[len(rows) - len(cells) :])
        environment.update(
            parameters={
                "sizes": size_list,
                "counts": [_count_label(c) for c in count_list],
                "repeats": repeats,
                "noise": noise,
                "queries": query_list,
                "full_fetch": full_fetch,
                "cell_budget_s": cell_budget_s,
                "slowlog_threshold_us": slowlog_threshold_us,
                "probe": probe,
                "probe_mode": probe_mode if probe else None,
                "idle_probe_s": idle_probe_s,
                "day": day.isoformat(),
                "seed": seed,
                "marker": marker or None,
                "mget_chunk": _setting("mget_chunk"),
                "pipeline_depth": _setting("pipeline_depth"),
                "scan_budget_ms": _setting("scan_budget_ms"),
            },
            run_seconds=round(time.perf_counter() - started, 1),
            load_average_end=_load_average(),
        )
    return _to_frame(rows, environment)


def _setting(name: str) -> Any:
    from .settings import settings

    return getattr(settings, name)


def _scan_count(pattern: str, count: int | str | None) -> int | None:
    if count is None:
        return None
    if count == "auto":
        with setup(scan_count_auto_tune=True):
            return determine_scan_count(pattern)
    if count == "adaptive":
        with setup(scan_count="adaptive"):
            return determine_scan_count(pattern)  # the COUNT it starts from
    return int(count)


def _compare_adaptive(rows: Sequence[dict[str, Any]]) -> None:
    """Fill the adaptive rows of one (size, query) with the best fixed COUNT's comparison."""
    fixed = [r for r in rows if r["method"] == "SCAN" and str(r["count"]).isdigit()]
    best = min(fixed, key=lambda r: r["wall_median_s"], default=None)
    for row in rows:
        if row["method"] == "SCAN" and row["count"] == "adaptive":
            row["scan_budget_ms"] = _setting("scan_budget_ms")
            if best is not None:
                row["best_fixed_count"] = int(best["count"])
                row["vs_best_fixed"] = row["wall_median_s"] / best["wall_median_s"]


def _remove_keys(keyspace: _Keyspace) -> None:
    removed = keyspace.remove()
    logger.info("Benchmark keys removed: %d.", removed)


# --------------------------------------------------------------------------- results


def _to_frame(rows: Sequence[dict[str, Any]], environment: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for name, dtype in COLUMNS.items():
        column = frame[name]
        if dtype == "string":
            frame[name] = column.astype(object).where(column.notna(), None).astype("string")
        elif dtype == "Int64":
            frame[name] = pd.array([None if _missing(v) else int(v) for v in column], dtype="Int64")
        else:
            frame[name] = column.astype(dtype)
    frame.attrs["environment"] = environment
    return frame


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _json_value(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def save(frame: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``bench.csv`` (rows) and ``bench.json`` (environment and rows) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "bench.csv", index=False)
    rows = [
        {name: _json_value(value) for name, value in record.items()}
        for record in frame.to_dict(orient="records")
    ]
    document = {"environment": frame.attrs.get("environment", {}), "columns": COLUMNS, "rows": rows}
    (out / "bench.json").write_text(
        json.dumps(document, indent=1, allow_nan=False, default=str) + "\n"
    )
    return out


def load_results(path: str | Path) -> pd.DataFrame:
    """Results saved by :func:`save`: a folder, its ``bench.json`` or its ``bench.csv``."""
    path = Path(path)
    if path.is_dir():
        path = path / "bench.json"
    if path.suffix == ".csv":
        sibling = path.with_suffix(".json")
        environment = json.loads(sibling.read_text())["environment"] if sibling.exists() else {}
        rows = pd.read_csv(path, dtype={"count": str}).to_dict(orient="records")
        return _to_frame(rows, environment)
    document = json.loads(path.read_text())
    return _to_frame(document["rows"], document.get("environment", {}))


def _format_seconds(seconds: float) -> str:
    if _missing(seconds):
        return "–"
    ms = seconds * 1000
    if ms >= 1000:
        return f"{seconds:.3g} s"
    return f"{ms:.3g} ms"


def _format_ms(ms: float) -> str:
    return "–" if _missing(ms) else _format_seconds(ms / 1000)


def _format_ratio(ratio: float) -> str:
    return "–" if _missing(ratio) else f"{ratio:.3g}×"


def to_markdown(frame: pd.DataFrame) -> str:
    """The docs tables: times per method and COUNT, overheads, the probe's worst wait.

    Deterministic: the same results always give the same text.
    """
    environment = frame.attrs.get("environment", {})
    wanted = environment.get("parameters", {}).get("repeats")
    counts = sorted(
        set(frame.loc[frame["method"] == "SCAN", "count"].dropna()),
        key=_count_order,
    )
    fewer = False

    def cell(rows: pd.DataFrame, ratio: bool = False) -> tuple[str, pd.Series | None]:
        """``time (overhead×, COUNT n, k runs)`` for the first of ``rows``."""
        nonlocal fewer
        if rows.empty:
            return "–", None
        row = rows.iloc[0]
        notes = [_format_ratio(row["overhead"])] if ratio else []
        if not _missing(row["count"]) and row["count"] == "auto":
            notes.append(f"COUNT {row['scan_count']}")
        if not _missing(row["count"]) and row["count"] == "adaptive":
            notes.append(f"COUNT {row['scan_count_min']}–{row['scan_count_max']}")
        if wanted and row["repeats_done"] < wanted:
            notes.append(f"{row['repeats_done']} runs")
            fewer = True
        text = _format_seconds(row["wall_median_s"])
        return (f"{text} ({', '.join(notes)})" if notes else text), row

    lines = [
        "| records | query | KEYS | "
        + " | ".join(f"SCAN {c}" for c in counts)
        + " | probe max, KEYS | probe max, SCAN auto | idle probe max |",
        "|---:|---|---:|" + "---:|" * len(counts) + "---:|---:|---:|",
    ]
    groups = frame.groupby(["size", "query"], sort=False)
    order = sorted(
        groups.groups,
        key=lambda k: (int(k[0]), QUERIES.index(k[1]) if k[1] in QUERIES else 99, k[1]),
    )
    for size, query in order:
        rows = groups.get_group((size, query))
        keys_text, keys_row = cell(rows[rows["method"] == "KEYS"])
        parts = [f"{int(size):,}", str(query), keys_text]
        auto_row = None
        for count in counts:
            text, row = cell(
                rows[(rows["method"] == "SCAN") & (rows["count"] == count)], ratio=True
            )
            if count == "auto":
                auto_row = row
            parts.append(text)
        parts.append(_format_ms(keys_row["probe_max_ms"]) if keys_row is not None else "–")
        parts.append(_format_ms(auto_row["probe_max_ms"]) if auto_row is not None else "–")
        parts.append(_format_ms(rows["probe_idle_max_ms"].iloc[0]))
        lines.append("| " + " | ".join(parts) + " |")
    text = "\n".join(lines) + "\n"

    full = frame[frame["method"].isin(["gem_keys_mget", "scan_chunked_mget"])]
    if not full.empty:
        text += (
            "\n| records | query | gem: KEYS + one MGET | rp_toolkit: SCAN auto + chunked MGET "
            "| probe max, gem | probe max, rp_toolkit | slowest command, gem | "
            "slowest command, rp_toolkit |\n|---:|---|---:|---:|---:|---:|---:|---:|\n"
        )
        for size, query in order:
            rows = full[(full["size"] == size) & (full["query"] == query)]
            if rows.empty:
                continue
            gem_text, gem = cell(rows[rows["method"] == "gem_keys_mget"])
            rp_text, rp = cell(rows[rows["method"] == "scan_chunked_mget"], ratio=True)
            parts = [f"{int(size):,}", str(query), gem_text, rp_text]
            parts += [_format_ms(r["probe_max_ms"]) if r is not None else "–" for r in (gem, rp)]
            parts += [_slowest(r) for r in (gem, rp)]
            text += "| " + " | ".join(parts) + " |\n"

    text += _adaptive_table(frame, order)
    notes = [
        "Times are medians of the repeats (wall clock around the call). n× is the time over "
        "the KEYS time of the same size and query (second table: over the gem's KEYS + MGET); "
        "COUNT n is what auto-tune chose. Probe max: the longest another client waited for a "
        "PING while the fetch ran (all repeats); idle: the same with nothing running. Slowest "
        "command: SLOWLOG's longest KEYS/SCAN/MGET (< threshold: none logged).",
    ]
    if (frame["count"] == "adaptive").any():
        notes.append(
            "SCAN adaptive: scan_count='adaptive' (COUNT min–max sent); third table: its time "
            "over the fastest fixed COUNT of the same run, and the probe's longest wait during "
            "each (target: at most the budget + 1 ms)."
        )
    if fewer:
        notes.append(
            f"k runs: fewer than {wanted} repeats fitted in the cell's time budget "
            f"({environment.get('parameters', {}).get('cell_budget_s')} s)."
        )
    if environment:
        notes.append(
            f"Redis {environment.get('redis_version')}, redis-py {environment.get('redis_py')}"
            f" (hiredis {environment.get('hiredis')}), Python {environment.get('python')}, "
            f"{environment.get('cpu_count')} CPUs, {environment.get('platform')}, "
            f"{environment.get('date')}."
        )
    return text + "\n" + "\n".join(notes) + "\n"


def _count_order(count: str) -> tuple[int, int]:
    """Fixed COUNTs ascending, then auto, then adaptive."""
    return (0, int(count)) if count.isdigit() else (1 + (count == "adaptive"), 0)


def _adaptive_table(frame: pd.DataFrame, order: Sequence[tuple[Any, Any]]) -> str:
    """The adaptive COUNT against the best fixed COUNT of the same run, per size and query."""
    adaptive = frame[(frame["method"] == "SCAN") & (frame["count"] == "adaptive")]
    if adaptive.empty:
        return ""
    text = (
        "\n| records | query | SCAN adaptive | best fixed COUNT | adaptive / best fixed "
        "| COUNT min / mean / max | probe max, adaptive | probe max, best fixed | budget |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for size, query in order:
        rows = adaptive[(adaptive["size"] == size) & (adaptive["query"] == query)]
        if rows.empty:
            continue
        row = rows.iloc[0]
        best = frame[
            (frame["size"] == size)
            & (frame["query"] == query)
            & (frame["method"] == "SCAN")
            & (frame["count"] == str(row["best_fixed_count"]))
        ]
        parts = [
            f"{int(size):,}",
            str(query),
            _format_seconds(row["wall_median_s"]),
            "–" if _missing(row["best_fixed_count"]) else f"{int(row['best_fixed_count']):,}",
            _format_ratio(row["vs_best_fixed"]),
            f"{row['scan_count_min']} / {row['scan_count_mean']:.0f} / {row['scan_count_max']}",
            _format_ms(row["probe_max_ms"]),
            _format_ms(best["probe_max_ms"].iloc[0]) if not best.empty else "–",
            _format_ms(row["scan_budget_ms"]),
        ]
        text += "| " + " | ".join(parts) + " |\n"
    return text


def _slowest(row: pd.Series | None) -> str:
    if row is None or _missing(row["slowlog_threshold_us"]):
        return "–"
    if _missing(row["slowlog_max_us"]):
        return f"< {_format_ms(row['slowlog_threshold_us'] / 1000)}"
    return f"{_format_ms(row['slowlog_max_us'] / 1000)} {row['slowlog_max_command']}"


# --------------------------------------------------------------------------- command line


def _parse_sizes(text: str) -> list[int]:
    try:
        return [int(float(part.replace("_", ""))) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers: {text!r}") from None


def _parse_counts(text: str) -> list[int | str]:
    counts: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part in ("auto", "adaptive"):
            counts.append(part)
            continue
        try:
            counts.append(int(part.replace("_", "")))
        except ValueError:
            message = f"counts are whole numbers, auto or adaptive: {text!r}"
            raise argparse.ArgumentTypeError(message) from None
    return counts


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``rp-toolkit bench`` on the CLI's subparsers."""
    bench = subparsers.add_parser(
        "bench", help="measure KEYS against SCAN (a throwaway Redis unless told otherwise)"
    )
    bench.add_argument(
        "--sizes",
        type=_parse_sizes,
        default=list(DEFAULT_SIZES),
        help="records per keyspace, comma-separated (default 100,1000,10000,100000,1000000)",
    )
    bench.add_argument(
        "--counts",
        type=_parse_counts,
        default=list(DEFAULT_COUNTS),
        help="SCAN COUNT hints, auto and/or adaptive (default 10,100,1000,10000,auto; "
        "adaptive uses $RP_SCAN_BUDGET_MS, default 1 ms)",
    )
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument(
        "--noise", type=float, default=0.0, help="unrelated keys per record (default 0)"
    )
    bench.add_argument(
        "--queries",
        type=lambda t: [q for q in t.split(",") if q],
        default=list(QUERIES),
        help="day,controller,request_id",
    )
    bench.add_argument(
        "--redis-url",
        default=None,
        help="an existing Redis (needs --allow-existing-server); default: a throwaway server",
    )
    bench.add_argument(
        "--allow-existing-server",
        action="store_true",
        help="write (marked) keys to --redis-url and run KEYS there",
    )
    bench.add_argument("--out", default="bench", help="folder for bench.csv and bench.json")
    bench.add_argument(
        "--markdown", action="store_true", help="print the docs table (and write bench.md)"
    )
    bench.add_argument("--no-probe", action="store_true", help="no blocking probe")
    bench.add_argument("--probe-mode", choices=("process", "thread"), default="process")
    bench.add_argument(
        "--no-full-fetch",
        action="store_true",
        help="only list keys (no gem_keys_mget / scan_chunked_mget rows)",
    )
    bench.add_argument(
        "--cell-budget",
        type=float,
        default=CELL_BUDGET_S,
        help="seconds per cell before repeats are cut short",
    )
    bench.add_argument("--slowlog-threshold-us", type=int, default=SLOWLOG_THRESHOLD_US)
    bench.add_argument("--no-progress", action="store_true")
    bench.set_defaults(func=cmd_bench)

    speed = subparsers.add_parser(
        "load-speed", help="rp.load against the raw transfer (and the gem's read path)"
    )
    speed.add_argument("--records", type=int, default=1_000_000)
    speed.add_argument("--repeats", type=int, default=3)
    speed.add_argument("--no-gem-path", action="store_true", help="skip the slow gem emulation")
    speed.add_argument("--out", default=None, help="folder for load_speed.csv / .json")
    speed.add_argument("--no-progress", action="store_true")
    speed.set_defaults(func=cmd_load_speed)
    return bench


def cmd_load_speed(args: argparse.Namespace) -> int:
    frame = load_speed(
        args.records,
        repeats=args.repeats,
        gem_path=not args.no_gem_path,
        progress=not args.no_progress,
    )
    summary = load_speed_summary(frame)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / "load_speed.csv", index=False)
        (out / "load_speed.json").write_text(
            json.dumps({"environment": frame.attrs["environment"], "summary": summary}, indent=1)
            + "\n"
        )
    print(json.dumps(summary, indent=1))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    frame = run(
        sizes=args.sizes,
        counts=args.counts,
        repeats=args.repeats,
        noise=args.noise,
        queries=args.queries,
        redis_url=args.redis_url,
        allow_existing_server=args.allow_existing_server,
        probe=not args.no_probe,
        progress=not args.no_progress,
        full_fetch=not args.no_full_fetch,
        cell_budget_s=args.cell_budget,
        slowlog_threshold_us=args.slowlog_threshold_us,
        probe_mode=args.probe_mode,
    )
    out = save(frame, args.out)
    if args.markdown:
        table = to_markdown(frame)
        (out / "bench.md").write_text(table)
        print(table)
    print(f"Results written to {out}/bench.csv and {out}/bench.json", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- load speed


def _gem_read_path(client: redis.Redis, pattern: str) -> int:
    """The gem's read path, done in Python: KEYS, ONE MGET, then split and JSON-parse each
    record one by one (what the gem's Ruby does per record)."""
    from .frames import parse_key

    keys = client.keys(pattern)
    values = client.mget(keys) if keys else []
    parsed = 0
    for key, value in zip(keys, values, strict=True):
        if value is None:
            continue
        fields, _ = parse_key(REQUESTS, key.decode("utf-8", "backslashreplace"))
        document = json.loads(value)
        parsed += fields is not None and isinstance(document, dict)
    return parsed


def load_speed(
    records: int = 1_000_000,
    *,
    repeats: int = 3,
    seed: int = 1,
    gem_path: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """``rp.load`` against the raw transfer it stands on, on a throwaway server.

    Writes ``records`` synthetic request records for one UTC day, then per repeat times: the
    bare transfer (SCAN with auto-tuned COUNT plus chunked pipelined MGETs, no sorting, no
    parsing), ``fetch_from_redis(raw=True)`` (the same plus de-duplication and sorting),
    ``rp.load`` (the same fetch plus parsing into a typed frame) and, with ``gem_path``, the
    gem's read path done in Python (KEYS, one MGET, per-record split and JSON parse). Returns
    one row per repeat and method, with the peak memory of this process in the attrs.
    """
    from .fetching import FetchStats, read_values, scan_batches
    from .frames import load

    end = datetime.combine(date.today(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(
        hours=23, minutes=59
    )
    pattern = REQUESTS.pattern(day=end.date())
    rows: list[dict[str, Any]] = []
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        written = 0
        for batch in synth.iter_request_records(records, seed=seed, end=end, hours=23.9):
            written += synth.write_records(client, batch.keys, batch.values)
        methods: dict[str, Callable[[], int]] = {
            "bare_transfer": lambda: len(
                read_values(
                    client,
                    [
                        k
                        for b in scan_batches(
                            client, pattern.encode(), 1000, FetchStats("SCAN", pattern, "")
                        )
                        for k in b
                    ],
                    FetchStats("SCAN", pattern, ""),
                )
            ),
            "fetch_from_redis_raw": lambda: len(fetch_from_redis(pattern, client, raw=True).keys),
            "rp_load": lambda: len(
                load("requests", client, start=end - timedelta(days=1), end=end)
            ),
        }
        if gem_path:
            methods["gem_read_path_python"] = lambda: _gem_read_path(client, pattern)
        with setup(use_scan=True, scan_count_auto_tune=True, progress=False):
            bar = tqdm(total=repeats * len(methods), disable=not progress, desc="load speed")
            for repeat in range(repeats):
                for method, call in methods.items():
                    gc.collect()
                    started = time.perf_counter()
                    found = call()
                    seconds = time.perf_counter() - started
                    rows.append(
                        {
                            "records": written,
                            "repeat": repeat,
                            "method": method,
                            "seconds": seconds,
                            "found": found,
                        }
                    )
                    bar.update()
            bar.close()
        frame = pd.DataFrame(rows)
        frame.attrs["load_peak_rss_bytes"] = _load_peak_rss(server.url, end)
    frame.attrs["environment"] = {
        "records": written,
        "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return frame


def _load_peak_rss(url: str, end: datetime) -> int:
    """Peak memory of a fresh process that does one ``rp.load`` of the day (bytes)."""
    script = (
        "import resource, sys, datetime as d\n"
        "import rp_toolkit as rp\n"
        "rp.setup(use_scan=True, progress=False)\n"
        "end = d.datetime.fromisoformat(sys.argv[2])\n"
        "df = rp.load('requests', sys.argv[1], start=end - d.timedelta(days=1), end=end)\n"
        "print(len(df), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, url, end.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(done.stdout.split()[1])
    return peak if sys.platform == "darwin" else peak * 1024


def load_speed_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Median seconds per method and the ratios the docs quote."""
    medians = frame.groupby("method")["seconds"].median()
    summary: dict[str, Any] = {f"{m}_s": round(float(s), 3) for m, s in medians.items()}
    summary["load_over_bare_transfer"] = round(medians["rp_load"] / medians["bare_transfer"], 3)
    summary["load_over_fetch_raw"] = round(medians["rp_load"] / medians["fetch_from_redis_raw"], 3)
    if "gem_read_path_python" in medians:
        summary["gem_python_over_load"] = round(
            medians["gem_read_path_python"] / medians["rp_load"], 2
        )
    if int(frame["records"].iloc[0]) == 1_000_000:
        # The gem's own read path in Ruby on a 2-core machine, as reported in issue 3.
        summary["gem_ruby_reference_s"] = GEM_RUBY_READ_1M_S
        summary["gem_ruby_reference_over_load"] = round(GEM_RUBY_READ_1M_S / medians["rp_load"], 1)
    summary["load_peak_rss_gib"] = round(frame.attrs.get("load_peak_rss_bytes", 0) / 2**30, 2)
    summary["records"] = int(frame["records"].iloc[0])
    return summary

"""One walk of the keyspace per question, measured against the gem's per-day KEYS (issue 12).

Every SCAN and every KEYS walks the whole keyspace, whatever its pattern. The gem lists a
window's keys with one ``KEYS`` per UTC day; with SCAN a load covers all days of its window with
one pattern (:meth:`rp_toolkit.kinds.RecordKind.covering_pattern`), and a report that needs
several kinds reads them all from one walk (:func:`rp_toolkit.load_many`).

:func:`benchmark` starts a throwaway Redis (:class:`rp_toolkit.local.RedisServer`;
``$RP_REDIS_SERVER`` picks the binary), writes ``records`` request records spanning two UTC
days (:data:`BENCH_END` minus :data:`HOURS`) and the other kinds the request report reads at a
small rate, all without expiry, then times in one run, the repeats interleaved (A B C D E A B C
D E ...), gc before each:

``gem_keys``        the gem's key listing: ``KEYS`` with each per-day pattern of
                    ``REQUESTS.patterns(start, end)`` (redis-py's ``keys``, nothing more: no
                    readiness check, no de-duplication), two commands.
``scan_per_day``    :func:`rp_toolkit.store.list_keys` with SCAN for each per-day pattern: two
                    walks (``decode=False, sort=False``, as ``rp.load`` calls it).
``scan_covering``   the same with ``REQUESTS.covering_pattern(start, end)``: one walk. This is
                    the key listing of ``rp.load("requests", start=..., end=...)``.
``scan_bare``       the same walk as a bare redis-py loop (``SCAN`` with the same COUNT until
                    the cursor is 0; no readiness check, statistics or de-duplication): the
                    floor ``scan_covering`` stands on. Right after it, outside its time, the
                    de-duplication ``list_keys`` does is timed on its fresh keys (``dedup_s``):
                    :class:`rp_toolkit.store.SeenKeys` handed them a round trip
                    (``mget_chunk × pipeline_depth`` keys) at a time, as the walk hands them on.
``load_many``       the request report's loads: ``rp.load_many(REPORT_KINDS, ...)`` as the
                    notebook calls it (resources over the last 24 hours).
``load_each``       the same kinds one by one: ``rp.load`` per kind, then ``rp.load_events``.

Every method runs with ``use_scan`` as its name says, auto-tuned COUNT, progress off. The three
key listings must return the same key set, and exactly the request records written; both report
variants the same records per kind; ``load_many`` exactly one walk. Anything else is a
:class:`~rp_toolkit.exceptions.BenchmarkError`.

Measured per call: client wall time (``time.perf_counter``), and Redis's own time and call
counts of KEYS, SCAN and MGET from ``INFO commandstats`` deltas (a throwaway server: nobody else
sends them). A row per method gives the medians; :func:`save_walks` writes ``walks.json`` (with
the environment, the dataset and every measurement) and ``walks.md``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from ..config import Options, current_options, setup
from ..exceptions import BenchmarkError, InvalidArgumentError
from ..files import atomic_files
from ..frames import load, load_events, load_many
from ..frames import walks as fetch_walks
from ..kinds import REQUESTS, encode_key, get_kind
from ..local import RedisServer
from ..store import FetchStats, SeenKeys, determine_scan_count, list_keys
from ..synth import generate, iter_request_records, write_records
from ._environment import describe_environment, load_average
from ._markdown import server_text

BENCH_END = datetime(2026, 2, 5, 2, 0, tzinfo=timezone.utc)
"""Records span ``[BENCH_END - HOURS, BENCH_END)``: 20:00 on 4 February to 02:00 on the 5th."""
HOURS = 6.0
REPORT_KINDS = (
    "requests",
    "sidekiq",
    "delayed_job",
    "grape",
    "rake",
    "custom",
    "resources",
    "events",
)
"""What the request report (``notebooks/request_performance.ipynb``) loads."""
RESOURCES_HOURS = 24
"""The report reads resources over the last 24 hours (the gem's ``system_monitor_duration``)."""
OTHERS_RPS = 2.0
"""The rate (``synth`` requests a second) the other kinds are written at."""
TARGET_COVERING_OVER_KEYS = 0.75
"""Issue 12: a two-day load's key listing at most 0.75x the gem's per-day KEYS."""
WATCHED = ("keys", "scan", "mget")

METHODS = ("gem_keys", "scan_per_day", "scan_covering", "scan_bare", "load_many", "load_each")
LISTINGS = METHODS[:4]
"""The methods that list the request keys (and must agree on them)."""
DESCRIPTIONS = {
    "gem_keys": "gem: one KEYS per UTC day",
    "scan_per_day": "SCAN, one walk per UTC day",
    "scan_covering": "SCAN, one pattern covering both days",
    "scan_bare": "the same SCAN, a bare redis-py loop",
    "load_many": "report: rp.load_many, 8 kinds",
    "load_each": "report: rp.load per kind + rp.load_events",
}


@dataclass
class WalkResults:
    """What :func:`benchmark` measured: a row per method (medians), every measurement, the
    ratios against the gem's KEYS, the targets, and where it ran."""

    rows: list[dict[str, Any]]
    measurements: list[dict[str, Any]]
    ratios: dict[str, Any]
    targets: dict[str, dict[str, Any]]
    environment: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "dataset": self.dataset,
            "rows": self.rows,
            "ratios": self.ratios,
            "targets": self.targets,
            "measurements": self.measurements,
        }


@dataclass
class Call:
    """What one measured call returned: the keys to check (listings) or what its frames held
    (``extra``), and its own counts."""

    found: int
    walks: int
    keys: list[bytes] | None = None
    scan_calls: int = 0
    scan_count: int | None = None
    listing_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def source_state() -> dict[str, Any]:
    """The checkout measured: its commit and the files that differ from it (the code under
    measurement may be work in progress), or None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.rstrip("\n")

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "modified": [line[3:] for line in status.splitlines()] if status else [],
    }


def commandstats(admin: redis.Redis) -> dict[str, tuple[int, int]]:
    """``(calls, usec)`` of KEYS, SCAN and MGET so far, per ``INFO commandstats``."""
    info = admin.info("commandstats")
    return {
        name: (
            int(info.get(f"cmdstat_{name}", {}).get("calls", 0)),
            int(info.get(f"cmdstat_{name}", {}).get("usec", 0)),
        )
        for name in WATCHED
    }


def write_dataset(
    client: redis.Redis, records: int, seed: int, others_rps: float
) -> dict[str, Any]:
    """``records`` request records and the report's other kinds at ``others_rps``, over
    ``[BENCH_END - HOURS, BENCH_END)``, none expiring; what was written, per kind."""
    started = time.perf_counter()
    counts = {"requests": 0}
    for batch in iter_request_records(records, seed=seed, end=BENCH_END, hours=HOURS):
        counts["requests"] += write_records(client, batch.keys, batch.values)
    others = [kind for kind in REPORT_KINDS if get_kind(kind) is not REQUESTS]
    for batch in generate(hours=HOURS, rps=others_rps, seed=seed, kinds=others, end=BENCH_END):
        name = batch.kind.name
        counts[name] = counts.get(name, 0) + write_records(client, batch.keys, batch.values)
    return {"written": counts, "write_seconds": round(time.perf_counter() - started, 2)}


def listing(patterns: Sequence[str], client: redis.Redis) -> Call:
    """``list_keys`` for each pattern, with the current ``use_scan`` (one walk each)."""
    keys: list[bytes] = []
    fetched: list[FetchStats] = []
    for pattern in patterns:
        found, stats = list_keys(pattern, client, decode=False, sort=False)
        keys.extend(found)
        fetched.append(stats)
    return Call(
        found=len(keys),
        walks=sum(fetch_walks(stats) for stats in fetched),
        keys=keys,
        scan_calls=sum(stats.scan_calls for stats in fetched),
        scan_count=fetched[0].count if fetched else None,
        listing_s=sum(stats.keys_seconds for stats in fetched),
    )


def gem_keys(patterns: Sequence[str], client: redis.Redis) -> Call:
    """The gem's listing: one ``KEYS`` per pattern, as ``RailsPerformance.redis.keys`` does."""
    keys = [key for pattern in patterns for key in client.keys(pattern)]
    return Call(found=len(keys), walks=len(patterns), keys=keys)


def bare_scan(pattern: str, client: redis.Redis, count: int) -> Call:
    """One walk with redis-py alone: ``SCAN cursor MATCH pattern COUNT count`` until the
    cursor is 0 (``count``: what ``list_keys`` sends, :func:`rp_toolkit.determine_scan_count`)."""
    keys: list[bytes] = []
    cursor, calls = 0, 0
    while True:
        cursor, batch = client.scan(cursor, match=encode_key(pattern), count=count)
        keys.extend(batch)
        calls += 1
        if int(cursor) == 0:
            break
    return Call(found=len(keys), walks=1, keys=keys, scan_calls=calls, scan_count=count)


def dedup_seconds(keys: list[bytes], trip: int) -> float:
    """What ``list_keys``'s de-duplication takes on ``keys``: an exact
    :class:`rp_toolkit.store.SeenKeys` handed them ``trip`` keys (a round trip) at a time, as
    the walk hands them on."""
    batches = [keys[start : start + trip] for start in range(0, len(keys), trip)]
    seen = SeenKeys(exact=True)
    started = time.perf_counter()
    for batch in batches:
        seen.fresh(batch)
    return time.perf_counter() - started


def dedup_label(trip: int) -> str:
    """How :func:`dedup_seconds` de-duplicates, as the results say it."""
    return f"SeenKeys, {trip:,} keys at a time"


def distinct_fetches(frames: dict[str, pd.DataFrame]) -> list[FetchStats]:
    """The fetch statistics behind ``frames``, each once (``load_many``'s frames share one)."""
    seen: dict[int, FetchStats] = {}
    for frame in frames.values():
        for stats in frame.attrs["rp"].fetches:
            seen.setdefault(id(stats), stats)
    return list(seen.values())


def report_call(frames: dict[str, pd.DataFrame]) -> Call:
    """A :class:`Call` of the report's frames: records, walks and SCANs of their fetches, and
    the key listing of the requests (the frames themselves are not kept)."""
    fetches = distinct_fetches(frames)
    requests = frames["requests"].attrs["rp"]
    return Call(
        found=sum(int(frame.attrs["rp"].records) for frame in frames.values()),
        walks=sum(fetch_walks(stats) for stats in fetches),
        scan_calls=sum(stats.scan_calls for stats in fetches),
        scan_count=max((stats.count or 0 for stats in fetches), default=None),
        listing_s=sum(stats.keys_seconds for stats in fetches),
        extra={
            "records_by_kind": {k: int(f.attrs["rp"].records) for k, f in frames.items()},
            "walks_by_kind": {k: int(f.attrs["rp"].summary()["walks"]) for k, f in frames.items()},
            "scan_count_by_kind": {
                k: f.attrs["rp"].fetches[0].count if f.attrs["rp"].fetches else None
                for k, f in frames.items()
            },
            "requests_patterns": list(requests.patterns),
            "requests_listing_s": sum(stats.keys_seconds for stats in requests.fetches),
        },
    )


def load_each(
    client: redis.Redis, start: datetime, end: datetime, windows: dict[str, tuple[Any, Any]]
) -> dict[str, pd.DataFrame]:
    """The report's kinds one by one: ``rp.load`` per kind, ``rp.load_events`` for events."""
    frames: dict[str, pd.DataFrame] = {}
    for kind in REPORT_KINDS:
        first, last = windows.get(kind, (start, end))
        if not get_kind(kind).tabular:  # events: their own loader
            frames[kind] = load_events(client, start=first, end=last)
        else:
            frames[kind] = load(kind, client, start=first, end=last)
    return frames


def check_repeat(calls: dict[str, Call], records: int, covering: str) -> None:
    """The checks of one repeat (see the module's docstring)."""
    key_sets = {name: set(calls[name].keys or []) for name in LISTINGS}
    reference = key_sets["gem_keys"]
    if len(reference) != records:
        raise BenchmarkError(f"KEYS listed {len(reference):,} request keys, not {records:,}.")
    for name, found in key_sets.items():
        if found != reference:
            raise BenchmarkError(
                f"{name} listed {len(found):,} keys, {len(found ^ reference):,} of them "
                "different from the gem's KEYS."
            )
    many, each = calls["load_many"], calls["load_each"]
    if many.walks != 1:
        raise BenchmarkError(f"load_many walked the keyspace {many.walks} times, not once.")
    if many.extra["records_by_kind"] != each.extra["records_by_kind"]:
        raise BenchmarkError(
            f"load_many read {many.extra['records_by_kind']}, "
            f"one load per kind {each.extra['records_by_kind']}."
        )
    if many.extra["records_by_kind"]["requests"] != records:
        raise BenchmarkError(
            f"load_many read {many.extra['records_by_kind']['requests']:,} requests."
        )
    if each.extra["requests_patterns"] != [covering]:
        raise BenchmarkError(
            f"rp.load('requests') used {each.extra['requests_patterns']}, not [{covering!r}]."
        )


@dataclass(frozen=True)
class Window:
    """What the benchmark reads: the two-day window of its records, the gem's per-day
    patterns, the one pattern covering both days, and the report's windows per kind."""

    start: datetime
    end: datetime
    per_day: list[str]
    covering: str
    windows: dict[str, tuple[datetime, datetime]]

    @classmethod
    def ending(cls, end: datetime) -> Window:
        """The window of :data:`HOURS` ending at ``end`` (resources: :data:`RESOURCES_HOURS`)."""
        start = end - timedelta(hours=HOURS)
        return cls(
            start=start,
            end=end,
            per_day=REQUESTS.patterns(start, end),
            covering=REQUESTS.covering_pattern(start, end),
            windows={"resources": (end - timedelta(hours=RESOURCES_HOURS), end)},
        )


def benchmark(
    records: int = 1_000_000,
    repeats: int = 3,
    seed: int = 1,
    *,
    others_rps: float = OTHERS_RPS,
) -> WalkResults:
    """Measure one walk against the gem's per-day KEYS, and ``load_many`` against one load
    per kind, on a throwaway server holding ``records`` request records over two UTC days.

    See the module's docstring for the methods, the checks and what is measured.
    """
    if records < 1 or repeats < 1:
        raise InvalidArgumentError(
            f"records and repeats must be at least 1, not {records}, {repeats}."
        )
    options = current_options()
    window = Window.ending(BENCH_END)
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        admin = redis.Redis.from_url(server.url)
        try:
            environment = describe_environment(admin, server.binary, None)
            environment["RP_REDIS_SERVER"] = os.environ.get("RP_REDIS_SERVER")
            environment["source"] = source_state()
            dataset = write_dataset(client, records, seed, others_rps)
            dataset.update(
                records=records,
                others_rps=others_rps,
                seed=seed,
                **dataset_facts(admin, window, options),
            )
            walker = Walker(client, admin, window, options)
            measurements = walker.measure(repeats, dataset["written"]["requests"])
            environment["load_average_end"] = load_average()
            environment["redis_peak_memory_bytes"] = int(
                admin.info("memory").get("used_memory_peak", 0)
            )
        finally:
            client.close()
            admin.close()
    return results_of(measurements, environment, dataset)


def dataset_facts(admin: redis.Redis, window: Window, options: Options) -> dict[str, Any]:
    """What the server holds and what is read from it, with the options the reads ran with
    (not ``redis_url``: this is a throwaway server)."""
    memory = admin.info("memory")
    facts = {
        "dbsize": int(admin.dbsize()),
        "used_memory_rss_bytes": int(memory.get("used_memory_rss", 0)),
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "resources_window_hours": RESOURCES_HOURS,
        "per_day_patterns": window.per_day,
        "covering_pattern": window.covering,
        "report_kinds": list(REPORT_KINDS),
        "settings": {
            **{k: v for k, v in options.as_dict().items() if k != "redis_url"},
            "use_scan": "per method: KEYS for gem_keys, SCAN for the others",
            "scan_count_auto_tune": True,
            "progress": False,
        },
    }
    return facts


@dataclass
class Walker:
    """Times the methods on one server, the repeats interleaved; ``options``: the settings
    the benchmark started with (its reads run with ``use_scan`` per method, auto-tuned COUNT
    and no progress bar)."""

    client: redis.Redis
    admin: redis.Redis
    window: Window
    options: Options

    def actions(self) -> dict[str, tuple[bool, Callable[[], Call]]]:
        """Each method's ``use_scan`` and its call."""
        client, window = self.client, self.window
        with setup(scan_count_auto_tune=True):
            count = determine_scan_count(window.covering)
        start, end, windows = window.start, window.end, window.windows
        return {
            "gem_keys": (False, lambda: gem_keys(window.per_day, client)),
            "scan_per_day": (True, lambda: listing(window.per_day, client)),
            "scan_covering": (True, lambda: listing([window.covering], client)),
            "scan_bare": (True, lambda: bare_scan(window.covering, client, count)),
            "load_many": (
                True,
                lambda: report_call(
                    load_many(REPORT_KINDS, client, start=start, end=end, windows=windows)
                ),
            ),
            "load_each": (True, lambda: report_call(load_each(client, start, end, windows))),
        }

    def measure(self, repeats: int, requests: int) -> list[dict[str, Any]]:
        """Every method ``repeats`` times, interleaved, each repeat checked (``requests``:
        the request records written); a measurement per call."""
        actions = self.actions()
        measurements: list[dict[str, Any]] = []
        for repeat in range(repeats):
            calls: dict[str, Call] = {}
            for method, (use_scan, action) in actions.items():
                calls[method], measured = self.measure_call(repeat, method, use_scan, action)
                measurements.append(measured)
            check_repeat(calls, requests, self.window.covering)
            del calls  # the keys of one repeat, not two, in memory
        return measurements

    def measure_call(
        self, repeat: int, method: str, use_scan: bool, action: Callable[[], Call]
    ) -> tuple[Call, dict[str, Any]]:
        """One call, timed, with Redis's counts around it (and, for the bare walk, the
        de-duplication of its keys, outside its time)."""
        with setup(use_scan=use_scan, scan_count_auto_tune=True, progress=False):
            gc.collect()
            before = commandstats(self.admin)
            started = time.perf_counter()
            call = action()
            wall = time.perf_counter() - started
            after = commandstats(self.admin)
        if method == "scan_bare":  # fresh bytes, their hashes not computed yet
            trip = self.options.mget_chunk * self.options.pipeline_depth
            call.extra["dedup_s"] = dedup_seconds(call.keys or [], trip)
            call.extra["dedup_by"] = dedup_label(trip)
        row = measurement(repeat, method, wall, call, before, after, self.options.mget_chunk)
        return call, row


def results_of(
    measurements: list[dict[str, Any]], environment: dict[str, Any], dataset: dict[str, Any]
) -> WalkResults:
    """The results of the measurements: a row per method, the ratios and the targets."""
    rows = summarise(measurements)
    ratios = ratios_of(rows, measurements)
    return WalkResults(
        rows=rows,
        measurements=measurements,
        ratios=ratios,
        targets=targets_of(ratios, rows),
        environment=environment,
        dataset=dataset,
    )


def measurement(
    repeat: int,
    method: str,
    wall: float,
    call: Call,
    before: dict[str, tuple[int, int]],
    after: dict[str, tuple[int, int]],
    mget_chunk: int,
) -> dict[str, Any]:
    """One measured call as a flat dict."""
    row: dict[str, Any] = {
        "repeat": repeat,
        "method": method,
        "wall_s": wall,
        "found": call.found,
        "walks": call.walks,
        "client_scan_calls": call.scan_calls,
        "scan_count": call.scan_count,
        "listing_s": call.listing_s if method in ("load_many", "load_each") else wall,
        "mget_chunk": mget_chunk if method in ("load_many", "load_each") else None,
    }
    for name in WATCHED:
        row[f"redis_{name}_calls"] = after[name][0] - before[name][0]
        row[f"redis_{name}_usec"] = after[name][1] - before[name][1]
    row.update(call.extra)
    return row


def summarise(measurements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per method: medians over the repeats (and the range of the wall time)."""
    rows = []
    frame = pd.DataFrame(measurements)
    for method in METHODS:
        mine = frame[frame["method"] == method]
        if mine.empty:
            continue
        last = mine.iloc[-1]
        listing_usec = mine["redis_keys_usec"] + mine["redis_scan_usec"]
        rows.append(
            {
                "method": method,
                "what": DESCRIPTIONS[method],
                "repeats": len(mine),
                "found": int(last["found"]),
                "walks": int(last["walks"]),
                "keys_calls": int(last["redis_keys_calls"]),
                "scan_calls": int(last["redis_scan_calls"]),
                "mget_calls": int(last["redis_mget_calls"]),
                "scan_count": None if pd.isna(last["scan_count"]) else int(last["scan_count"]),
                "wall_median_s": float(mine["wall_s"].median()),
                "wall_min_s": float(mine["wall_s"].min()),
                "wall_max_s": float(mine["wall_s"].max()),
                "listing_median_s": float(mine["listing_s"].median()),
                "redis_listing_median_s": float(listing_usec.median()) / 1e6,
                "redis_mget_median_s": float(mine["redis_mget_usec"].median()) / 1e6,
            }
        )
    return rows


def ratios_of(rows: list[dict[str, Any]], measurements: list[dict[str, Any]]) -> dict[str, Any]:
    """The ratios the issue asks about, of the medians (and paired per repeat)."""
    by = {row["method"]: row for row in rows}
    keys = by["gem_keys"]

    def over(name: str, column: str, base: dict[str, Any] = keys) -> float:
        return round(by[name][column] / base[column], 3) if base[column] else float("nan")

    frame = pd.DataFrame(measurements)
    wall = frame.pivot(index="repeat", columns="method", values="wall_s")
    requests_listing = frame.loc[frame["method"] == "load_each", "requests_listing_s"]
    dedup = frame.loc[frame["method"] == "scan_bare", "dedup_s"]
    labels = frame.loc[frame["method"] == "scan_bare"].get("dedup_by", pd.Series(dtype=object))
    dedup_by = labels.iloc[0] if len(labels) else None
    return {
        "covering_scan_over_gem_keys_wall": over("scan_covering", "wall_median_s"),
        "covering_scan_over_gem_keys_redis": over("scan_covering", "redis_listing_median_s"),
        "two_scans_over_gem_keys_wall": over("scan_per_day", "wall_median_s"),
        "two_scans_over_gem_keys_redis": over("scan_per_day", "redis_listing_median_s"),
        "covering_over_two_scans_wall": over("scan_covering", "wall_median_s", by["scan_per_day"]),
        "bare_scan_over_gem_keys_wall": over("scan_bare", "wall_median_s"),
        "covering_scan_over_bare_scan_wall": over(
            "scan_covering", "wall_median_s", by["scan_bare"]
        ),
        "dedup_median_s": round(float(dedup.median()), 3) if len(dedup) else float("nan"),
        "dedup_by": dedup_by,
        "covering_scan_over_gem_keys_wall_per_repeat": [
            round(v, 3) for v in (wall["scan_covering"] / wall["gem_keys"]).tolist()
        ],
        "load_requests_listing_over_gem_keys_wall": round(
            float(requests_listing.median()) / keys["wall_median_s"], 3
        )
        if len(requests_listing)
        else float("nan"),
        "load_many_over_load_each_wall": over("load_many", "wall_median_s", by["load_each"]),
        "load_many_over_load_each_listing": over("load_many", "listing_median_s", by["load_each"]),
        "load_many_walks": by["load_many"]["walks"],
        "load_each_walks": by["load_each"]["walks"],
    }


def targets_of(ratios: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The issue's targets, met or not."""
    covering = ratios["covering_scan_over_gem_keys_wall"]
    return {
        "two_day_listing_over_gem_keys": {
            "target": f"<= {TARGET_COVERING_OVER_KEYS}",
            "measured": covering,
            "met": bool(covering <= TARGET_COVERING_OVER_KEYS),
        },
        "report_walks": {
            "target": "== 1",
            "measured": ratios["load_many_walks"],
            "met": ratios["load_many_walks"] == 1,
        },
    }


def walks_markdown(results: WalkResults) -> str:
    """The results as a markdown table, the ratios and the targets."""
    lines = [*context_lines(results), "", *method_table(results.rows)]
    lines += ["", *ratio_table(results.ratios), "", *target_table(results.targets)]
    return "\n".join(lines) + "\n"


def context_lines(results: WalkResults) -> list[str]:
    """Where it ran (server, Python, CPUs, load, code) and what it read."""
    env, data = results.environment, results.dataset
    source = env.get("source") or {}
    return [
        f"{server_text(env)} ({env.get('server_binary')}), Python "
        f"{env.get('python')}, {env.get('cpu_count')} CPUs, load average "
        f"{env.get('load_average_start')} at the start and {env.get('load_average_end')} at the "
        f"end, {env.get('date')}. Code: commit {source.get('commit') or 'unknown'}"
        + (f", modified: {', '.join(source['modified'])}" if source.get("modified") else "")
        + ".",
        "",
        f"{data.get('records', 0):,} request records over {data.get('start')} to "
        f"{data.get('end')} (two UTC days), other kinds at {data.get('others_rps')} rps "
        f"({data.get('dbsize', 0):,} keys in all, Redis RSS "
        f"{data.get('used_memory_rss_bytes', 0) / 2**30:.2f} GiB); medians of "
        f"{results.rows[0]['repeats'] if results.rows else 0} interleaved repeats.",
    ]


def method_table(rows: list[dict[str, Any]]) -> list[str]:
    """A line per method: walks, commands, COUNT, keys found, times."""
    lines = [
        "| method | what | walks | KEYS | SCAN | MGET | COUNT | found | wall s (min-max) "
        "| listing s | Redis listing s | Redis MGET s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['what']} | {row['walks']} | {row['keys_calls']:,} "
            f"| {row['scan_calls']:,} | {row['mget_calls']:,} | {row['scan_count'] or ''} "
            f"| {row['found']:,} | {row['wall_median_s']:.2f} ({row['wall_min_s']:.2f}-"
            f"{row['wall_max_s']:.2f}) | {row['listing_median_s']:.2f} "
            f"| {row['redis_listing_median_s']:.2f} | {row['redis_mget_median_s']:.2f} |"
        )
    return lines


def ratio_table(ratios: dict[str, Any]) -> list[str]:
    """The ratios, then the per-repeat ratio and the de-duplication's time. Results saved
    before ``dedup_by`` was recorded timed ``dict.fromkeys``."""
    dedup_by = ratios.get("dedup_by") or "dict.fromkeys"
    return [
        "| ratio | wall | Redis |",
        "|---|---:|---:|",
        f"| one covering SCAN / gem's per-day KEYS | {ratios['covering_scan_over_gem_keys_wall']}"
        f" | {ratios['covering_scan_over_gem_keys_redis']} |",
        f"| two per-day SCANs / gem's per-day KEYS | {ratios['two_scans_over_gem_keys_wall']}"
        f" | {ratios['two_scans_over_gem_keys_redis']} |",
        f"| one covering SCAN / two per-day SCANs | {ratios['covering_over_two_scans_wall']} | |",
        f"| bare redis-py SCAN loop / gem's per-day KEYS | {ratios['bare_scan_over_gem_keys_wall']}"
        " | |",
        "| one covering SCAN (list_keys) / the bare loop "
        f"| {ratios['covering_scan_over_bare_scan_wall']} | |",
        "| rp.load('requests')'s own key listing / gem's per-day KEYS "
        f"| {ratios['load_requests_listing_over_gem_keys_wall']} | |",
        f"| load_many / one load per kind | {ratios['load_many_over_load_each_wall']} | |",
        f"| load_many / one load per kind, key listing only "
        f"| {ratios['load_many_over_load_each_listing']} | |",
        "",
        "Covering SCAN / gem KEYS (wall) per repeat: "
        + ", ".join(str(v) for v in ratios["covering_scan_over_gem_keys_wall_per_repeat"])
        + f". De-duplicating the walk's keys ({dedup_by}, as list_keys does): "
        f"{ratios['dedup_median_s']} s.",
    ]


def target_table(targets: dict[str, dict[str, Any]]) -> list[str]:
    """Each of the issue's targets: wanted, measured, met."""
    lines = ["| target | wanted | measured | met |", "|---|---|---:|---|"]
    for name, target in targets.items():
        met = "yes" if target["met"] else "no"
        lines.append(f"| {name} | {target['target']} | {target['measured']} | {met} |")
    return lines


def save_walks(results: WalkResults, out: str | Path) -> Path:
    """Write ``walks.json`` and ``walks.md`` into folder ``out``; returns the folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_files(folder / "walks.json", folder / "walks.md") as (document, table):
        document.write_text(
            json.dumps(results.as_dict(), indent=1, default=str) + "\n", encoding="utf-8"
        )
        table.write_text(walks_markdown(results), encoding="utf-8")
    return folder

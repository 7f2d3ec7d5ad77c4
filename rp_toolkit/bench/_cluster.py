"""One node against a local Redis Cluster: the same data, the same read paths, the same run."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from redis import exceptions as redis_errors

from ..config import setup
from ..exceptions import BenchmarkError, first_line
from ..frames import load
from ..kinds import SCHEMA_VERSION
from ..local import LocalCluster, RedisServer
from ..store import FetchStats, fetch_from_redis, get_client, is_cluster, list_keys
from ..synth import iter_request_records, write_records

BENCH_END = datetime(2026, 2, 4, 23, 59, tzinfo=timezone.utc)
"""Records span ``[BENCH_END - 23.9 h, BENCH_END)``: one UTC day, so the day pattern matches
them all. They are written without expiry."""


Operation = tuple[dict[str, Any], Callable[[str], Any]]
"""A read path: the settings it runs with, and the call (given the target's URL)."""


def benchmark(
    records: int = 1_000_000, *, primaries: int = 3, repeats: int = 3, seed: int = 1
) -> list[dict[str, Any]]:
    """Time the read paths on one node and on a ``primaries``-node local cluster holding the
    same ``records`` request records (both throwaway servers on this machine, same run).

    Rows: ``target`` (``single``/``cluster``), ``operation``, ``seconds`` (median of
    ``repeats``), ``seconds_min``, ``keys`` (checked equal on both targets), ``scan_calls``,
    ``mget_calls``, ``slowest_call_ms``; plus ``write`` rows (seconds to write the records;
    ``server``: the servers' software and version, ``valkey 9.1.2``) and the gem's KEYS + one
    MGET (``error`` on the cluster: CROSSSLOT).
    """
    day = BENCH_END.strftime("%Y%m%d")
    pattern = f"performance|*datetime|{day}*|*|END|{SCHEMA_VERSION}"
    with RedisServer() as single, LocalCluster(primaries) as local:
        targets = {"single": single.url, "cluster": local.url}
        software = " ".join(single.software())  # the cluster's nodes run the same binary
        rows = [
            timed_write(target, url, records, seed, software) for target, url in targets.items()
        ]
        found: dict[str, int] = {}
        for operation, (flags, call) in operations(pattern).items():
            for target, url in targets.items():
                row = time_operation(call, url, flags, repeats)
                rows.append({"target": target, "operation": operation, **row})
                if "error" in row:
                    continue
                if found.setdefault(operation, row["keys"]) != row["keys"]:
                    raise BenchmarkError(
                        f"{operation}: {target} found {row['keys']} keys, not {found[operation]}"
                    )
    return rows


def timed_write(target: str, url: str, records: int, seed: int, software: str) -> dict[str, Any]:
    """Write the ``records`` request records to ``url``; the ``write`` row of ``target``."""
    client = get_client(url)
    started = time.perf_counter()
    for batch in iter_request_records(records, seed=seed, end=BENCH_END, hours=23.9):
        write_records(client, batch.keys, batch.values)
    seconds = time.perf_counter() - started
    return {"target": target, "operation": "write", "seconds": seconds, "server": software}


def gem_fetch(pattern: str, url: str) -> Any:
    """The gem's read: KEYS, then one MGET, on one node (a cluster's default node)."""
    client = get_client(url)
    if is_cluster(client):  # the gem talks to one node: KEYS there, MGET there
        client = client.get_redis_connection(client.get_default_node())
    keys = client.keys(pattern)
    return keys, client.mget(keys)


def operations(pattern: str) -> dict[str, Operation]:
    """The read paths measured, by name, for ``pattern`` (one UTC day of requests)."""
    start = BENCH_END - timedelta(hours=24)
    return {
        "fetch_keys KEYS": ({"use_scan": False}, lambda u: list_keys(pattern, get_client(u))),
        "fetch_keys SCAN (auto COUNT)": (
            {"use_scan": True},
            lambda u: list_keys(pattern, get_client(u)),
        ),
        "fetch_from_redis SCAN raw": (
            {"use_scan": True},
            lambda u: fetch_from_redis(pattern, u, raw=True),
        ),
        "load requests SCAN": (
            {"use_scan": True},
            lambda u: load("requests", u, start=start, end=BENCH_END),
        ),
        "gem KEYS + one MGET": ({"use_scan": False}, functools.partial(gem_fetch, pattern)),
    }


def time_operation(
    call: Callable[[str], Any], url: str, flags: dict[str, Any], repeats: int
) -> dict[str, Any]:
    """``call`` on ``url`` ``repeats`` times with the settings ``flags``: its median and
    fastest time, keys and counts; or the ``error`` the server answered."""
    times = []
    try:
        for _ in range(repeats):
            with setup(progress=False, **flags):
                started = time.perf_counter()
                result = call(url)
                times.append(time.perf_counter() - started)
    except (redis_errors.RedisError, redis_errors.RedisClusterException) as error:
        return {"error": first_line(error)}
    counts = counts_of(result)
    return {
        "seconds": statistics.median(times),
        "seconds_min": min(times),
        "keys": keys_of(result),
        "scan_calls": counts.scan_calls if counts else None,
        "mget_calls": counts.mget_calls if counts else None,
        "slowest_call_ms": 1000 * counts.slowest_call_seconds if counts else None,
    }


@dataclass(frozen=True)
class CallCounts:
    """The commands a read sent, summed over its fetches, and its slowest call."""

    scan_calls: int
    mget_calls: int
    slowest_call_seconds: float

    @classmethod
    def of(cls, fetches: Sequence[FetchStats]) -> CallCounts:
        return cls(
            scan_calls=sum(stats.scan_calls for stats in fetches),
            mget_calls=sum(stats.mget_calls for stats in fetches),
            slowest_call_seconds=max(stats.slowest_call_seconds for stats in fetches),
        )


def counts_of(result: Any) -> CallCounts | None:
    """The counts of an operation's result (a FetchResult, a loaded frame or
    ``(keys, FetchStats)``; a frame's fetches summed), or None (the gem's read)."""
    if hasattr(result, "stats"):
        return CallCounts.of([result.stats])
    if hasattr(result, "attrs") and "rp" in result.attrs:
        return CallCounts.of(result.attrs["rp"].fetches)
    if isinstance(result, tuple) and len(result) == 2 and hasattr(result[1], "scan_calls"):
        return CallCounts.of([result[1]])
    return None


def keys_of(result: Any) -> int:
    """How many keys (or records, for a loaded frame) an operation's result holds."""
    if hasattr(result, "attrs") and "rp" in result.attrs:
        return int(result.attrs["rp"].records)
    return len(result[0])


def format_rows(rows: list[dict[str, Any]]) -> str:
    """:func:`benchmark`'s rows as a markdown table, with each operation's keys per MGET and
    its cluster row's time over the one node's."""
    single = {row["operation"]: row for row in rows if row["target"] == "single"}
    lines = [
        "| operation | target | seconds (median) | min | keys | SCAN calls | MGET calls "
        "| keys per MGET | cluster / one node | slowest call (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['operation']} | {row['target']} | error: {row['error']} | | | | | | | |"
            )
            continue

        def cell(name: str, fmt: str, row: dict[str, Any] = row) -> str:
            value = row.get(name)
            return "" if value is None else format(value, fmt)

        calls = row.get("mget_calls") or 0
        per_mget = f"{row['keys'] / calls:,.1f}" if calls and row.get("keys") else ""
        base = single.get(row["operation"], {})
        ratio = (
            f"{row['seconds'] / base['seconds']:.2f}x"
            if row["target"] == "cluster" and base.get("seconds")
            else ""
        )
        lines.append(
            f"| {row['operation']} | {row['target']} | {cell('seconds', '.2f')} | "
            f"{cell('seconds_min', '.2f')} | {cell('keys', ',')} | {cell('scan_calls', ',')} | "
            f"{cell('mget_calls', ',')} | {per_mget} | {ratio} | {cell('slowest_call_ms', '.1f')} |"
        )
    return "\n".join(lines)

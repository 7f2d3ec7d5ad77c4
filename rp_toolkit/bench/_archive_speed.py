"""How fast and how small the archive is, in one run (issue 20's targets, side by side):

(a) ``rp.archive(snapshot, dir, kinds=["requests"])`` against ``rp.load("requests",
    snapshot, start=...)`` of every record of the same RDB snapshot, each in a fresh process
    (equal imports and caches) that reports the call's wall time and its own peak memory;
    also the archive of every kind (``kinds=None``), for information (the snapshot holds
    request records only: this is what walking for every kind costs);
(b) the archive's Parquet files against the RDB file, in bytes;
(c) a 30-day archive (one day at a time: the day's records written without expiry to the
    benchmark's own server, archived with that day's window, then flushed): one day's
    ``Archive.load(on=...)`` against the whole archive's, and ``Archive.endpoint_days()``.

The server is a throwaway Redis (not Valkey: the snapshot reader reads Redis's RDB format);
the snapshot and the archives live in a temporary folder, removed at the end.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis
from tqdm.auto import tqdm

from ..archives import archive, open_archive
from ..config import setup
from ..exceptions import BenchmarkError
from ..files import atomic_files
from ..local import RedisServer
from ..store import Snapshot
from ..synth import iter_request_records, write_records
from ._environment import describe_environment, load_average
from ._snapshot_speed import redis_family_binary, save_snapshot
from ._speed import PEAK_RSS_SOURCE

TARGET_ARCHIVE_OVER_LOAD = 1.5
"""Archiving a snapshot's requests takes at most this many times its ``rp.load``."""
TARGET_ARCHIVE_PEAK_MIB = 400.0
"""Peak memory of a process archiving a million request records."""
TARGET_SIZE_OVER_RDB = 0.3
"""The archive's Parquet files at most this share of the RDB file's size."""
TARGET_WHOLE_OVER_DAY = 10.0
"""Loading the whole 30-day archive takes at least this many times one day's load."""
TARGET_ENDPOINT_DAYS_S = 2.0
"""``Archive.endpoint_days()`` over the 30 days within this many seconds."""
APP = "bench"
"""The archives' application name (one name for every day of the 30-day archive)."""

CHILD_SOURCE = (
    "import json, resource, sys, time\n"
    f"{PEAK_RSS_SOURCE}"
    "import rp_toolkit as rp\n"
    "rp.setup(progress=False)\n"
    "job = json.loads(sys.argv[1])\n"
    "started = time.perf_counter()\n"
    "if job['op'] == 'load':\n"
    "    rows = len(rp.load('requests', job['source'], start=job['start']))\n"
    "elif job['op'] == 'archive':\n"
    "    rows = rp.archive(job['source'], job['out'], kinds=job['kinds']).kinds['requests'].added\n"
    "else:\n"
    "    rows = 0\n"
    "seconds = time.perf_counter() - started\n"
    "print(json.dumps({'seconds': seconds, 'rows': rows, 'peak_rss_bytes': peak()}))\n"
)
"""A fresh process doing one job (``load``, ``archive`` or ``import``: nothing after the
imports): the call's seconds, the request records it returned or added, its peak memory."""


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run :data:`CHILD_SOURCE` on ``job``; its report plus ``process_seconds`` (with the
    interpreter's start and the imports)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD_SOURCE, json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkError(f"The {job['op']} process failed: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_seconds"] = time.perf_counter() - started
    return report


def parquet_bytes(root: Path) -> int:
    """The bytes of the archive's Parquet files (not its manifest)."""
    return sum(path.stat().st_size for path in root.rglob("*.parquet"))


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def snapshot_runs(
    dump: Path, folder: Path, start: datetime, repeats: int, *, progress: bool
) -> list[dict[str, Any]]:
    """(a) and (b): each method once per repeat, the order reversed every other repeat."""
    jobs: dict[str, dict[str, Any]] = {
        "load": {"op": "load", "source": str(dump), "start": start.isoformat()},
        "archive_requests": {"op": "archive", "source": str(dump), "kinds": ["requests"]},
        "archive_all_kinds": {"op": "archive", "source": str(dump), "kinds": None},
    }
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=repeats * len(jobs) + 1, disable=not progress, desc="snapshot: load/archive")
    baseline = run_child({"op": "import"})
    rows.append({"part": "snapshot", "repeat": 0, "method": "import_only", **baseline})
    bar.update()
    for repeat in range(repeats):
        order = list(jobs) if repeat % 2 == 0 else list(reversed(jobs))
        for method in order:
            job = dict(jobs[method])
            out = folder / f"{method}-{repeat}"
            if job["op"] == "archive":
                job["out"] = str(out)
            report = run_child(job)
            row = {"part": "snapshot", "repeat": repeat, "method": method, **report}
            if job["op"] == "archive":
                row["parquet_bytes"] = parquet_bytes(out)
                shutil.rmtree(out)
            rows.append(row)
            bar.update()
    bar.close()
    return rows


def day_archive(
    client: redis.Redis,
    url: str,
    root: Path,
    days: list[datetime],
    per_day: int,
    seed: int,
    *,
    progress: bool,
) -> float:
    """(c)'s archive: per day, its records (no expiry) written to the benchmark's own server,
    archived with the day's window, then the server flushed. Returns the seconds archiving."""
    archiving = 0.0
    with setup(use_scan=True, scan_count_auto_tune=True, progress=False):
        for number, day in enumerate(
            tqdm(days, disable=not progress, desc=f"{len(days)}-day archive")
        ):
            following = day + timedelta(days=1)
            for batch in iter_request_records(per_day, seed=seed + number, end=following, hours=24):
                write_records(client, batch.keys, batch.values)
            started = time.perf_counter()
            run = archive(
                url,
                root,
                kinds=["requests"],
                start=day,
                end=following - timedelta(seconds=1),
                app=APP,
            )
            archiving += time.perf_counter() - started
            if run.kinds["requests"].added != per_day:
                raise BenchmarkError(
                    f"The archive of {day:%Y-%m-%d} added {run.kinds['requests'].added} "
                    f"records, not {per_day}."
                )
            client.flushall()  # the benchmark's own throwaway server
    return archiving


def archive_reads(
    root: Path, days: list[datetime], repeats: int, *, progress: bool
) -> list[dict[str, Any]]:
    """(c)'s reads in this process, after one warm-up of each: one day's load, the whole
    archive's load and ``endpoint_days()``, interleaved."""
    middle = days[len(days) // 2]
    last_end = days[-1] + timedelta(days=1) - timedelta(seconds=1)
    rows: list[dict[str, Any]] = []
    with open_archive(root) as stored:
        methods: dict[str, Callable[[], int]] = {
            "archive_load_one_day": lambda: len(stored.load("requests", on=middle)),
            "archive_load_whole": lambda: len(stored.load("requests", start=days[0], end=last_end)),
            "archive_endpoint_days": lambda: int(stored.endpoint_days()["count"].sum()),
        }
        bar = tqdm(total=(repeats + 1) * len(methods), disable=not progress, desc="archive reads")
        for repeat in range(-1, repeats):  # -1: the warm-up, not kept
            for method, call in methods.items():
                started = time.perf_counter()
                found = call()
                seconds = time.perf_counter() - started
                if repeat >= 0:
                    rows.append(
                        {"part": "days", "repeat": repeat, "method": method,
                         "seconds": seconds, "rows": found}
                    )  # fmt: skip
                bar.update()
        bar.close()
    return rows


def archive_speed(
    records: int = 1_000_000,
    *,
    days: int = 30,
    per_day: int = 100_000,
    repeats: int = 3,
    seed: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (a), (b) and (c) on a throwaway Redis; the environment, every measurement and
    the facts the summary needs (see :func:`archive_speed_summary`)."""
    if records < 1 or days < 1 or per_day < 1 or repeats < 1:
        raise BenchmarkError("records, days, per-day and repeats must all be at least 1.")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    last_day = day_start(now) - timedelta(days=1)
    day_list = [last_day - timedelta(days=days - 1 - n) for n in range(days)]
    binary = redis_family_binary()
    with (
        tempfile.TemporaryDirectory(prefix="rp-archive-bench-") as temporary,
        RedisServer(binary=binary) as server,
    ):
        folder = Path(temporary)
        client = redis.Redis.from_url(server.url)
        environment = describe_environment(client, binary, None)
        written, dump, snapshot_facts = write_snapshot(
            client, folder, records, seed, now, progress=progress
        )
        rows = snapshot_runs(dump, folder, now - timedelta(days=1), repeats, progress=progress)
        root = folder / "days"
        archiving = day_archive(
            client, server.url, root, day_list, per_day, seed + 1, progress=progress
        )
        rows += archive_reads(root, day_list, repeats, progress=progress)
        days_bytes = parquet_bytes(root)
        client.close()
    environment.update(
        records=written,
        days=days,
        per_day=per_day,
        repeats=repeats,
        seed=seed,
        load_average_end=load_average(),
    )
    return {
        "environment": environment,
        "snapshot": snapshot_facts,
        "days_archive": {
            "first_day": day_list[0].date().isoformat(),
            "last_day": day_list[-1].date().isoformat(),
            "records": days * per_day,
            "parquet_bytes": days_bytes,
            "archiving_seconds": round(archiving, 3),
        },
        "rows": rows,
    }


def write_snapshot(
    client: redis.Redis, folder: Path, records: int, seed: int, end: datetime, *, progress: bool
) -> tuple[int, Path, dict[str, Any]]:
    """Write ``records`` request records (the day before ``end``), save them as an RDB file
    in ``folder``, then flush the server: the records written, the file and its facts."""
    written = 0
    batches = iter_request_records(records, seed=seed, end=end, hours=23.9)
    for batch in tqdm(batches, disable=not progress, desc="snapshot records"):
        written += write_records(client, batch.keys, batch.values)
    dump = save_snapshot(client, folder)
    snapshot = Snapshot(dump)
    facts = {
        "describe": snapshot.describe(),
        "size_bytes": snapshot.size_bytes,
        "rdb_version": snapshot.rdb_version,
    }
    client.flushall()  # the snapshot holds the records now
    return written, dump, facts


def _median(rows: list[dict[str, Any]], method: str, field: str = "seconds") -> float:
    return float(statistics.median(row[field] for row in rows if row["method"] == method))


def archive_speed_summary(results: dict[str, Any]) -> dict[str, Any]:
    """Median figures, the ratios, and each of the issue's targets: its statement, the
    measured figure and whether it is met."""
    summary = summary_figures(results)
    summary["targets"] = targets_of(summary, results["rows"])
    return summary


def all_found(rows: list[dict[str, Any]], environment: dict[str, Any]) -> bool:
    """Whether every measured call returned or added all the records it should have."""
    records, per_day, days = environment["records"], environment["per_day"], environment["days"]
    expected = {
        "load": records,
        "archive_requests": records,
        "archive_all_kinds": records,
        "archive_load_one_day": per_day,
        "archive_load_whole": days * per_day,
        "archive_endpoint_days": days * per_day,
    }
    return all(row["rows"] == expected[row["method"]] for row in rows if row["method"] in expected)


def summary_figures(results: dict[str, Any]) -> dict[str, Any]:
    """The summary's figures: medians, ratios, peak memory and sizes."""
    rows, environment = results["rows"], results["environment"]
    load_s = _median(rows, "load")
    archive_s = _median(rows, "archive_requests")
    archive_bytes = _median(rows, "archive_requests", "parquet_bytes")
    day_s = _median(rows, "archive_load_one_day")
    whole_s = _median(rows, "archive_load_whole")

    def peak_mib(method: str) -> float:
        return round(_median(rows, method, "peak_rss_bytes") / 2**20, 1)

    return {
        "records": environment["records"],
        "all_found": all_found(rows, environment),
        "load_s": round(load_s, 3),
        "archive_requests_s": round(archive_s, 3),
        "archive_all_kinds_s": round(_median(rows, "archive_all_kinds"), 3),
        "archive_over_load": round(archive_s / load_s, 3),
        "load_peak_rss_mib": peak_mib("load"),
        "archive_requests_peak_rss_mib": peak_mib("archive_requests"),
        "archive_all_kinds_peak_rss_mib": peak_mib("archive_all_kinds"),
        "import_only_peak_rss_mib": peak_mib("import_only"),
        "rdb_bytes": results["snapshot"]["size_bytes"],
        "archive_bytes": int(archive_bytes),
        "archive_over_rdb": round(archive_bytes / results["snapshot"]["size_bytes"], 3),
        "days": environment["days"],
        "per_day": environment["per_day"],
        "days_archive_bytes": results["days_archive"]["parquet_bytes"],
        "days_archiving_s": results["days_archive"]["archiving_seconds"],
        "archive_load_one_day_s": round(day_s, 3),
        "archive_load_whole_s": round(whole_s, 3),
        "whole_over_one_day": round(whole_s / day_s, 2),
        "endpoint_days_s": round(_median(rows, "archive_endpoint_days"), 3),
    }


def targets_of(summary: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each of the issue's targets: its statement, the measured figure, whether it is met
    (judged on the unrounded medians of ``rows`` where the summary rounds)."""
    archive_peak = _median(rows, "archive_requests", "peak_rss_bytes")
    whole_over_day = _median(rows, "archive_load_whole") / _median(rows, "archive_load_one_day")
    endpoint_s = _median(rows, "archive_endpoint_days")
    records, days = summary["records"], summary["days"]
    return {
        f"archive / load of the snapshot's {records:,} requests <= {TARGET_ARCHIVE_OVER_LOAD:g}": {
            "measured": summary["archive_over_load"],
            "met": bool(summary["archive_over_load"] <= TARGET_ARCHIVE_OVER_LOAD),
        },
        f"archive peak memory <= {TARGET_ARCHIVE_PEAK_MIB:g} MiB": {
            "measured": summary["archive_requests_peak_rss_mib"],
            "met": bool(archive_peak <= TARGET_ARCHIVE_PEAK_MIB * 2**20),
        },
        f"archive size / RDB size <= {TARGET_SIZE_OVER_RDB:g}": {
            "measured": summary["archive_over_rdb"],
            "met": bool(summary["archive_over_rdb"] <= TARGET_SIZE_OVER_RDB),
        },
        f"whole {days}-day load / one day's >= {TARGET_WHOLE_OVER_DAY:g}": {
            "measured": summary["whole_over_one_day"],
            "met": bool(whole_over_day >= TARGET_WHOLE_OVER_DAY),
        },
        f"endpoint_days() over {days} days < {TARGET_ENDPOINT_DAYS_S:g} s": {
            "measured": summary["endpoint_days_s"],
            "met": bool(endpoint_s < TARGET_ENDPOINT_DAYS_S),
        },
    }


def summary_markdown(summary: dict[str, Any], environment: dict[str, Any]) -> str:
    """The targets as a Markdown table (figures from the summary), and what ran them."""
    lines = [
        "# Archive speed",
        "",
        f"{environment['records']:,} request records in an RDB snapshot "
        f"({summary['rdb_bytes']:,} bytes); {summary['days']} days x {summary['per_day']:,} "
        f"requests; median of {environment['repeats']} repeat(s); "
        f"{environment['server_software']}, Python {environment['python']}, "
        f"{environment['cpu_count']} CPUs, {environment['date']}. Command: "
        f"`{environment.get('command', 'rp-toolkit archive-speed')}`.",
        "",
        "| Target | Measured | Met |",
        "| --- | ---: | --- |",
    ]
    for target, result in summary["targets"].items():
        met = "met" if result["met"] else "missed"
        lines.append(f"| {target} | {result['measured']:g} | {met} |")
    lines += [
        "",
        "| Figure | Value |",
        "| --- | ---: |",
    ]
    lines += [
        f"| {name} | {value:,} |" if isinstance(value, int) else f"| {name} | {value:g} |"
        for name, value in summary.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    return "\n".join(lines) + "\n"


def save_archive_speed(results: dict[str, Any], summary: dict[str, Any], out: str | Path) -> Path:
    """Write ``archive_speed.json`` (environment, summary, every measurement) and
    ``archive_speed.md`` to ``out``, whole or not at all."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    document = {**results, "summary": summary}
    with atomic_files(folder / "archive_speed.json", folder / "archive_speed.md") as (js, md):
        js.write_text(json.dumps(document, indent=1, default=str) + "\n")
        md.write_text(summary_markdown(summary, results["environment"]))
    return folder

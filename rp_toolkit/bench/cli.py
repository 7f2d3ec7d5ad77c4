"""The benchmark commands: ``rp-toolkit bench``, ``load-speed``, ``snapshot-speed``,
``archive-speed``, ``cluster-bench`` and ``walk-bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..files import atomic_files
from ..store import quiet_keys_notices
from .archive_speed import archive_speed, archive_speed_summary, save_archive_speed
from .cluster import benchmark, format_rows
from .keyspace import QUERIES
from .markdown import to_markdown
from .results import save
from .runner import CELL_BUDGET_S, DEFAULT_COUNTS, DEFAULT_SIZES, SLOWLOG_THRESHOLD_US, run
from .snapshot_speed import snapshot_speed, snapshot_speed_summary
from .speed import load_speed, load_speed_summary
from .walks import OTHERS_RPS, save_walks, walks_markdown
from .walks import benchmark as walk_benchmark


def parse_sizes(text: str) -> list[int]:
    """``100,1_000,1e6`` as whole numbers (argparse type of ``--sizes``)."""
    try:
        return [int(float(part.replace("_", ""))) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers: {text!r}") from None


def parse_counts(text: str) -> list[int | str]:
    """``10,100,auto,adaptive`` (argparse type of ``--counts``)."""
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


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register the benchmark commands on the CLI's subparsers; returns the ``bench`` parser."""
    bench = subparsers.add_parser(
        "bench", help="measure KEYS against SCAN (a throwaway Redis unless told otherwise)"
    )
    bench.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="records per keyspace, comma-separated (default 100,1000,10000,100000,1000000)",
    )
    bench.add_argument(
        "--counts",
        type=parse_counts,
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
        help="an existing Redis or Redis Cluster (needs --allow-existing-server); default: a "
        "throwaway server",
    )
    bench.add_argument(
        "--allow-existing-server",
        action="store_true",
        help="write (marked) keys to --redis-url and run KEYS there",
    )
    bench.add_argument(
        "--cluster",
        action="store_true",
        help="a throwaway local Redis Cluster (of --primaries) instead of a throwaway server",
    )
    bench.add_argument(
        "--primaries", type=int, default=3, help="primaries of the --cluster (default 3)"
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
    speed.add_argument("--no-gem-path", action="store_true", help="skip the gem's read path")
    speed.add_argument("--no-probe", action="store_true", help="no PING probe / SLOWLOG check")
    speed.add_argument("--out", default=None, help="folder for load_speed.csv / .json")
    speed.add_argument("--no-progress", action="store_true")
    speed.set_defaults(func=cmd_load_speed)

    snap = subparsers.add_parser(
        "snapshot-speed",
        help="rp.load from an RDB snapshot against the live server (and the gem's read path)",
    )
    snap.add_argument("--records", type=int, default=1_000_000)
    snap.add_argument("--repeats", type=int, default=3)
    snap.add_argument("--no-gem-path", action="store_true", help="skip the gem's read path")
    snap.add_argument("--out", default=None, help="folder for snapshot_speed.csv / .json")
    snap.add_argument("--no-progress", action="store_true")
    snap.set_defaults(func=cmd_snapshot_speed)

    arch = subparsers.add_parser(
        "archive-speed",
        help="rp.archive of an RDB snapshot against rp.load of it (time, memory, size), and "
        "reads of a many-day archive (a throwaway Redis)",
    )
    arch.add_argument("--records", type=int, default=1_000_000, help="records in the snapshot")
    arch.add_argument("--days", type=int, default=30, help="days of the many-day archive")
    arch.add_argument("--per-day", type=int, default=100_000, help="requests a day in it")
    arch.add_argument("--repeat", "--repeats", dest="repeats", type=int, default=3)
    arch.add_argument("--seed", type=int, default=1)
    arch.add_argument(
        "--out", default="docs/bench/archive", help="folder for archive_speed.json / .md"
    )
    arch.add_argument("--no-progress", action="store_true")
    arch.set_defaults(func=cmd_archive_speed)

    cluster = subparsers.add_parser(
        "cluster-bench", help="read paths on one node against a local Redis Cluster, same data"
    )
    cluster.add_argument("--records", type=int, default=1_000_000)
    cluster.add_argument("--primaries", type=int, default=3)
    cluster.add_argument("--repeats", type=int, default=3)
    cluster.add_argument("--out", help="write the rows as JSON here")
    cluster.set_defaults(func=cmd_cluster_bench)

    walk = subparsers.add_parser(
        "walk-bench",
        help="one SCAN over a two-day window against the gem's per-day KEYS, and one walk "
        "for the report's kinds against one load per kind (a throwaway Redis)",
    )
    walk.add_argument("--records", type=int, default=1_000_000, help="request records")
    walk.add_argument("--repeats", type=int, default=3)
    walk.add_argument("--seed", type=int, default=1)
    walk.add_argument(
        "--others-rps",
        type=float,
        default=OTHERS_RPS,
        help="rate of the report's other kinds (synth requests a second)",
    )
    walk.add_argument("--out", default="walks", help="folder for walks.json and walks.md")
    walk.set_defaults(func=cmd_walk_bench)
    return bench


add_cli = add_commands
"""The name the tests register the commands with."""


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
        cluster=args.cluster,
        primaries=args.primaries,
    )
    out = save(frame, args.out)
    if args.markdown:
        table = to_markdown(frame)
        with atomic_files(out / "bench.md") as (written,):
            written.write_text(table)
        print(table)
    print(f"Results written to {out}/bench.csv and {out}/bench.json", file=sys.stderr)
    return 0


def cmd_load_speed(args: argparse.Namespace) -> int:
    frame = load_speed(
        args.records,
        repeats=args.repeats,
        gem_path=not args.no_gem_path,
        probe=not args.no_probe,
        progress=not args.no_progress,
    )
    return _report_speed(frame, load_speed_summary(frame), args.out, "load_speed")


def _report_speed(frame: Any, summary: dict[str, Any], out: str | None, name: str) -> int:
    """Print the summary; with ``out``, save ``NAME.csv`` (every timing) and ``NAME.json``."""
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_files(folder / f"{name}.csv", folder / f"{name}.json") as (csv, document):
            frame.to_csv(csv, index=False)
            document.write_text(
                json.dumps(
                    {"environment": frame.attrs["environment"], "summary": summary},
                    indent=1,
                    default=str,
                )
                + "\n"
            )
    print(json.dumps(summary, indent=1, default=str))
    return 0


def cmd_snapshot_speed(args: argparse.Namespace) -> int:
    frame = snapshot_speed(
        args.records,
        repeats=args.repeats,
        gem_path=not args.no_gem_path,
        progress=not args.no_progress,
    )
    return _report_speed(frame, snapshot_speed_summary(frame), args.out, "snapshot_speed")


def cmd_archive_speed(args: argparse.Namespace) -> int:
    results = archive_speed(
        args.records,
        days=args.days,
        per_day=args.per_day,
        repeats=args.repeats,
        seed=args.seed,
        progress=not args.no_progress,
    )
    results["environment"]["command"] = (
        f"rp-toolkit archive-speed --records {args.records} --days {args.days} "
        f"--per-day {args.per_day} --repeat {args.repeats} --seed {args.seed} --out {args.out}"
    )
    summary = archive_speed_summary(results)
    out = save_archive_speed(results, summary, args.out)
    print(json.dumps(summary, indent=1, default=str))
    print(
        f"Results written to {out}/archive_speed.json and {out}/archive_speed.md", file=sys.stderr
    )
    return 0


def cmd_cluster_bench(args: argparse.Namespace) -> int:
    with quiet_keys_notices():
        rows = benchmark(args.records, primaries=args.primaries, repeats=args.repeats)
    print(format_rows(rows))
    if args.out:
        environment = {
            "server_software": rows[0].get("server"),
            "records": args.records,
            "primaries": args.primaries,
            "repeats": args.repeats,
            "cpu_count": os.cpu_count(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": f"rp-toolkit cluster-bench --out {args.out}",
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        document = {"environment": environment, "rows": rows}
        with atomic_files(args.out) as (written,):
            written.write_text(json.dumps(document, indent=1, default=str) + "\n")
    return 0


def cmd_walk_bench(args: argparse.Namespace) -> int:
    results = walk_benchmark(
        args.records, repeats=args.repeats, seed=args.seed, others_rps=args.others_rps
    )
    out = save_walks(results, args.out)
    print(walks_markdown(results), end="")
    print(f"Results written to {out}/walks.json and {out}/walks.md", file=sys.stderr)
    return 0

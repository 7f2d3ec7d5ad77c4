"""The benchmark commands: ``rp-toolkit bench``, ``load-speed``, ``snapshot-speed``,
``archive-speed``, ``cluster-bench`` and ``walk-bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..files import atomic_files
from ..store import quiet_keys_notices
from ._archive_speed import archive_speed, archive_speed_summary, save_archive_speed
from ._cluster import benchmark, format_rows
from ._keyspace import QUERIES
from ._markdown import to_markdown
from ._results import save
from ._runner import CELL_BUDGET_S, DEFAULT_COUNTS, DEFAULT_SIZES, SLOWLOG_THRESHOLD_US, run
from ._snapshot_speed import snapshot_speed, snapshot_speed_summary
from ._speed import load_speed, load_speed_summary
from ._walks import OTHERS_RPS, save_walks, walks_markdown
from ._walks import benchmark as walk_benchmark


def parse_sizes(text: str) -> list[int]:
    """``100,1_000,1e6`` as whole numbers (argparse type of ``--sizes``)."""
    try:
        return [int(float(part.replace("_", ""))) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers: {text!r}") from None


def parse_queries(text: str) -> list[str]:
    """``day,controller`` as a list (argparse type of ``--queries``)."""
    return [query for query in text.split(",") if query]


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


Option = tuple[tuple[str, ...], dict[str, Any]]
"""One command-line option: its flags and the keyword arguments of ``add_argument``."""


@dataclass(frozen=True)
class Command:
    """One benchmark command: its name, its help, its options and the function it runs."""

    name: str
    help: str
    options: tuple[Option, ...]
    run: Callable[[argparse.Namespace], int]


NO_PROGRESS: Option = (("--no-progress",), {"action": "store_true"})

BENCH_OPTIONS: tuple[Option, ...] = (
    (
        ("--sizes",),
        {
            "type": parse_sizes,
            "default": list(DEFAULT_SIZES),
            "help": "records per keyspace, comma-separated (default 100,1000,10000,100000,1000000)",
        },
    ),
    (
        ("--counts",),
        {
            "type": parse_counts,
            "default": list(DEFAULT_COUNTS),
            "help": "SCAN COUNT hints, auto and/or adaptive (default 10,100,1000,10000,auto; "
            "adaptive uses $RP_SCAN_BUDGET_MS, default 1 ms)",
        },
    ),
    (("--repeats",), {"type": int, "default": 5}),
    (
        ("--noise",),
        {"type": float, "default": 0.0, "help": "unrelated keys per record (default 0)"},
    ),
    (
        ("--queries",),
        {"type": parse_queries, "default": list(QUERIES), "help": "day,controller,request_id"},
    ),
    (
        ("--redis-url",),
        {
            "default": None,
            "help": "an existing Redis or Redis Cluster (needs --allow-existing-server); "
            "default: a throwaway server",
        },
    ),
    (
        ("--allow-existing-server",),
        {"action": "store_true", "help": "write (marked) keys to --redis-url and run KEYS there"},
    ),
    (
        ("--cluster",),
        {
            "action": "store_true",
            "help": "a throwaway local Redis Cluster (of --primaries) instead of a throwaway "
            "server",
        },
    ),
    (
        ("--primaries",),
        {"type": int, "default": 3, "help": "primaries of the --cluster (default 3)"},
    ),
    (("--out",), {"default": "bench", "help": "folder for bench.csv and bench.json"}),
    (
        ("--markdown",),
        {"action": "store_true", "help": "print the docs table (and write bench.md)"},
    ),
    (("--no-probe",), {"action": "store_true", "help": "no blocking probe"}),
    (("--probe-mode",), {"choices": ("process", "thread"), "default": "process"}),
    (
        ("--no-full-fetch",),
        {
            "action": "store_true",
            "help": "only list keys (no gem_keys_mget / scan_chunked_mget rows)",
        },
    ),
    (
        ("--cell-budget",),
        {
            "type": float,
            "default": CELL_BUDGET_S,
            "help": "seconds per cell before repeats are cut short",
        },
    ),
    (("--slowlog-threshold-us",), {"type": int, "default": SLOWLOG_THRESHOLD_US}),
    NO_PROGRESS,
)

LOAD_SPEED_OPTIONS: tuple[Option, ...] = (
    (("--records",), {"type": int, "default": 1_000_000}),
    (("--repeats",), {"type": int, "default": 3}),
    (("--no-gem-path",), {"action": "store_true", "help": "skip the gem's read path"}),
    (("--no-probe",), {"action": "store_true", "help": "no PING probe / SLOWLOG check"}),
    (("--out",), {"default": None, "help": "folder for load_speed.csv / .json"}),
    NO_PROGRESS,
)

SNAPSHOT_SPEED_OPTIONS: tuple[Option, ...] = (
    (("--records",), {"type": int, "default": 1_000_000}),
    (("--repeats",), {"type": int, "default": 3}),
    (("--no-gem-path",), {"action": "store_true", "help": "skip the gem's read path"}),
    (("--out",), {"default": None, "help": "folder for snapshot_speed.csv / .json"}),
    NO_PROGRESS,
)

ARCHIVE_SPEED_OPTIONS: tuple[Option, ...] = (
    (("--records",), {"type": int, "default": 1_000_000, "help": "records in the snapshot"}),
    (("--days",), {"type": int, "default": 30, "help": "days of the many-day archive"}),
    (("--per-day",), {"type": int, "default": 100_000, "help": "requests a day in it"}),
    (("--repeat", "--repeats"), {"dest": "repeats", "type": int, "default": 3}),
    (("--seed",), {"type": int, "default": 1}),
    (
        ("--out",),
        {"default": "docs/bench/archive", "help": "folder for archive_speed.json / .md"},
    ),
    NO_PROGRESS,
)

CLUSTER_BENCH_OPTIONS: tuple[Option, ...] = (
    (("--records",), {"type": int, "default": 1_000_000}),
    (("--primaries",), {"type": int, "default": 3}),
    (("--repeats",), {"type": int, "default": 3}),
    (("--out",), {"help": "write the rows as JSON here"}),
)

WALK_BENCH_OPTIONS: tuple[Option, ...] = (
    (("--records",), {"type": int, "default": 1_000_000, "help": "request records"}),
    (("--repeats",), {"type": int, "default": 3}),
    (("--seed",), {"type": int, "default": 1}),
    (
        ("--others-rps",),
        {
            "type": float,
            "default": OTHERS_RPS,
            "help": "rate of the report's other kinds (synth requests a second)",
        },
    ),
    (("--out",), {"default": "walks", "help": "folder for walks.json and walks.md"}),
)


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register the benchmark commands (:data:`COMMANDS`) on the CLI's subparsers; returns
    the ``bench`` parser."""
    parsers = {}
    for command in COMMANDS:
        parser = subparsers.add_parser(command.name, help=command.help)
        for flags, arguments in command.options:
            parser.add_argument(*flags, **arguments)
        parser.set_defaults(func=command.run)
        parsers[command.name] = parser
    return parsers["bench"]


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


COMMANDS: tuple[Command, ...] = (
    Command(
        "bench",
        "measure KEYS against SCAN (a throwaway Redis unless told otherwise)",
        BENCH_OPTIONS,
        cmd_bench,
    ),
    Command(
        "load-speed",
        "rp.load against the raw transfer (and the gem's read path)",
        LOAD_SPEED_OPTIONS,
        cmd_load_speed,
    ),
    Command(
        "snapshot-speed",
        "rp.load from an RDB snapshot against the live server (and the gem's read path)",
        SNAPSHOT_SPEED_OPTIONS,
        cmd_snapshot_speed,
    ),
    Command(
        "archive-speed",
        "rp.archive of an RDB snapshot against rp.load of it (time, memory, size), and "
        "reads of a many-day archive (a throwaway Redis)",
        ARCHIVE_SPEED_OPTIONS,
        cmd_archive_speed,
    ),
    Command(
        "cluster-bench",
        "read paths on one node against a local Redis Cluster, same data",
        CLUSTER_BENCH_OPTIONS,
        cmd_cluster_bench,
    ),
    Command(
        "walk-bench",
        "one SCAN over a two-day window against the gem's per-day KEYS, and one walk "
        "for the report's kinds against one load per kind (a throwaway Redis)",
        WALK_BENCH_OPTIONS,
        cmd_walk_bench,
    ),
)
"""The benchmark commands, in the order ``rp-toolkit --help`` lists them."""

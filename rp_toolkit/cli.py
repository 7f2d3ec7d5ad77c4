"""``rp-toolkit``: a thin command line over the Python API.

    rp-toolkit demo --out reports/                 embedded Redis + synthetic day, or $REDIS_URL
    rp-toolkit seed --redis-url URL --hours 4      synthetic records where you point it
    rp-toolkit export requests --out r.parquet     a loaded frame or a report, CSV or Parquet
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .connection import redact_url
from .exceptions import RPToolkitError
from .settings import settings, setup

logger = logging.getLogger("rp_toolkit")


def _add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fetching (the gem's flags; defaults from RP_* variables)")
    group.add_argument(
        "--use-scan",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="SCAN instead of KEYS (default: $RP_USE_SCAN, else off as in the gem)",
    )
    group.add_argument("--scan-count", type=int, default=None, help="COUNT when auto-tune is off")
    group.add_argument(
        "--scan-count-auto-tune", action=argparse.BooleanOptionalAction, default=None
    )
    group.add_argument("--mget-chunk", type=int, default=None, help="keys per MGET")
    group.add_argument("--no-progress", action="store_true", help="no progress bars")
    group.add_argument("--debug", action="store_true", help="log every query")


def _apply_flags(args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    for name in ("use_scan", "scan_count", "scan_count_auto_tune", "mget_chunk"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "no_progress", False):
        changes["progress"] = False
    if getattr(args, "debug", False):
        changes["debug"] = True
    setup(**changes)


@contextlib.contextmanager
def redis_or_embedded(url: str | None, *, seed_hours: float, rps: float) -> Iterator[str]:
    """``url`` as is (read-only use), or a throwaway server seeded with a synthetic day."""
    if url:
        yield url
        return
    from . import synth
    from .server import temporary_redis

    with temporary_redis() as embedded:
        print(f"No Redis URL given: started a throwaway Redis at {embedded}", file=sys.stderr)
        summary = synth.write(embedded, hours=seed_hours, rps=rps, seed=1)
        print(f"Seeded it with {summary.total:,} synthetic records.", file=sys.stderr)
        yield embedded


def cmd_seed(args: argparse.Namespace) -> int:
    from . import synth

    kinds = tuple(args.kinds.split(",")) if args.kinds else synth.ALL_KINDS
    summary = synth.write(args.redis_url, hours=args.hours, rps=args.rps, seed=args.seed,
                          kinds=kinds, progress=settings.progress)
    print(json.dumps({"redis": redact_url(args.redis_url), **summary.as_dict()}, default=str))
    return 0


def _parse_filters(pairs: Sequence[str]) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise RPToolkitError(f"--filter takes name=value, got {pair!r}.")
        filters[name] = value
    return filters


def cmd_export(args: argparse.Namespace) -> int:
    from . import reports
    from .frames import load

    frame = load(args.kind, args.redis_url, start=args.start, end=args.end,
                 **_parse_filters(args.filter))
    result: Any = frame
    if args.report:
        report = getattr(reports, args.report, None)
        if report is None or args.report.startswith("_"):
            raise RPToolkitError(f"Unknown report {args.report!r}.")
        result = report(frame)
    reports.export(result, args.out)
    info = frame.attrs["rp"].summary()
    print(json.dumps({"out": str(args.out), **info}, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from . import reports
    from .frames import load, load_events

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with redis_or_embedded(args.redis_url, seed_hours=args.hours, rps=args.rps) as url:
        frame = load("requests", url, start=None, end=None)
        events = load_events(url)
        tables = {
            "requests_table": reports.requests(frame),
            "throughput": reports.throughput(frame),
            "response_time": reports.response_time(frame),
            "crashes": reports.crashes(frame),
            "slow": reports.slow(frame),
            "annotations": reports.annotations(events),
        }
        for name, table in tables.items():
            reports.export(table, out / f"{name}.csv")
        summary = {"load": frame.attrs["rp"].summary(),
                   "percentiles": reports.percentiles(frame)}
        (out / "summary.json").write_text(json.dumps(summary, default=str, indent=2))
    print(json.dumps(summary, default=str, indent=2))
    print(f"Tables written to {out}/", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rp-toolkit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"rp_toolkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="the main job: analyse a Redis (or a demo one)")
    demo.add_argument("--redis-url", default=settings.redis_url,
                      help="Redis to analyse, read-only (default $REDIS_URL; none: embedded)")
    demo.add_argument("--out", default="reports", help="output folder")
    demo.add_argument("--hours", type=float, default=4.0, help="synthetic hours (embedded)")
    demo.add_argument("--rps", type=float, default=20.0, help="synthetic requests/s (embedded)")
    _add_flags(demo)
    demo.set_defaults(func=cmd_demo)

    seed = commands.add_parser("seed", help="write synthetic records in the gem's format")
    seed.add_argument("--redis-url", required=True, help="where to write (never deletes)")
    seed.add_argument("--hours", type=float, default=4.0)
    seed.add_argument("--rps", type=float, default=20.0)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    _add_flags(seed)
    seed.set_defaults(func=cmd_seed)

    export = commands.add_parser("export", help="a loaded frame or report to CSV/Parquet")
    export.add_argument("kind", help="requests, sidekiq, delayed_job, grape, rake, custom, ...")
    export.add_argument("--redis-url", default=settings.redis_url)
    export.add_argument("--start")
    export.add_argument("--end")
    export.add_argument("--filter", action="append", default=[], metavar="NAME=VALUE")
    export.add_argument("--report", help="a report from rp_toolkit.reports, e.g. requests")
    export.add_argument("--out", required=True, help="file ending in .csv or .parquet")
    _add_flags(export)
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _apply_flags(args)
        return int(args.func(args) or 0)
    except (RPToolkitError, ValueError) as error:
        print(f"rp-toolkit: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

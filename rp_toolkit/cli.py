"""``rp-toolkit``: a thin command line over the Python API.

rp-toolkit demo --out reports/                 both notebooks on $REDIS_URL or a demo Redis
rp-toolkit report --redis-url URL -p hours 8   the notebooks on your Redis, read-only
rp-toolkit seed --redis-url URL --hours 4      synthetic records where you point it
rp-toolkit export requests --out r.parquet     a loaded frame or a report, CSV or Parquet
rp-toolkit memory --duration 8h --rate 20/s    how much Redis the gem's records need
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import reports, synth
from .archives import archive, open_archive
from .bench import add_commands as add_bench_commands
from .config import (
    as_environment,
    check_environment,
    current_options,
    parse_scan_count,
    settings,
    setup,
)
from .docs import GUIDES, blocks, render_guide
from .exceptions import InvalidArgumentError, RPToolkitError, RPToolkitWarning, Stopped
from .export import check_export_path, export, export_batches
from .files import atomic_files, unwind_on_signals
from .frames import iter_load, load
from .memory import DEFAULT_SAMPLE, memory_profile, parse_duration, parse_rate, render
from .notebooks import NOTEBOOKS, check_reachable, route_parameters, run_notebook
from .store import (
    PASSWORD_ON_COMMAND_LINE,
    Snapshot,
    has_secret,
    redact_url,
    with_password_file,
)
from .version import __version__

logger = logging.getLogger("rp_toolkit")


def _add_redis_url(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument(
        "--redis-url",
        help=f"{text}. Prefer REDIS_URL for a URL with a password: the command line is public",
    )
    parser.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the Redis password from the first line of FILE (keeps it off the command line)",
    )


def _add_rdb(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rdb",
        metavar="FILE",
        help="read an RDB snapshot file instead of a server (no server is asked anything; "
        "windows relative to now end when the snapshot was taken)",
    )
    parser.add_argument(
        "--db",
        type=int,
        metavar="N",
        help="the database of the --rdb snapshot to read (default 0); a server's database "
        "goes in its URL (redis://host:6379/N)",
    )


def _add_archive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--archive",
        metavar="DIR",
        help="read an archive `rp-toolkit archive` wrote instead of a server (windows relative "
        "to now end at the newest time archived)",
    )
    parser.add_argument(
        "--app", help="the archive's application to read (needed when it holds several)"
    )


def _resolve_redis_url(args: argparse.Namespace) -> None:
    """``args.redis_url``: the flag, else ``$REDIS_URL``; the password file applied; a warning
    when the command line itself carries a password."""
    given = getattr(args, "redis_url", None)
    if getattr(args, "db", None) is not None and not getattr(args, "rdb", None):
        raise InvalidArgumentError(
            "--db chooses a database of the --rdb snapshot; for a server, put the database "
            "in its URL (redis://host:6379/N)."
        )
    if args.command != "archive" and getattr(args, "app", None) and not args.archive:
        raise InvalidArgumentError("--app chooses an application of the --archive DIR read.")
    if getattr(args, "archive", None) and args.command != "archive":
        if given or getattr(args, "password_file", None) or getattr(args, "rdb", None):
            raise InvalidArgumentError(
                "Give --archive DIR, --rdb FILE or --redis-url: one of them."
            )
        args.redis_url = None
        return
    if getattr(args, "rdb", None):  # a snapshot file: no server at all, not even $REDIS_URL
        if given or getattr(args, "password_file", None):
            raise InvalidArgumentError("Give --rdb FILE or --redis-url, not both.")
        args.redis_url = None
        return
    if given and has_secret(given):
        print(f"rp-toolkit: warning: {PASSWORD_ON_COMMAND_LINE}", file=sys.stderr)
    if not hasattr(args, "password_file"):
        return
    url = args.redis_url or settings.redis_url
    if args.password_file:
        if not url:
            raise InvalidArgumentError("--password-file needs a URL: --redis-url or REDIS_URL.")
        url = with_password_file(url, args.password_file)
    if args.command == "seed" and not url:
        raise InvalidArgumentError("seed needs a Redis to write to: --redis-url or REDIS_URL.")
    args.redis_url = url


def _scan_count(text: str) -> int | str:
    return parse_scan_count(text, name="--scan-count")


FLAG_SETTINGS = ("use_scan", "scan_count", "scan_count_auto_tune", "scan_budget_ms", "mget_chunk")
"""The settings the fetching flags set (``--use-scan`` sets ``use_scan``, ...)."""


Option = tuple[tuple[str, ...], dict[str, Any]]
"""One ``add_argument`` call: the argument's names, then its keywords."""

FLAGS_TITLE = (
    "fetching (the gem's flags): a flag given wins, else its RP_* environment variable, "
    "else the default"
)
FLAG_OPTIONS: tuple[Option, ...] = (
    (
        ("--use-scan",),
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "SCAN (non-blocking) or, with --no-use-scan, the gem's blocking KEYS "
            "(default: $RP_USE_SCAN, else SCAN)",
        },
    ),
    (
        ("--scan-count",),
        {
            "type": _scan_count,
            "default": None,
            "help": "COUNT per SCAN call when auto-tune is off, or 'adaptive' (sized per call to "
            "--scan-budget-ms) (default: $RP_SCAN_COUNT, else 10)",
        },
    ),
    (
        ("--scan-budget-ms",),
        {
            "type": float,
            "default": None,
            "help": "adaptive COUNT: ms per SCAN call (default: $RP_SCAN_BUDGET_MS, else 1.0)",
        },
    ),
    (
        ("--scan-count-auto-tune",),
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "COUNT by query: 1000 day-scoped, 1000 request-id lookups, 100 otherwise "
            "(default: $RP_SCAN_COUNT_AUTO_TUNE, else on)",
        },
    ),
    (
        ("--mget-chunk",),
        {
            "type": int,
            "default": None,
            "help": "keys per MGET (default: $RP_MGET_CHUNK, else 1000)",
        },
    ),
    (("--no-progress",), {"action": "store_true", "help": "no progress bars"}),
    (
        ("--debug",),
        {"action": "store_true", "help": "log every query (default: $RP_DEBUG, else off)"},
    ),
)
"""The fetching flags, shown as one group in each command's help that reads Redis."""


def _add_options(parser: Any, options: Sequence[Option]) -> None:
    for names, keywords in options:
        parser.add_argument(*names, **keywords)


def _given_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the fetching flags give explicitly (a flag not given is not listed)."""
    changes = {
        name: getattr(args, name) for name in FLAG_SETTINGS if getattr(args, name, None) is not None
    }
    if getattr(args, "debug", False):
        changes["debug"] = True
    return changes


def _apply_flags(args: argparse.Namespace) -> None:
    changes = _given_flags(args)
    if getattr(args, "no_progress", False):
        changes["progress"] = False
    setup(**changes)


def cmd_seed(args: argparse.Namespace) -> int:
    kinds = tuple(args.kinds.split(",")) if args.kinds else synth.ALL_KINDS
    summary = synth.write(
        args.redis_url,
        hours=args.hours,
        rps=args.rps,
        seed=args.seed,
        kinds=kinds,
        progress=settings.progress,
    )
    print(json.dumps({"redis": redact_url(args.redis_url), **summary.as_dict()}, default=str))
    return 0


def _parse_filters(pairs: Sequence[str]) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidArgumentError(f"--filter takes name=value, got {pair!r}.")
        filters[name] = value
    return filters


def _rdb_or_url(args: argparse.Namespace) -> Any:
    """The snapshot file ``--rdb`` names, database ``--db`` (opened and checked now), else
    ``--redis-url``."""
    if getattr(args, "archive", None) and args.command != "archive":
        return open_archive(args.archive, app=args.app)
    rdb = getattr(args, "rdb", None)
    return Snapshot(rdb, db=args.db or 0) if rdb else args.redis_url


def cmd_export(args: argparse.Namespace) -> int:
    check_export_path(args.out)  # every argument is checked before anything is read
    filters = _parse_filters(args.filter)
    report = None
    if args.report:
        report = getattr(reports, args.report, None)
        if report is None or args.report.startswith("_") or not callable(report):
            raise InvalidArgumentError(f"Unknown report {args.report!r}.")
    source = _rdb_or_url(args)
    # All or nothing: the files are renamed into place only when complete. Until then an
    # error or a signal (SIGTERM unwinds as Ctrl-C does) leaves --out as it was, and says so.
    there = Path(args.out).exists()
    args.unwritten = f"nothing was written to {args.out}" + (
        " (the file already there is unchanged)" if there else ""
    )
    with unwind_on_signals():
        if report is None:  # one batch at a time: memory stays bounded whatever the data
            batches = iter_load(args.kind, source, start=args.start, end=args.end, **filters)
            export_batches(batches, args.out, batches.kind)
            info = batches.info.summary()
        else:
            frame = load(args.kind, source, start=args.start, end=args.end, **filters)
            export(report(frame), args.out)
            info = frame.attrs["rp"].summary()
        args.unwritten = None
    print(json.dumps({"out": str(args.out), **info}, default=str))
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()] or None
    with unwind_on_signals():  # SIGTERM unwinds as Ctrl-C does: the run is not committed
        run = archive(
            _rdb_or_url(args), args.out, kinds=kinds, start=args.start, end=args.end, app=args.app
        )
    counts = {kind: vars(c) for kind, c in run.kinds.items()}
    print(
        json.dumps(
            {
                "out": str(args.out),
                "run": run.run,
                "app": run.app,
                "source": run.source,
                "added": run.added,
                "already_archived": run.already_archived,
                "kinds": counts,
                "files": len(run.files),
            }
        )
    )
    return 0


def cmd_memory(args: argparse.Namespace) -> int:
    parse_duration(args.duration)  # every argument checked before anything is read
    parse_rate(args.rate)
    profile = memory_profile(_rdb_or_url(args), sample=args.sample)
    if args.json:
        print(json.dumps(profile.summary(args.duration, args.rate), default=str))
    else:
        print(render(profile, args.duration, args.rate))
    return 0


PYTHON_LITERALS = {"True": True, "False": False, "None": None}
"""Written as in the notebook's parameters cell (papermill's ``-p`` takes these too)."""


def parse_notebook_parameters(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``-p name value`` pairs; values parsed as JSON where they are JSON (numbers, null,
    lists) or as Python's ``True``/``False``/``None``; anything else is text."""
    parameters: dict[str, Any] = {}
    for name, text in pairs:
        if text.strip() in PYTHON_LITERALS:
            parameters[name] = PYTHON_LITERALS[text.strip()]
            continue
        try:
            parameters[name] = json.loads(text)
        except ValueError:
            parameters[name] = text
    return parameters


def cmd_report(args: argparse.Namespace) -> int:
    options = current_options()
    default = list(NOTEBOOKS) if args.command == "demo" else ["request_performance"]
    names = args.notebooks.split(",") if args.notebooks else default
    parameters = parse_notebook_parameters(args.parameter)
    if "redis_url" in parameters:
        raise InvalidArgumentError("Give the Redis URL with --redis-url, not -p redis_url.")
    parameters.update(_place_parameters(args, names, parameters))
    routed = route_parameters(names, parameters)  # every -p checked before a kernel starts
    url = None if args.rdb or args.archive else args.redis_url or options.redis_url
    if url:  # the URL and the server, before a kernel starts (5-9 s)
        check_reachable(url)
    environment = _kernel_environment(args, parameters)
    for name in names:
        run = run_notebook(
            name,
            args.out,
            parameters=routed[name],
            redis_url=args.redis_url,
            environment=environment,
            show_code=args.show_code,
            progress=options.progress,
        )
        for text in run.warnings:  # the kernel's, e.g. a snapshot database holding nothing
            print(f"rp-toolkit: warning: {name}: {text}", file=sys.stderr)
        print(f"{name}: {run.html}")
    return 0


def _place_parameters(
    args: argparse.Namespace, names: list[str], parameters: dict[str, Any]
) -> dict[str, Any]:
    """The request report's parameters for ``--archive`` or ``--rdb`` (opened and checked
    now), refused with the benchmark or with the same parameters given by ``-p``."""
    if args.archive:
        if {"archive", "archive_app", "snapshot"} & set(parameters):
            raise InvalidArgumentError(
                "Give the archive with --archive DIR and its app with --app, not -p archive, "
                "-p archive_app or -p snapshot."
            )
        if names != ["request_performance"]:
            raise InvalidArgumentError(
                "--archive reads an archive for the request report; the benchmark measures a "
                "live server (run it without --archive)."
            )
        opened = _rdb_or_url(args)
        return {"archive": str(opened.root.resolve()), "archive_app": opened.app}
    if args.rdb:
        if "snapshot" in parameters or "snapshot_db" in parameters:
            raise InvalidArgumentError(
                "Give the snapshot with --rdb FILE and its database with --db N, not -p "
                "snapshot or -p snapshot_db."
            )
        if names != ["request_performance"]:
            raise InvalidArgumentError(
                "--rdb reads a snapshot for the request report; the benchmark measures a live "
                "server (run it without --rdb)."
            )
        snapshot = str(Path(_rdb_or_url(args).path).resolve())
        return {"snapshot": snapshot, "snapshot_db": args.db or 0}
    return {}


def _kernel_environment(args: argparse.Namespace, parameters: dict[str, Any]) -> dict[str, str]:
    """The fetching flags given, as the ``RP_*`` variables the kernel reads at import.

    The kernel is another process: it reads the RP_* variables at import, as this one did, so
    a flag given travels as its variable (on top of the environment the kernel inherits), and
    a -p parameter, set in the notebook, wins over both; a setting given both ways is refused.
    """
    flags = _given_flags(args)
    both = sorted(set(flags) & set(parameters))
    if both:
        raise InvalidArgumentError(
            f"Give {both[0]} once: --{both[0].replace('_', '-')} or -p {both[0]}, not both."
        )
    return as_environment(**flags)


def cmd_docs(args: argparse.Namespace) -> int:
    guides = [Path(g) for g in args.guide] if args.guide else list(GUIDES)
    generated = blocks(Path(args.results))
    stale = []
    for guide in guides:
        images = None if args.check or guide != guides[0] else Path(args.images)
        text = render_guide(guide, Path(args.results), images, generated)
        if args.check:
            if text != guide.read_text(encoding="utf-8"):
                stale.append(str(guide))
            continue
        with atomic_files(guide) as (written,):
            written.write_text(text, encoding="utf-8")
        print(f"Rewrote the generated blocks of {guide}.")
    if args.check:
        if stale:
            print(f"{', '.join(stale)}: out of date: run rp-toolkit docs", file=sys.stderr)
            return 1
        print(f"{', '.join(map(str, guides))}: current.")
        return 0
    print(f"Rewrote the plots in {args.images}/.")
    return 0


@dataclass(frozen=True)
class Command:
    """One subcommand: what it is called and does, its own options, and the shared groups it
    takes (where it reads records from, the fetching flags)."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    options: tuple[Option, ...] = ()
    redis_url: str | None = None
    """The help of ``--redis-url`` (and ``--password-file`` with it); None: no Redis."""
    rdb: bool = False
    """``--rdb FILE --db N``: a snapshot instead of a server."""
    archive: bool = False
    """``--archive DIR --app NAME``: an archive instead of a server."""
    flags: bool = False
    """The fetching flags (:data:`FLAG_OPTIONS`)."""


def _report_options(default_notebooks: str) -> tuple[Option, ...]:
    """``demo``'s and ``report``'s options; they differ in the notebooks run by default."""
    return (
        (("--out",), {"default": "reports", "help": "output folder"}),
        (
            ("-p", "--parameter"),
            {
                "nargs": 2,
                "action": "append",
                "default": [],
                "metavar": ("NAME", "VALUE"),
                "help": "a notebook parameter (papermill -p); given, it wins over the environment "
                "(use_scan, scan_count, scan_count_auto_tune, scan_budget_ms: None or not given "
                "means $RP_*, else the default)",
            },
        ),
        (
            ("--notebooks",),
            {
                "default": "",
                "help": "comma-separated: request_performance, scan_benchmark (default: "
                f"{default_notebooks})",
            },
        ),
        (("--show-code",), {"action": "store_true", "help": "keep code in the HTML"}),
    )


ANALYSED = "Redis to analyse, read-only (default $REDIS_URL; none: throwaway + synthetic)"
READ = "Redis to read, read-only (default $REDIS_URL)"
COMMANDS = (
    Command(
        "demo",
        "the main job: both notebooks on $REDIS_URL, or on a throwaway Redis",
        cmd_report,
        _report_options("both"),
        redis_url=ANALYSED,
        rdb=True,
        archive=True,
        flags=True,
    ),
    Command(
        "report",
        "run notebooks with papermill and export HTML (read-only on your Redis)",
        cmd_report,
        _report_options("request_performance; the benchmark when asked"),
        redis_url=ANALYSED,
        rdb=True,
        archive=True,
        flags=True,
    ),
    Command(
        "seed",
        "write synthetic records in the gem's format",
        cmd_seed,
        (
            (("--hours",), {"type": float, "default": 4.0}),
            (("--rps",), {"type": float, "default": 20.0}),
            (("--seed",), {"type": int, "default": 1}),
            (("--kinds",), {"default": "", "help": "comma-separated kinds (default: all)"}),
        ),
        redis_url="where to write (never deletes; default $REDIS_URL)",
        flags=True,
    ),
    Command(
        "export",
        "a loaded frame or report to CSV/Parquet",
        cmd_export,
        (
            (("kind",), {"help": "requests, sidekiq, delayed_job, grape, rake, custom, ..."}),
            (("--start",), {}),
            (("--end",), {}),
            (("--filter",), {"action": "append", "default": [], "metavar": "NAME=VALUE"}),
            (("--report",), {"help": "a report from rp_toolkit.reports, e.g. requests"}),
            (("--out",), {"required": True, "help": "file ending in .csv or .parquet"}),
        ),
        redis_url=READ,
        rdb=True,
        archive=True,
        flags=True,
    ),
    Command(
        "archive",
        "keep the gem's records as Parquet beyond Redis's TTL (read-only)",
        cmd_archive,
        (
            (("--out",), {"required": True, "metavar": "DIR", "help": "the archive's directory"}),
            (("--kinds",), {"default": "", "help": "comma-separated kinds (default: every kind)"}),
            (("--start",), {"help": "the window's start (default: every record held)"}),
            (("--end",), {"help": "the window's end (default: now, or the snapshot's time)"}),
            (
                ("--app",),
                {"help": "the application's name (default: the server's host, or the file's name)"},
            ),
        ),
        redis_url=READ,
        rdb=True,
        flags=True,
    ),
    Command(
        "memory",
        "how much Redis the gem's records need",
        cmd_memory,
        (
            (
                ("--duration",),
                {"help": "the gem's config.duration, e.g. 8h, 90min (default: 4h, the gem's)"},
            ),
            (
                ("--rate",),
                {
                    "help": "Rails requests per minute (1200) or per second (20/s); default: the "
                    "measured rate"
                },
            ),
            (
                ("--sample",),
                {
                    "type": int,
                    "default": DEFAULT_SAMPLE,
                    "help": "keys per kind measured on a server",
                },
            ),
            (("--json",), {"action": "store_true", "help": "one JSON object instead of a table"}),
        ),
        redis_url="Redis to measure, read-only (default $REDIS_URL)",
        rdb=True,
        flags=True,  # the walk that finds the keys follows the fetching flags
    ),
)
"""The commands before the benchmark's (:func:`rp_toolkit.bench.add_commands`), in order."""

DOCS_COMMAND = Command(
    "docs",
    "regenerate the SCAN guide's figures from results",
    cmd_docs,
    (
        (
            ("--guide",),
            {
                "action": "append",
                "default": [],
                "help": "a guide to rewrite (repeatable; default: "
                + ", ".join(map(str, GUIDES))
                + ")",
            },
        ),
        (("--results",), {"default": "docs/bench", "help": "the folder make guide-measure writes"}),
        (("--images",), {"default": "docs/images"}),
        (("--check",), {"action": "store_true", "help": "only check the guide is current"}),
    ),
)
"""The last command, after the benchmark's."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rp-toolkit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"rp_toolkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        _add_command(commands, command)
    add_bench_commands(commands)
    _add_command(commands, DOCS_COMMAND)
    return parser


def _add_command(commands: Any, command: Command) -> None:
    parser = commands.add_parser(command.name, help=command.help)
    if command.redis_url is not None:
        _add_redis_url(parser, command.redis_url)
    if command.rdb:
        _add_rdb(parser)
    if command.archive:
        _add_archive(parser)
    _add_options(parser, command.options)
    if command.flags:
        _add_options(parser.add_argument_group(FLAGS_TITLE), FLAG_OPTIONS)
    parser.set_defaults(func=command.run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.unwritten = None  # set while a command writes files: what an error leaves undone
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            check_environment()
            _resolve_redis_url(args)
            _apply_flags(args)
            return int(args.func(args) or 0)
    except (RPToolkitError, ValueError, OSError) as error:
        _say(f"error: {_one_line(error)}", args)
        return 2
    except KeyboardInterrupt:
        _say("interrupted", args)
        return 130
    except Stopped as stop:  # SIGTERM or SIGHUP where a command unwinds on them
        _say(str(stop), args)
        return int(stop.code or 1)
    except Exception as error:  # a bug or an error not translated yet: still one line
        if settings.debug:
            raise
        _say(
            f"error: unexpected {type(error).__name__}: {_one_line(error)} "
            "(run with --debug for the traceback)",
            args,
        )
        return 1


def _say(text: str, args: argparse.Namespace) -> None:
    """One line on stderr, with what was left unwritten if a command was writing."""
    unwritten = getattr(args, "unwritten", None)
    if unwritten:
        text = f"{text.rstrip('.')}; {unwritten}"
    print(f"rp-toolkit: {text}", file=sys.stderr)


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """rp_toolkit's own warnings as one line on stderr; any other as Python shows it."""
    if isinstance(message, RPToolkitWarning):
        print(f"rp-toolkit: warning: {_one_line(message)}", file=sys.stderr)
        return
    _python_showwarning(message, category, filename, lineno, file, line)


def _one_line(error: BaseException) -> str:
    """The error's text on one line, any URL in it redacted."""
    text = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r"\b[a-z+]+://\S+", lambda m: redact_url(m.group(0)), text)


if __name__ == "__main__":
    sys.exit(main())

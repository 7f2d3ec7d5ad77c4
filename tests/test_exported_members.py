"""Each subpackage's face (as httpx's tests/test_exported_members.py): ``__all__`` is exactly the
pinned list, every name in it is importable from the package, the modules behind the face are
private (``store/_scan.py``), and every exported name is used outside its package.

The pins are generated from the tree. After changing a face on purpose, regenerate them:

    python -m tests.test_exported_members --print    # show the pins of the current tree
    python -m tests.test_exported_members --write    # rewrite PINNED below in place

then read the diff: every added name is a promise to other packages, tests, notebooks and docs.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

import rp_toolkit as rp

PACKAGE = Path(rp.__file__).resolve().parent
ROOT = PACKAGE.parent

# -- pins (generated: python -m tests.test_exported_members --write) --
PINNED: dict[str, list[str]] = {
    "rp_toolkit.archives": [
        "ARCHIVED_KINDS",
        "Archive",
        "ArchiveRun",
        "FORMAT",
        "SCHEMAS",
        "archive",
        "check_app",
        "open_archive",
        "schema_table",
    ],
    "rp_toolkit.bench": [
        "BenchmarkError",
        "COLUMNS",
        "CountingCluster",
        "CountingRedis",
        "EXISTING_SERVER_TTL_S",
        "Keyspace",
        "QUERIES",
        "QUERY_CONTROLLER",
        "SLOWLOG_THRESHOLD_US",
        "ServerStats",
        "Target",
        "add_cli",
        "add_commands",
        "archive_speed_summary",
        "check_parameters",
        "check_target",
        "findings",
        "load_results",
        "load_speed",
        "load_speed_summary",
        "redis_family_binary",
        "run",
        "save",
        "save_walks",
        "server_text",
        "snapshot_speed",
        "snapshot_speed_summary",
        "to_frame",
        "to_markdown",
        "validate_parameters",
        "walks_markdown",
    ],
    "rp_toolkit.bench.findings": [
        "adaptive",
        "auto_slower",
        "blocking",
        "count_costs",
        "gem_mget",
        "headline_query",
        "overhead_by_count",
        "overhead_by_size",
        "scan_calls",
        "target",
    ],
    "rp_toolkit.frames": [
        "BATCH_ROWS",
        "EARLIEST",
        "ITER_BATCH_ROWS",
        "LoadBatches",
        "LoadInfo",
        "MISSING_VALUE",
        "ParsedRecords",
        "Problems",
        "RecordsLike",
        "StoredBatches",
        "TIMESTAMP",
        "TRACE_COLUMNS",
        "concat_batches",
        "decode_json_text",
        "empty_frame",
        "iter_load",
        "key_text",
        "kind_windows",
        "list_column",
        "load",
        "load_events",
        "load_many",
        "load_trace",
        "parse",
        "parse_events",
        "parse_key",
        "parse_trace",
        "slowest_trace",
        "split_by_kind",
        "tabular_kind",
        "walk_pattern",
        "walks",
    ],
    "rp_toolkit.local": [
        "LocalCluster",
        "RedisServer",
        "SERVER_ENV",
        "SERVER_NAMES",
        "TLSFiles",
        "binary_version",
        "find_redis_server",
        "find_tls_redis_server",
        "free_port",
        "temporary_redis",
    ],
    "rp_toolkit.notebooks": [
        "AnalysisTarget",
        "NOTEBOOKS",
        "SETTING_NAMES",
        "TITLES",
        "check_reachable",
        "notebook_parameters",
        "previous_window",
        "route_parameters",
        "run_notebook",
        "validate_benchmark_parameters",
        "validate_request_parameters",
    ],
    "rp_toolkit.reports": [
        "ALL_ENDPOINTS",
        "DEPLOY_WINDOW",
        "EXCEPTION_GROUP_COLUMNS",
        "FAILED_JOB_COLUMNS",
        "FAILED_STATUSES",
        "JOB_KINDS",
        "JOB_LABELS",
        "JobsReport",
        "WORKER_COLUMNS",
        "annotations",
        "apdex",
        "crashes",
        "custom",
        "delayed_job",
        "deploy_impact",
        "deploy_impact_by_endpoint",
        "deploys_in_range",
        "endpoint_days",
        "error_rate",
        "event_labels",
        "exception_classes",
        "exception_groups",
        "export",
        "failed_jobs",
        "findings",
        "grape",
        "jobs_by_worker",
        "jobs_pages",
        "jobs_summary",
        "minute_window",
        "percentile",
        "percentiles",
        "period_comparison",
        "plots",
        "rake",
        "recent",
        "requests",
        "requests_per_day",
        "resources",
        "response_time",
        "sidekiq",
        "slow",
        "slowest",
        "slowest_by_endpoint",
        "tables",
        "throughput",
        "time_split",
        "window_change",
    ],
    "rp_toolkit.reports.findings": [
        "apdex",
        "at_a_glance",
        "crashes",
        "deploy_regressions",
        "deploys",
        "deploys_in_range",
        "endpoints",
        "errors",
        "exception_groups",
        "failed_jobs",
        "history",
        "jobs",
        "jobs_by_worker",
        "key_listing",
        "loaded",
        "overview",
        "period_comparison",
        "resources",
        "slow_requests",
        "slowest",
        "time_split",
        "trace",
        "traffic_and_latency",
    ],
    "rp_toolkit.reports.plots": [
        "ANNOTATION_ROWS",
        "ANNOTATION_WIDTH",
        "LATENCY_EDGES_MS",
        "adaptive_vs_best_fixed",
        "blocking",
        "daily_p95",
        "job_page",
        "job_pages",
        "label_rows",
        "latency_buckets",
        "latency_heatmap",
        "overhead_vs_count",
        "overhead_vs_size",
        "resources",
        "response_time",
        "scan_calls_vs_count",
        "throughput",
        "top_endpoints",
        "trace",
        "view_durations",
        "waterfall",
    ],
    "rp_toolkit.reports.tables": [
        "Column",
        "ENDPOINT_WIDTH",
        "WRAP_WIDTH",
        "apdex",
        "crashes",
        "deploy_endpoints",
        "deploys",
        "error_rates",
        "exception_groups",
        "failed_jobs",
        "for_people",
        "jobs_by_worker",
        "jobs_summary",
        "percentile_cards",
        "requests",
        "slow_requests",
        "slowest",
        "summary",
        "time_split",
    ],
    "rp_toolkit.store": [
        "ACL_EXTRA",
        "ADAPTIVE_MAX_COUNT",
        "ADAPTIVE_MIN_COUNT",
        "AdaptiveCount",
        "CLUSTER_SCHEMES",
        "ClientLike",
        "ClusterNode",
        "ClusterTopology",
        "FetchResult",
        "FetchStats",
        "FetchStream",
        "LiveSource",
        "Node",
        "NodeFigures",
        "PASSWORD_ON_COMMAND_LINE",
        "PROGRESS_DELAY_S",
        "Restart",
        "STAGE_QUEUE_TRIPS",
        "ScanCounts",
        "SeenKeys",
        "ServerIdentity",
        "ServerTopology",
        "Snapshot",
        "SnapshotFacts",
        "SnapshotSource",
        "SnapshotStats",
        "Source",
        "SourceLike",
        "describe_server",
        "determine_scan_count",
        "fetch_from_redis",
        "fetch_keys",
        "get_client",
        "has_secret",
        "in_parallel",
        "is_cluster",
        "list_keys",
        "open_source",
        "progress_bar",
        "quiet_keys_notices",
        "read_values",
        "redact_url",
        "scan_batches",
        "scan_match",
        "timed_call",
        "translate_errors",
        "with_password_file",
    ],
    "rp_toolkit.store.sources": [
        "LiveSource",
        "SnapshotSource",
        "Source",
        "SourceLike",
        "open_source",
        "read_values",
    ],
    "rp_toolkit.synth": [
        "ALL_KINDS",
        "CHUNK_RECORDS",
        "DEFAULT_SERVERS",
        "MIN_TTL_SECONDS",
        "REGRESSION",
        "SynthSummary",
        "generate",
        "iter_request_records",
        "planned_counts",
        "request_records",
        "ruby_json",
        "write",
        "write_records",
    ],
}
# -- end of pins --


def packages() -> list[str]:
    """Every subpackage of rp_toolkit: each directory below it that has an ``__init__.py``."""
    return sorted(
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE
    )


def directory(package: str) -> Path:
    return ROOT.joinpath(*package.split("."))


def public_modules(package: str) -> list[str]:
    """The modules inside ``package`` whose names do not start with ``_``."""
    return sorted(
        f"{package}.{path.stem}"
        for path in directory(package).glob("*.py")
        if path.stem not in ("__init__", "__main__") and not path.stem.startswith("_")
    )


def faces() -> list[str]:
    """Every face to pin: the subpackages, and the few modules a package exports as a
    namespace of their own (``reports.tables``: their names would clash in the package's),
    which its ``__all__`` names."""
    namespaces = [
        module
        for package in packages()
        for module in public_modules(package)
        if module.rpartition(".")[2] in getattr(importlib.import_module(package), "__all__", ())
    ]
    return sorted([*packages(), *namespaces])


def inside(face: str, path: Path) -> bool:
    """Whether ``path`` is part of ``face`` (a package's directory, or a namespace's file)."""
    folder = directory(face)
    return folder in path.parents or path == folder.with_suffix(".py")


def exported(package: str) -> list[str]:
    """What ``package`` exports: its ``__all__``, or (when it has none yet, to start the pins
    from) its public attributes that are not modules."""
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
        names = [n for n in names if not isinstance(getattr(module, n), ModuleType)]
    return sorted(names)


def pins_source() -> str:
    """The ``PINNED = {...}`` block of the current tree, formatted as ruff formats it."""
    lines = ["PINNED: dict[str, list[str]] = {"]
    for package in faces():
        lines.append(f'    "{package}": [')
        lines += [f'        "{name}",' for name in exported(package)]
        lines.append("    ],")
    return "\n".join([*lines, "}"])


def write_pins() -> None:
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    start = text.index("PINNED: dict[str, list[str]] = {")
    end = text.index("# -- end of pins --")
    path.write_text(text[:start] + pins_source() + "\n" + text[end:], encoding="utf-8")


@pytest.mark.parametrize("package", faces())
def test_the_package_exports_exactly_its_pins(package: str) -> None:
    module = importlib.import_module(package)
    assert hasattr(module, "__all__"), f"{package} has no __all__"
    assert package in PINNED, f"{package} is not pinned: see this module's docstring"
    assert sorted(module.__all__) == PINNED[package]
    assert len(set(module.__all__)) == len(module.__all__), "a name listed twice"


def test_every_pinned_package_exists() -> None:
    assert sorted(PINNED) == faces()


@pytest.mark.parametrize("package", faces())
def test_every_exported_name_is_importable(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"


def test_modules_inside_a_package_are_private() -> None:
    """Behind a package's face, modules are private (``store/_scan.py``); other packages import
    from the face, never from a module behind it. A public module is a face of its own: its
    package exports it by name and it is pinned."""
    public = sorted(
        module
        for package in packages()
        for module in public_modules(package)
        if module not in faces()
    )
    assert not public, f"{len(public)} public modules inside packages:\n  " + "\n  ".join(public)


# -- exports nobody uses -----------------------------------------------------------------------


def readers() -> list[Path]:
    """Where an export may be used: the code, the tests (not this one, which pins every name),
    the notebooks and the docs."""
    return [
        *PACKAGE.rglob("*.py"),
        *(path for path in (ROOT / "tests").rglob("*.py") if path != Path(__file__).resolve()),
        *(ROOT / "notebooks").glob("*.ipynb"),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
    ]


@cache
def words_of(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
    return frozenset(re.findall(r"\w+", text))


@cache
def imported_from(path: Path) -> tuple[tuple[str, str], ...]:
    """``(module, name)`` for each ``from module import name`` of a Python file, resolved."""
    if path.suffix != ".py":
        return ()
    here = list(path.relative_to(ROOT).with_suffix("").parts)
    pairs = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            pairs += [(module, alias.name) for alias in node.names]
    return tuple(pairs)


def used_names(path: Path, package: str) -> set[str]:
    """The words of ``path``, less the names it imports from behind ``package``'s face (from
    ``package._module``): a use that bypasses the face is no reason for the face to export."""
    behind = {name for module, name in imported_from(path) if module.startswith(package + ".")}
    return set(words_of(path)) - behind


def unused_exports() -> dict[str, list[str]]:
    """For each package, the names it exports that no file outside it mentions (but through
    an import from one of the package's own modules)."""
    unused = {}
    for package in faces():
        words: set[str] = set()
        for path in readers():
            if path.exists() and not inside(package, path):
                words |= used_names(path, package)
        names = getattr(importlib.import_module(package), "__all__", [])
        unused[package] = sorted(set(names) - words)
    return {package: names for package, names in unused.items() if names}


def test_every_export_is_used_outside_its_package() -> None:
    """A name a package exports is used elsewhere in rp_toolkit, in tests/, a notebook, docs/
    or the README; otherwise it is the package's own business and stays private."""
    unused = unused_exports()
    count = sum(map(len, unused.values()))
    assert not unused, f"{count} exports nobody uses:\n  " + "\n  ".join(
        f"{package}: {', '.join(names)}" for package, names in unused.items()
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--print"]:
        print(pins_source())
    elif sys.argv[1:] == ["--write"]:
        write_pins()
    elif sys.argv[1:] == ["--unused"]:
        for package, names in unused_exports().items():
            print(f"{package} ({len(names)}): {', '.join(names)}")
    else:
        sys.exit("usage: python -m tests.test_exported_members --print | --write | --unused")

"""The notebooks' parameters, checked before anything runs: ``-p`` values routed to the
notebook that takes them, the request report's window and place, the benchmark's target, and
the server answering (:func:`check_reachable`)."""

from __future__ import annotations

import ast
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..archives import Archive, open_archive
from ..bench import check_parameters, check_target
from ..config import VARIABLES, Settings, check_setting, settings, validate_scan_count
from ..exceptions import ScanCountWarning, SettingsError
from ..kinds import REQUESTS, get_kind, resolve_window
from ..store import Snapshot, get_client, redact_url, translate_errors
from ._running import NOTEBOOKS, notebooks_dir

_NOT_A_LITERAL = object()
SETTING_NAMES = frozenset(Settings().as_dict())
"""Parameters named after a setting, checked as the setting is when their default is None."""


def notebook_parameters(name: str) -> dict[str, Any]:
    """The names and default values in notebook ``name``'s parameters cell, read from the
    file (not run); a default that is not a literal is ``_NOT_A_LITERAL`` (any value goes)."""
    if name not in NOTEBOOKS:
        raise SettingsError(f"Unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}.")
    document = json.loads((notebooks_dir() / NOTEBOOKS[name]).read_text(encoding="utf-8"))
    for cell in document.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", []))
            break
    else:
        return {}
    defaults: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    defaults[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    defaults[target.id] = _NOT_A_LITERAL
    return defaults


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"


def _fits(default: Any, value: Any) -> bool:
    """Whether ``value`` can stand where the parameters cell has ``default``."""
    if default is None or default is _NOT_A_LITERAL or value is None:
        return True  # None: "not set", any value (the notebook checks it)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return isinstance(value, (int, float)) and (isinstance(default, float) or whole)
    return isinstance(value, type(default))


def _check_setting_parameter(notebook: str, key: str, value: Any) -> None:
    """A parameter named after a setting whose default is ``None`` ("from the environment,
    else the default") takes what the setting takes, checked as ``rp.setup`` checks it."""
    try:
        with warnings.catch_warnings():  # a huge COUNT warns in the kernel, where it is used
            warnings.simplefilter("ignore", ScanCountWarning)
            check_setting(key, value)
    except SettingsError as error:
        variable = VARIABLES.get(key)
        fallback = f"${variable}, else {getattr(Settings(), key)!r}" if variable else "not set"
        raise SettingsError(
            f"-p {key} {json.dumps(value)}: {error} In notebook {notebook} its default, None, "
            f"means {fallback}."
        ) from None


def route_parameters(names: list[str], parameters: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each notebook's own share of ``parameters`` (``-p name value``), checked before any
    kernel starts: a name no chosen notebook has, or a value of the wrong type for its
    default, is a :class:`SettingsError` that lists what the notebook takes."""
    cells = {name: notebook_parameters(name) for name in names}
    unknown = [name for name in parameters if not any(name in cell for cell in cells.values())]
    if unknown:
        listing = "; ".join(f"{name}: {', '.join(cell)}" for name, cell in cells.items())
        others = sorted(
            name
            for name in set(NOTEBOOKS) - set(names)
            if set(unknown) & set(notebook_parameters(name))
        )
        hint = f" ({', '.join(others)} takes it: add --notebooks {others[0]})" if others else ""
        raise SettingsError(
            f"Unknown notebook parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}{hint}. The parameters are: {listing}."
        )
    routed: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in parameters.items():
        for name, cell in cells.items():
            if key not in cell:
                continue
            if cell[key] is None and value is not None and key in SETTING_NAMES:
                _check_setting_parameter(name, key, value)
            if not _fits(cell[key], value):
                raise SettingsError(
                    f"-p {key} {json.dumps(value)}: notebook {name} expects "
                    f"{_kind_of(cell[key])} for {key} (its default is {cell[key]!r})."
                )
            routed[name][key] = value
    return routed


def check_reachable(url: str) -> None:
    """Connect to the Redis at ``url`` and PING it, before anything slow starts (a kernel, a
    benchmark): a bad URL or a server that does not answer is a one-line error now."""
    client = get_client(url)
    with translate_errors(client, f"checking {redact_url(url)}"):
        client.ping()


REQUEST_FILTERS = ("controller", "action", "format", "status", "method", "path")


@dataclass
class RequestParameters:
    """Validated parameters of the request-performance notebook."""

    redis_url: str | None
    start: Any
    end: Any
    filters: dict[str, Any]
    snapshot: str | None = None
    """The RDB file analysed instead of a server (its absolute path), if any."""
    snapshot_db: int = 0
    """The snapshot's database that is read."""
    archive: str | None = None
    """The archive analysed instead of a server (its absolute path), if any."""
    archive_app: str | None = None
    """The archive's application that is read (None: its only one)."""


def validate_request_parameters(
    *,
    redis_url: str | None,
    hours: float | None,
    start: Any = None,
    end: Any = None,
    scan_count: Any = None,
    kind: str = "requests",
    snapshot: str | None = None,
    snapshot_db: int = 0,
    archive: str | None = None,
    archive_app: str | None = None,
    days: float | None = None,
    **filters: Any,
) -> RequestParameters:
    """Check the notebook's parameters before anything runs; errors say what to change.

    With ``snapshot`` (the path of an RDB file) the file is opened and checked instead of a
    server, its database ``snapshot_db``, and "now" is when the snapshot was taken. With
    ``archive`` (an ``rp-toolkit archive`` directory) the archive is opened instead, its app
    ``archive_app``, and "now" is the newest time its runs read. ``days``, when given, is the
    window's length instead of ``hours``."""
    get_kind(kind)
    if scan_count is not None:  # None: the setting in force ($RP_SCAN_COUNT, else 10)
        validate_scan_count(scan_count, allow_adaptive=True)
    chosen = _chosen_filters(filters)
    _check_place(snapshot, snapshot_db, archive, archive_app)
    hours = _hours(hours, days)
    opened: Snapshot | Archive | None = (
        Snapshot(snapshot, db=snapshot_db)
        if snapshot
        else open_archive(archive, app=archive_app)
        if archive
        else None
    )
    now = opened.now() if opened is not None else pd.Timestamp.now(tz="UTC")
    start_ts, end_ts = _window(start, end, hours, now)
    if opened is not None:
        return RequestParameters(None, start_ts, end_ts, chosen, **_place_fields(opened))
    url = redis_url or settings.redis_url
    if url:
        check_reachable(url)
    return RequestParameters(redis_url=url, start=start_ts, end=end_ts, filters=chosen)


def _chosen_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters given a value (None and "" mean any), each one the report knows."""
    unknown = set(filters) - set(REQUEST_FILTERS)
    if unknown:
        raise SettingsError(f"Unknown filters {sorted(unknown)}; known: {REQUEST_FILTERS}.")
    return {name: value for name, value in filters.items() if value not in (None, "")}


def _check_place(
    snapshot: str | None, snapshot_db: int, archive: str | None, archive_app: str | None
) -> None:
    """A snapshot or an archive instead of a server, not both, each with its own options."""
    if snapshot_db and not snapshot:
        raise SettingsError(
            "snapshot_db chooses a database of the snapshot: set snapshot too (for a server, "
            "put the database in its URL, redis://host:6379/N)."
        )
    if snapshot and archive:
        raise SettingsError("Set snapshot or archive, not both.")
    if archive_app and not archive:
        raise SettingsError("archive_app chooses an application of the archive: set archive too.")


def _hours(hours: Any, days: Any) -> Any:
    """The window's length in hours: ``days`` (checked) when given, else ``hours`` (checked
    by :func:`_window` where it is used)."""
    if days is None:
        return hours
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
        raise SettingsError(f"days must be a positive number, got {days!r}.")
    return float(days) * 24


def _window(start: Any, end: Any, hours: Any, now: pd.Timestamp) -> tuple[Any, Any]:
    """The window's start and end, by the loaders' rule (:func:`rp_toolkit.kinds.resolve_window`):
    ``end`` (default ``now``) and ``start``, else ``hours`` before the end."""
    if start is None and (
        isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0
    ):
        raise SettingsError(f"hours must be a positive number, got {hours!r}.")
    span = None if start is not None else pd.Timedelta(hours=float(hours))
    return resolve_window(REQUESTS, start, end, now=now, span=span)


def _place_fields(opened: Snapshot | Archive) -> dict[str, Any]:
    """The :class:`RequestParameters` fields that name an opened snapshot or archive."""
    if isinstance(opened, Archive):
        return {"archive": str(opened.root.resolve()), "archive_app": opened.app}
    return {"snapshot": str(opened.path), "snapshot_db": opened.db}


def validate_benchmark_parameters(
    *,
    sizes: Any,
    counts: Any,
    repeats: int,
    noise: float,
    queries: Any,
    use_redis_url: bool,
    allow_existing_server: bool,
    cluster: bool = False,
    primaries: int = 3,
) -> str | None:
    """Check the benchmark notebook's parameters; returns the Redis URL to use (None: a
    throwaway server, or with ``cluster`` a throwaway cluster of ``primaries``). An existing
    server ($REDIS_URL, a single server or a cluster) needs both flags."""
    check_parameters(sizes, counts, queries, repeats, noise)
    if cluster and use_redis_url:
        raise SettingsError(
            "cluster=True starts a throwaway Redis Cluster; use_redis_url benchmarks the Redis "
            "at REDIS_URL as it is (a cluster URL works as is). Set one or the other."
        )
    if not use_redis_url:
        check_target(None, False, cluster, primaries)
        return None
    url = settings.redis_url
    if not url:
        raise SettingsError("use_redis_url is set but REDIS_URL is empty (pass --redis-url).")
    if not allow_existing_server:
        raise SettingsError(
            f"Refusing to benchmark the existing Redis at {redact_url(url)}: the benchmark "
            "writes keys and runs KEYS there. Set allow_existing_server=True if you mean it."
        )
    check_reachable(url)
    return url

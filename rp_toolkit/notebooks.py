"""Run the bundled notebooks with papermill and publish them as HTML with nbconvert.

Credentials never enter a notebook: a Redis URL reaches the kernel through the ``REDIS_URL``
environment variable, never as a papermill parameter (papermill writes parameters into the
executed notebook), and notebooks print only :func:`rp_toolkit.redact_url` of it.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import synth
from .archives import Archive, open_archive
from .bench import check_parameters, check_target
from .config import VARIABLES, Settings, check_setting, settings, validate_scan_count
from .exceptions import (
    NotebookFailedError,
    RPToolkitError,
    RPToolkitWarning,
    ScanCountWarning,
    SettingsError,
)
from .files import atomic_files
from .frames import load
from .kinds import get_kind, resolve_window, window_before
from .local import RedisServer
from .store import Snapshot, get_client, redact_url, translate_errors

NOTEBOOKS = {
    "request_performance": "request_performance.ipynb",
    "scan_benchmark": "scan_benchmark.ipynb",
}


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of this checkout."""
    candidate = Path(__file__).resolve().parent.parent / "notebooks"
    if not candidate.is_dir():
        raise RPToolkitError(
            f"No notebooks folder at {candidate}. Run rp-toolkit report from a clone of the "
            "rp_toolkit repository (pip install -e .)."
        )
    return candidate


@dataclass
class NotebookRun:
    name: str
    notebook: Path
    html: Path
    warnings: list[str] = field(default_factory=list)
    """rp_toolkit's warnings the kernel showed (:func:`notebook_warnings`)."""


def notebook_warnings(notebook: Any) -> list[str]:
    """The messages of rp_toolkit's warnings (:class:`RPToolkitWarning` and its subclasses)
    in an executed notebook's stderr outputs, in order, each once."""
    names = {RPToolkitWarning.__name__}
    pending = list(RPToolkitWarning.__subclasses__())
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending += cls.__subclasses__()
    shown = re.compile(r":\d+: (\w+): (.*)$")
    found: list[str] = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stderr":
                continue
            for line in "".join(output.get("text", "")).splitlines():
                match = shown.search(line)
                if match and match.group(1) in names and match.group(2) not in found:
                    found.append(match.group(2))
    return found


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


def _clean_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    if "redis_url" in parameters and parameters["redis_url"] is not None:
        raise SettingsError(
            "Pass the Redis URL with redis_url= to run_notebook (or --redis-url), not as a "
            "notebook parameter: parameters are written into the executed notebook."
        )
    return dict(parameters)


def _local_kernel_manager(sockets: str) -> type:
    """A kernel manager that talks to the kernel over unix sockets in ``sockets`` rather than
    TCP ports on localhost: nothing listens on the network, and ipykernel has no reason to warn
    that the kernel runs over TCP without encryption."""
    from jupyter_client.manager import KernelManager

    class LocalKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(sockets, "kernel"))
            super().__init__(**kwargs)

    return LocalKernelManager


@contextlib.contextmanager
def _environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``variables`` set (``None``: removed) inside the block, as it was
    after it."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        _set_environment(variables)
        yield
    finally:
        _set_environment(saved)


def _set_environment(variables: Mapping[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_TEMPLATE = "rp_report.html.j2"
"""The reports' HTML template: JupyterLab's page with no script from the network."""
TITLES = {
    "request_performance": "Request performance (rp_toolkit)",
    "scan_benchmark": "SCAN against KEYS (rp_toolkit)",
}
"""Each report's ``<title>``."""


def run_notebook(
    name: str,
    output_dir: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
    environment: Mapping[str, str] | None = None,
    show_code: bool = False,
    progress: bool = True,
) -> NotebookRun:
    """Execute notebook ``name`` into ``output_dir`` and export it as HTML.

    ``output_dir`` also receives the tables the notebook writes (its ``output_dir``
    parameter). The kernel inherits this process's environment, so rp_toolkit's ``RP_*``
    variables reach it; ``environment`` (e.g. :func:`rp_toolkit.config.as_environment` of the
    command line's flags) is set on top of it for this run only, and so is ``REDIS_URL`` from
    ``redis_url`` (None: no ``REDIS_URL`` at all). Raises :class:`NotebookFailedError` with the
    failing cell's error.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    if name not in NOTEBOOKS:
        raise SettingsError(f"Unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}.")
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / NOTEBOOKS[name]
    executed = out / NOTEBOOKS[name]
    params = {"output_dir": str(out / name), **_clean_parameters(parameters or {})}
    # The kernel inherits the URL through REDIS_URL: no notebook holds it.
    variables = {**(environment or {}), "REDIS_URL": redis_url or None}
    try:
        with _environment(variables), tempfile.TemporaryDirectory(prefix="rp-kernel-") as sockets:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=params,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(source.parent),
                **(
                    {"kernel_manager_class": _local_kernel_manager(sockets)}
                    if os.name == "posix"
                    else {}
                ),
            )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailedError(
            f"Notebook {name} failed in cell {error.exec_count}: {error.ename}: {error.evalue}. "
            f"The executed notebook is at {executed}."
        ) from None
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file=REPORT_TEMPLATE,
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=True,
    )
    document = nbformat.read(str(executed), as_version=4)
    body, _ = exporter.from_notebook_node(
        document, resources={"metadata": {"name": TITLES.get(name, name)}}
    )
    html = out / f"{name}.html"
    with atomic_files(html) as (written,):
        written.write_text(body, encoding="utf-8")
    return NotebookRun(
        name=name, notebook=executed, html=html, warnings=notebook_warnings(document)
    )


# --------------------------------------------------------------------------- parameters

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
    unknown = set(filters) - set(REQUEST_FILTERS)
    if unknown:
        raise SettingsError(f"Unknown filters {sorted(unknown)}; known: {REQUEST_FILTERS}.")
    chosen = {name: value for name, value in filters.items() if value not in (None, "")}
    if snapshot_db and not snapshot:
        raise SettingsError(
            "snapshot_db chooses a database of the snapshot: set snapshot too (for a server, "
            "put the database in its URL, redis://host:6379/N)."
        )
    if snapshot and archive:
        raise SettingsError("Set snapshot or archive, not both.")
    if archive_app and not archive:
        raise SettingsError("archive_app chooses an application of the archive: set archive too.")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, (int, float)) or days <= 0:
            raise SettingsError(f"days must be a positive number, got {days!r}.")
        hours = float(days) * 24
    try:
        opened: Snapshot | Archive | None = (
            Snapshot(snapshot, db=snapshot_db)
            if snapshot
            else open_archive(archive, app=archive_app)
            if archive
            else None
        )
    except ValueError as error:  # an app name that cannot be one
        raise SettingsError(str(error)) from None
    now = opened.now() if opened is not None else pd.Timestamp.now(tz="UTC")
    if start is None and (
        isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0
    ):
        raise SettingsError(f"hours must be a positive number, got {hours!r}.")
    span = None if start is not None else pd.Timedelta(hours=float(hours))
    try:
        start_ts, end_ts = resolve_window(kind, start, end, now=now, span=span)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if isinstance(opened, Archive):
        return RequestParameters(
            redis_url=None,
            start=start_ts,
            end=end_ts,
            filters=chosen,
            archive=str(opened.root.resolve()),
            archive_app=opened.app,
        )
    if opened is not None:
        return RequestParameters(
            redis_url=None,
            start=start_ts,
            end=end_ts,
            filters=chosen,
            snapshot=str(opened.path),
            snapshot_db=opened.db,
        )
    url = redis_url or settings.redis_url
    if url:
        client = get_client(url)
        with translate_errors(client, f"checking {redact_url(url)}"):
            client.ping()
    return RequestParameters(redis_url=url, start=start_ts, end=end_ts, filters=chosen)


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
    client = get_client(url)
    with translate_errors(client, f"checking {redact_url(url)}"):
        client.ping()
    return url


# --------------------------------------------------------------------------- the source


class AnalysisSource:
    """What a notebook or the main job analyses: an archive (``rp-toolkit archive``'s
    directory, app ``archive_app``), an RDB snapshot (database ``snapshot_db``), the user's
    Redis (read-only), or a throwaway server seeded with synthetic data when none is given.
    ``url`` is what ``rp.load`` and the rest take (a URL, the
    :class:`~rp_toolkit.store.Snapshot` or the :class:`~rp_toolkit.archives.Archive`, opened
    and checked once); ``archive`` is the archive when it is one; ``close()`` stops a
    throwaway server."""

    def __init__(
        self,
        url: str | None,
        *,
        hours: float = 4.0,
        rps: float = 20.0,
        seed: int = 1,
        snapshot: str | None = None,
        snapshot_db: int = 0,
        archive: str | None = None,
        archive_app: str | None = None,
    ):
        self.server: RedisServer | None = None
        self.synthetic = None
        self.url: str | Snapshot | Archive
        self.archive: Archive | None = None
        if archive:
            self.url = self.archive = open_archive(archive, app=archive_app)
            self.description = self.archive.describe()
            return
        if snapshot:
            self.url = Snapshot(snapshot, db=snapshot_db)
            self.description = self.url.describe()
            return
        if url:
            self.url = url
            self.description = f"Redis at {redact_url(url)} (read-only)"
            return
        self.server = RedisServer().start()
        atexit.register(self.close)
        self.url = self.server.url
        self.synthetic = synth.write(self.url, hours=hours, rps=rps, seed=seed, progress=False)
        self.description = (
            f"a throwaway Redis at {self.url} seeded with {self.synthetic.total:,} synthetic "
            f"records ({hours:g} hours at {rps:g} requests/s)"
        )

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> AnalysisSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def previous_window(source: AnalysisSource, params: RequestParameters) -> pd.DataFrame:
    """The requests of the window of the same length just before ``params``' window (same
    filters), for the first screen's change: one more walk of the source. What it would warn
    about the source (a snapshot database holding nothing) the report's first load has said."""
    first, last = window_before(params.start, params.end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RPToolkitWarning)
        return load("requests", source.url, start=first, end=last, **params.filters)

"""rp_toolkit: analyse what the rails_performance gem stores in Redis.

Safe key discovery (KEYS or SCAN behind the gem's flags), chunked value reads, typed pandas
frames, the dashboard's reports, notebooks and benchmarks. This module only re-exports the
public API; ``docs/ARCHITECTURE.md`` maps the package.
"""

import importlib as _importlib
from types import ModuleType as _ModuleType

from . import frames, kinds, reports, synth
from . import local as server
from .archives import Archive, ArchiveRun, archive, open_archive
from .config import settings, setup, validate_scan_count
from .exceptions import (
    ArchiveError,
    KeysCommandUnavailableError,
    KeysDeprecationWarning,
    RedisCommandError,
    RedisServerNotFoundError,
    RedisUnavailableError,
    RPToolkitError,
    RPToolkitWarning,
    ScanCountWarning,
    ServerChangedError,
    ServerNotReadyError,
    SettingsError,
    SnapshotDatabaseWarning,
    SnapshotError,
)
from .frames import (
    LoadBatches,
    LoadInfo,
    concat_batches,
    iter_load,
    load,
    load_events,
    load_many,
    load_trace,
    parse,
    slowest_trace,
)
from .kinds import escape_glob
from .local import temporary_redis
from .memory import MemoryProfile, memory_profile
from .store import (
    FetchResult,
    FetchStats,
    Snapshot,
    determine_scan_count,
    fetch_from_redis,
    fetch_keys,
    get_client,
    redact_url,
)
from .version import __version__ as __version__

__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveRun",
    "archive",
    "open_archive",
    "LoadBatches",
    "LoadInfo",
    "MemoryProfile",
    "memory_profile",
    "bench",
    "frames",
    "kinds",
    "notebooks",
    "plots",
    "reports",
    "server",
    "synth",
    "load",
    "iter_load",
    "concat_batches",
    "load_events",
    "load_many",
    "load_trace",
    "parse",
    "slowest_trace",
    "FetchResult",
    "FetchStats",
    "KeysCommandUnavailableError",
    "KeysDeprecationWarning",
    "RPToolkitError",
    "RPToolkitWarning",
    "RedisCommandError",
    "RedisServerNotFoundError",
    "RedisUnavailableError",
    "ScanCountWarning",
    "ServerChangedError",
    "ServerNotReadyError",
    "SettingsError",
    "Snapshot",
    "SnapshotDatabaseWarning",
    "SnapshotError",
    "determine_scan_count",
    "escape_glob",
    "fetch_from_redis",
    "fetch_keys",
    "get_client",
    "redact_url",
    "settings",
    "setup",
    "temporary_redis",
    "validate_scan_count",
]


_ON_FIRST_USE = {"bench": ".bench", "notebooks": ".notebooks", "plots": ".reports.plots"}
"""Imported when first used (``rp.plots``, ``rp.bench``...): they bring matplotlib and
papermill's helpers, about 30 MiB that a script that only loads data does not need."""


def __getattr__(name: str) -> _ModuleType:
    if name in _ON_FIRST_USE:
        module = _importlib.import_module(_ON_FIRST_USE[name], __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_ON_FIRST_USE})

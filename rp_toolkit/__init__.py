"""rp_toolkit: analyse what the rails_performance gem stores in Redis.

Safe key discovery (KEYS or SCAN behind the gem's flags), chunked value reads, typed pandas
frames, the dashboard's reports, notebooks and benchmarks.
"""

from . import bench, frames, kinds, notebooks, plots, reports, server, synth
from .connection import get_client, redact_url
from .exceptions import (
    KeysCommandUnavailableError,
    KeysDeprecationWarning,
    RedisServerNotFoundError,
    RedisUnavailableError,
    RPToolkitError,
    ScanCountWarning,
    SettingsError,
)
from .fetching import (
    FetchResult,
    FetchStats,
    determine_scan_count,
    escape_glob,
    fetch_from_redis,
    fetch_keys,
)
from .frames import LoadInfo, load, load_events, load_trace, parse, slowest_trace
from .server import temporary_redis
from .settings import settings, setup, validate_scan_count

__version__ = "0.1.0"

__all__ = [
    "LoadInfo",
    "bench",
    "frames",
    "kinds",
    "notebooks",
    "plots",
    "reports",
    "server",
    "synth",
    "load",
    "load_events",
    "load_trace",
    "parse",
    "slowest_trace",
    "FetchResult",
    "FetchStats",
    "KeysCommandUnavailableError",
    "KeysDeprecationWarning",
    "RPToolkitError",
    "RedisServerNotFoundError",
    "RedisUnavailableError",
    "ScanCountWarning",
    "SettingsError",
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

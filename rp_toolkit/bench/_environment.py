"""What a benchmark ran on: Redis, redis-py, hiredis, Python, CPUs, platform, date, load."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from datetime import datetime, timezone
from typing import Any

import redis

from ..store import redact_url
from ..version import __version__, server_label, server_software

try:
    from redis.utils import HIREDIS_AVAILABLE
except ImportError:  # pragma: no cover - very old redis-py
    HIREDIS_AVAILABLE = False


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The machine's 1/5/15-minute load averages (other work skews timings), if known."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe_environment(admin: redis.Redis, binary: str | None, url: str | None) -> dict[str, Any]:
    """The environment of a run on the server behind ``admin``: ``binary`` is the throwaway
    server's executable, ``url`` the existing server's URL (None: a throwaway server)."""
    server = admin.info("server")
    name, version = server_software(server)
    return {
        "server_software": server_label(server),
        "server_name": name,
        "server_version": version,
        # Valkey's redis_version is the Redis version it is compatible with, not its own.
        "redis_version": str(server.get("redis_version")),
        # Valkey says server_mode where Redis says redis_mode.
        "redis_mode": str(server.get("redis_mode") or server.get("server_mode", "")),
        "server": "throwaway" if url is None else redact_url(url),
        "server_binary": binary or str(server.get("executable") or "unknown (existing server)"),
        "server_os": str(server.get("os", "")),
        "redis_py": redis.__version__,
        "hiredis": package_version("hiredis"),
        "hiredis_parser": bool(HIREDIS_AVAILABLE),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "rp_toolkit": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": load_average(),
    }

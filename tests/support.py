"""Helpers the test modules share: the repository root, filling a keyspace, running the CLI,
reading what an HTML fragment holds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import hiredis
import redis

from rp_toolkit.kinds import REQUESTS

ROOT = Path(__file__).resolve().parent.parent
"""The repository (the CLI and notebooks run from here)."""


def fill_keyspace(
    client: redis.Redis,
    keys: Mapping[Any, Any] | Iterable[Any],
    value: Any = "1",
    *,
    batch: int = 1000,
) -> list[Any]:
    """Write ``keys`` (a mapping of key to value, or keys that all get ``value``) with
    pipelined MSETs of ``batch`` keys; returns the keys in the order written."""
    items = list(keys.items()) if isinstance(keys, Mapping) else [(k, value) for k in keys]
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(items), batch):
        pipe.mset(dict(items[start : start + batch]))
    pipe.execute()
    return [key for key, _ in items]


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m rp_toolkit ARGS`` in a new process from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "rp_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        cwd=ROOT,
    )


def write_user_keys(client: Any) -> None:
    """Keys a real application might hold beside the gem's (a ``redis.Redis`` or a
    ``RedisCluster``): gem records the plain patterns match, keys with and without TTLs, other
    types, two keys sharing a hash tag. What a benchmark must leave exactly as it found."""
    now = datetime.now(timezone.utc)
    for index in range(30):
        fields = {
            "controller": "HomeController",
            "action": "index",
            "format": "html",
            "status": 200,
            "datetime": f"{now:%Y%m%dT%H%M}",
            "datetimei": int(now.timestamp()),
            "method": "GET",
            "path": f"/?page={index}",
            "request_id": f"user-{index}",
        }
        client.set(REQUESTS.format_key(fields), '{"duration":1.0}', ex=3600 if index % 2 else None)
    client.set("cache:views/home", "x" * 100, px=600_000)
    client.set("session:abc", "s")
    client.hset("user:1", mapping={"name": "Ada", "plan": "pro"})
    client.rpush("queue:default", "job1", "job2")
    client.sadd("tags", "a", "b")
    client.set("{account}:1", "a")
    client.set("{account}:2", "b")
    client.zadd("board", {"a": 1.0})


class Page(HTMLParser):
    """What an HTML fragment holds: its elements (``tags``, in order), their ``attrs``, its
    ``text`` and, by tag name, the text inside such elements (``by_tag``); references decoded."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text = ""
        self.open: list[str] = []
        self.by_tag: dict[str, str] = {}
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self.open.append(tag)

    def handle_endtag(self, tag) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data) -> None:
        self.text += data
        for tag in self.open:
            self.by_tag[tag] = self.by_tag.get(tag, "") + data


MgetTrip = list[list[bytes]]
"""The commands of one round trip of MGETs, as sent: ``[[b"MGET", key, ...], ...]``."""


def on_mget_trips(client: redis.Redis, hook: Callable[[MgetTrip], None]) -> redis.Redis:
    """``client``, with ``hook(commands)`` run just before each round trip of MGETs is sent
    on any of its connections (however the trip was packed: a redis-py pipeline or
    rp_toolkit's own packing), the trip's commands parsed back from the bytes sent."""
    pool = client.connection_pool
    base = pool.connection_class

    class HookedConnection(base):  # type: ignore[misc, valid-type]
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            data = command if isinstance(command, bytes) else b"".join(map(bytes, command))
            if b"\r\n$4\r\nMGET\r\n" in data[:32]:
                reader = hiredis.Reader()
                reader.feed(data)
                commands = []
                while (parsed := reader.gets()) is not False:
                    commands.append(parsed)
                hook(commands)
            super().send_packed_command(command, check_health)

    pool.connection_class = HookedConnection
    return client

"""Test fixtures: a real Redis server started for the session by rp_toolkit's own launcher."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
import redis

from rp_toolkit.server import RedisServer

# rp_toolkit.settings the attribute is the Settings object; this is the module.
settings_module = importlib.import_module("rp_toolkit.settings")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's server, emptied before the test (it is the tests' own server)."""
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def restore_settings() -> Iterator[None]:
    """Every test starts from the defaults and cannot leak settings into the next."""
    saved = settings_module.settings.as_dict()
    defaults = settings_module.Settings().as_dict()
    settings_module.setup(**{**defaults, "progress": False})
    yield
    settings_module.setup(**saved)

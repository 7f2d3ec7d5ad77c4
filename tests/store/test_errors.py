"""Clear errors: unreachable or vanished servers, credentials, disabled KEYS, lost connections
(SCAN resumes from its cursor), malformed URLs; and no password ever shows up in a message."""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Iterator

import pytest
import redis

import rp_toolkit as rp
import rp_toolkit.store._connection as connection_module  # noqa: E402
from rp_toolkit.local import RedisServer, free_port
from tests.support import fill_keyspace

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

PASSWORD = "s3cr3t-pw"
WRONG = "wrong-pass"
LOST = "Lost the connection to Redis"


def fill(client: redis.Redis, count: int, prefix: str = "k:") -> list[str]:
    return fill_keyspace(client, (f"{prefix}{i:06d}" for i in range(count)), "v", batch=2000)


def full_text(error: BaseException) -> str:
    """Everything a user would see: the message and the printed traceback."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def assert_no_raw_traceback(error: BaseException) -> None:
    """Raised ``from None``: the redis-py exception is not printed as the cause."""
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    assert "During handling of the above exception" not in full_text(error)


# ---------------------------------------------------------------------------- unreachable


@pytest.mark.parametrize("use_scan", [False, True])
def test_connection_refused_names_the_server(use_scan):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    started = time.monotonic()
    with rp.setup(use_scan=use_scan, retries=0), pytest.raises(rp.RedisUnavailableError) as caught:
        rp.fetch_from_redis("k:*", url)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert isinstance(caught.value, ConnectionError)
    assert_no_raw_traceback(caught.value)


def test_connection_refused_is_retried_then_reported(caplog):
    port = free_port()
    caplog.set_level(logging.WARNING, logger="rp_toolkit")
    started = time.monotonic()
    with rp.setup(use_scan=True, retries=2), pytest.raises(rp.RedisUnavailableError) as caught:
        rp.fetch_keys("k:*", f"redis://127.0.0.1:{port}/0")
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert len([r for r in caplog.records if r.getMessage().startswith(LOST)]) == 2


# ------------------------------------------------------------------------------ passwords


@pytest.fixture(scope="module")
def password_server() -> Iterator[RedisServer]:
    with RedisServer({"requirepass": PASSWORD}) as server:
        yield server


def test_right_password_works(password_server):
    url = f"redis://:{PASSWORD}@127.0.0.1:{password_server.port}/0"
    redis.Redis.from_url(url).set("k:1", "one")
    with rp.setup(use_scan=True):
        assert rp.fetch_from_redis("k:*", url) == (["k:1"], ["one"])


@pytest.mark.parametrize("user", ["", "default"])
@pytest.mark.parametrize("use_scan", [False, True])
def test_wrong_password_is_reported_without_any_password(password_server, caplog, user, use_scan):
    port = password_server.port
    url = f"redis://{user}:{WRONG}@127.0.0.1:{port}/0"
    caplog.set_level(logging.DEBUG, logger="rp_toolkit")
    with rp.setup(use_scan=use_scan, debug=True), pytest.raises(rp.RedisUnavailableError) as caught:
        rp.fetch_from_redis("k:*", url)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "credentials" in message
    for secret in (WRONG, PASSWORD):
        assert secret not in full_text(caught.value)
        assert secret not in caplog.text
    assert LOST not in caplog.text  # refused credentials are not retried
    assert_no_raw_traceback(caught.value)


def test_missing_password_is_reported(password_server):
    url = f"redis://127.0.0.1:{password_server.port}/0"
    with pytest.raises(rp.RedisUnavailableError, match=f"127.0.0.1:{password_server.port}"):
        rp.fetch_keys("k:*", url)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("redis://:s3cr3t@example.com:6379/0", "redis://:***@example.com:6379/0"),
        ("redis://alice:s3cr3t@example.com:6379/2", "redis://alice:***@example.com:6379/2"),
        ("rediss://alice:s3cr3t@example.com/0", "rediss://alice:***@example.com/0"),
        ("redis://:s3cr3t@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("redis://:p%40ss@example.com:1/0", "redis://:***@example.com:1/0"),
        ("redis://:s3cr3t@example.com:notaport/0", "redis://:***@example.com:notaport/0"),
        ("redis://example.com:6379/0", "redis://example.com:6379/0"),
        ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
    ],
)
def test_redact_url_hides_passwords(url, expected):
    assert rp.redact_url(url) == expected


def test_redact_url_of_an_unparseable_url():
    assert rp.redact_url("redis://:s3cr3t@[::1/0") == "redis://:***@[::1/0"


# ---------------------------------------------------------------------------- malformed URL


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "redis://host:notaport",
        "redis://:s3cr3t@host:notaport/0",
        "",
        "127.0.0.1:6379",
    ],
)
def test_malformed_url_is_a_settings_error(url):
    with pytest.raises(rp.SettingsError, match="Malformed Redis URL") as caught:
        rp.fetch_keys("k:*", url)
    assert "s3cr3t" not in full_text(caught.value)
    assert "redis://" in str(caught.value)  # says what a URL should look like
    assert_no_raw_traceback(caught.value)


def test_client_of_the_wrong_type_is_a_settings_error():
    with pytest.raises(rp.SettingsError, match="int"):
        rp.fetch_keys("k:*", 6379)


# ------------------------------------------------------------------------------ no KEYS


@pytest.fixture(scope="module")
def no_keys_server() -> Iterator[RedisServer]:
    with RedisServer({"rename-command": ("KEYS", "")}) as server:
        yield server


def test_disabled_keys_says_to_use_scan_and_scan_works(no_keys_server):
    url = no_keys_server.url
    redis.Redis.from_url(url).mset({"k:1": "one", "k:2": "two"})
    rp.setup(use_scan=False)
    with pytest.raises(rp.KeysCommandUnavailableError, match="use_scan") as caught:
        rp.fetch_from_redis("k:*", url)
    assert "RP_USE_SCAN" in str(caught.value)
    assert_no_raw_traceback(caught.value)
    with rp.setup(use_scan=True):
        assert rp.fetch_from_redis("k:*", url) == (["k:1", "k:2"], ["one", "two"])


def test_acl_denied_keys_is_explained(client, redis_url):
    client.mset({"k:1": "one"})
    rp.setup(use_scan=False)
    user = "rp-test-reader"
    client.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{PASSWORD}"],
        keys=["*"],
        commands=["+@read", "+@connection", "-keys"],
    )
    try:
        url = redis_url.replace("redis://", f"redis://{user}:{PASSWORD}@")
        with pytest.raises(rp.RedisUnavailableError, match="denied") as caught:
            rp.fetch_keys("k:*", url)
        assert PASSWORD not in full_text(caught.value)
        with rp.setup(use_scan=True):
            assert rp.fetch_from_redis("k:*", url) == (["k:1"], ["one"])
    finally:
        client.acl_deluser(user)


# ----------------------------------------------------------------------- lost connections


def test_scan_resumes_after_its_connection_is_killed(client, redis_url, caplog):
    """A COUNT 1 scan over 20,000 keys whose connection is killed (CLIENT KILL) mid-way
    resumes from its cursor and returns the full list.

    A kill that lands between two commands is healed by redis-py itself (the pool notices the
    closed socket and reconnects); only a kill that lands while a SCAN is in flight reaches
    rp_toolkit. So the killer repeats until one did: it knows by the client staying away for
    the retry's back-off (0.1 s) instead of reconnecting at once.
    """
    names = fill(client, 20_000)
    url = redis_url + "?client_name=rp-victim"
    admin = redis.Redis.from_url(redis_url)
    stop = threading.Event()
    kills: list[int] = []
    in_flight_kill = threading.Event()

    def victims() -> list[dict]:
        return [c for c in admin.client_list() if c.get("name") == "rp-victim"]

    def killer() -> None:
        while not stop.is_set() and len(kills) < 200:
            scanning = [c for c in victims() if c.get("cmd") == "scan"]
            if not scanning:
                time.sleep(0.002)
                continue
            for victim in scanning:
                admin.client_kill_filter(_id=victim["id"])
                kills.append(int(victim["id"]))
            gone_since = time.monotonic()
            while time.monotonic() - gone_since < 0.07:
                if victims():
                    break  # reconnected at once: redis-py healed it, try again
                time.sleep(0.002)
            else:
                in_flight_kill.set()  # stayed away: rp_toolkit is backing off
                return
            time.sleep(0.005)

    caplog.set_level(logging.WARNING, logger="rp_toolkit")
    thread = threading.Thread(target=killer, daemon=True)
    with rp.setup(use_scan=True, scan_count=1, scan_count_auto_tune=False):
        thread.start()
        try:
            result = rp.fetch_from_redis("k:*", url)
        finally:
            stop.set()
            thread.join(10)

    assert kills, "the scan ended before any kill"
    assert in_flight_kill.is_set()
    assert result.keys == names
    assert result.values == ["v"] * len(names)
    assert result.stats.retries >= 1
    assert result.stats.keys_found == 20_000
    assert result.stats.duplicates_dropped == 0
    assert LOST in caplog.text


def test_server_gone_before_the_fetch(caplog):
    server = RedisServer().start()
    url = server.url
    fill(redis.Redis.from_url(url), 10)
    with rp.setup(use_scan=True):
        assert len(rp.fetch_keys("k:*", url)) == 10  # the cached client is connected
    server.stop()
    caplog.set_level(logging.WARNING, logger="rp_toolkit")
    started = time.monotonic()
    with rp.setup(use_scan=True, retries=1), pytest.raises(rp.RedisUnavailableError) as caught:
        rp.fetch_from_redis("k:*", url)
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert len([r for r in caplog.records if r.getMessage().startswith(LOST)]) == 1


@pytest.mark.parametrize("use_scan", [True, False])
def test_server_gone_during_the_fetch(use_scan):
    """The server is stopped while the keys are being listed (SCAN) or read (KEYS, then
    many small MGETs): the fetch fails with a clear error, in bounded time."""
    server = RedisServer().start()
    try:
        admin = redis.Redis.from_url(server.url)
        fill(admin, 20_000)
        command = "scan" if use_scan else "mget"

        def stop_when_busy() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                stats = admin.info("commandstats").get(f"cmdstat_{command}", {})
                if stats.get("calls", 0) >= 20:
                    break
                time.sleep(0.005)
            server.stop()

        thread = threading.Thread(target=stop_when_busy, daemon=True)
        started = time.monotonic()
        with rp.setup(
            use_scan=use_scan,
            scan_count=1,
            scan_count_auto_tune=False,
            mget_chunk=1,
            pipeline_depth=1,
            retries=1,
        ):
            thread.start()
            with pytest.raises(rp.RedisUnavailableError) as caught:
                rp.fetch_from_redis("k:*", server.url)
        thread.join(10)
        assert time.monotonic() - started < 30
        assert f"127.0.0.1:{server.port}" in str(caught.value)
        assert_no_raw_traceback(caught.value)
    finally:
        server.stop()


def test_timeout_is_reported(monkeypatch):
    """A server that does not answer (CLIENT PAUSE) within the socket timeout."""
    monkeypatch.setattr(connection_module, "SOCKET_TIMEOUT_S", 0.3)
    # Clients are cached by URL: one an earlier test made for this port (servers reuse
    # ports) would keep the usual timeout, wait out the pause and answer.
    cached = connection_module._client_for_url
    cached.cache_clear()
    monkeypatch.setattr(  # a cache of its own: its short-timeout client is not kept after it
        connection_module, "_client_for_url", functools.lru_cache(maxsize=1)(cached.__wrapped__)
    )
    with RedisServer() as server:  # its own: a paused server cannot be unpaused
        admin = redis.Redis.from_url(server.url)
        admin.set("k:1", "one")
        admin.execute_command("CLIENT", "PAUSE", 10_000)
        started = time.monotonic()
        with (
            rp.setup(use_scan=True, retries=1),
            pytest.raises(rp.RedisUnavailableError, match="did not answer in time") as caught,
        ):
            rp.fetch_keys("k:*", server.url)
        assert time.monotonic() - started < 5
        assert f"127.0.0.1:{server.port}" in str(caught.value)
        assert_no_raw_traceback(caught.value)

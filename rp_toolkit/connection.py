"""Clients from URLs, credential-free descriptions of servers, and clear connection errors."""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis
from redis import exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.retry import Retry

from .exceptions import KeysCommandUnavailableError, RedisUnavailableError, SettingsError
from .settings import settings

ClientLike = redis.Redis | redis.RedisCluster | str | None

SOCKET_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (user names are kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port ("host:notaport"): keep its text, it holds no secret
        port = ":" + parts.netloc.rpartition(":")[2]
    netloc = f"{user}:***@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@functools.lru_cache(maxsize=32)
def _client_for_url(url: str) -> redis.Redis:
    # Values stay bytes: keys that are not UTF-8 must survive, and the parsers want bytes.
    return redis.Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        # rp_toolkit retries lost connections itself, resuming SCAN from its cursor.
        retry=Retry(NoBackoff(), 0),
    )


def get_client(client: ClientLike = None) -> redis.Redis:
    """A ``redis.Redis`` for ``client``: a client as is, a URL, or ``settings.redis_url``."""
    if client is None:
        client = settings.redis_url
        if client is None:
            raise SettingsError(
                "No Redis to read from: pass client= (a redis.Redis or a redis:// URL), "
                "call rp.setup(redis_url=...) or set REDIS_URL."
            )
    if isinstance(client, str):
        from . import cluster  # imports this module

        try:
            # A RedisCluster for redis+cluster:// URLs and cluster-enabled servers.
            found = cluster.client_for_url(client, _client_for_url)
            return found if found is not None else _client_for_url(client)
        except ValueError as error:
            raise SettingsError(
                f"Malformed Redis URL {redact_url(client)!r}: {error}. "
                "Expected redis://[user:password@]host:port/db, rediss://... or unix://path."
            ) from None
    if isinstance(client, (redis.Redis, redis.RedisCluster)):
        return client
    raise SettingsError(
        f"client must be a redis.Redis, a redis.RedisCluster or a URL string, not "
        f"{type(client).__name__}."
    )


def describe_server(client: redis.Redis) -> str:
    """``host:port/db`` (or the socket path) of ``client``; never the password."""
    if isinstance(client, redis.RedisCluster):
        from .cluster import describe

        return describe(client)
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _is_unknown_keys_command(error: redis_errors.ResponseError) -> bool:
    text = str(error).lower()
    return "unknown command" in text and "keys" in text


@contextlib.contextmanager
def translate_errors(client: redis.Redis, doing: str) -> Iterator[None]:
    """Turn redis-py's connection and permission errors into clear rp_toolkit errors."""
    where = describe_server(client)
    try:
        yield
    except redis_errors.AuthenticationError as error:
        raise RedisUnavailableError(
            f"Redis at {where} refused the credentials while {doing} ({_first_line(error)}). "
            "Check the user name and password in the URL (they are not shown here)."
        ) from None
    except redis_errors.TimeoutError:
        raise RedisUnavailableError(
            f"Redis at {where} did not answer in time while {doing}. Is the server overloaded "
            "or the network slow? Retry, or use a replica for analysis."
        ) from None
    except redis_errors.ConnectionError as error:
        if is_tls_failure(error):
            raise RedisUnavailableError(
                f"TLS with Redis at {where} failed while {doing}: "
                f"{_first_line(error).rstrip('.')}. If its certificate is signed by your own CA, "
                "name the CA: rediss://host:port/0?ssl_ca_certs=/path/ca.pem (and "
                "ssl_certfile=...&ssl_keyfile=... if it wants a client certificate)."
            ) from None
        raise RedisUnavailableError(
            f"Could not talk to Redis at {where} while {doing}: {_first_line(error)}. "
            "Check that the server runs and that host, port and TLS settings are right."
        ) from None
    except redis_errors.NoPermissionError as error:
        raise RedisUnavailableError(
            f"Redis at {where} denied a command while {doing} ({_first_line(error)}). "
            "The ACL user needs read commands (SCAN, KEYS, MGET, GET, DBSIZE, PING, INFO) "
            "on the gem's keys; see the README's production section."
        ) from None
    except redis_errors.ResponseError as error:
        if _is_unknown_keys_command(error):
            raise KeysCommandUnavailableError(
                f"Redis at {where} does not accept KEYS (disabled or renamed, as managed Redis "
                "services often do). Use SCAN instead: rp.setup(use_scan=True) or "
                "RP_USE_SCAN=true."
            ) from None
        raise


def is_tls_failure(error: BaseException) -> bool:
    # redis-py raises its ConnectionError inside the handler of the ssl.SSLError.
    return isinstance(error.__context__, ssl.SSLError) or "[SSL" in str(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

"""Clients from URLs, cluster detection, credential-free descriptions, clear errors.

Which URLs are clusters: ``redis+cluster://`` / ``rediss+cluster://`` always; a plain
``redis://`` / ``rediss://`` URL when the server says ``cluster_enabled:1`` in ``INFO cluster``
(asked once per URL and process, on first use). A ``redis.RedisCluster`` passed as ``client``
is used as is.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis
from redis import exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..config import settings
from ..exceptions import (
    KeysCommandUnavailableError,
    RedisUnavailableError,
    SettingsError,
    first_line,
)

ClientLike = redis.Redis | redis.RedisCluster | str | None

ACL_EXTRA = "+cluster|slots +command"
"""What an analysis ACL user needs on a cluster besides the single-node rules."""
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_detected: dict[str, RedisCluster | None] = {}
_detect_lock = threading.Lock()

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
        try:
            # A RedisCluster for redis+cluster:// URLs and cluster-enabled servers.
            found = _cluster_client_for_url(client)
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
    if isinstance(client, RedisCluster):
        nodes = client.get_nodes()
        first = client.get_default_node() or (nodes[0] if nodes else None)
        where = first.name if first is not None else "?"
        return f"cluster {where} ({len(client.get_primaries())} primaries)"
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
            f"Redis at {where} refused the credentials while {doing} ({first_line(error)}). "
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
                f"{first_line(error).rstrip('.')}. If its certificate is signed by your own CA, "
                "name the CA: rediss://host:port/0?ssl_ca_certs=/path/ca.pem (and "
                "ssl_certfile=...&ssl_keyfile=... if it wants a client certificate)."
            ) from None
        raise RedisUnavailableError(
            f"Could not talk to Redis at {where} while {doing}: {first_line(error)}. "
            "Check that the server runs and that host, port and TLS settings are right."
        ) from None
    except redis_errors.NoPermissionError as error:
        raise RedisUnavailableError(
            f"Redis at {where} denied a command while {doing} ({first_line(error)}). "
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


# -- cluster detection ------------------------------------------------------------------------


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster (every primary must then be read)."""
    return isinstance(client, RedisCluster)


def _plain_url(url: str) -> tuple[str, bool]:
    """``(url with a plain redis/rediss scheme, whether the scheme said "cluster")``."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    if sep and plain:
        return f"{plain}://{rest}", True
    return url, False


def _cluster_from(single: redis.Redis, url: str) -> RedisCluster:
    """A cluster client with the connection options (credentials, TLS, timeouts) of
    ``single``, the plain client made for the URL."""
    pool = single.connection_pool
    kwargs = dict(pool.connection_kwargs)
    if "path" in kwargs:
        raise SettingsError("A Redis Cluster cannot be reached over a unix socket; use a TCP URL.")
    if int(kwargs.pop("db", 0) or 0) != 0:
        raise SettingsError(
            f"{redact_url(url)} names a database other than 0, but a Redis Cluster has only "
            "database 0."
        )
    kwargs.pop("retry", None)  # the cluster client refuses it; rp_toolkit retries itself
    host, port = kwargs.pop("host", "localhost"), kwargs.pop("port", 6379)
    if issubclass(pool.connection_class, redis.SSLConnection):
        kwargs["ssl"] = True
    try:
        return RedisCluster(host=host, port=port, **kwargs)
    except (
        redis_errors.RedisClusterException,
        redis_errors.ConnectionError,
        redis_errors.NoPermissionError,
    ) as error:
        raise RedisUnavailableError(
            f"Could not reach the Redis Cluster at {host}:{port}: {first_line(error)}. "
            "Check that the cluster runs, that its nodes announce addresses reachable from "
            f"here, and that the ACL user may run {ACL_EXTRA} (the client's topology queries)."
        ) from None


def _cluster_client_for_url(url: str) -> RedisCluster | None:
    """The cluster client for ``url``, or ``None`` when ``url`` is not a cluster.

    For a plain URL the server is asked ``INFO cluster``. The answer is remembered per URL,
    except when the server could not be reached (then the next call asks again, and the plain
    client reports the connection problem where it occurs).
    """
    plain, explicit = _plain_url(url)
    with _detect_lock:
        if url in _detected:
            return _detected[url]
    single = _client_for_url(plain)
    if explicit:
        found: RedisCluster | None = _cluster_from(single, url)
    else:
        try:
            enabled = single.info("cluster").get("cluster_enabled")
        except (redis_errors.ConnectionError, redis_errors.TimeoutError):
            return None  # unreachable now: not remembered
        except redis_errors.ResponseError:  # INFO denied or unknown: treat as one node
            enabled = 0
        found = _cluster_from(single, url) if str(enabled) == "1" else None
    with _detect_lock:
        return _detected.setdefault(url, found)

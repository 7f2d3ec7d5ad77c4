"""The blocking probe: how long another client waits for Redis while a fetch runs."""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from ..exceptions import BenchmarkError
from ._probe_process import ping_until

PROBE_SCRIPT = Path(__file__).with_name("_probe_process.py")
"""The probe process's script, run by its path (no package import: it starts fast)."""

PROBE_WARM_UP_S = 0.1
"""Probe time spent right after start: the first PINGs of a fresh interpreter are slow."""


@dataclass
class ProbeStats:
    """The round trips one probe saw: how many, and their median, 99th percentile and max."""

    samples: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan

    @classmethod
    def of(cls, latencies_ns: Sequence[np.ndarray]) -> ProbeStats:
        pooled = np.concatenate(list(latencies_ns)) if latencies_ns else np.array([])
        if pooled.size == 0:
            return cls()
        ms = pooled / 1e6
        return cls(
            int(ms.size),
            float(np.percentile(ms, 50)),
            float(np.percentile(ms, 99)),
            float(ms.max()),
        )


class Probe:
    """A second client PINGing Redis in a tight loop while something else runs.

    ``mode="process"`` (default) runs it as a separate Python process (``_probe_process.py``
    run as a script: no GIL shared with the fetch, and none of the caller's ``__main__``
    re-imported); ``"thread"`` runs it in a thread of this process, sharing the GIL with the
    fetch.
    """

    def __init__(self, url: str, mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise BenchmarkError(f"probe_mode must be 'process' or 'thread', not {mode!r}.")
        self.mode = mode
        self._process: subprocess.Popen[bytes] | None = None
        if mode == "process":
            self._process = subprocess.Popen(
                [sys.executable, "-u", str(PROBE_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self._send(url)
            line = self._read_line()
            if line != "ready":
                detail = line or self._process.stderr.read().decode(errors="replace")[-500:]
                self.close()
                raise BenchmarkError(f"The blocking probe could not start: {detail}")
        else:
            self._client = redis.Redis.from_url(url, socket_timeout=3600)
            self._client.ping()
        self.idle(PROBE_WARM_UP_S)  # the first PINGs of a fresh interpreter are slow

    def _send(self, line: str) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(line.encode() + b"\n")
        self._process.stdin.flush()

    def _read_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout.readline().decode(errors="replace").strip()

    def _read_latencies(self) -> np.ndarray:
        assert self._process is not None and self._process.stdout is not None
        length = int.from_bytes(self._process.stdout.read(8), "little")
        return np.frombuffer(self._process.stdout.read(length), dtype=np.int64)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[list[np.ndarray]]:
        """PING from before the block starts until after it ends; the latencies (ns) are
        appended to the yielded list on exit."""
        collected: list[np.ndarray] = []
        if self._process is not None:
            self._send("start")
            if self._read_line() != "started":
                raise BenchmarkError("The blocking probe stopped answering.")
            try:
                yield collected
            finally:
                self._send("stop")
                collected.append(self._read_latencies())
            return
        stop, began = threading.Event(), threading.Event()
        result: list[array] = []

        def probe() -> None:
            began.set()
            result.append(ping_until(self._client, stop))

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        began.wait()
        try:
            yield collected
        finally:
            stop.set()
            thread.join()
            collected.append(
                np.frombuffer(result[0], dtype=np.int64) if result else np.array([], dtype=np.int64)
            )

    def idle(self, seconds: float) -> ProbeStats:
        """The probe alone for ``seconds``: Redis's latency with no fetch running."""
        with self.sampling() as collected:
            time.sleep(seconds)
        return ProbeStats.of(collected)

    def close(self) -> None:
        if self._process is None:
            self._client.close()
            return
        with contextlib.suppress(OSError, ValueError):
            self._send("quit")
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


class NoProbe:
    """Stands in for :class:`Probe` with ``probe=False``: no samples."""

    @contextlib.contextmanager
    def sampling(self) -> Iterator[list[np.ndarray]]:
        yield []

    def idle(self, seconds: float) -> ProbeStats:
        return ProbeStats()

    def close(self) -> None:
        pass

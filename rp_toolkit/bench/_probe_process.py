"""The benchmark's blocking probe: PING Redis in a tight loop and record each round trip.

Run as a script (``python rp_toolkit/bench/_probe_process.py``) it is the probe *process* of
``Probe`` (``rp_toolkit/bench/_probe.py``). It imports only the standard library and redis-py (not
rp_toolkit, pandas or the caller's ``__main__``), so it starts fast and works from notebooks,
``python -c`` and scripts without a ``__main__`` guard. Protocol on stdin/stdout:

    parent -> child   the Redis URL (one line; not on the command line, where ``ps`` shows it)
    child -> parent   ``ready`` or ``error <message>``
    parent -> child   ``start``          child -> parent   ``started``, then PINGs
    parent -> child   ``stop``           child -> parent   8-byte length + int64 latencies (ns)
    parent -> child   anything else (or end of input): the child exits
"""

from __future__ import annotations

import sys
import threading
import time
from array import array
from typing import Any

import redis


def ping_until(client: Any, stop: threading.Event) -> array:
    """PING until ``stop`` is set; the round trips in nanoseconds.

    At least one PING, and the last one starts after ``stop`` was set.
    """
    latencies = array("q")
    append = latencies.append
    clock = time.perf_counter_ns
    ping = client.ping
    while True:
        started = clock()
        ping()
        append(clock() - started)
        if stop.is_set():
            return latencies


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    url = stdin.readline().decode().strip()
    try:
        client = redis.Redis.from_url(url, socket_timeout=3600)
        client.ping()
    except Exception as error:  # reported to the parent, which raises
        stdout.write(f"error {type(error).__name__}: {error}\n".encode())
        stdout.flush()
        return 1
    stdout.write(b"ready\n")
    stdout.flush()
    while stdin.readline() == b"start\n":
        stop = threading.Event()

        def wait_for_stop(stop: threading.Event = stop) -> None:
            stdin.readline()
            stop.set()

        reader = threading.Thread(target=wait_for_stop, daemon=True)
        reader.start()
        stdout.write(b"started\n")
        stdout.flush()
        data = ping_until(client, stop).tobytes()
        reader.join()
        stdout.write(len(data).to_bytes(8, "little") + data)
        stdout.flush()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

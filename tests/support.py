"""Helpers the test modules share: the repository root, filling a keyspace, running the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
"""The repository (the CLI and notebooks run from here)."""


def fill_keyspace(
    client: redis.Redis,
    keys: Mapping[Any, Any] | Iterable[Any],
    value: Any = "1",
    *,
    batch: int = 1000,
) -> list[Any]:
    """Write ``keys`` (a mapping of key to value, or keys that all get ``value``) with
    pipelined MSETs of ``batch`` keys; returns the keys in the order written."""
    items = list(keys.items()) if isinstance(keys, Mapping) else [(k, value) for k in keys]
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(items), batch):
        pipe.mset(dict(items[start : start + batch]))
    pipe.execute()
    return [key for key, _ in items]


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m rp_toolkit ARGS`` in a new process from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "rp_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
        cwd=ROOT,
    )

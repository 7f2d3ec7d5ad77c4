"""What Redis itself says about a measurement: commands sent, INFO commandstats, SLOWLOG."""

from __future__ import annotations

import collections
import contextlib
import logging
import math
from typing import Any

import redis
from redis import exceptions as redis_errors

logger = logging.getLogger("rp_toolkit")

SLOWLOG_MAX_LEN = 10_000
WATCHED = ("keys", "scan", "mget")
"""The commands whose server time and slowlog entries are measured (commandstats names)."""
WATCHED_NAMES = tuple(name.upper() for name in WATCHED)


class CountingRedis(redis.Redis):
    """A ``redis.Redis`` that counts the commands it sends (pipelines aside)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_counts: collections.Counter[str] = collections.Counter()
        self.scan_counts: list[int] = []  # the COUNT of every SCAN sent

    def execute_command(self, *args: Any, **options: Any) -> Any:
        name = str(args[0]).upper()
        self.command_counts[name] += 1
        if name == "SCAN" and b"COUNT" in args:
            self.scan_counts.append(int(args[args.index(b"COUNT") + 1]))
        return super().execute_command(*args, **options)


class ServerStats:
    """INFO commandstats deltas and SLOWLOG entries around one repeat, on an admin connection.

    Sets ``slowlog-log-slower-than`` to ``threshold_us`` (and raises ``slowlog-max-len``) until
    :meth:`restore`; when CONFIG is refused, only commandstats are measured.
    """

    def __init__(self, admin: redis.Redis, owns_server: bool, threshold_us: int) -> None:
        self.admin = admin
        self.owns_server = owns_server
        self.threshold_us: float = math.nan
        self._saved: dict[str, str] = {}
        try:
            saved = {}
            for name in ("slowlog-log-slower-than", "slowlog-max-len"):
                saved.update({str(k): str(v) for k, v in admin.config_get(name).items()})
            self._saved = saved
            admin.config_set("slowlog-log-slower-than", threshold_us)
            admin.config_set(
                "slowlog-max-len", max(SLOWLOG_MAX_LEN, int(saved.get("slowlog-max-len", 0)))
            )
            self.threshold_us = float(threshold_us)
        except redis_errors.ResponseError as error:
            logger.warning("SLOWLOG not measured: CONFIG refused (%s).", error)
        self._mark = -1

    @property
    def slowlog(self) -> bool:
        return not math.isnan(self.threshold_us)

    def restore(self) -> None:
        """Put the slowlog settings back as they were."""
        for name, value in self._saved.items():
            with contextlib.suppress(redis_errors.RedisError):
                self.admin.config_set(name, value)

    def _commandstats(self) -> dict[str, tuple[int, int]]:
        info = self.admin.info("commandstats")
        return {
            name: (
                int(info.get(f"cmdstat_{name}", {}).get("calls", 0)),
                int(info.get(f"cmdstat_{name}", {}).get("usec", 0)),
            )
            for name in WATCHED
        }

    def before(self) -> dict[str, tuple[int, int]]:
        """Call before a repeat; pass what it returns to :meth:`after`."""
        if self.slowlog:
            if self.owns_server:
                self.admin.slowlog_reset()
            last = self.admin.slowlog_get(1)
            self._mark = int(last[0]["id"]) if last else -1
        return self._commandstats()

    def after(self, before: dict[str, tuple[int, int]]) -> dict[str, Any]:
        """``redis_<command>_usec`` per watched command and the slowlog figures of a repeat."""
        now = self._commandstats()
        result: dict[str, Any] = {
            f"redis_{name}_usec": float(now[name][1] - before[name][1]) for name in WATCHED
        }
        result["slowlog_entries"] = math.nan
        result["slowlog_max_us"] = math.nan
        result["slowlog_max_command"] = None
        if self.slowlog:
            entries = [
                entry
                for entry in self.admin.slowlog_get(SLOWLOG_MAX_LEN)
                if int(entry["id"]) > self._mark and _command_name(entry) in WATCHED_NAMES
            ]
            result["slowlog_entries"] = float(len(entries))
            if len(entries) >= SLOWLOG_MAX_LEN:
                logger.warning(
                    "The slowlog filled up (%d entries) during one repeat: the slowest command "
                    "may be missing. Raise slowlog_threshold_us.",
                    len(entries),
                )
            if entries:
                slowest = max(entries, key=lambda entry: int(entry["duration"]))
                result["slowlog_max_us"] = float(slowest["duration"])
                result["slowlog_max_command"] = _command_name(slowest)
        return result


def _command_name(entry: dict[str, Any]) -> str:
    command = entry.get("command", b"")
    if isinstance(command, bytes):
        command = command.decode("utf-8", "replace")
    return str(command).split(" ", 1)[0].upper()

"""The face every place records come from shows (:class:`Source`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from ...config import Options, current_options
from ...exceptions import InvalidArgumentError
from ...kinds import KeysAndValues
from .._stats import FetchStats


class Source(ABC):
    """Where records come from: a live server (:class:`~._live.LiveSource`), an RDB snapshot
    (:class:`~._snapshot.SnapshotSource`), or a place that holds records already parsed
    (the archive; ``frames.ParsedRecords``). ``open_source`` hands any ``Source`` on as is.

    Every source says what it is (:meth:`describe`, :meth:`place_name`,
    :meth:`snapshot_identity`), what "now" is there (:meth:`now`), whether one walk covers a
    window (:attr:`one_walk`), and holds the options of the call that opened it
    (:attr:`options`).

    The raw-record methods (:meth:`new_stats`, :meth:`batches`, :meth:`get_many`: the gem's
    keys and values as bytes) belong to the places that store raw records; here they raise
    :class:`~rp_toolkit.exceptions.InvalidArgumentError`, so a subclass holding parsed
    records need not define them (the loaders hand such a source a question instead).
    """

    one_walk: bool = True
    """Whether one pattern should cover a whole window (else one walk per day, as the gem's
    KEYS does)."""

    def __init__(self, options: Options | None = None) -> None:
        self.options: Options = current_options() if options is None else options
        """The options of the call that opened this source (the settings in force then)."""

    @abstractmethod
    def describe(self) -> str:
        """What this place is, for people (no secret)."""

    @abstractmethod
    def now(self) -> pd.Timestamp:
        """The time windows relative to "now" mean here."""

    @abstractmethod
    def place_name(self) -> str:
        """A short name for this place (the archive's default ``app``)."""

    def snapshot_identity(self) -> dict[str, Any] | None:
        """What tells a snapshot's contents from another's; None for a place that is no
        snapshot."""
        return None

    def new_stats(self, pattern: str, count_like: str | None = None) -> FetchStats:
        """The statistics of a new walk for ``pattern`` (raw records only)."""
        raise self._no_raw_records("new_stats")

    def batches(
        self, pattern: str, stats: FetchStats, *, values: bool = True, exact: bool = True
    ) -> Iterator[KeysAndValues]:
        """The raw ``(keys, values)`` batches matching ``pattern`` (raw records only)."""
        raise self._no_raw_records("batches")

    def get_many(self, keys: Sequence[str], what: str) -> list[bytes | None]:
        """The raw values of ``keys`` (raw records only)."""
        raise self._no_raw_records("get_many")

    def _no_raw_records(self, method: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{self.describe()} holds parsed records, not the gem's raw keys and values: "
            f"{type(self).__name__}.{method}() is not available; ask it through the loaders."
        )

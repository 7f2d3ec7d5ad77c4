"""What a load did: :class:`LoadInfo`, a frame's ``attrs["rp"]``.

Nothing is dropped silently: every record that is not in the frame, and every record kept
with a problem (a bad value keeps its key's dimensions), is listed in ``info.problems``,
where ``info = frame.attrs["rp"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..store import FetchStats
from ._parse import empty_problems


@dataclass
class LoadInfo:
    """What a load did: the frame's ``attrs["rp"]``.

    Every listed key is accounted for once: ``keys_listed == records + outside_window +
    sum(filtered_out.values()) + len(skipped)``. ``outside_window`` counts records whose
    time is outside ``[start, end]``; ``filtered_out[name]`` records in the window that
    filter ``name`` left out (a record several filters leave out counts under the first, in
    the order the filters were given); ``filter_matches[name]`` records in the window that
    equal filter ``name``, whatever the other filters say. :meth:`notes` says in words what
    left everything out.

    ``filters_in_pattern``: the filters were part of the pattern (``load``, ``iter_load``),
    so only keys matching all of them were listed and ``filtered_out`` stays 0; with several
    filters and no record, which of them matched nothing is then unknown. ``load_many``
    walks once for every kind and applies the filters to the records it parses.
    """

    kind: str
    patterns: list[str] = field(default_factory=list)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    fetches: list[FetchStats] = field(default_factory=list)
    keys_listed: int = 0
    records: int = 0
    outside_window: int = 0
    filtered_out: dict[str, int] = field(default_factory=dict)
    filter_matches: dict[str, int] = field(default_factory=dict)
    filters_in_pattern: bool = False
    problems: pd.DataFrame = field(default_factory=empty_problems)

    def __post_init__(self) -> None:
        for name in self.filters:
            self.filtered_out.setdefault(name, 0)
            self.filter_matches.setdefault(name, 0)

    @property
    def skipped(self) -> pd.DataFrame:
        """Records that are not in the frame, with the reason."""
        return self.problems[~self.problems["kept"].astype(bool)]

    @property
    def server(self) -> str | None:
        """Which server answered, named by what it is: ``valkey 9.1.2``, ``redis 7.0.15``
        (several, comma-separated, if the nodes differ; a snapshot: the Redis that wrote it;
        None when INFO was refused)."""
        names = {name for f in self.fetches for name in f.extra.get("software", {}).values()}
        return ", ".join(sorted(names)) or None

    def problem_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.problems["reason"].value_counts().items()}

    def unmatched_filters(self) -> list[str] | None:
        """The filters no record in the window matched (the load then holds no record); None
        when that cannot be told: several filters in the pattern, no record."""
        if self.filters_in_pattern and len(self.filters) > 1 and not self.records:
            return None
        return [name for name in self.filters if not self.filter_matches.get(name)]

    def notes(self) -> list[str]:
        """What left every record out, when filters did: each filter no record in the
        window matched, or the filters together. Values are quoted with ``repr`` (escape
        them again where Markdown or HTML shows them)."""
        if self.records or not self.filters:
            return []
        unmatched = self.unmatched_filters()
        if unmatched:
            return [
                f"no record in the window matched {name}={self.filters[name]!r}"
                for name in unmatched
            ]
        together = ", ".join(f"{name}={value!r}" for name, value in self.filters.items())
        each = "" if unmatched is None else ", though each matched some"
        return [f"no record in the window matched all the filters at once ({together}){each}"]

    def summary(self) -> dict[str, Any]:
        """A flat dict for notebooks and reports."""
        fetch = self.fetches[0] if self.fetches else None
        return {
            "kind": self.kind,
            "source": fetch.server if fetch else None,
            "server": self.server,
            "window_start": self.start,
            "window_end": self.end,
            "filters": dict(self.filters),
            "patterns": list(self.patterns),
            "patterns_sent": [f.pattern_sent for f in self.fetches],
            "method": fetch.method if fetch else None,
            "scan_count": fetch.count if fetch else None,
            "scan_count_rule": fetch.count_rule if fetch else None,
            "scan_calls": sum(f.scan_calls for f in self.fetches),
            "keys_listed": self.keys_listed,
            "records": self.records,
            "outside_window": self.outside_window,
            "filtered_out": dict(self.filtered_out),
            "filter_matches": dict(self.filter_matches),
            "filters_in_pattern": self.filters_in_pattern,
            "notes": self.notes(),
            "skipped": int((~self.problems["kept"].astype(bool)).sum()),
            "kept_with_problems": int(self.problems["kept"].astype(bool).sum()),
            "values_missing": sum(f.values_missing for f in self.fetches),
            "duplicates_dropped": sum(f.duplicates_dropped for f in self.fetches),
            "keys_filtered": sum(f.keys_filtered for f in self.fetches),
            "restarts": sum(f.restarts for f in self.fetches),
            "walks": sum(walks(f) for f in self.fetches),
            "fetch_seconds": sum(f.elapsed_seconds for f in self.fetches),
        }

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadInfo:
        # pandas deep-copies attrs on many operations; this record is read-only metadata.
        return self


def walks(stats: FetchStats) -> int:
    """How many times a fetch walked the keyspace: its SCAN loops (one per node on a
    cluster), 1 for a KEYS or a snapshot's walk, 0 for an archive's read (no keyspace)."""
    if stats.method == "archive":
        return 0
    return int(stats.extra.get("counts", {}).get("loops", 0)) if stats.method == "SCAN" else 1

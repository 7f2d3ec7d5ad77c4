"""A question's parts, checked and resolved before any round trip (pure): which kinds, their
windows (by :func:`rp_toolkit.kinds.resolve_window`) and filters, the glob of one walk for
several kinds, and a walk's keys split back by kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..exceptions import InvalidArgumentError
from ..kinds import SCHEMA_VERSION, RecordKind, days_glob, get_kind, resolve_window, window_bound


def tabular_kind(kind: str | RecordKind) -> RecordKind:
    """``kind``'s description if :func:`load` reads it, else a clear error."""
    record_kind = get_kind(kind)
    if not record_kind.tabular:
        raise InvalidArgumentError(f"Use rp.load_{record_kind.name}() for {record_kind.name}.")
    return record_kind


def check_batch_rows(batch_rows: Any) -> int:
    """``batch_rows`` if it is a whole number of at least 1, else a clear error."""
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidArgumentError(
            f"batch_rows must be a whole number of at least 1, not {batch_rows!r}."
        )
    return batch_rows


def walk_pattern(kinds: Sequence[RecordKind], days: list[Any] | None) -> str:
    """One glob for the records of several kinds (and annotation events, traces), so that a
    question about all of them walks the keyspace once: the kinds' first letters as a class,
    then the days (:func:`rp_toolkit.kinds.days_glob`) and the version, or, with a kind whose
    keys name no day (events, traces) or no days (every day), the versions only."""
    firsts = sorted({kind.template[0] for kind in kinds})
    head = firsts[0] if len(firsts) == 1 else "[" + "".join(firsts) + "]"
    if days is None or any(kind.day_field is None for kind in kinds):
        versions = sorted({kind.version[-1] for kind in kinds})
        return f"{head}*|{SCHEMA_VERSION[:-1]}[{''.join(versions)}]"
    return f"{head}*|datetime|{days_glob(days)}*|END|{SCHEMA_VERSION}"


def kind_windows(
    kinds: Sequence[RecordKind],
    now: pd.Timestamp,
    *,
    start: Any = None,
    end: Any = None,
    on: Any = None,
    windows: Mapping[str, tuple[Any, Any]] | None = None,
) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each kind's window in a :func:`load_many`: ``windows[kind]`` (a ``(start, end)``
    pair), else ``start``/``end``/``on`` as :func:`load` takes them (its own default span);
    both by :func:`rp_toolkit.kinds.resolve_window`."""
    spans = {}
    for kind in kinds:
        pair = (windows or {}).get(kind.name)
        if pair is None:
            spans[kind.name] = resolve_window(kind, start, end, on, now=now)
            continue
        named = f"windows[{kind.name!r}]"
        first, last = (window_bound(bound, name=named, now=now) for bound in pair)
        spans[kind.name] = resolve_window(kind, first, last, now=now)
    return spans


def kind_filters(
    kinds: Sequence[RecordKind], filters: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Each kind's exact filters in a :func:`load_many`, checked before any round trip: every
    kind carries a time (a window can hold it), and each filter names a tabular kind asked
    for and only its key fields."""
    for kind in kinds:
        if not kind.timed:
            raise InvalidArgumentError(
                f"{kind.name} records carry no time, so no window holds them: "
                f"read them one request at a time with rp.load_{kind.name}()."
            )
    asked = {kind.name: kind for kind in kinds}
    chosen = {name: dict(given) for name, given in (filters or {}).items()}
    for name, given in chosen.items():
        if name not in asked or not asked[name].tabular:
            raise InvalidArgumentError(
                f"filters for {name!r}, which is not a record kind asked for."
            )
        asked[name].pattern(given)  # unknown filter names: a clear error, before any I/O
    return chosen


def split_by_kind(
    keys: list[bytes], values: list[Any], kinds: list[RecordKind]
) -> dict[str, tuple[list[bytes], list[Any]]]:
    """``keys`` and their values split by the kind whose prefix
    (:attr:`~rp_toolkit.kinds.RecordKind.prefix`) they start with; keys of no wanted kind
    dropped."""
    prefixes = {kind.prefix.encode(): kind.name for kind in kinds}
    # Most prefixes end at a key's first '|' (one look-up); the others are tried in turn.
    others = [(prefix, name) for prefix, name in prefixes.items() if not prefix.endswith(b"|")]
    split: dict[str, tuple[list[bytes], list[Any]]] = {}
    for key, value in zip(keys, values, strict=True):
        name = prefixes.get(key[: key.find(b"|") + 1])
        if name is None and others:
            name = next((name for prefix, name in others if key.startswith(prefix)), None)
        if name is not None:
            mine = split.setdefault(name, ([], []))
            mine[0].append(key)
            mine[1].append(value)
    return split

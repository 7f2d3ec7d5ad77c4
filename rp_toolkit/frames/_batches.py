"""Batches of keys and values parsed into frames (two threads), kept to a window and
filters with their counts in a :class:`LoadInfo`, and joined as one frame."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..kinds import RecordKind
from ._info import LoadInfo
from ._parse import Problems, build_frame, empty_frame, split_keys

PARSE_THREADS = 2
"""Threads parsing batches at once (see :class:`BatchParser`)."""


@dataclass
class Parsed:
    """A parsed batch: the frame kept, problems, keys listed, records outside the window,
    records each filter left out and records in the window each filter matched."""

    frame: pd.DataFrame
    problems: pd.DataFrame
    listed: int
    outside: int
    filtered_out: dict[str, int]
    matches: dict[str, int]


class BatchParser:
    """One kind's keys and values gathered into batches of ``batch_rows``, each parsed into
    a frame kept to ``info``'s window and filters; ``info``'s counts follow.

    Batches are parsed by :data:`PARSE_THREADS` threads (Arrow's readers release the GIL, so
    one batch's Python work overlaps another's Arrow work) and come out in the order they
    went in; at most one batch per thread is waiting (memory stays bounded).
    """

    def __init__(
        self, kind: RecordKind, info: LoadInfo, batch_rows: int, *, stored: bool = False
    ) -> None:
        self.kind, self.info, self.batch_rows, self.stored = kind, info, batch_rows, stored
        self.keys: list[bytes] = []
        self.values: list[Any] = []
        self.problems: list[pd.DataFrame] = []
        self._pool = ThreadPoolExecutor(PARSE_THREADS) if PARSE_THREADS > 1 else None
        self._pending: deque[Future[Parsed]] = deque()

    def add(self, keys: list[bytes], values: list[Any]) -> Iterator[pd.DataFrame]:
        self.keys += keys
        self.values += values
        while len(self.keys) >= self.batch_rows:
            keys, self.keys = self.keys[: self.batch_rows], self.keys[self.batch_rows :]
            values, self.values = self.values[: self.batch_rows], self.values[self.batch_rows :]
            yield from self._submit(keys, values, waiting=PARSE_THREADS)

    def flush(self) -> Iterator[pd.DataFrame]:
        """The last frames; then ``info.problems`` holds every batch's problems."""
        if self.keys:
            keys, values, self.keys, self.values = self.keys, self.values, [], []
            yield from self._submit(keys, values, waiting=PARSE_THREADS)
        yield from self._done(waiting=0)
        self.close()
        if self.problems:
            self.info.problems = pd.concat(self.problems, ignore_index=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _submit(self, keys: list[bytes], values: list[Any], waiting: int) -> Iterator[pd.DataFrame]:
        if self._pool is None:
            yield self._counted(self._parse(keys, values))
            return
        self._pending.append(self._pool.submit(self._parse, keys, values))
        yield from self._done(waiting)

    def _done(self, waiting: int) -> Iterator[pd.DataFrame]:
        while len(self._pending) > waiting:
            yield self._counted(self._pending.popleft().result())

    def _counted(self, parsed: Parsed) -> pd.DataFrame:
        """Fold one parsed batch into ``info`` (in the caller's thread, in batch order)."""
        info = self.info
        info.keys_listed += parsed.listed
        info.outside_window += parsed.outside
        for name, n in parsed.filtered_out.items():
            info.filtered_out[name] = info.filtered_out.get(name, 0) + n
        for name, n in parsed.matches.items():
            info.filter_matches[name] = info.filter_matches.get(name, 0) + n
        if len(parsed.problems):
            self.problems.append(parsed.problems)
        info.records += len(parsed.frame)
        return parsed.frame

    def _parse(self, keys: list[bytes], values: list[Any]) -> Parsed:
        """One batch's frame (kept to the window and filters), problems and counts: run in
        a parsing thread, so it changes nothing shared."""
        info = self.info
        found = Problems()
        frame, problems = build_frame(
            self.kind, keys, values, split_keys(self.kind, keys, found), found, stored=self.stored
        )
        filtered_out = dict.fromkeys(info.filters, 0)
        matches = dict.fromkeys(info.filters, 0)
        if not len(frame):
            return Parsed(frame, problems, len(keys), 0, filtered_out, matches)
        in_window = frame["datetime"].between(info.start, info.end).to_numpy(dtype=bool)
        outside = int((~in_window).sum())
        kept = in_window
        for name, wanted in info.filters.items():
            equal = (frame[name].astype(str) == str(wanted)).to_numpy(dtype=bool)
            matches[name] = int((equal & in_window).sum())
            filtered_out[name] = int((kept & ~equal).sum())  # left out here first
            kept = kept & equal
        if not kept.all():
            frame = frame[kept].reset_index(drop=True)
        return Parsed(frame, problems, len(keys), outside, filtered_out, matches)


def concat_batches(
    kind: str | RecordKind, frames: Sequence[pd.DataFrame], info: LoadInfo | None = None
) -> pd.DataFrame:
    """Frames of :func:`iter_load` as one frame, as :func:`load` returns it: categories
    united and sorted (the same frame however the keys were read), ``info`` in the attrs."""
    frames = [frame for frame in frames if len(frame)] or [empty_frame(kind)]
    categorical = list(frames[0].select_dtypes("category").columns)
    if len(frames) == 1:
        frame = frames[0]
    else:
        # Each column's categories united once (codes recoded in one pass), not per frame.
        united = {name: _united([f[name] for f in frames]) for name in categorical}
        frame = pd.concat([f.drop(columns=categorical) for f in frames], ignore_index=True)
        for name, column in united.items():
            frame[name] = column
        frame = frame[list(frames[0].columns)]
    for name in categorical:
        frame[name] = _used_categories_sorted(frame[name])
    if info is not None:
        frame.attrs["rp"] = info
    return frame


def _united(columns: list[pd.Series]) -> pd.Categorical:
    """Categorical columns as one, their categories united."""
    try:
        return union_categoricals(columns, ignore_order=True)
    except TypeError:  # categories of different dtypes (a batch of nulls only)
        categories = sorted(set().union(*(column.cat.categories for column in columns)))
        parts = [column.cat.set_categories(categories) for column in columns]
        return pd.Categorical(pd.concat(parts, ignore_index=True))


def _used_categories_sorted(column: pd.Series) -> pd.Series:
    """A categorical column with only the categories it uses, in sorted order (counted with
    one pass over the codes, no sort of the rows)."""
    categories = column.cat.categories
    codes = column.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(categories)).astype(bool)
    if used.all() and categories.is_monotonic_increasing:
        return column
    return column.cat.set_categories(sorted(categories[used]))

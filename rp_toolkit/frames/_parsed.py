"""Where the loaders' records come from: a source, or :class:`ParsedRecords` (a place that
holds records already parsed, such as the archive), which a loader hands the question to."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..store import Source, SourceLike


class ParsedRecords(Source):
    """A source that holds records already parsed: ``rp.open_archive``'s archive. It is a
    :class:`~rp_toolkit.store.Source` (``open_source`` hands it on as is; it says what it is,
    what "now" is there and its place name) without the gem's raw keys and values: the loaders
    (:func:`load`, :func:`iter_load`, :func:`load_many`, :func:`load_events`,
    :func:`load_trace`, :func:`slowest_trace`) hand it the question instead, so it is accepted
    wherever a URL or a snapshot is; the type picks the behaviour."""

    @abc.abstractmethod
    def load(
        self, kind: str, *, start: Any = None, end: Any = None, on: Any = None, **filters: Any
    ) -> pd.DataFrame:
        """What :func:`load` returns for the same records."""

    @abc.abstractmethod
    def iter_load(
        self,
        kind: str,
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        batch_rows: int | None = None,
        **filters: Any,
    ) -> Iterable[pd.DataFrame]:
        """What :func:`iter_load` yields (``.kind`` and ``.info`` as :class:`LoadBatches`)."""

    @abc.abstractmethod
    def load_many(
        self,
        kinds: Sequence[str],
        *,
        start: Any = None,
        end: Any = None,
        on: Any = None,
        windows: Mapping[str, tuple[Any, Any]] | None = None,
        filters: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, pd.DataFrame]:
        """What :func:`load_many` returns."""

    @abc.abstractmethod
    def load_events(self, *, start: Any = None, end: Any = None) -> pd.DataFrame:
        """What :func:`load_events` returns."""

    @abc.abstractmethod
    def trace_values(self, request_ids: Sequence[str]) -> list[bytes | None]:
        """The stored trace of each request (the JSON the gem wrote), None where none is."""


RecordsLike = SourceLike | ParsedRecords
"""Anything the loaders take as ``source``: a source (:data:`rp_toolkit.store.SourceLike`)
or :class:`ParsedRecords`."""

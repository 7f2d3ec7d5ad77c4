"""What the request report analyses (:class:`AnalysisTarget`): an archive, a snapshot, the
user's Redis, or the demo's throwaway server seeded with synthetic records."""

from __future__ import annotations

import atexit
import warnings

import pandas as pd

from .. import synth
from ..archives import Archive, open_archive
from ..exceptions import RPToolkitWarning
from ..frames import load
from ..kinds import window_before
from ..local import RedisServer
from ..store import Snapshot, redact_url
from ._parameters import RequestParameters


class AnalysisTarget:
    """What the request report analyses: an archive (``rp-toolkit archive``'s directory, app
    ``archive_app``), an RDB snapshot (database ``snapshot_db``), the user's Redis (read-only),
    or, when none is given, a throwaway server seeded with ``hours`` of synthetic data at
    ``rps`` (the demo). ``source`` is what ``rp.load`` and the rest take as their source (the
    URL, or the :class:`~rp_toolkit.store.Snapshot` or :class:`~rp_toolkit.archives.Archive`,
    opened and checked once); ``archive`` is the archive when it is one; ``description`` says
    which in one line; ``close()`` closes the archive and stops a throwaway server."""

    def __init__(
        self,
        url: str | None,
        *,
        hours: float = 4.0,
        rps: float = 20.0,
        seed: int = 1,
        snapshot: str | None = None,
        snapshot_db: int = 0,
        archive: str | None = None,
        archive_app: str | None = None,
    ):
        self.server: RedisServer | None = None
        self.synthetic = None
        self.source: str | Snapshot | Archive
        self.archive: Archive | None = None
        if archive:
            self.source = self.archive = open_archive(archive, app=archive_app)
            self.description = self.archive.describe()
        elif snapshot:
            self.source = Snapshot(snapshot, db=snapshot_db)
            self.description = self.source.describe()
        elif url:
            self.source = url
            self.description = f"Redis at {redact_url(url)} (read-only)"
        else:
            self._start_demo(hours=hours, rps=rps, seed=seed)

    def _start_demo(self, *, hours: float, rps: float, seed: int) -> None:
        """A throwaway server (stopped by :meth:`close`, else at exit) seeded with synthetic
        records."""
        self.server = RedisServer().start()
        atexit.register(self.close)
        self.source = self.server.url
        self.synthetic = synth.write(self.source, hours=hours, rps=rps, seed=seed, progress=False)
        self.description = (
            f"a throwaway Redis at {self.source} seeded with {self.synthetic.total:,} synthetic "
            f"records ({hours:g} hours at {rps:g} requests/s)"
        )

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> AnalysisTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def previous_window(target: AnalysisTarget, params: RequestParameters) -> pd.DataFrame:
    """The requests of the window of the same length just before ``params``' window (same
    filters), for the first screen's change: one more walk of the target. What it would warn
    about the target (a snapshot database holding nothing) the report's first load has said."""
    first, last = window_before(params.start, params.end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RPToolkitWarning)
        return load("requests", target.source, start=first, end=last, **params.filters)

"""The gem's records read from an RDB snapshot file instead of a live server.

Redis writes its whole dataset to an RDB file on every ``SAVE``/``BGSAVE``; managed services
export them and ``redis-cli --rdb FILE`` fetches one from a replica. Reading that file sends
no command to production. :class:`Snapshot` opens one (checking it whole first) and
:meth:`Snapshot.batches` streams the string keys of one database that match a glob pattern,
with their values, in batches (:class:`~rp_toolkit.kinds.KeysAndValues`), as the live read
path does.

What it returns is what ``KEYS pattern`` and ``MGET`` would return on a server that had just
loaded the file, at the moment the snapshot was taken:

* **Patterns** are Redis's own glob (escapes, classes, the ``*`` short-cut), on bytes,
  matched a window of keys at a time in Arrow's kernels
  (:func:`rp_toolkit.glob.glob_batch_matcher`, equal to the per-key
  :func:`~rp_toolkit.glob.glob_matcher`).
* **Time** is the snapshot's: :meth:`Snapshot.now` is its creation time (the ``ctime`` field),
  and keys whose expiry had passed by then are left out (dumps do hold keys that had expired
  but were not yet evicted). Keys that expired since are still there: the snapshot is read as
  of when it was taken. ``ctime`` is in whole seconds, so the rule is ``expiry_ms <= ctime *
  1000``: a key whose expiry falls inside the second the snapshot was taken is kept.
* **Only string keys** carry records. Keys of other types that match (KEYS would list them,
  MGET reads them as nil) are counted, not returned (:class:`SnapshotStats`).

Checks: opening a file reads its 9-byte header (``REDIS`` and a 4-digit RDB version;
Valkey's own format, ``VALKEY...``, is refused with what to do instead) and verifies the
CRC64 trailer over the whole file, streamed (about 0.1 to 0.3 s for 340 MB); an all-zero
trailer means the server ran with ``rdbchecksum no`` (``checksum == "disabled"``), which is
allowed but leaves corruption undetectable. The decoder (the ``rdb-py`` package) never checks
the CRC, and accepts a file cut inside its trailer or with bytes after it: those are caught
here. Every failure is a one-line :class:`~rp_toolkit.exceptions.SnapshotError` naming the file
and the reason, chained to the decoder's error.

Streaming: the decoder reads one item at a time through a buffer, so memory holds a window of
keys and values waiting to be matched (``batch_keys`` of them, matched at once), at most one
batch matched and not yet handed on, and one decoded item (a huge hash comes whole). A file cut
short that passed the checks (only possible with the checksum disabled, or a file replaced
while being read) fails when the walk reaches the cut, after the batches before it: a caller
that must be all-or-nothing discards what it got when the error comes.

Nothing here writes anywhere or opens a network connection.
"""

from __future__ import annotations

import itertools
import os
import stat
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anycrc
import pandas as pd
import rdb

from ..exceptions import SnapshotDatabaseWarning, SnapshotError, first_line
from ..glob import BatchMatcher, glob_batch_matcher
from ..kinds import KeysAndValues, decode_key, encode_key

RDB_VERSIONS = range(5, 14)
"""The RDB versions read: 5 (the first with a checksum) to 13, the newest ``rdb-py`` 0.4
reads (Redis 6.2 writes 9, 7.0 writes 10)."""

DEFAULT_BATCH_KEYS = 10_000
"""Keys per batch from :meth:`Snapshot.batches` unless the caller says otherwise."""
_HEADER_BYTES = 9  # "REDIS" and 4 digits
_TRAILER_BYTES = 8  # CRC64, little-endian, after the 0xFF end-of-file opcode
_READ_CHUNK = 1 << 20
_CRC64 = anycrc.Model("CRC64-REDIS")  # Redis's crc64: Jones polynomial, reflected
_END_OF_FILE = ("unexpected end of file", "failed to fill whole buffer")  # rdb-py's I/O errors
_TRUNCATED = (
    "truncated: the data ends before the end-of-file marker (a copy cut short, or a file "
    "still being written?)"
)


@dataclass
class SnapshotStats:
    """What one walk of a snapshot (one :meth:`Snapshot.batches`) handed on and passed over.

    Complete once the batches are exhausted; counts so far if the caller stopped early.
    """

    pattern: str
    db: int
    keys_found: int = 0
    """Keys of ``db`` matching the pattern, not expired: the keys handed on (other types
    included, with no value)."""
    batches: int = 0
    expired: int = 0
    """Matching keys of ``db`` (any type) whose expiry had passed when the snapshot was taken:
    left out, as Redis leaves them out."""
    other_types: int = 0
    """Matching keys of ``db`` that are hashes, lists, sets or sorted sets: handed on with no
    value (``None``), as KEYS lists them and MGET reads nil; they hold no record."""
    not_decoded: int = 0
    """Keys of ``db`` the decoder passes over without a word (streams, module types): what the
    file announces for ``db`` minus what it yielded. Their names are unknown, so they are not
    matched against the pattern."""
    other_dbs: int = 0
    """Keys in the file's other databases."""
    elsewhere: dict[int, int] = field(default_factory=dict)
    """Keys per other database of the file (any type, expired ones included): ``other_dbs``
    by database, as the walk saw them."""
    matching_elsewhere: dict[int, int] = field(default_factory=dict)
    """String keys per other database that match the pattern and had not expired: what
    the walk would have handed on with that database chosen (databases with none left out).
    :meth:`Snapshot.batches` warns (:class:`~rp_toolkit.exceptions.SnapshotDatabaseWarning`)
    when ``db`` has no matching key and another database has some."""
    db_in_file: bool = False
    """Whether the file holds database ``db`` at all. Redis writes no empty database, so a
    missing one reads as empty, as KEYS on that database would."""
    databases: dict[int, int] = field(default_factory=dict)
    """Keys per database, as the file announces them (expired ones included)."""
    complete: bool = False
    """The walk reached the end of the file (all its checks passed)."""
    elapsed_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Snapshot:
    """One RDB file, checked and described; :meth:`batches` reads records from it.

    ``Snapshot(path, db=0)`` opens ``path`` at once: a file that is missing, not an RDB file,
    of an unsupported format or version, or whose checksum does not match raises
    :class:`~rp_toolkit.exceptions.SnapshotError`. ``db`` is the database that
    :meth:`batches` reads (the file holds them all, like the server it came from).

    Attributes: ``path`` (a :class:`~pathlib.Path`), ``db``, ``rdb_version`` (9 for Redis 6.2,
    10 for 7.0), ``server_version`` (``"7.0.15"``; None if the file does not say),
    ``created`` (UTC :class:`pandas.Timestamp`: the ``ctime`` field, the file's modification
    time if it has none), ``size_bytes``, ``checksum`` (``"verified"``, or ``"disabled"``
    when the server ran with ``rdbchecksum no``), ``aux`` (every AUX field as text:
    ``redis-ver``, ``ctime``, ``used-mem``, ...), ``aof_base`` (the file is the base of a
    Redis 7 multi-part AOF: writes after it are in the AOF, not here), ``stats`` (the
    :class:`SnapshotStats` of the latest walk, None before one).
    """

    def __init__(self, path: str | os.PathLike[str] | bytes, db: int = 0) -> None:
        self.path = Path(os.fsdecode(path))
        if isinstance(db, bool) or not isinstance(db, int) or db < 0:
            raise SnapshotError(self._say(f"db must be a database number (0 or more), not {db!r}"))
        self.db = db
        self.stats: SnapshotStats | None = None
        self._opened = self._stat()
        self.size_bytes = self._opened.st_size
        self.rdb_version = self._read_header()
        self.checksum, self._crc64 = self._verify_checksum()
        self.aux = self._read_aux()
        self.server_version: str | None = self.aux.get("redis-ver")
        self.aof_base = self.aux.get("aof-base") == "1"
        self._created_from = "ctime"
        try:
            created = pd.Timestamp(int(self.aux["ctime"]), unit="s", tz="UTC")
        except (KeyError, ValueError):
            self._created_from = "mtime"
            created = pd.Timestamp(self._opened.st_mtime_ns, unit="ns", tz="UTC").floor("s")
        self.created: pd.Timestamp = created
        self._cutoff_ms = int(created.value // 1_000_000)

    # -- what it is ---------------------------------------------------------------------

    def now(self) -> pd.Timestamp:
        """The time the snapshot's records are read as of: when it was taken (``created``).
        Windows relative to "now" mean this time."""
        return self.created

    def describe(self) -> str:
        """``snapshot dump.rdb (Redis 7.0.15, RDB 10, taken 2026-11-28 09:00:00 UTC)``, with
        the database if it is not 0 and what else a reader should know."""
        server = f"Redis {self.server_version}, " if self.server_version else ""
        when = "taken" if self._created_from == "ctime" else "file modified"
        notes = [f"{server}RDB {self.rdb_version}"]
        notes.append(f"{when} {self.created.strftime('%Y-%m-%d %H:%M:%S')} UTC")
        if self.checksum == "disabled":
            notes.append("checksum disabled")
        if self.aof_base:
            notes.append("AOF base: later writes are not in it")
        where = f", db {self.db}" if self.db else ""
        return f"snapshot {self.path.name}{where} ({', '.join(notes)})"

    def identity(self) -> dict[str, Any]:
        """What tells this file's contents from another's: its CRC64 (hex; None when the
        checksum is disabled), size, RDB version and creation time."""
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "crc64": None if self._crc64 is None else f"{self._crc64:016x}",
            "rdb_version": self.rdb_version,
            "created": self.created.isoformat(),
        }

    def __repr__(self) -> str:
        return f"Snapshot({str(self.path)!r}, db={self.db})"

    # -- reading records ----------------------------------------------------------------

    def batches(
        self,
        pattern: str | bytes,
        *,
        values: bool = True,
        batch_keys: int = DEFAULT_BATCH_KEYS,
        stats: SnapshotStats | None = None,
    ) -> Iterator[KeysAndValues]:
        """The string keys of ``db`` matching ``pattern`` (Redis glob) and not expired when
        the snapshot was taken, in file order, as ``(keys, values)`` batches of at most
        ``batch_keys`` (keys and values are bytes; ``values=False``: values None).

        Counts go into ``stats`` (a new :class:`SnapshotStats` if None), which is also
        ``self.stats``. Each call reads the file again from the start; the file must be the
        one that was opened (else :class:`~rp_toolkit.exceptions.SnapshotError`).

        The walk also counts the keys of the other databases (``stats.elsewhere``) and those
        that match (``stats.matching_elsewhere``), in the same pass; when ``db`` holds no
        matching key but another database does, or ``db`` is not in the file at all, a
        complete walk ends with a :class:`~rp_toolkit.exceptions.SnapshotDatabaseWarning`
        naming them."""
        if isinstance(batch_keys, bool) or not isinstance(batch_keys, int) or batch_keys < 1:
            raise SnapshotError(self._say(f"batch_keys must be 1 or more, not {batch_keys!r}"))
        raw = encode_key(pattern)
        match = None if raw == b"*" else glob_batch_matcher(raw)
        if stats is None:
            stats = SnapshotStats(pattern=decode_key(pattern), db=self.db)
        self.stats = stats
        return self._walk(match, values, batch_keys, stats)

    def _walk(
        self,
        match: BatchMatcher | None,
        values: bool,
        batch_keys: int,
        stats: SnapshotStats,
    ) -> Iterator[KeysAndValues]:
        """The decoder's items, one Python step each (rdb-py yields one dict per item), sorted
        into lists by a :class:`_Walk`; the pattern is matched a window of keys at a time."""
        started = time.perf_counter()
        self._check_unchanged()
        decoder = self._decoder()
        walk = _Walk(match, values, batch_keys, stats, db=self.db, cutoff_ms=self._cutoff_ms)
        try:
            for item in decoder:
                if walk.take(item):  # a window of keys is full: matched at once
                    walk.sift()
                    while len(walk.ready.keys) >= batch_keys:
                        yield walk.hand_on()
        except ValueError as error:
            walk.counts.copy_to(stats, walk.other_dbs())
            raise SnapshotError(self._say(_parse_failure(error, walk.counts.handed))) from error
        except BaseException as error:
            if type(error).__name__ != "PanicException":  # a Rust panic in the decoder
                raise
            raise SnapshotError(self._say(f"the decoder failed: {first_line(error)}")) from error
        finally:
            stats.elapsed_seconds = time.perf_counter() - started
        self._check_unchanged(replaced_is_fine=True)  # first: explains a bad end best
        self._check_end(walk.tail)
        walk.count_aside()
        walk.sift()
        while len(walk.ready.keys) > batch_keys:
            yield walk.hand_on()
        last = walk.hand_on()
        announced = stats.databases.get(self.db)
        if announced is not None:  # keys the decoder did not yield: streams, module types
            stats.not_decoded = max(0, announced - walk.counts.in_db)
        stats.complete = True
        stats.elapsed_seconds = time.perf_counter() - started
        if last.keys:
            yield last
        note = self.elsewhere_note(stats)
        if note:
            warnings.warn(SnapshotDatabaseWarning(note), stacklevel=2)

    def elsewhere_note(self, stats: SnapshotStats) -> str | None:
        """Why a walk of ``db`` found nothing though the file holds keys elsewhere, and which
        database to read instead; None when ``db`` had matching keys, or no other database
        has any."""
        if stats.keys_found or not stats.elsewhere:
            return None
        here = f"database {stats.db} of {self.path.name}"
        if stats.matching_elsewhere:
            ranked = sorted(stats.matching_elsewhere.items(), key=lambda item: (-item[1], item[0]))
            listing = ", ".join(
                f"database {db} holds {n:,} of them (of its {stats.elsewhere[db]:,} keys)"
                for db, n in ranked
            )
            best = ranked[0][0]
            return (
                f"{here} holds no key matching {stats.pattern!r}; {listing}: read it with "
                f"--db {best} (rp.Snapshot(path, db={best}))."
            )
        if stats.db_in_file:
            return None  # the right database, nothing in it matches: nothing to point at
        listing = ", ".join(
            f"database {db} ({n:,} keys)" for db, n in sorted(stats.elsewhere.items())
        )
        return (
            f"{here} holds no keys at all (the file does not contain it); the file's keys are "
            f"in {listing}, none of them matching {stats.pattern!r}."
        )

    def _check_end(self, tail: bytes | None) -> None:
        """The walk ended: it must have ended at the end-of-file marker and whole trailer
        the checks at opening saw."""
        if tail is None or len(tail) < _TRAILER_BYTES:
            raise SnapshotError(self._say(_TRUNCATED))
        if len(tail) > _TRAILER_BYTES:
            raise SnapshotError(self._say(_trailing(len(tail) - _TRAILER_BYTES)))
        stored = int.from_bytes(tail, "little")
        if stored != (self._crc64 or 0):
            raise SnapshotError(self._say(_CHANGED))

    # -- opening --------------------------------------------------------------------------

    def _say(self, reason: str) -> str:
        return f"Cannot read the snapshot {self.path}: {reason}."

    def _stat(self) -> os.stat_result:
        try:
            found = os.stat(self.path)
        except FileNotFoundError as error:
            raise SnapshotError(self._say("no such file")) from error
        except OSError as error:
            raise SnapshotError(self._say(_os_reason(error))) from error
        if stat.S_ISDIR(found.st_mode):
            raise SnapshotError(self._say("it is a directory, not an RDB file"))
        if not stat.S_ISREG(found.st_mode):
            raise SnapshotError(self._say("not a regular file (a pipe or device?)"))
        return found

    def _check_unchanged(self, *, replaced_is_fine: bool = False) -> None:
        """The path still names the file that was opened and checked, unchanged. After a walk
        (``replaced_is_fine``) another file renamed over it is fine: the walk read the old
        one, whose trailer it saw; a file changed in place is not."""
        before = self._opened
        try:
            now = self._stat()
        except SnapshotError:
            if replaced_is_fine:  # removed (or renamed away) after the walk opened it
                return
            raise
        if replaced_is_fine and (now.st_ino, now.st_dev) != (before.st_ino, before.st_dev):
            return
        if (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) != (
            before.st_ino,
            before.st_dev,
            before.st_size,
            before.st_mtime_ns,
        ):
            raise SnapshotError(self._say(_CHANGED))

    def _read_header(self) -> int:
        try:
            with open(self.path, "rb") as file:
                head = file.read(_HEADER_BYTES)
        except OSError as error:
            raise SnapshotError(self._say(_os_reason(error))) from error
        if not head:
            raise SnapshotError(self._say("the file is empty, not an RDB file"))
        if head.startswith(b"VALKEY"):
            raise SnapshotError(self._say(_valkey(head)))
        if not head.startswith(b"REDIS"):
            if b"REDIS".startswith(head):
                raise SnapshotError(self._say(_TRUNCATED))
            raise SnapshotError(
                self._say(
                    f"not an RDB file (it starts with {head!r}; an RDB file starts with REDIS "
                    "and a 4-digit version)"
                )
            )
        digits = head[5:]
        if not digits or (len(digits) < 4 and digits.isdigit()):
            raise SnapshotError(self._say(_TRUNCATED))
        if not (len(digits) == 4 and digits.isdigit()):
            raise SnapshotError(
                self._say(f"not an RDB file (header {head!r}: REDIS and no 4-digit version)")
            )
        version = int(digits)
        if version not in RDB_VERSIONS:
            first, last = RDB_VERSIONS[0], RDB_VERSIONS[-1]
            raise SnapshotError(
                self._say(
                    f"RDB version {version} is not supported (this reader reads RDB {first} to "
                    f"{last}; Redis 6.2 writes 9, 7.0 writes 10)"
                )
            )
        return version

    def _verify_checksum(self) -> tuple[str, int | None]:
        """``("verified", crc)`` or ``("disabled", None)``; a mismatch raises, with the
        likeliest reason (:meth:`_diagnose`)."""
        size = self.size_bytes
        if size < _HEADER_BYTES + 1 + _TRAILER_BYTES:
            raise SnapshotError(self._say(_TRUNCATED))
        crc, left = 0, size - _TRAILER_BYTES
        try:
            with open(self.path, "rb") as file:
                file.seek(left)
                stored = int.from_bytes(file.read(_TRAILER_BYTES), "little")
                if stored == 0:
                    return "disabled", None
                file.seek(0)
                while left:
                    chunk = file.read(min(left, _READ_CHUNK))
                    if not chunk:
                        raise SnapshotError(self._say(_CHANGED))
                    left -= len(chunk)
                    crc = _CRC64.calc(chunk, crc)
        except OSError as error:
            raise SnapshotError(self._say(_os_reason(error))) from error
        if crc != stored:
            reason, cause = self._diagnose(stored, crc)
            raise SnapshotError(self._say(reason)) from cause
        return "verified", stored

    def _diagnose(self, stored: int, computed: int) -> tuple[str, BaseException | None]:
        """Why the checksum does not match, and the decoder's error if it gave one: decode
        the whole file and see where and how it ends."""
        tail = None
        try:
            for item in rdb.RdbDecoder(str(self.path)):
                if item["type"] == "checksum":
                    tail = item["checksum"]
        except ValueError as error:
            reason = _parse_failure(error, None)
            return (reason if reason == _TRUNCATED else f"checksum mismatch and {reason}"), error
        except OSError as error:
            return _os_reason(error), error
        except BaseException as error:
            if type(error).__name__ != "PanicException":
                raise
            return f"checksum mismatch and the decoder failed: {first_line(error)}", error
        if tail is None or len(tail) < _TRAILER_BYTES:
            return _TRUNCATED, None
        if len(tail) > _TRAILER_BYTES:
            return _trailing(len(tail) - _TRAILER_BYTES), None
        return (
            f"checksum mismatch (the file says {stored:016x}, its contents give "
            f"{computed:016x}): the file is corrupt"
        ), None

    def _decoder(self) -> Any:
        try:
            return rdb.RdbDecoder(str(self.path))
        except FileNotFoundError as error:
            raise SnapshotError(self._say("no such file")) from error
        except OSError as error:
            raise SnapshotError(self._say(_os_reason(error))) from error
        except ValueError as error:  # the header was checked: the file changed since
            raise SnapshotError(self._say(f"{_CHANGED} ({first_line(error)})")) from error

    def _read_aux(self) -> dict[str, str]:
        """The AUX fields at the head of the file (up to the first other item)."""
        aux: dict[str, str] = {}
        try:
            for item in self._decoder():
                if item["type"] != "aux_field":
                    break
                aux[item["key"].decode("utf-8", "replace")] = item["value"].decode(
                    "utf-8", "replace"
                )
        except ValueError as error:
            raise SnapshotError(self._say(_parse_failure(error, None))) from error
        return aux


_NOT_KEYS = frozenset({"aux_field", "select_db", "resize_db", "checksum"})
"""The decoder's items that are not keys; every other item is one (string, hash, list, set,
sorted set; whatever a later rdb-py adds)."""

_CHANGED = "the file changed since it was opened (a new snapshot written over it?); open it again"


@dataclass
class _Counts:
    """A walk's running counts (``in_db``: keys of the database read, any type, matching or
    not, expired too)."""

    handed: int = 0
    batches: int = 0
    expired: int = 0
    other_types: int = 0
    in_db: int = 0

    def copy_to(self, stats: SnapshotStats, other_dbs: int) -> None:
        """Into ``stats``, with the count of keys in other databases."""
        stats.keys_found, stats.batches = self.handed, self.batches
        stats.expired, stats.other_types = self.expired, self.other_types
        stats.other_dbs = other_dbs


class _Walk:
    """One walk's state: the decoder's items sorted into lists (keys of the database read,
    expired ones, string keys of other databases), matched a window at a time, and the
    matching keys handed on in batches."""

    def __init__(
        self,
        match: BatchMatcher | None,
        values: bool,
        batch_keys: int,
        stats: SnapshotStats,
        *,
        db: int,
        cutoff_ms: int,
    ) -> None:
        self.match, self.values, self.batch_keys, self.stats = match, values, batch_keys, stats
        self.wanted, self.cutoff = db, cutoff_ms
        self.window = batch_keys  # keys matched at once
        self.keys: list[bytes] = []  # keys of db, not expired, not yet matched ...
        self.found: list[bytes | None] = []  # ... their values (None: another type)
        self.stale: list[bytes] = []  # keys of db that had expired, not yet matched
        self.aside: list[bytes] = []  # string keys of the current other database, not expired
        self.ready = KeysAndValues([], [])  # matched, not yet handed on
        self.counts = _Counts()
        self.elsewhere: dict[int, int] = {}  # keys per other database
        self.matching: dict[int, int] = {}  # string keys per other database matching
        stats.elsewhere, stats.matching_elsewhere = self.elsewhere, self.matching
        self.current = 0
        self.in_db = False
        self.tail: bytes | None = None

    def take(self, item: dict[str, Any]) -> bool:
        """Sort one decoded item; whether a window of keys is now full (time to :meth:`sift`)."""
        kind = item["type"]
        if kind == "string":
            value = item["value"]
        elif kind in _NOT_KEYS:
            self._note(item)
            return False
        else:  # a key of another type: hash, list, set, ... (KEYS lists it, MGET nil)
            value = None
        expiry = item.get("expiry")
        live = expiry is None or expiry > self.cutoff
        if not self.in_db:
            self.elsewhere[self.current] = self.elsewhere.get(self.current, 0) + 1
            if value is not None and live:
                self.aside.append(item["key"])
                if len(self.aside) >= self.window:
                    self.count_aside()
            return False
        if not live:
            self.stale.append(item["key"])
            return False
        self.keys.append(item["key"])
        self.found.append(value)
        return len(self.keys) >= self.window

    def _note(self, item: dict[str, Any]) -> None:
        """An item that is no key: a database starts, its size, the trailer."""
        kind = item["type"]
        if kind == "select_db":
            self.count_aside()
            self.current = item["db"]
            self.in_db = self.current == self.wanted
            self.stats.db_in_file = self.stats.db_in_file or self.in_db
        elif kind == "resize_db":
            self.stats.databases[self.current] = item["db_size"]
        elif kind == "checksum":
            self.tail = item["checksum"]

    def count_aside(self) -> None:
        """Count the string keys of the current other database that match, and empty
        ``aside``."""
        if not self.aside:
            return
        match = self.match
        found = len(self.aside) if match is None else int(match(self.aside).sum())
        if found:
            self.matching[self.current] = self.matching.get(self.current, 0) + found
        self.aside.clear()

    def sift(self) -> None:
        """Match the window of keys at once: those that match go on to ``ready`` (in file
        order), the expired ones that match are counted."""
        keys, found, stale = self.keys, self.found, self.stale
        counts, match = self.counts, self.match
        self.keys, self.found, self.stale = [], [], []
        counts.in_db += len(keys) + len(stale)
        if match is not None:
            hits = match(keys)
            if not hits.all():
                mask = hits.tolist()
                keys = list(itertools.compress(keys, mask))
                found = list(itertools.compress(found, mask))
            counts.expired += int(match(stale).sum()) if stale else 0
        else:
            counts.expired += len(stale)
        counts.other_types += found.count(None)
        self.ready.keys.extend(keys)
        self.ready.values.extend(found)

    def other_dbs(self) -> int:
        return sum(self.elsewhere.values())

    def hand_on(self) -> KeysAndValues:
        """The first ``batch_keys`` of ``ready`` as a batch (removed from it), counted (an
        empty one is not)."""
        ready, size = self.ready, self.batch_keys
        keys, found = ready.keys[:size], ready.values[:size]
        del ready.keys[:size], ready.values[:size]
        self.counts.handed += len(keys)
        self.counts.batches += 1 if keys else 0
        self.counts.copy_to(self.stats, self.other_dbs())
        return KeysAndValues(keys, found if self.values else None)  # type: ignore[arg-type]


def _parse_failure(error: BaseException, keys_before: int | None) -> str:
    """The reason for one of the decoder's ``ValueError``\\ s."""
    text = first_line(error)
    after = "" if keys_before is None else f" (after {keys_before} matching keys)"
    if any(marker in text for marker in _END_OF_FILE):
        return _TRUNCATED + after
    return f"corrupt data{after}: {text}"


def _trailing(extra: int) -> str:
    return (
        f"{extra} byte{'s' if extra != 1 else ''} after the end of the RDB data: not a file "
        "as Redis wrote it"
    )


def _valkey(head: bytes) -> str:
    return (
        f"written by Valkey in its own RDB format ({head.decode('ascii', 'replace')}), which "
        "rdb-py cannot read; take the snapshot from a Redis server instead, or read the live "
        "Valkey server (SCAN)"
    )


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "not readable (permission denied)"
    if isinstance(error, IsADirectoryError):
        return "it is a directory, not an RDB file"
    return first_line(error) if error.strerror is None else error.strerror.lower()

"""Files written whole or not at all, and signals that unwind like Ctrl-C.

:func:`atomic_files` hands out a temporary name beside each target (same directory, so the
rename cannot cross file systems: ``.NAME.tmp-<pid>-<random>``), and renames them over the
targets only when the block ends without an error. On any error or interruption
(``KeyboardInterrupt``, the exception :func:`unwind_on_signals` raises for SIGTERM, a lost
server) the temporary files are removed: no file appears at a target and a file already there
is left as it was. A process killed outright (``kill -9``) can leave a temporary file behind;
it is hidden (a leading dot) and never mistaken for the target.

:func:`unwind_on_signals` makes SIGTERM and SIGHUP raise :class:`~rp_toolkit.exceptions.Stopped`
where the program is, so that ``finally`` blocks run (temporary files removed, keys a
benchmark wrote deleted) before the process exits with the usual ``128 + signal`` status.
No Redis, no network: the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .exceptions import Stopped

__all__ = ["SignalStop", "atomic_files", "in_finaliser", "temporary_name", "unwind_on_signals"]


def temporary_name(target: Path) -> Path:
    """A new name beside ``target`` for writing it: ``.NAME.tmp-<pid>-<random>``."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


@contextlib.contextmanager
def atomic_files(*targets: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets`` (one each, created empty with the permissions a
    new file gets), to be written in the block; when the block ends without an error each is
    flushed to disk and renamed over its target (``os.replace``), else all are removed and
    the error goes on. The targets' directories must exist."""
    paths = [Path(target) for target in targets]
    temporaries: list[Path] = []
    try:
        for path in paths:
            temporary = temporary_name(path)
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            temporaries.append(temporary)
        yield list(temporaries)
        for temporary in temporaries:
            _flush(temporary)
        for temporary, path in zip(temporaries, paths, strict=True):
            os.replace(temporary, path)
    except BaseException:
        for temporary in temporaries:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        raise
    for directory in {path.parent for path in paths}:
        _flush_directory(directory)


def _flush(path: Path) -> None:
    """``path``'s contents on disk before it takes the target's name."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _flush_directory(directory: Path) -> None:
    """The renames on disk, where the system allows opening a directory."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


class SignalStop:
    """The signal that asked the program to stop (None: none yet)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        """Stop now if a signal came and its exception was lost on the way (see
        :func:`unwind_on_signals`); call it between steps of a long run."""
        if self.signum is not None:
            raise Stopped(self.signum)


def in_finaliser(frame: Any) -> bool:
    """Whether ``frame`` runs inside an object's ``__del__``."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def unwind_on_signals() -> Iterator[SignalStop]:
    """Make SIGTERM and SIGHUP raise :class:`~rp_toolkit.exceptions.Stopped` (a
    ``SystemExit`` with code ``128 + signal``) while the block runs, as Ctrl-C raises
    ``KeyboardInterrupt``, so that ``finally`` blocks run before the process exits. Only the
    main thread can install handlers; elsewhere this does nothing.

    The handler raises wherever the main thread is, except in a finaliser (a redis-py
    pipeline's ``__del__``), where Python would print the exception and drop it; and a
    library may catch it or turn it into another error. So the signal is also remembered: the
    yielded :class:`SignalStop` stops a long run at its next :meth:`~SignalStop.check`, and
    leaving the block after a signal always raises ``Stopped``, whatever was raised, or not
    raised, after it."""
    stop = SignalStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        stop.signum = signum
        if not in_finaliser(frame):  # what a finaliser raises is dropped: check() stops
            raise Stopped(signum)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, handler) for number in wanted}
    try:
        yield stop
    except BaseException as error:
        if stop.signum is not None and not isinstance(error, Stopped):
            raise Stopped(stop.signum) from error
        raise
    finally:
        for number, before in previous.items():
            signal.signal(number, before)
    stop.check()

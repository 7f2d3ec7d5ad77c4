"""Errors and warnings raised by rp_toolkit.

Every error says what happened and what to do about it; none ever carries a password. Every
error rp_toolkit raises on purpose is an :class:`RPToolkitError`, so ``except
rp.RPToolkitError`` catches them all; each also derives from the built-in exception a caller
would expect (``ValueError`` for a bad argument, ``ConnectionError`` for an unreachable
server, ``FileNotFoundError`` for a missing binary). Nothing raises the root itself, nor a
bare ``ValueError`` (``tests/test_architecture.py`` holds both)::

    RPToolkitError
    ├── InvalidArgumentError (ValueError)      a bad argument: kind, time, filter, option
    │   └── SettingsError                      an unknown setting or a bad value
    ├── RedisUnavailableError (ConnectionError)
    │   ├── ServerNotReadyError                loading, a replica out of sync, cluster not ok
    │   └── ServerChangedError                 restarted or failed over too often
    ├── RedisCommandError                      Redis refused a command
    ├── KeysCommandUnavailableError            KEYS disabled or renamed
    ├── LocalServerError                       a throwaway server could not start or stop
    │   └── RedisServerNotFoundError (FileNotFoundError)   no redis-server binary
    ├── SnapshotError                          an RDB file that cannot be read
    ├── ArchiveError                           an archive that cannot be written or read
    ├── BenchmarkError                         the benchmark refused to run
    ├── SparkSetupError                        no Java, or one too old
    └── NotebookFailedError                    a notebook cell raised

    Stopped (SystemExit)                       SIGTERM or SIGHUP: unwind as Ctrl-C does

    RPToolkitWarning (UserWarning)
    └── SnapshotDatabaseWarning                the keys are in another database of the file
    KeysDeprecationWarning (FutureWarning)     KEYS blocks the server
    RenamedParameterWarning (FutureWarning)    a parameter passed by its old name
    ScanCountWarning (UserWarning)             a COUNT above 10,000
"""

from __future__ import annotations

import signal


class RPToolkitError(Exception):
    """Base class of every error rp_toolkit raises on purpose."""


class InvalidArgumentError(RPToolkitError, ValueError):
    """An argument rp_toolkit cannot use: an unknown kind, a time that is not one, a filter
    on a field the kind does not have, an option out of range. The message names the
    argument and what would do."""


class SettingsError(InvalidArgumentError):
    """An unknown setting, or a setting (or environment variable) with a bad value."""


class RedisUnavailableError(RPToolkitError, ConnectionError):
    """Redis could not be reached, timed out, refused the credentials or went away."""


class ServerNotReadyError(RedisUnavailableError):
    """The server answers but cannot give a complete answer yet: loading its data, a replica
    whose link to its primary is down or still syncing, or a cluster that is not ``ok``."""


class ServerChangedError(RedisUnavailableError):
    """The server restarted or failed over during a read more often than the retry budget
    allows; SCAN cursors from before the change mean nothing on the new server."""


class RedisCommandError(RPToolkitError):
    """Redis refused a command: renamed or unknown, wrong type, out of memory, no such
    database. The message says which command and what to do."""


class KeysCommandUnavailableError(RPToolkitError):
    """The server refuses KEYS (disabled or renamed, as managed services often do)."""


class LocalServerError(RPToolkitError):
    """A throwaway server (``rp.server``, ``rp.temporary_redis``, the tests' and the
    benchmark's) could not be started, answered wrongly or did not stop."""


class RedisServerNotFoundError(LocalServerError, FileNotFoundError):
    """No redis-server (or valkey-server) binary to start an embedded server with."""


class SnapshotError(RPToolkitError):
    """An RDB snapshot file that cannot be read: missing, not an RDB file, written by Valkey,
    an unsupported RDB version, truncated or corrupt. One line naming the file and why."""


class ArchiveError(RPToolkitError):
    """An archive that cannot be written or read: not an archive, a newer format, another
    run writing it, a file that is not what the manifest says."""


class BenchmarkError(RPToolkitError):
    """The benchmark refused to run, or found results that cannot be right."""


class SparkSetupError(RPToolkitError):
    """Spark cannot start here: no Java, or one older than the installed Spark needs. The
    message says which Java was found and what to install."""


class NotebookFailedError(RPToolkitError):
    """A notebook raised an error; the message names the cell and the error."""


class Stopped(SystemExit):
    """SIGTERM or SIGHUP arrived (see :func:`rp_toolkit.files.unwind_on_signals`): raised
    where the program was, so that it unwinds as Ctrl-C makes it; the exit status is
    ``128 + signal``, as a shell reports a process the signal ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"stopped by {signal.Signals(self.signum).name}"


class RPToolkitWarning(UserWarning):
    """Base class of the warnings rp_toolkit gives about what it read (the command line
    prints them as one line each)."""


class SnapshotDatabaseWarning(RPToolkitWarning):
    """The snapshot's chosen database holds none of the keys asked for, but other databases
    of the file do (or the chosen one is not in the file at all): the message names them,
    with how many keys each holds, and how to read one (``--db N``,
    ``rp.Snapshot(path, db=N)``)."""


class KeysDeprecationWarning(FutureWarning):
    """KEYS blocks the whole Redis server while it walks the keyspace; use SCAN.

    A FutureWarning subclass so that Python and Jupyter show it by default.
    """


class RenamedParameterWarning(FutureWarning):
    """A parameter was passed by its old name (``client=``, now ``source=``); the old name
    still works and will go in a later release."""


class ScanCountWarning(UserWarning):
    """A SCAN COUNT above 10,000: each call may then block Redis noticeably."""


def first_line(error: BaseException) -> str:
    """The first line of an error's text (or its type's name): what a one-line message quotes."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

"""Settings and feature flags, mirroring the gem's SCAN-migration flags.

``rp.settings`` holds the values in force; ``rp.setup(**changes)`` changes them and, used as a
context manager, restores the old values on exit. Environment variables are read once, at
import, so a rollout or a rollback needs no code change::

    RP_USE_SCAN=false RP_SCAN_COUNT=500 python my_report.py

The same precedence everywhere (library, CLI, notebooks, papermill): a value given explicitly
(``rp.setup``, a command-line flag, a notebook parameter) wins; otherwise the environment
variable; otherwise the default. A notebook parameter or flag left at ``None`` is "not given"
(:func:`setup_given`); :func:`as_environment` hands explicit values to another process (the
notebook kernel) as the variables it reads at import.

Adaptive COUNT (opt-in): ``scan_count="adaptive"`` (``RP_SCAN_COUNT=adaptive``) makes each SCAN
loop size its COUNT to the time its calls take: it starts from the auto-tune table's COUNT for
the pattern, grows COUNT while a call stays under ``scan_budget_ms`` (``RP_SCAN_BUDGET_MS``,
1 ms by default) and shrinks it when a call goes over, within [10, 10,000]. It takes
precedence over ``scan_count_auto_tune`` (which then only picks the starting COUNT, from the
same table whether it is on or off); see :class:`rp_toolkit.store.AdaptiveCount`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .exceptions import ScanCountWarning, SettingsError

MAX_RECOMMENDED_SCAN_COUNT = 10_000
ADAPTIVE = "adaptive"
"""The ``scan_count`` value that turns on the adaptive COUNT."""
DEFAULT_SCAN_BUDGET_MS = 1.0

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(text: str, *, name: str) -> bool:
    """Parse true/false/1/0/yes/no/on/off (any case), naming ``name`` in the error."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"{name}={text!r} is not a boolean: use true/false, 1/0 or yes/no.")


def parse_int(text: str, *, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number.") from None


def parse_scan_count(text: str, *, name: str) -> int | str:
    """``adaptive`` (any case) or a whole number, for ``RP_SCAN_COUNT``."""
    if text.strip().lower() == ADAPTIVE:
        return ADAPTIVE
    try:
        return int(text.strip())
    except ValueError:
        raise SettingsError(f"{name}={text!r} is neither a whole number nor 'adaptive'.") from None


def parse_float(text: str, *, name: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number.") from None


def validate_scan_count(count: Any, *, allow_adaptive: bool = False) -> Any:
    """Return ``count`` if it is a valid SCAN COUNT hint.

    Raises :class:`SettingsError` when it is not an integer or is below 1; warns
    (:class:`ScanCountWarning`) above 10,000, where a single SCAN call may block Redis.
    With ``allow_adaptive`` (the ``scan_count`` setting, not a hint sent to Redis) the string
    ``"adaptive"`` (any case) is accepted too, and returned as ``"adaptive"``.
    """
    if isinstance(count, str) and count.strip().lower() == ADAPTIVE:
        if allow_adaptive:
            return ADAPTIVE
        raise SettingsError(
            "scan_count 'adaptive' is a setting, not a COUNT hint: here an integer is needed "
            "(rp.determine_scan_count gives the COUNT an adaptive SCAN starts from)."
        )
    if isinstance(count, bool) or not isinstance(count, int):
        # numpy integers are fine; anything else (floats, strings) is a mistake.
        if hasattr(count, "__index__") and not isinstance(count, bool):
            count = int(count.__index__())
        else:
            expected = "an integer or 'adaptive'" if allow_adaptive else "an integer"
            raise SettingsError(f"scan_count must be {expected}, got {count!r}.")
    if count < 1:
        raise SettingsError(f"scan_count must be at least 1, got {count}.")
    if count > MAX_RECOMMENDED_SCAN_COUNT:
        warnings.warn(
            f"scan_count={count} is above {MAX_RECOMMENDED_SCAN_COUNT:,}: each SCAN call then "
            "walks a large part of the keyspace and may block Redis noticeably.",
            ScanCountWarning,
            stacklevel=2,
        )
    return count


def count_sort_key(count: int | str) -> tuple[int, int, str]:
    """Orders COUNT labels: fixed COUNTs ascending, then ``auto``, then ``adaptive``."""
    text = str(count)
    if text.isdigit():
        return (0, int(text), "")
    return (1 + (text == ADAPTIVE), 0, text)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be True or False, got {value!r}.")
    return value


def _check_int_at_least(minimum: int) -> Callable[[Any, str], int]:
    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SettingsError(
                f"{name} must be a whole number of at least {minimum}, got {value!r}."
            )
        return value

    return check


def _check_budget_ms(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SettingsError(
            f"{name} must be a positive number of milliseconds (e.g. 1.0), got {value!r}."
        )
    return float(value)


def _check_optional_str(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SettingsError(f"{name} must be a string (a redis:// URL) or None.")
    return value


@dataclass(frozen=True)
class Options:
    """The settings one call runs with: a frozen value, taken once when a public call starts
    (:func:`current_options`) and passed down to every stage it runs, as httpx passes its
    ``Timeout`` and ``Limits``. A stage never reads :data:`settings`, so ``rp.setup`` in
    another thread cannot change a load half-way; ``options.replace(...)`` gives a changed
    copy, each change checked."""

    use_scan: bool = True
    """True: SCAN with MATCH (non-blocking); False: the gem's KEYS, which blocks the server while
    it walks the keyspace and logs a deprecation notice. The gem defaults to False so that an
    upgrade changes nothing in a running app; a tool pointed at production defaults to SCAN."""
    scan_count: int | str = 10
    """COUNT hint per SCAN call when auto-tune is off; ``"adaptive"``: sized per call to
    ``scan_budget_ms`` (starting from the auto-tune table, whatever ``scan_count_auto_tune``)."""
    scan_count_auto_tune: bool = True
    """COUNT by query type: 1000 day-scoped, 1000 request-id lookups (the gem: 10), 100
    otherwise."""
    debug: bool = False
    """Log ``[REDIS QUERY] pattern`` and ``[FOUND] n`` for every fetch."""
    redis_url: str | None = None
    """The Redis to analyse when no client is passed (``REDIS_URL``)."""
    mget_chunk: int = 1000
    """Keys per MGET when reading values; small enough that no single command runs long."""
    pipeline_depth: int = 8
    """MGET chunks sent per round trip."""
    progress: bool = True
    """Show a progress bar on fetches that take longer than about a second."""
    retries: int = 3
    """Reconnect attempts when a long SCAN or read loses its connection."""
    scan_budget_ms: float = DEFAULT_SCAN_BUDGET_MS
    """With ``scan_count="adaptive"``: the wall time one SCAN call should stay under (ms)."""
    allow_stale_replica: bool = False
    """Read a replica whose link to its primary is down or still syncing (its data may be
    old or incomplete); by default that is an error, never an empty result."""

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes``, each checked as :func:`setup` checks it."""
        checked = {name: check_setting(name, value) for name, value in changes.items()}
        return dataclasses.replace(self, **checked)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Settings:
    """The settings in force (``rp.settings``): one :class:`Options` value, replaced whole by
    each change, so a call that took :meth:`options` keeps a consistent set. Change them with
    :func:`setup`; reading ``settings.use_scan`` reads the current value."""

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_options", Options().replace(**values))

    def options(self) -> Options:
        """The values in force now, as a frozen :class:`Options`."""
        return self._options

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._options, name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, "_options", self._options.replace(**{name: value}))

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"Settings({values})"

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.as_dict()})

    def as_dict(self) -> dict[str, Any]:
        return self._options.as_dict()


_CHECKERS: dict[str, Callable[[Any, str], Any]] = {
    "use_scan": _check_bool,
    "scan_count": lambda v, _n: validate_scan_count(v, allow_adaptive=True),
    "scan_count_auto_tune": _check_bool,
    "debug": _check_bool,
    "redis_url": _check_optional_str,
    "mget_chunk": _check_int_at_least(1),
    "pipeline_depth": _check_int_at_least(1),
    "progress": _check_bool,
    "retries": _check_int_at_least(0),
    "scan_budget_ms": _check_budget_ms,
    "allow_stale_replica": _check_bool,
}


def check_setting(name: str, value: Any) -> Any:
    """``value`` checked as setting ``name`` would check it (nothing changes); returns it.

    Raises :class:`SettingsError` for an unknown name or a bad value."""
    checker = _CHECKERS.get(name)
    if checker is None:
        raise SettingsError(f"Unknown setting {name!r}. Known settings: {', '.join(_CHECKERS)}.")
    return checker(value, name)


# Environment variable -> (setting, parser).
ENVIRONMENT: dict[str, tuple[str, Callable[..., Any]]] = {
    "RP_USE_SCAN": ("use_scan", parse_bool),
    "RP_SCAN_COUNT": ("scan_count", parse_scan_count),
    "RP_SCAN_COUNT_AUTO_TUNE": ("scan_count_auto_tune", parse_bool),
    "RP_DEBUG": ("debug", parse_bool),
    "REDIS_URL": ("redis_url", lambda text, name: text or None),
    "RP_MGET_CHUNK": ("mget_chunk", parse_int),
    "RP_PROGRESS": ("progress", parse_bool),
    "RP_SCAN_BUDGET_MS": ("scan_budget_ms", parse_float),
    "RP_ALLOW_STALE_REPLICA": ("allow_stale_replica", parse_bool),
}


VARIABLES: dict[str, str] = {name: variable for variable, (name, _) in ENVIRONMENT.items()}
"""Setting -> the environment variable that sets it (settings without one are not listed)."""


def _environment_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_environment(**values: Any) -> dict[str, str]:
    """The environment variables that give ``values`` (``None``: left out) to a process that
    imports rp_toolkit, each value checked first: ``{"RP_USE_SCAN": "false"}`` for
    ``use_scan=False``. How the CLI passes its flags to a notebook's kernel."""
    result: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name not in VARIABLES:
            raise SettingsError(f"Setting {name!r} has no environment variable.")
        result[VARIABLES[name]] = _environment_text(check_setting(name, value))
    return result


def settings_from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Default settings overridden by the ``RP_*`` and ``REDIS_URL`` environment variables."""
    environ = os.environ if environ is None else environ
    result = Settings()
    for variable, (name, parse) in ENVIRONMENT.items():
        if variable in environ:
            try:
                setattr(result, name, parse(environ[variable], name=variable))
            except SettingsError as error:
                raise SettingsError(f"Environment variable {variable}: {error}") from None
    return result


environment_error: SettingsError | None = None
"""The error a malformed ``RP_*``/``REDIS_URL`` variable caused at import, raised on first use."""


def _settings_at_import() -> Settings:
    """The settings from the environment; a malformed variable is not raised at import (every
    command line would print a traceback) but kept for :func:`check_environment`."""
    global environment_error
    try:
        return settings_from_environment()
    except SettingsError as error:
        environment_error = error
        return Settings()


def check_environment() -> None:
    """Raise the :class:`SettingsError` of a malformed environment variable, if there was one.

    Every read of Redis calls it first (through ``get_client``), and so does the CLI, so a bad
    ``RP_USE_SCAN=maybe`` stops the first fetch with an error naming the variable.
    """
    if environment_error is not None:
        raise SettingsError(str(environment_error))


settings = _settings_at_import()


class _Restore:
    """Returned by :func:`setup`; restores the previous values when used with ``with``."""

    def __init__(self, previous: dict[str, Any]) -> None:
        self._previous = previous

    def __enter__(self) -> Settings:
        return settings

    def __exit__(self, *exc_info: object) -> None:
        options = settings.options().replace(**self._previous)
        object.__setattr__(settings, "_options", options)
        _configure_debug_logging()


def setup(**changes: Any) -> _Restore:
    """Change settings; use as ``with rp.setup(use_scan=True): ...`` to change them for a block.

    Unknown names and bad values raise :class:`SettingsError` and change nothing; the changes
    take effect together (a call starting meanwhile sees all of them or none).
    """
    previous = settings.options()
    object.__setattr__(settings, "_options", previous.replace(**changes))
    _configure_debug_logging()
    return _Restore({name: getattr(previous, name) for name in changes})


def current_options() -> Options:
    """The settings in force, frozen: what a public call takes when it starts."""
    return settings.options()


def setup_given(**values: Any) -> _Restore:
    """:func:`setup` with the values that are not ``None``: a setting passed as ``None`` keeps
    the value in force (the environment variable's, else the default).

    For parameters that default to ``None`` meaning "not given", as the notebooks' do::

        rp.config.setup_given(use_scan=use_scan, scan_count=scan_count)
    """
    return setup(**{name: value for name, value in values.items() if value is not None})


_debug_handler: logging.Handler | None = None


def _configure_debug_logging() -> None:
    """With ``debug`` on, make the ``rp_toolkit`` logger print INFO messages to stderr.

    A handler is added only when the application configured none, and removed with debug off.
    """
    global _debug_handler
    logger = logging.getLogger("rp_toolkit")
    if settings.debug:
        logger.setLevel(logging.DEBUG)
        if not logger.handlers and not logging.getLogger().handlers:
            _debug_handler = logging.StreamHandler()
            _debug_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
            logger.addHandler(_debug_handler)
    else:
        logger.setLevel(logging.NOTSET)
        if _debug_handler is not None:
            logger.removeHandler(_debug_handler)
            _debug_handler = None


_configure_debug_logging()

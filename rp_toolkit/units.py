"""Numbers for people: one rounding of milliseconds, percentages, counts and bytes, shared by
the tables (:mod:`rp_toolkit.reports.tables`), the sentences
(:mod:`rp_toolkit.reports.findings`) and the chart axes (:mod:`rp_toolkit.reports.plots`), so a
figure reads the same wherever it appears.

Every function takes a number (or None / NaN / NA, shown as :data:`MISSING`) and returns
text. Pure: no I/O, no pandas needed.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MISSING",
    "byte_unit",
    "count",
    "duration",
    "duration_unit",
    "human_bytes",
    "missing",
    "ms",
    "percent",
    "signed_ms",
    "signed_percent",
    "short",
]

MISSING = "–"
"""What a missing number (None, NaN, NA) shows."""
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def missing(value: Any) -> bool:
    """Whether ``value`` is None, NaN, NaT or pandas' NA (text and numbers are not)."""
    if value is None or type(value).__name__ == "NAType":
        return True
    try:
        return bool(value != value)  # NaN and NaT differ from themselves
    except (TypeError, ValueError):
        return False


def short(value: float) -> str:
    """Three significant digits, never in exponent notation: ``1.5``, ``250``, ``1,234``."""
    return f"{value:,.0f}" if abs(value) >= 999.5 else f"{value:.3g}"


def ms(value: Any) -> str:
    """Milliseconds: 1 decimal below 100 ms, none from 100 ms, thousands separated
    (``12.3``, ``480``, ``2,364``)."""
    if missing(value):
        return MISSING
    value = float(value)
    return f"{value:,.1f}" if abs(value) < 99.95 else f"{value:,.0f}"


def signed_ms(value: Any) -> str:
    """A change in milliseconds with its sign: ``+270``, ``−4.5``, ``0.0``."""
    if missing(value):
        return MISSING
    text = ms(abs(float(value)))
    if text == "0.0":
        return text
    return ("−" if float(value) < 0 else "+") + text


def percent(value: Any, *, share: bool = False) -> str:
    """A percentage with 1 decimal (``12.3``); ``share``: ``value`` is a fraction (0..1)."""
    if missing(value):
        return MISSING
    return f"{float(value) * (100 if share else 1):,.1f}"


def signed_percent(value: Any) -> str:
    """A change in percent with its sign and 1 decimal: ``+129.0``, ``−3.2``, ``0.0``."""
    if missing(value):
        return MISSING
    text = f"{float(value):+,.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def count(value: Any) -> str:
    """A whole number with thousands separators (``90,781``)."""
    return MISSING if missing(value) else f"{round(float(value)):,}"


def duration(value: Any) -> str:
    """Milliseconds in the unit that reads best: ``850 ms``, ``2.5 s``, ``1.5 min``."""
    if missing(value):
        return MISSING
    value = float(value)
    if abs(value) < 999.5:
        return f"{short(value)} ms"
    if abs(value) < 59_950:
        return f"{short(value / 1000)} s"
    return f"{short(value / 60_000)} min"


def human_bytes(value: Any) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 GiB``, ``93.1 GiB``."""
    if missing(value):
        return MISSING
    size, unit = float(value), 0
    while abs(size) >= 1023.5 and unit < len(_BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{short(size)} {_BYTE_UNITS[unit]}"


def duration_unit(largest_ms: Any) -> tuple[float, str]:
    """The divisor and name of the unit a duration axis reaching ``largest_ms`` reads best in:
    ``(1, "ms")`` below 1 s, ``(1000, "s")`` below 2 minutes, else ``(60000, "min")``."""
    largest = 0.0 if missing(largest_ms) else abs(float(largest_ms))
    if largest < 1000:
        return 1.0, "ms"
    return (1000.0, "s") if largest < 120_000 else (60_000.0, "min")


def byte_unit(largest: Any) -> tuple[float, str]:
    """The divisor and name of the binary unit for an axis of bytes reaching ``largest``
    (the largest unit it holds at least one of: ``(1024**3, "GiB")`` for 80 GiB)."""
    size = 0.0 if missing(largest) else abs(float(largest))
    unit = 0
    while size >= 1024 and unit < len(_BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return float(1024**unit), _BYTE_UNITS[unit]

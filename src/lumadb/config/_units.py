"""Sizes (bytes) and durations (seconds) written the way people write them.

The private ``size_bytes`` and ``duration_seconds`` raise :class:`UnitError` carrying only
the *problem*; callers add the key and the value's origin, so the loader and the public
``parse_*`` functions phrase their errors the same way.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from lumadb.config._text import show
from lumadb.errors import ConfigError

__all__ = [
    "UnitError",
    "duration_seconds",
    "format_size",
    "parse_duration",
    "parse_size",
    "size_bytes",
]

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kib": KiB,
    "mib": MiB,
    "gib": GiB,
    "tib": TiB,
    "pib": 1024**5,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "pb": 1000**5,
}

_DURATION_UNITS: dict[str, float] = {
    name: seconds
    for names, seconds in (
        (("ms", "millisecond", "milliseconds"), 0.001),
        (("", "s", "sec", "secs", "second", "seconds"), 1.0),
        (("m", "min", "mins", "minute", "minutes"), 60.0),
        (("h", "hour", "hours"), 3600.0),
        (("d", "day", "days"), 86400.0),
        (("w", "week", "weeks"), 604800.0),
    )
    for name in names
}

# A non-negative decimal number, then an optional unit; blanks allowed around both.
_QUANTITY = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)

_SIZE_HELP = 'expected a size in bytes such as 512, "64KiB", "1.5GiB" or "1GB"'
_DURATION_HELP = (
    'expected a duration such as 30 (seconds), "250ms", "15m", "12h", "7d" or "30 days"'
)


class UnitError(ValueError):
    """A size or duration could not be read; the message says what is allowed."""


def size_bytes(value: object) -> int:
    """Bytes in ``value`` (an int or a size string); :class:`UnitError` otherwise."""
    # bool is an int subclass, but `hot_cache = true` is a mistake, not one byte.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnitError(_SIZE_HELP)
    if isinstance(value, int):
        if value < 0:
            raise UnitError("must not be negative")
        return value
    number, unit = _split(value, _SIZE_HELP)
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise UnitError(f"unknown size unit {show(unit)}; {_SIZE_HELP}")
    # Fraction keeps "1.1GiB" exact; a part of a byte is dropped.
    return math.floor(Fraction(number) * factor)


def duration_seconds(value: object) -> float:
    """Seconds in ``value`` (a number or a duration string); :class:`UnitError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnitError(_DURATION_HELP)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise UnitError(_DURATION_HELP)
        if value < 0:
            raise UnitError("must not be negative")
        return float(value)
    number, unit = _split(value, _DURATION_HELP)
    factor = _DURATION_UNITS.get(unit.lower())
    if factor is None:
        raise UnitError(f"unknown duration unit {show(unit)}; {_DURATION_HELP}")
    return float(Fraction(number) * Fraction(str(factor)))


def _split(text: str, help_text: str) -> tuple[str, str]:
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise UnitError(help_text)
    return match.group(1), match.group(2)


def format_size(n: int) -> str:
    """``268435456`` → ``"256MiB"``: the largest binary unit that divides ``n`` exactly."""
    for name, factor in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n and n % factor == 0:
            return f"{n // factor}{name}"
    return f"{n}B"


def parse_size(value: int | str, key: str) -> int:
    """Return the number of bytes in ``value``.

    Accepts a non-negative int, or a string: a decimal number with an optional unit, either
    binary (``B``, ``KiB``, ``MiB``, ``GiB``, ``TiB``: powers of 1024) or decimal (``KB``,
    ``MB``, ``GB``, ``TB``: powers of 1000), case-insensitive, with optional space between.
    Fractions of a byte are dropped (``"1.5GiB"`` is ``1610612736``).

    Raises:
        ConfigError: naming ``key`` and the value when it is not a size.
    """
    try:
        return size_bytes(value)
    except UnitError as exc:
        raise ConfigError(f"{key} = {show(value)}: {exc}") from None


def parse_duration(value: int | float | str, key: str) -> float:
    """Return the number of seconds in ``value``.

    Accepts a non-negative finite number of seconds, or a string: a number with a unit
    ``ms``, ``s``, ``m``, ``h``, ``d``, ``w`` or its long form (``"250ms"``, ``"90s"``,
    ``"15m"``, ``"12h"``, ``"7d"``, ``"2w"``, ``"30 days"``, ``"100 milliseconds"``).

    Raises:
        ConfigError: naming ``key`` and the value when it is not a duration.
    """
    try:
        return duration_seconds(value)
    except UnitError as exc:
        raise ConfigError(f"{key} = {show(value)}: {exc}") from None

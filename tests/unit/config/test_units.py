"""parse_size and parse_duration: the accepted spellings and the refusals."""

from __future__ import annotations

import pytest

from lumadb.config import parse_duration, parse_size
from lumadb.errors import ConfigError

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (512, 512),
        ("512", 512),
        ("0", 0),
        ("64B", 64),
        ("64b", 64),
        ("64KiB", 64 * KiB),
        ("64kib", 64 * KiB),
        ("64 KiB", 64 * KiB),
        ("64MiB", 64 * MiB),
        ("64MIB", 64 * MiB),
        ("1GiB", GiB),
        ("1TiB", TiB),
        ("1.5GiB", 1610612736),
        ("0.5KiB", 512),
        ("64KB", 64_000),
        ("64MB", 64_000_000),
        ("1GB", 1_000_000_000),
        ("1gb", 1_000_000_000),
        ("  2 MiB  ", 2 * MiB),
        ("1.1B", 1),
    ],
)
def test_parse_size_accepts(value: int | str, expected: int) -> None:
    result = parse_size(value, "storage.hot_cache")
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [-1, "-1", "-1MiB", True, False, 1.5, "lots", "", "MiB", "1 XB", "1e3", "1,024", "1.2.3KiB"],
)
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_size(value, "storage.hot_cache")  # type: ignore[arg-type]
    assert "storage.hot_cache" in info.value.message


def test_parse_size_error_names_value() -> None:
    with pytest.raises(ConfigError, match=r'storage\.hot_cache = "lots": expected a size'):
        parse_size("lots", "storage.hot_cache")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (30, 30.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("250ms", 0.25),
        ("90s", 90.0),
        ("15m", 900.0),
        ("12h", 43200.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("7D", 604800.0),
        ("1.5h", 5400.0),
        ("30 days", 2592000.0),
        ("1 day", 86400.0),
        ("2 hours", 7200.0),
        ("10 minutes", 600.0),
        ("5 seconds", 5.0),
        ("100 milliseconds", 0.1),
        ("1 week", 604800.0),
    ],
)
def test_parse_duration_accepts(value: int | float | str, expected: float) -> None:
    result = parse_duration(value, "changefeed.retention")
    assert result == pytest.approx(expected)
    assert type(result) is float


@pytest.mark.parametrize(
    "value",
    [-1, -0.5, "-1s", True, float("nan"), float("inf"), "soon", "", "7 fortnights", "d", "1h30m"],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value, "changefeed.retention")  # type: ignore[arg-type]
    assert "changefeed.retention" in info.value.message


def test_parse_duration_error_names_value() -> None:
    with pytest.raises(ConfigError, match=r'changefeed\.retention = "soon": expected a duration'):
        parse_duration("soon", "changefeed.retention")

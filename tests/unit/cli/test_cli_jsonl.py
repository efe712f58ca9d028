"""The JSON Lines rules on their own: what a line may hold, and how an export line looks."""

from __future__ import annotations

import pytest

from lumadb.cli._jsonl import LineError, dump_line, parse_line


@pytest.mark.parametrize("raw", [b"\n", b"   \r\n", b""])
def test_blank_lines_are_skipped(raw: bytes) -> None:
    assert parse_line(raw, 4) is None


def test_object_lines_parse() -> None:
    assert parse_line(b'  {"id": "a", "n": [1, {"x": null}]}\r\n', 1) == {
        "id": "a",
        "n": [1, {"x": None}],
    }


def test_bom_only_on_the_first_line() -> None:
    assert parse_line(b'\xef\xbb\xbf{"a": 1}\n', 1) == {"a": 1}
    with pytest.raises(LineError):
        parse_line(b'\xef\xbb\xbf{"a": 1}\n', 2)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": }', "invalid JSON at column 7"),
        (b"true", "expected a JSON object, got a boolean"),
        (b"1.5", "expected a JSON object, got a number"),
        (b'{"id": ["a"]}', '"id" must be a string, got an array'),
        (b'{"id": {}}', '"id" must be a string, got an object'),
        (b'{"a": "\xff"}', "invalid JSON"),
    ],
)
def test_bad_lines_name_line_and_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(LineError) as info:
        parse_line(raw, 12)
    assert info.value.line == 12
    assert reason in info.value.reason
    assert str(info.value).startswith("line 12: ")


def test_dump_line_puts_the_id_first_once() -> None:
    assert dump_line("k", {"b": 1, "id": "k", "a": "é"}) == '{"id":"k","b":1,"a":"é"}\n'.encode()
    assert dump_line("k", {}) == b'{"id":"k"}\n'

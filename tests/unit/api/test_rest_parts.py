"""Pieces of the document routes: the id splice and JSON merge patch (RFC 7396 examples)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from lumadb.api.rest import _stored_with_id, merge_patch


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"a": 1},
        {"id": "x", "a": 1},
        {"a": {"id": 3}},
        {"note": 'has "id": inside'},
        {"a": [1, {"b": None}], "ü": "ñ"},
    ],
)
def test_the_splice_equals_decoding_and_adding_the_id(doc: dict[str, Any]) -> None:
    stored = orjson.dumps(doc)
    expected = doc if doc.get("id") == "x" else {"id": "x", **doc}
    assert orjson.loads(_stored_with_id("x", stored)) == expected


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result

"""The REST filter and sort syntax against hand-written expectations."""

from __future__ import annotations

from typing import Any

import pytest

from lumadb.errors import InvalidArgument
from lumadb.service.filters import compile_filter, compile_order

DOCS: list[dict[str, Any]] = [
    {"id": "a", "age": 30, "name": "Ada", "tags": ["x", "y"], "address": {"city": "Paris"}},
    {"id": "b", "age": 41.5, "name": "Bob", "tags": [], "vip": True},
    {"id": "c", "age": "30", "name": "Cy", "address": {"city": "Rome"}},
    {"id": "d", "name": None},
]


def ids(spec: Any) -> list[str]:
    keep = compile_filter(spec)
    return [d["id"] for d in DOCS if keep(d)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ["a", "b", "c", "d"]),
        ({"age": 30}, ["a"]),
        ({"age": "30"}, ["c"]),
        ({"age": {"$gte": 30}}, ["a", "b"]),
        ({"age": {"$gt": 30, "$lt": 50}}, ["b"]),
        ({"age": {"$gt": "3"}}, ["c"]),
        ({"age": {"$ne": 30}}, ["b", "c", "d"]),
        ({"age": {"$in": [30, 41.5]}}, ["a", "b"]),
        ({"age": {"$nin": [30]}}, ["b", "c", "d"]),
        ({"address.city": "Paris"}, ["a"]),
        ({"tags.0": "x"}, ["a"]),
        ({"tags": {"$contains": "y"}}, ["a"]),
        ({"vip": {"$exists": True}}, ["b"]),
        ({"vip": {"$exists": False}}, ["a", "c", "d"]),
        ({"name": None}, ["d"]),
        ({"missing": None}, ["a", "b", "c", "d"]),
        ({"name": {"$prefix": "B"}}, ["b"]),
        ({"$or": [{"age": 30}, {"vip": True}]}, ["a", "b"]),
        ({"$and": [{"age": {"$gte": 30}}, {"name": "Bob"}]}, ["b"]),
        ({"$not": {"age": 30}}, ["b", "c", "d"]),
        ({"vip": 1}, []),
        ({"address": {"city": "Rome"}}, ["c"]),
    ],
)
def test_filters_select_the_expected_documents(spec: Any, expected: list[str]) -> None:
    assert ids(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        [],
        "age > 3",
        {"age": {"$between": [1, 2]}},
        {"$xor": []},
        {"$or": {"a": 1}},
        {"age": {"$in": 3}},
        {"age": {"$exists": "yes"}},
        {"name": {"$prefix": 1}},
        {"a..b": 1},
        {f"f{i}": i for i in range(101)},
        {
            "$not": {
                "$not": {
                    "$not": {
                        "$not": {
                            "$not": {
                                "$not": {
                                    "$not": {
                                        "$not": {
                                            "$not": {
                                                "$not": {
                                                    "$not": {
                                                        "$not": {
                                                            "$not": {
                                                                "$not": {
                                                                    "$not": {
                                                                        "$not": {"$not": {"a": 1}}
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ],
)
def test_bad_filters_are_invalid_arguments(spec: Any) -> None:
    with pytest.raises(InvalidArgument):
        compile_filter(spec)


def test_order_by_sorts_across_kinds_and_breaks_ties_by_id() -> None:
    pairs = [(d["id"], d) for d in DOCS]
    key, descending = compile_order("age")
    assert not descending
    assert [i for i, _ in sorted(pairs, key=key)] == ["d", "a", "b", "c"]
    key, descending = compile_order("-name")
    assert descending
    assert [i for i, _ in sorted(pairs, key=key, reverse=True)] == ["c", "b", "a", "d"]
    key, _ = compile_order("address.city,name")
    assert [i for i, _ in sorted(pairs, key=key)] == ["d", "b", "a", "c"]  # null < "Bob"


@pytest.mark.parametrize("text", ["", ",", "a,,b", "age,-name", "a..b", ",".join("abcdefghi")])
def test_bad_orders_are_invalid_arguments(text: str) -> None:
    with pytest.raises(InvalidArgument):
        compile_order(text)

"""Documents: the same writes read back the same on the embedded API and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")

VALUES: dict[str, Any] = {
    "text": "Ada Lovelace",
    "unicode": "naïve — 東京 🐍",
    "empty": "",
    "int": 36,
    "negative": -(2**63),
    "big": 2**64 - 1,
    "float": 0.1,
    "tiny": 5e-324,
    "true": True,
    "false": False,
    "null": None,
    "list": [1, "two", 3.0, None, [], {}],
    "nested": {"a": {"b": {"c": [{"d": 1}]}}},
    "tuple": (1, 2),
}


def test_crud_round_trip(db: Any, name: str) -> None:
    users = db.create_collection(name)
    assert users.name == name
    assert users.put("u1", {"name": "Ada", "age": 36}) is None
    assert users.get("u1") == {"name": "Ada", "age": 36}
    users.put("u1", {"name": "Ada", "age": 37})
    assert users.get("u1") == {"name": "Ada", "age": 37}
    assert users.get("u2") is None
    assert users.delete("u1") is True
    assert users.get("u1") is None
    assert users.delete("u1") is False


def test_json_values_come_back_equal(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    docs.put("v", VALUES)
    got = docs.get("v")
    assert got == {**VALUES, "tuple": [1, 2]}
    assert type(got["float"]) is float and type(got["int"]) is int
    assert list(got) == list(VALUES)  # key order is kept


@pytest.mark.parametrize(
    "doc_id",
    ["a/b", "?q=1&r", "#frag", "%2F", "%", ".", "..", "a b", "+", "ü", "東京", "🐍", "x" * 512],
)
def test_ids_that_need_escaping_in_urls(db: Any, name: str, doc_id: str) -> None:
    docs = db.create_collection(name)
    docs.put(doc_id, {"n": 1})
    assert docs.get(doc_id) == {"n": 1}
    assert list(docs.scan()) == [(doc_id, {"n": 1})]
    assert docs.delete(doc_id) is True


def test_insert_generates_an_id_or_takes_the_given_one(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    first, second = docs.insert({"name": "Bob"}), docs.insert({"name": "Eve"})
    assert isinstance(first, str) and first
    assert first < second  # generated ids are time-ordered
    assert docs.get(first) == {"name": "Bob"}
    assert docs.insert({"id": "b7", "n": 1}) == "b7"
    with pytest.raises(lumadb.DocumentExists):
        docs.insert({"id": "b7", "n": 2})
    docs.put("p1", {"n": 1})
    with pytest.raises(lumadb.DocumentExists):
        docs.insert({"id": "p1"})
    assert docs.count() == 4


def test_an_id_field_reads_back_only_from_the_embedded_api(
    db: Any, remote: bool, name: str
) -> None:
    # The one documented difference: the server adds "id" to every document it returns,
    # so the client cannot tell a stored "id" field from an added one and drops both.
    docs = db.create_collection(name)
    docs.insert({"id": "i1", "n": 1})
    docs.put("p1", {"id": "p1", "n": 2})
    docs.put_many([("m1", {"id": "m1", "n": 3})])
    if remote:
        expected = {"i1": {"n": 1}, "p1": {"n": 2}, "m1": {"n": 3}}
    else:
        expected = {
            "i1": {"id": "i1", "n": 1},
            "p1": {"id": "p1", "n": 2},
            "m1": {"id": "m1", "n": 3},
        }
    assert {i: docs.get(i) for i in expected} == expected
    assert dict(docs.scan()) == expected
    assert docs.get_many(list(expected)) == list(expected.values())


def test_put_many_and_get_many(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    pairs = [(f"k{i:03}", {"i": i, "even": i % 2 == 0}) for i in range(120)]
    assert docs.put_many(pairs) == 120
    assert docs.put_many(iter([("k000", {"i": -1})])) == 1  # replaces; any iterable
    assert docs.put_many([]) == 0
    assert docs.count() == 120
    got = docs.get_many(["k005", "missing", "k000", "k005"])
    assert got == [{"i": 5, "even": False}, None, {"i": -1}, {"i": 5, "even": False}]
    assert docs.get_many([]) == []
    assert docs.get_many(iter(["k119"])) == [{"i": 119, "even": False}]
    assert list(docs.scan(limit=2)) == [("k000", {"i": -1}), ("k001", {"i": 1, "even": False})]


def test_documents_up_to_the_size_limit(db: Any, name: str, max_doc: int) -> None:
    docs = db.create_collection(name)
    fits = {"s": "x" * (max_doc - len('{"s":""}'))}
    docs.put("big", fits)
    assert docs.get("big") == fits
    with pytest.raises(lumadb.DocumentTooLarge):
        docs.put("big", {"s": "x" * max_doc})
    assert docs.get("big") == fits


def test_a_dropped_collection_takes_its_documents(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    docs.put_many([("a", {"n": 1}), ("b", {"n": 2})])
    assert db.drop_collection(name) is True
    again = db.create_collection(name)
    assert again.get("a") is None
    assert again.count() == 0
    assert list(again.scan()) == []


def test_put_many_counts_the_id_towards_the_size_limit_only_remotely(
    db: Any, remote: bool, name: str, max_doc: int
) -> None:
    # A documented difference: _bulk's NDJSON carries each id inside its document, so the
    # stored copy is a few bytes larger than the one the embedded API stores.
    docs = db.create_collection(name)
    exact = {"s": "x" * (max_doc - len('{"s":""}'))}
    docs.put("p", exact)  # PUT sends the document as it is: the same limit
    if remote:
        with pytest.raises(lumadb.DocumentTooLarge):
            docs.put_many([("k", exact)])
    else:
        assert docs.put_many([("k", exact)]) == 1
    assert docs.put_many([("k", {"s": "x" * (max_doc - 100)})]) == 1

"""Bad input: the same error class on both engines, and (mostly) the same message.

Each case is ``(label, call, error)``; ``call(db, docs)`` gets the database and a collection
``docs`` that holds the document ``"a"``. The classes are asserted exactly (not a base class),
since callers switching engines must not have to change what they catch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import lumadb

BIG = "x" * 20000  # over the suite's max_document_size
NAN, INF = float("nan"), float("inf")

Case = tuple[str, Callable[[Any, Any], object], type[lumadb.LumaError]]

CASES: list[Case] = [
    # ids
    ("put id not a string", lambda db, c: c.put(123, {}), lumadb.InvalidId),
    ("put empty id", lambda db, c: c.put("", {}), lumadb.InvalidId),
    ("put id with newline", lambda db, c: c.put("a\nb", {}), lumadb.InvalidId),
    ("put id over 512 bytes", lambda db, c: c.put("é" * 257, {}), lumadb.InvalidId),
    ("get empty id", lambda db, c: c.get(""), lumadb.InvalidId),
    ("get id not a string", lambda db, c: c.get(b"a"), lumadb.InvalidId),
    ("delete id None", lambda db, c: c.delete(None), lumadb.InvalidId),
    ("insert id not a string", lambda db, c: c.insert({"id": 5}), lumadb.InvalidId),
    # documents
    ("put a list", lambda db, c: c.put("a", [1]), lumadb.InvalidDocument),
    ("put a string", lambda db, c: c.put("a", "text"), lumadb.InvalidDocument),
    ("put None", lambda db, c: c.put("a", None), lumadb.InvalidDocument),
    ("put NaN", lambda db, c: c.put("a", {"x": NAN}), lumadb.InvalidDocument),
    ("put nested inf", lambda db, c: c.put("a", {"x": [1, {"y": INF}]}), lumadb.InvalidDocument),
    ("put int key", lambda db, c: c.put("a", {1: "x"}), lumadb.InvalidDocument),
    ("put a set", lambda db, c: c.put("a", {"x": {1, 2}}), lumadb.InvalidDocument),
    ("put bytes", lambda db, c: c.put("a", {"x": b"raw"}), lumadb.InvalidDocument),
    ("put int over 64 bits", lambda db, c: c.put("a", {"x": 2**64}), lumadb.InvalidDocument),
    ("put lone surrogate", lambda db, c: c.put("a", {"x": "\ud800"}), lumadb.InvalidDocument),
    ("put other id field", lambda db, c: c.put("a", {"id": "b"}), lumadb.InvalidDocument),
    ("put too large", lambda db, c: c.put("a", {"s": BIG}), lumadb.DocumentTooLarge),
    ("insert a list", lambda db, c: c.insert([1]), lumadb.InvalidDocument),
    ("insert NaN", lambda db, c: c.insert({"x": NAN}), lumadb.InvalidDocument),
    ("insert too large", lambda db, c: c.insert({"s": BIG}), lumadb.DocumentTooLarge),
    ("insert taken id", lambda db, c: c.insert({"id": "a"}), lumadb.DocumentExists),
    # put_many and get_many
    ("put_many a string", lambda db, c: c.put_many("ab"), lumadb.InvalidArgument),
    ("put_many a number", lambda db, c: c.put_many(5), lumadb.InvalidArgument),
    ("put_many not pairs", lambda db, c: c.put_many([("a",)]), lumadb.InvalidArgument),
    ("put_many bad id", lambda db, c: c.put_many([("k", {}), ("", {})]), lumadb.InvalidId),
    ("put_many a list doc", lambda db, c: c.put_many([("k", [])]), lumadb.InvalidDocument),
    ("put_many NaN", lambda db, c: c.put_many([("k", {"x": NAN})]), lumadb.InvalidDocument),
    ("put_many id field", lambda db, c: c.put_many([("k", {"id": "j"})]), lumadb.InvalidDocument),
    ("put_many too large", lambda db, c: c.put_many([("k", {"s": BIG})]), lumadb.DocumentTooLarge),
    ("get_many a string", lambda db, c: c.get_many("abc"), lumadb.InvalidArgument),
    ("get_many a number", lambda db, c: c.get_many(5), lumadb.InvalidArgument),
    ("get_many bad id", lambda db, c: c.get_many(["a", ""]), lumadb.InvalidId),
    # scan and count arguments
    ("scan negative limit", lambda db, c: c.scan(limit=-1), lumadb.InvalidArgument),
    ("scan float limit", lambda db, c: c.scan(limit=1.5), lumadb.InvalidArgument),
    ("scan bool limit", lambda db, c: c.scan(limit=True), lumadb.InvalidArgument),
    ("scan int prefix", lambda db, c: c.scan(prefix=3), lumadb.InvalidArgument),
    ("scan int start", lambda db, c: c.scan(start=3), lumadb.InvalidArgument),
    ("scan bytes end", lambda db, c: c.scan(end=b"x"), lumadb.InvalidArgument),
    ("scan reverse str", lambda db, c: c.scan(reverse="yes"), lumadb.InvalidArgument),
    ("count int prefix", lambda db, c: c.count(1), lumadb.InvalidArgument),
    # collections
    ("open missing", lambda db, c: db.collection("missing"), lumadb.CollectionNotFound),
    ("open bad name", lambda db, c: db.collection("no such"), lumadb.CollectionNotFound),
    ("open empty name", lambda db, c: db.collection(""), lumadb.CollectionNotFound),
    ("open reserved name", lambda db, c: db.collection("_users"), lumadb.CollectionNotFound),
    ("open int name", lambda db, c: db.collection(5), lumadb.InvalidArgument),
    ("drop missing", lambda db, c: db.drop_collection("missing"), lumadb.CollectionNotFound),
    ("create existing", lambda db, c: db.create_collection(c.name), lumadb.CollectionExists),
    ("create reserved", lambda db, c: db.create_collection("_x"), lumadb.InvalidCollectionName),
    ("create digit", lambda db, c: db.create_collection("1x"), lumadb.InvalidCollectionName),
    ("create long", lambda db, c: db.create_collection("a" * 65), lumadb.InvalidCollectionName),
    ("create space", lambda db, c: db.create_collection("a b"), lumadb.InvalidCollectionName),
    ("create int", lambda db, c: db.create_collection(5), lumadb.InvalidCollectionName),
    (
        "create bad feed",
        lambda db, c: db.create_collection("z", changefeed="x"),
        lumadb.InvalidArgument,
    ),
]
# Messages that differ, and why: the bulk body carries each id inside its document, so the
# server counts a few more bytes than the embedded API does.
DIFFERENT_MESSAGES = {"put_many too large"}
DROPPED: list[tuple[str, Callable[[Any, Any], object]]] = [
    ("put", lambda db, c: c.put("a", {})),
    ("get", lambda db, c: c.get("a")),
    ("delete", lambda db, c: c.delete("a")),
    ("insert", lambda db, c: c.insert({})),
    ("put_many", lambda db, c: c.put_many([("a", {})])),
    ("put_many empty", lambda db, c: c.put_many([])),
    ("get_many", lambda db, c: c.get_many(["a"])),
    ("get_many empty", lambda db, c: c.get_many([])),
    ("scan", lambda db, c: c.scan()),
    ("scan from start", lambda db, c: c.scan(start="a")),
    ("scan nothing", lambda db, c: c.scan(limit=0)),
    ("count", lambda db, c: c.count()),
    ("describe", lambda db, c: c.describe()),
]


def _raised(db: Any, docs: Any, call: Callable[[Any, Any], object]) -> BaseException | None:
    try:
        call(db, docs)
    except Exception as exc:  # whatever it is, the table shows it
        return exc
    return None


def test_bad_input_raises_the_same_class(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    docs.put("a", {"n": 1})
    # One body for all cases; the comparison of two tables names every case that differs.
    found = {label: type(_raised(db, docs, call)).__name__ for label, call, _ in CASES}
    assert found == {label: error.__name__ for label, _, error in CASES}
    assert list(docs.scan()) == [("a", {"n": 1})]  # nothing was written


def test_a_dropped_collection_is_not_found_at_the_call(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    db.drop_collection(name)
    # At the call, not only once a scan is iterated.
    found = {label: repr(_raised(db, docs, call)) for label, call in DROPPED}
    missing = repr(lumadb.CollectionNotFound(f"collection {name!r} does not exist"))
    assert found == dict.fromkeys(found, missing)


@pytest.fixture
def both(node: Any, max_doc: int) -> Iterator[tuple[Any, Any]]:
    """The embedded API (memory) and the client of the served node, side by side."""
    with (
        lumadb.open(":memory:", shards=2, max_document_size=max_doc) as local,
        node.connect() as client,
    ):
        yield local, client


def test_messages_are_the_same(both: tuple[Any, Any], name: str) -> None:
    answers: list[dict[str, tuple[str, str]]] = []
    for db in both:
        docs = db.create_collection(name)
        docs.put("a", {"n": 1})
        found = {}
        for label, call, _ in CASES:
            error = _raised(db, docs, call)
            found[label] = (type(error).__name__, str(error))
        answers.append(found)
    local, remote = answers
    differ = {k for k in local if local[k] != remote[k]}
    assert differ == DIFFERENT_MESSAGES, {k: (local[k], remote[k]) for k in differ}
    assert {k: v[0] for k, v in local.items()} == {k: v[0] for k, v in remote.items()}

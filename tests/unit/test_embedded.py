"""The embedded API (ARCHITECTURE.md §3), run on the memory twin and on RocksDB."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest

import lumadb
from lumadb import (
    CollectionExists,
    CollectionNotFound,
    DatabaseClosed,
    DocumentExists,
    DocumentTooLarge,
    InvalidArgument,
    InvalidCollectionName,
    InvalidDocument,
    InvalidId,
)


def test_contract_example(db: lumadb.Database) -> None:
    users = db.create_collection("users")
    users.put("u1", {"name": "Ada", "age": 36})
    assert users.get("u1") == {"name": "Ada", "age": 36}
    assert users.delete("u1") is True
    assert users.get("u1") is None
    uid = users.insert({"name": "Bob"})
    assert users.get(uid) == {"name": "Bob"}
    users.put_many([("u2", {"n": 2}), ("u3", {"n": 3})])
    assert users.get_many(["u2", "missing", "u3"]) == [{"n": 2}, None, {"n": 3}]
    assert [i for i, _ in users.scan(prefix="u")] == ["u2", "u3"]


def test_put_replaces(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    assert c.put("k", {"a": 1}) is None
    c.put("k", {"a": 2})
    assert c.get("k") == {"a": 2}
    assert c.count() == 1


def test_delete_missing_returns_false(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    assert c.delete("nope") is False


def test_insert_with_given_id_never_overwrites(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    assert c.insert({"id": "x", "v": 1}) == "x"
    with pytest.raises(DocumentExists, match="'x' already exists"):
        c.insert({"id": "x", "v": 2})
    assert c.get("x") == {"id": "x", "v": 1}


def test_generated_ids_sort_in_insertion_order(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    ids = [c.insert({"n": n}) for n in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    assert [doc["n"] for _, doc in c.scan()] == list(range(50))


def test_id_field_must_match(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("a", {"id": "a", "x": 1})
    with pytest.raises(InvalidDocument, match="differs from its id"):
        c.put("a", {"id": "b"})


@pytest.mark.parametrize(
    "bad_id",
    ["", "a\x00b", "tab\there", "\ud800", 5, None, b"bytes", "x" * 513],
)
def test_invalid_ids_are_rejected(db: lumadb.Database, bad_id: Any) -> None:
    c = db.create_collection("c")
    with pytest.raises(InvalidId):
        c.put(bad_id, {"a": 1})
    with pytest.raises(InvalidId):
        c.get(bad_id)


def test_unicode_ids_roundtrip_in_order(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    ids = ["b", "a", "é", "日本", "z", "Z", "a b"]
    for i in ids:
        c.put(i, {"id": i})
    assert [i for i, _ in c.scan()] == sorted(ids)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "JSON object"),
        ("text", "JSON object"),
        ({1: "a"}, "not valid JSON"),
        ({"a": float("nan")}, "NaN or Infinity"),
        ({"a": [1, {"b": math.inf}]}, r"\$\.a\[1\]\.b"),
        ({"a": datetime.datetime(2024, 1, 1)}, "not valid JSON"),
        ({"a": {1, 2}}, "not valid JSON"),
        ({"a": b"bytes"}, "not valid JSON"),
        ({"a": 2**70}, "not valid JSON"),
    ],
)
def test_non_json_documents_are_rejected(db: lumadb.Database, doc: Any, message: str) -> None:
    c = db.create_collection("c")
    with pytest.raises(InvalidDocument, match=message):
        c.put("k", doc)
    assert c.get("k") is None
    # The bulk path checks the same, names the item, and writes nothing of the batch.
    fine = [("a", {"s": "x"}), ("b", {"f": 1.5}), ("c", {"n": None})]
    with pytest.raises(InvalidDocument, match=rf"item 3 \(id 'k'\): .*{message}"):
        c.put_many([*fine, ("k", doc)])
    assert c.count() == 0
    with pytest.raises(InvalidDocument, match=message):
        c.put_many([("a", {"s": "x"}), ("k", doc)])  # the rest of the batch has no floats


@pytest.mark.parametrize("bad_id", ["", "x" * 513, "tab\there", "\ud800", 7, None, "é" * 257])
def test_bulk_and_single_writes_reject_the_same_ids(db: lumadb.Database, bad_id: Any) -> None:
    c = db.create_collection("c")
    with pytest.raises(lumadb.InvalidId):
        c.put(bad_id, {"a": 1})
    with pytest.raises(lumadb.InvalidId, match="item 1"):
        c.put_many([("ok", {"a": 1}), (bad_id, {"a": 1})])
    assert c.count() == 0
    c.put("é" * 128, {"a": 1})  # 256 bytes of UTF-8: long, but within the limit
    assert c.get("é" * 128) == {"a": 1}


def test_deep_nesting_is_rejected(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    doc: dict[str, Any] = {}
    inner = doc
    for _ in range(300):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(InvalidDocument):
        c.put("deep", doc)


def test_null_values_are_fine(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("k", {"a": None, "nullable": [None, 1.5]})
    assert c.get("k") == {"a": None, "nullable": [None, 1.5]}


def test_document_size_limit(open_db: Any) -> None:
    db = open_db(max_document_size="2KiB")
    c = db.create_collection("c")
    c.put("ok", {"a": "x" * 1000})
    with pytest.raises(DocumentTooLarge, match="limit is 2048"):
        c.put("big", {"a": "x" * 3000})
    with pytest.raises(DocumentTooLarge):
        c.put_many([("fine", {"a": 1}), ("big", {"a": "x" * 3000})])
    assert c.get("fine") is None  # validation happens before anything is written


def test_collections_lifecycle(db: lumadb.Database) -> None:
    assert db.list_collections() == []
    db.create_collection("b")
    db.create_collection("a")
    assert db.list_collections() == ["a", "b"]
    with pytest.raises(CollectionExists):
        db.create_collection("a")
    assert db.create_collection("a", exist_ok=True).name == "a"
    assert db.drop_collection("a") is True
    assert db.list_collections() == ["b"]
    with pytest.raises(CollectionNotFound):
        db.drop_collection("a")
    assert db.drop_collection("a", missing_ok=True) is False
    with pytest.raises(CollectionNotFound, match="'zzz' does not exist"):
        db.collection("zzz")


@pytest.mark.parametrize("name", ["", "_system", "1abc", "a-b", "a" * 65, "naïve", 7])
def test_invalid_collection_names(db: lumadb.Database, name: Any) -> None:
    with pytest.raises(InvalidCollectionName):
        db.create_collection(name)


def test_dropped_collection_data_is_gone_and_name_reusable(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put_many([(f"k{i}", {"i": i}) for i in range(100)])
    handle = db.collection("c")
    db.drop_collection("c")
    with pytest.raises(CollectionNotFound):
        handle.get("k1")
    again = db.create_collection("c")
    assert again.count() == 0
    assert again.get("k1") is None


def test_unknown_changefeed_mode(db: lumadb.Database) -> None:
    with pytest.raises(InvalidArgument, match="changefeed"):
        db.create_collection("c", changefeed="everything")


def test_scan_ranges_limits_and_direction(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    ids = [f"k{i:03d}" for i in range(200)]
    c.put_many([(i, {"i": n}) for n, i in enumerate(ids)])
    assert [i for i, _ in c.scan()] == ids
    assert [i for i, _ in c.scan(reverse=True)] == ids[::-1]
    assert [i for i, _ in c.scan(start="k010", end="k015")] == ids[10:15]
    assert [i for i, _ in c.scan(start="k010", limit=3)] == ids[10:13]
    assert [i for i, _ in c.scan(end="k005", reverse=True, limit=2)] == ["k004", "k003"]
    assert [i for i, _ in c.scan(prefix="k19")] == ids[190:200]
    assert [i for i, _ in c.scan(prefix="k1", start="k150", end="k152")] == ids[150:152]
    assert list(c.scan(start="z")) == []
    assert list(c.scan(limit=0)) == []
    assert c.count() == 200
    assert c.count(prefix="k0") == 100


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": -1}, {"limit": "3"}, {"limit": 1.5}, {"prefix": 3}, {"start": b"x"}, {"reverse": 1}],
)
def test_scan_argument_errors(db: lumadb.Database, kwargs: dict[str, Any]) -> None:
    c = db.create_collection("c")
    with pytest.raises(InvalidArgument):
        list(c.scan(**kwargs))


def test_put_many_argument_errors(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    with pytest.raises(InvalidArgument):
        c.put_many("not pairs")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        c.put_many([("only-id",)])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument):
        c.get_many(5)  # type: ignore[arg-type]


def test_closed_database_refuses_work(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    db.close()
    db.close()  # idempotent
    with pytest.raises(DatabaseClosed):
        db.create_collection("d")
    with pytest.raises((DatabaseClosed, lumadb.StorageError)):
        c.put("k", {"a": 1})


def test_context_manager_closes(engine: str, tmp_path: Any) -> None:
    target = ":memory:" if engine == "memory" else str(tmp_path / "cm")
    with lumadb.open(target) as db:
        db.create_collection("c").put("k", {"a": 1})
    with pytest.raises(DatabaseClosed):
        db.list_collections()


def test_snapshot_sees_a_frozen_state(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put_many([(f"k{i}", {"v": 0}) for i in range(20)])
    with db.snapshot() as snap:
        view = snap.collection("c")
        c.put_many([(f"k{i}", {"v": 1}) for i in range(20)])
        c.delete("k0")
        c.put("new", {"v": 1})
        assert view.get("k0") == {"v": 0}
        assert view.get("new") is None
        assert view.get_many(["k1", "k2"]) == [{"v": 0}, {"v": 0}]
        assert {d["v"] for _, d in view.scan()} == {0}
        assert view.count() == 20
    assert c.get("k0") is None
    assert c.count() == 20


def test_stats_count_l1_hits(db: lumadb.Database) -> None:
    c = db.create_collection("c")
    c.put("k", {"a": 1})
    for _ in range(5):
        c.get("k")
    stats = db.stats()
    assert stats["l1_hits"] >= 3
    assert len(stats["shards"]) == db.shard_count == 2


def test_options_are_validated(engine: str, tmp_path: Any) -> None:
    target = ":memory:" if engine == "memory" else str(tmp_path / "x")
    with pytest.raises(lumadb.ConfigError, match="durability"):
        lumadb.open(target, durability="sometimes")
    with pytest.raises(lumadb.ConfigError, match="storage.nope"):
        lumadb.open(target, nope=1)

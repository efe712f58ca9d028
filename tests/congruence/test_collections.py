"""Collections: create, open, list, describe and drop, the same on both engines."""

from __future__ import annotations

from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")


def test_create_open_and_describe(db: Any, name: str) -> None:
    made = db.create_collection(name)
    opened = db.collection(name)
    assert made.name == opened.name == name
    made.put("a", {"n": 1})
    assert opened.get("a") == {"n": 1}
    described = opened.describe()
    assert described["name"] == name
    assert described["changefeed"] == "new"
    assert isinstance(described["created_ms"], int)
    feed = db.create_collection(f"{name}_old", changefeed="new_and_old")
    assert feed.describe()["changefeed"] == "new_and_old"


def test_exist_ok_returns_the_existing_collection(db: Any, name: str) -> None:
    db.create_collection(name).put("a", {"n": 1})
    with pytest.raises(lumadb.CollectionExists):
        db.create_collection(name)
    again = db.create_collection(name, exist_ok=True)
    assert again.get("a") == {"n": 1}
    assert db.create_collection(name, exist_ok=True, changefeed="new_and_old").name == name
    assert again.describe()["changefeed"] == "new"


def test_list_collections_is_sorted(db: Any, name: str) -> None:
    for suffix in ("b", "a", "c"):
        db.create_collection(f"{name}_{suffix}")
    listed = db.list_collections()
    assert listed == sorted(listed)
    assert [n for n in listed if n.startswith(name)] == [f"{name}_{s}" for s in "abc"]


def test_drop_collection(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    assert db.drop_collection(name) is True
    assert name not in db.list_collections()
    assert db.drop_collection(name, missing_ok=True) is False
    with pytest.raises(lumadb.CollectionNotFound):
        db.drop_collection(name)
    with pytest.raises(lumadb.CollectionNotFound):
        db.collection(name)
    with pytest.raises(lumadb.CollectionNotFound):
        docs.get("a")


@pytest.mark.parametrize("bad", ["no such", "", "_collections", "1abc", "a" * 65, 7, None])
def test_names_no_collection_can_have_are_not_found_on_drop(db: Any, bad: object) -> None:
    assert db.drop_collection(bad, missing_ok=True) is False
    with pytest.raises(lumadb.CollectionNotFound):
        db.drop_collection(bad)


def test_context_manager_and_close(db: Any, name: str) -> None:
    with db as same:
        assert same is db
        same.create_collection(name)
    with pytest.raises(lumadb.DatabaseClosed):
        db.list_collections()
    with pytest.raises(lumadb.DatabaseClosed):
        db.create_collection(f"{name}_2")
    db.close()  # idempotent

"""UNIQUE indexes hold across every shard: embedded, and on a node whose shards are spread over
several worker processes (where one worker checks every write's values)."""

# ruff: noqa: S608 - statements name collections the tests made

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")


def test_values_are_unique_across_shards(db: Any, name: str) -> None:
    db.query(f"CREATE COLLECTION {name}")
    db.query(f"CREATE UNIQUE INDEX {name}_email ON {name} (email)")
    users = db.collection(name)
    users.put("a", {"email": "a@x"})
    for doc_id in ("b", "c", "d", "e"):  # ids in every shard of the node
        with pytest.raises(lumadb.UniqueViolation, match="already held by document 'a'"):
            users.put(doc_id, {"email": "a@x"})
    with pytest.raises(lumadb.UniqueViolation):
        users.insert({"email": "a@x"})
    with pytest.raises(lumadb.UniqueViolation):
        users.put_many([("f", {"email": "f@x"}), ("g", {"email": "a@x"})])
    with pytest.raises(lumadb.UniqueViolation):
        users.put_many([("h", {"email": "same"}), ("i", {"email": "same"})])
    with pytest.raises(lumadb.UniqueViolation):
        db.query(f"INSERT INTO {name} (id, email) VALUES ('j', 'a@x')")
    assert db.query(f"SELECT id FROM {name} ORDER BY id") == [{"id": "a"}]
    users.put("a", {"email": "a2@x"})  # the holder moves off its value: free again
    users.put("b", {"email": "a@x"})
    rows = db.query(f"SELECT id, email FROM {name} ORDER BY id")
    assert rows == [{"id": "a", "email": "a2@x"}, {"id": "b", "email": "a@x"}]


def test_concurrent_writers_give_each_value_to_one_document(db: Any, name: str) -> None:
    db.query(f"CREATE COLLECTION {name}")
    db.query(f"CREATE UNIQUE INDEX {name}_email ON {name} (email)")
    users = db.collection(name)

    def claim(job: tuple[int, int]) -> bool:
        writer, value = job
        try:
            users.put(f"w{writer}-{value}", {"email": f"v{value}"})
        except lumadb.UniqueViolation:
            return False
        return True

    jobs = [(w, v) for v in range(25) for w in range(4)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        won = sum(pool.map(claim, jobs))
    assert won == 25
    found = db.query(f"SELECT email, count(*) AS n FROM {name} GROUP BY email HAVING n > 1")
    assert found == []
    assert db.query(f"SELECT count(*) AS n FROM {name}") == [{"n": 25}]


def test_creating_over_duplicates_in_different_shards_fails(db: Any, name: str) -> None:
    db.query(f"CREATE COLLECTION {name}")
    db.collection(name).put_many([(f"p{i}", {"city": ["Oslo", "Rome"][i % 2]}) for i in range(8)])
    with pytest.raises(lumadb.UniqueViolation, match="not created"):
        db.query(f"CREATE UNIQUE INDEX {name}_city ON {name} (city)")
    db.collection(name).put("p9", {"city": "Oslo"})  # no index was left behind
    db.query(f"DELETE FROM {name} WHERE city = 'Rome'")
    db.query(f"DELETE FROM {name} WHERE id <> 'p0'")
    made = db.query(f"CREATE UNIQUE INDEX {name}_city ON {name} (city)")
    assert made == [{"index": f"{name}_city", "collection": name, "path": "city"}]

"""UNIQUE indexes: no two documents hold the same values, whichever shards they live in."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import lumadb
from lumadb.errors import QueryError, UniqueViolation


@pytest.fixture(params=["memory", "rocks"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[lumadb.Database]:
    target = ":memory:" if request.param == "memory" else str(tmp_path / "data")
    with lumadb.open(target, shards=4) as handle:
        handle.query("CREATE COLLECTION users")
        handle.query("CREATE UNIQUE INDEX users_email ON users (email)")
        yield handle


def emails(db: lumadb.Database) -> list[str]:
    return sorted(d["email"] for _, d in db.collection("users").scan() if "email" in d)


def test_a_taken_value_is_refused_on_every_write_path(db: lumadb.Database) -> None:
    users = db.collection("users")
    users.put("a", {"email": "a@x"})
    with pytest.raises(UniqueViolation, match=r"email = 'a@x' is already held by document 'a'"):
        users.put("b", {"email": "a@x"})
    with pytest.raises(UniqueViolation):
        users.insert({"email": "a@x"})
    with pytest.raises(UniqueViolation):
        users.put_many([("c", {"email": "c@x"}), ("d", {"email": "a@x"})])
    with pytest.raises(UniqueViolation):
        db.query("INSERT INTO users (id, email) VALUES ('e', 'a@x')")
    assert users.get("c") is None  # put_many is all or none here
    users.put("c", {"email": "c@x"})
    with pytest.raises(UniqueViolation):
        db.query("UPDATE users SET email = 'a@x' WHERE id = 'c'")
    with pytest.raises(UniqueViolation):
        db.execute("BEGIN; INSERT INTO users (id, email) VALUES ('f', 'a@x'); COMMIT")
    assert users.get("b") is None
    assert emails(db) == ["a@x", "c@x"]
    assert users.get("d") is None and users.get("e") is None and users.get("f") is None


def test_the_holder_may_rewrite_and_release_its_value(db: lumadb.Database) -> None:
    users = db.collection("users")
    users.put("a", {"email": "a@x", "n": 1})
    users.put("a", {"email": "a@x", "n": 2})  # the same document keeps its value
    users.put("a", {"email": "a2@x"})  # moves off a@x ...
    users.put("b", {"email": "a@x"})  # ... which is free again
    users.delete("b")
    users.put("c", {"email": "a@x"})
    assert emails(db) == ["a2@x", "a@x"]


def test_nulls_and_missing_values_never_clash(db: lumadb.Database) -> None:
    users = db.collection("users")
    for i in range(3):
        users.put(f"n{i}", {"email": None})
        users.put(f"m{i}", {"name": "no email"})
    assert db.query("SELECT count(*) AS c FROM users") == [{"c": 6}]


def test_one_operation_cannot_give_a_value_twice(db: lumadb.Database) -> None:
    users = db.collection("users")
    with pytest.raises(UniqueViolation):
        users.put_many([("a", {"email": "same"}), ("a2", {"email": "same"})] * 1)
    # Values are numbers as LQL compares them: 1 and 1.0 are one value.
    users.put("one", {"email": 1})
    with pytest.raises(UniqueViolation, match="email = 1 "):
        users.put("other", {"email": 1.0})


def test_a_transaction_may_move_a_value_between_documents(db: lumadb.Database) -> None:
    users = db.collection("users")
    users.put("a", {"email": "v"})
    db.execute(
        "BEGIN; DELETE FROM users WHERE id = 'a'; "
        "INSERT INTO users (id, email) VALUES ('b', 'v'); COMMIT"
    )
    assert users.get("a") is None
    assert users.get("b") == {"email": "v"}


def test_composite_unique_indexes(db: lumadb.Database) -> None:
    db.query("CREATE COLLECTION seats")
    db.query("CREATE UNIQUE INDEX seat ON seats (row, number)")
    seats = db.collection("seats")
    seats.put("s1", {"row": "A", "number": 1})
    seats.put("s2", {"row": "A", "number": 2})
    seats.put("s3", {"row": "B", "number": 1})
    with pytest.raises(UniqueViolation, match=r"\(row, number\) = \('A', 2\)"):
        seats.put("s4", {"row": "A", "number": 2})
    seats.put("s5", {"row": "A"})  # a missing part: no entry, no clash


def test_creating_over_duplicates_fails_and_leaves_no_index(db: lumadb.Database) -> None:
    db.query("CREATE COLLECTION people")
    people = db.collection("people")
    people.put_many([(f"p{i}", {"city": ["Oslo", "Rome"][i % 2], "n": i}) for i in range(20)])
    with pytest.raises(UniqueViolation, match="not created: documents 'p0' and 'p10'"):
        db.query("CREATE UNIQUE INDEX people_city ON people (city)")
    assert "indexes" not in db._svc.describe_collection("people")
    people.put("p99", {"city": "Oslo"})  # no index refuses it
    db.query("CREATE UNIQUE INDEX people_n ON people (n)")
    described = db._svc.describe_collection("people")["indexes"]
    assert described == [{"name": "people_n", "path": "n", "fields": ["n"], "unique": True}]
    with pytest.raises(UniqueViolation):
        people.put("p100", {"n": 3})
    with pytest.raises(QueryError, match="cannot be UNIQUE"):
        db.query("CREATE UNIQUE TEXT INDEX t ON people (city)")


def test_the_index_answers_lookups_and_survives_a_reopen(tmp_path: Path) -> None:
    target = str(tmp_path / "data")
    with lumadb.open(target, shards=3) as db:
        db.query("CREATE COLLECTION users")
        db.query("CREATE UNIQUE INDEX users_email ON users (email)")
        db.collection("users").put_many([(f"u{i}", {"email": f"{i}@x"}) for i in range(50)])
        plan = db.query("EXPLAIN SELECT id FROM users WHERE email = '7@x'")
        assert any("users_email" in row["plan"] for row in plan)
    with lumadb.open(target, shards=3) as db:
        assert db.query("SELECT id FROM users WHERE email = '7@x'") == [{"id": "u7"}]
        with pytest.raises(UniqueViolation):
            db.collection("users").put("new", {"email": "7@x"})


def test_racing_writers_give_a_value_to_one_document(db: lumadb.Database) -> None:
    # Each value is wanted by several threads, each with its own document (in different
    # shards); exactly one may win it.
    users = db.collection("users")
    wins: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def writer(t: int) -> None:
        start.wait()
        for value in range(60):
            try:
                users.put(f"t{t}-{value}", {"email": f"v{value}"})
            except UniqueViolation:
                continue
            with lock:
                wins.append(f"v{value}")

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(f"v{v}" for v in range(60))
    assert emails(db) == sorted(f"v{v}" for v in range(60))


def test_canary_without_the_guard_racing_writers_duplicate(tmp_path: Path) -> None:
    # The check alone, without one writer at a time, lets two writers both find a value free:
    # the race test above would catch it.
    from lumadb.storage.faults import FAULTS

    FAULTS.unique_unguarded = True
    try:
        with lumadb.open(":memory:", shards=4) as db:
            db.query("CREATE COLLECTION users")
            db.query("CREATE UNIQUE INDEX users_email ON users (email)")
            users = db.collection("users")
            start = threading.Barrier(4)

            def writer(t: int) -> None:
                start.wait()
                for value in range(30):
                    with contextlib.suppress(UniqueViolation):
                        users.put(f"t{t}-{value}", {"email": f"v{value}"})

            threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            found = emails(db)
            assert len(found) > len(set(found))
    finally:
        FAULTS.reset()

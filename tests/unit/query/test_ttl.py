"""TTL: documents expire a set time after their last write, hidden at once, purged later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lumadb
from lumadb.clock import ManualClock
from lumadb.errors import CollectionNotFound, QueryError

HOUR = 3600


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db(clock: ManualClock) -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", clock=clock, shards=3) as opened:
        opened.create_collection("s")
        yield opened


def _ids(db: lumadb.Database) -> list[str]:
    return [r["id"] for r in db.query("SELECT id FROM s ORDER BY id")]


def test_documents_expire_after_their_last_write(db: lumadb.Database, clock: ManualClock) -> None:
    c = db.collection("s")
    c.put("before", {"v": 1})  # written before the TTL: counts from when it was set
    assert db.query("ALTER COLLECTION s SET TTL '1 hour'") == [
        {"collection": "s", "ttl_seconds": 3600.0}
    ]
    clock.advance(HOUR / 2)
    c.put("later", {"v": 2})
    c.put_many([(f"m{i}", {"v": i}) for i in range(3)])
    clock.advance(HOUR / 2 - 1)
    assert _ids(db) == ["before", "later", "m0", "m1", "m2"]
    clock.advance(1)  # exactly one hour after the TTL was set
    assert c.get("before") is None
    assert c.get_many(["before", "later"]) == [None, {"v": 2}]
    assert _ids(db) == ["later", "m0", "m1", "m2"]
    assert c.count() == 4
    assert [i for i, _ in c.scan()] == ["later", "m0", "m1", "m2"]
    c.put("later", {"v": 3})  # a rewrite starts its hour again
    clock.advance(HOUR / 2)
    assert _ids(db) == ["later"]
    assert db.query("SELECT count(*) AS n, sum(v) AS s FROM s") == [{"n": 1, "s": 3}]
    assert db.stats()["columnar"]["answered"] == 0  # the replica has no write times


def test_expired_documents_are_purged_and_the_feed_sees_deletes(
    db: lumadb.Database, clock: ManualClock
) -> None:
    db.query("ALTER COLLECTION s SET TTL '10s'")
    c = db.collection("s")
    for i in range(5):
        c.put(f"d{i}", {"v": i})
    db.query("CREATE INDEX s_v ON s (v)")
    clock.advance(5)
    c.put("d0", {"v": 0})  # lives 5 s longer
    clock.advance(6)
    assert db.query("SELECT id FROM s WHERE v = 1") == []  # index lookups hide it too
    assert db._svc.purge_expired() == 4
    assert db._svc.purge_expired() == 0
    deletes = [ch.id for s in range(3) for ch in db.changes(s) if ch.op == "delete"]
    assert sorted(deletes) == ["d1", "d2", "d3", "d4"]
    assert db.query("SELECT id FROM s") == [{"id": "d0"}]


def test_reset_keeps_what_expired_gone_and_stops_expiry(
    db: lumadb.Database, clock: ManualClock
) -> None:
    c = db.collection("s")
    db.query("ALTER COLLECTION s SET TTL 60")
    c.put("gone", {})
    clock.advance(30)
    c.put("kept", {})
    clock.advance(40)
    db.query("ALTER COLLECTION s RESET TTL")
    clock.advance(10 * HOUR)
    assert _ids(db) == ["kept"]
    assert "ttl_seconds" not in db._svc.describe_collection("s")
    db.query("ALTER COLLECTION s SET TTL '1d'")  # set again: old write times are not reused
    clock.advance(HOUR)
    assert _ids(db) == ["kept"]


def test_write_times_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    path = str(tmp_path / "data")
    with lumadb.open(path, clock=clock, shards=2) as db:
        db.create_collection("s")
        db.query("ALTER COLLECTION s SET TTL '1h'")
        db.collection("s").put("a", {})
        clock.advance(HOUR / 2)
        db.collection("s").put("b", {})
    clock.advance(HOUR / 2)
    with lumadb.open(path, clock=clock, shards=2) as db:
        assert _ids(db) == ["b"]
        assert db._svc.describe_collection("s")["ttl_seconds"] == 3600


def test_bad_ttl_statements_are_query_errors(db: lumadb.Database) -> None:
    for text, words in [
        ("ALTER COLLECTION s SET TTL 'forever'", "expected a duration"),
        ("ALTER COLLECTION s SET TTL '0s'", "longer than 0"),
        ("ALTER COLLECTION s SET", "expected ALTER COLLECTION"),
        ("ALTER COLLECTION s SET TTL '1d' now", "expected ALTER COLLECTION"),
    ]:
        with pytest.raises(QueryError, match=words):
            db.query(text)
    with pytest.raises(CollectionNotFound):
        db.query("ALTER COLLECTION nope SET TTL '1d'")
    with pytest.raises(CollectionNotFound):
        db.query("ALTER COLLECTION nope RESET TTL")

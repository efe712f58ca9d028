"""Secondary indexes: entries in the document's batch, built on create, used by queries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lumadb
from lumadb.errors import Conflict, NotFound, QueryError
from lumadb.service.indexes import index_value
from lumadb.storage import keys


def expected(db: lumadb.Database, collection: str, path: tuple[str, ...]) -> int:
    return sum(
        1 for _, doc in db.collection(collection).scan() if index_value(doc, path) is not None
    )


def count_entries(db: lumadb.Database, number: int) -> int:
    start = keys.index_prefix(number)
    return sum(1 for s in db._svc.store.shards for _ in s.scan(start, keys.prefix_end(start)))


def number_of(db: lumadb.Database, name: str) -> int:
    found = db._svc._catalog.index(name)
    assert found is not None
    return found[1].number


@pytest.fixture(params=["memory", "rocks"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[lumadb.Database]:
    target = ":memory:" if request.param == "memory" else str(tmp_path / "data")
    with lumadb.open(target, shards=2) as handle:
        handle.query("CREATE COLLECTION p")
        handle.collection("p").put_many(
            [(f"p{i:02d}", {"city": ["Oslo", "Rome", None][i % 3], "n": i}) for i in range(30)]
        )
        yield handle


def test_an_index_is_built_and_answers_like_a_scan(db: lumadb.Database) -> None:
    scanned = db.query("SELECT id FROM p WHERE city = 'Oslo' ORDER BY id")
    assert db.query("CREATE INDEX p_city ON p (city)") == [
        {"index": "p_city", "collection": "p", "path": "city"}
    ]
    number = number_of(db, "p_city")
    assert count_entries(db, number) == expected(db, "p", ("city",)) == 20
    assert db.query("SELECT id FROM p WHERE city = 'Oslo' ORDER BY id") == scanned
    assert db._svc.index_ids("p", ["city"], "Oslo") == [r["id"] for r in scanned]
    assert db._svc.index_ids("p", ["n"], 1) is None  # no index there: the caller scans


def test_every_write_keeps_the_index_exact(db: lumadb.Database) -> None:
    db.query("CREATE INDEX p_city ON p (city)")
    people = db.collection("p")
    people.put("p00", {"city": "Rome"})  # moved
    people.put("x1", {"city": "Oslo"})  # new
    people.delete("p03")  # removed
    people.put_many([("x2", {"city": "Oslo"}), ("p06", {"city": ["Oslo"]})])  # array: none
    db.query("UPDATE p SET city = 'Bergen' WHERE id = 'p09'")
    db.query("INSERT INTO p (id, city) VALUES ('x3', 'Oslo')")
    db.query("DELETE FROM p WHERE id = 'x3'")
    want = sorted(i for i, d in people.scan() if d.get("city") == "Oslo")
    assert db._svc.index_ids("p", ["city"], "Oslo") == want
    assert count_entries(db, number_of(db, "p_city")) == expected(db, "p", ("city",))
    assert db.query("SELECT id FROM p WHERE city = 'Oslo' ORDER BY id") == [{"id": i} for i in want]


def test_numbers_and_nested_paths(db: lumadb.Database) -> None:
    people = db.collection("p")
    people.put("f", {"a": {"b": 1.0}})
    people.put("i", {"a": {"b": 1}})
    people.put("s", {"a": {"b": "1"}})
    people.put("t", {"a": {"b": True}})
    scanned = db.query("SELECT id FROM p WHERE a.b = 1 ORDER BY id")
    db.query("CREATE INDEX p_ab ON p (a.b)")
    assert db._svc.index_ids("p", ["a", "b"], 1) == ["f", "i", "t"]  # 1 = 1.0 = true, not '1'
    assert db.query("SELECT id FROM p WHERE a.b = 1 ORDER BY id") == scanned
    assert db._svc.index_ids("p", ["a", "b"], True) == ["f", "i", "t"]
    assert scanned == [{"id": "f"}, {"id": "i"}, {"id": "t"}]
    assert db.query("SELECT id FROM p WHERE a.b = NULL") == []


def test_index_names_paths_and_drops(db: lumadb.Database) -> None:
    db.query("CREATE INDEX p_city ON p (city)")
    with pytest.raises(Conflict):
        db.query("CREATE INDEX p_city ON p (n)")
    with pytest.raises(Conflict, match="indexed on city"):
        db.query("CREATE INDEX other ON p (city)")
    db.query("CREATE INDEX IF NOT EXISTS p_city ON p (city)")  # the same: nothing to do
    for bad, match in [
        ("CREATE INDEX two ON p (n, n)", "each field once"),
        ("CREATE TEXT INDEX two ON p (n, city)", "field paths"),
        ("CREATE INDEX byid ON p (id)", "by id already"),
    ]:
        with pytest.raises(lumadb.LumaError, match=match):
            db.query(bad)
    number = number_of(db, "p_city")
    assert db.query("DROP INDEX p_city") == [{"index": "p_city", "dropped": True}]
    assert count_entries(db, number) == 0
    with pytest.raises(NotFound):
        db.query("DROP INDEX p_city")
    assert db.query("DROP INDEX IF EXISTS p_city") == [{"index": "p_city", "dropped": False}]
    db.query("CREATE INDEX p_city ON p (city)")
    db.drop_collection("p")  # its indexes go with it
    assert count_entries(db, number) == 0


def test_an_index_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    with lumadb.open(path, shards=2) as db:
        db.query("CREATE COLLECTION c; CREATE INDEX c_k ON c (k)")
        db.collection("c").put_many([(f"d{i}", {"k": i % 4}) for i in range(40)])
    with lumadb.open(path, shards=2) as db:
        assert db._svc.index_ids("c", ["k"], 2) == sorted(f"d{i}" for i in range(2, 40, 4))
        db.collection("c").put("d2", {"k": 3})
        assert "d2" not in (db._svc.index_ids("c", ["k"], 2) or [])


def test_a_lost_entry_is_noticed_by_the_check() -> None:
    # The check the crash test uses must see a disagreement: plant one and look.
    with lumadb.open(":memory:", shards=1) as db:
        db.query("CREATE COLLECTION c; CREATE INDEX c_k ON c (k)")
        db.collection("c").put("a", {"k": 1})
        shard = db._svc.store.shards[0]
        start = keys.index_prefix(number_of(db, "c_k"))
        batch = shard.engine.batch()
        batch.delete_range(start, keys.prefix_end(start))
        shard.engine.write(batch, sync=False)
        assert count_entries(db, number_of(db, "c_k")) != expected(db, "c", ("k",))


def test_query_errors_for_index_statements_name_the_problem() -> None:
    with lumadb.open(":memory:") as db:
        with pytest.raises(lumadb.CollectionNotFound):
            db.query("CREATE INDEX x ON nope (a)")
        with pytest.raises(QueryError):
            db.query("CREATE INDEX x ON")


RANGES = [
    "n > 3 AND n <= 12",
    "n BETWEEN 2 AND 2.5",
    "n >= 0 AND n < 1",  # false and true count as 0 and 1
    "5 < n AND 20 >= n AND n <> 7",
    "n > 'a' AND n < 'c'",
    "n BETWEEN 'b' AND 'bz'",
    "n > 3",  # open: arrays and text are above numbers, so a scan answers
    "n > 'a' AND n < 5",  # mixed kinds: a scan answers
    "n BETWEEN ? AND ?",
]


@pytest.mark.parametrize("where", RANGES)
def test_index_ranges_answer_like_a_scan(where: str) -> None:
    values: list[Any] = [*range(15), 2.5, True, False, "a", "b", "ba", "c", None, [1], {"x": 1}]
    with lumadb.open(":memory:", shards=2) as db:
        db.query("CREATE COLLECTION r")
        db.collection("r").put_many([(f"r{i:02d}", {"n": v}) for i, v in enumerate(values)])
        text = f"SELECT id FROM r WHERE {where} ORDER BY id"  # noqa: S608 - constant cases
        params = [1, 4] if "?" in where else None
        scanned = db.query(text, params)
        db.query("CREATE INDEX r_n ON r (n)")
        assert db.query(text, params) == scanned, where
        plan = db.query(f"EXPLAIN {text}", params)[0]["plan"]
        two_sided = RANGES.index(where) < 6 or "?" in where
        assert plan.startswith("Index range" if two_sided else "Scan"), plan


def test_a_numeric_range_is_read_from_the_index() -> None:
    with lumadb.open(":memory:", shards=2) as db:
        db.query("CREATE COLLECTION r; CREATE INDEX r_n ON r (n)")
        db.collection("r").put_many([(f"r{i:02d}", {"n": i}) for i in range(20)])
        svc = db._svc
        assert svc.index_range("r", ["n"], 3, False, 6, True) == ["r04", "r05", "r06"]
        assert svc.index_range("r", ["n"], 3, True, "z", True) is None  # mixed kinds
        assert svc.index_range("r", ["n"], 6, True, 3, True) == []


def test_a_composite_index_answers_its_leading_equalities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lumadb.service.local import LocalService

    with lumadb.open(":memory:", shards=3) as db:
        db.create_collection("o")
        rows = [(f"o{i:03d}", {"shop": f"s{i % 4}", "day": i % 7, "n": i}) for i in range(140)]
        rows.append(("odd", {"shop": "s1"}))  # no day: no entry in the composite index
        db.collection("o").put_many(rows)
        text = "SELECT id FROM o WHERE shop = ? AND day = ? AND n > 10 ORDER BY id"
        scanned = db.query(text, ["s1", 3])
        made = db.query("CREATE INDEX o_shop_day ON o (shop, day)")
        assert made == [{"index": "o_shop_day", "collection": "o", "path": "shop, day"}]
        plan = db.query("EXPLAIN " + text.replace("?", "'x'", 1).replace("?", "1"))
        assert (
            plan[0]["plan"]
            == "Index lookup on o by o_shop_day (shop = ..., day = ...), every shard"
        )
        leading = db.query("EXPLAIN SELECT id FROM o WHERE shop = 's1'")
        assert leading[0]["plan"].startswith("Scan of o")  # 'odd' has no composite entry
        by_shop = db.query("SELECT id FROM o WHERE shop = 's1'")
        assert len(by_shop) == 36  # 35 with a day, and 'odd'

        def no_scan(*args: object, **kwargs: object) -> object:
            raise AssertionError("scanned the collection")

        monkeypatch.setattr(LocalService, "scan", no_scan)
        assert db.query(text, ["s1", 3]) == scanned
        wanted = [i for i in range(140) if i % 4 == 1 and i % 7 == 3 and i > 10]
        assert scanned == [{"id": f"o{i:03d}"} for i in wanted]


def test_unnamed_indexes_are_named_as_postgresql_does() -> None:
    import lumadb

    with lumadb.open(":memory:") as db:
        db.create_collection("docs")
        assert db.execute("CREATE INDEX ON docs (body)").rows[0][0] == "docs_body_idx"
        made = db.execute("CREATE UNIQUE INDEX ON docs (a, b.c)").rows[0][0]
        assert made == "docs_a_b_c_idx"
        assert db.execute("CREATE TEXT INDEX ON docs (body)").rows[0][0] == "docs_body_text"


def test_an_upper_bound_alone_is_answered_by_the_index() -> None:
    import lumadb

    values = [1, 5, 9, "a", "m", [1], {"a": 1}, None, True, 2.5, -3]
    with lumadb.open(":memory:") as db:
        docs = db.create_collection("t")
        docs.put_many([(f"d{i:02d}", {"x": v}) for i, v in enumerate(values)] + [("e", {})])
        db.execute("CREATE INDEX t_x ON t (x)")
        for where in ("x < 5", "x <= 5", "x < 'n'", "x < 'a'", "x < 5 AND x > 1", "x < NULL"):
            by_index = db.execute(f"SELECT id FROM t WHERE {where} ORDER BY id").rows  # noqa: S608
            read_all = db.execute(f"SELECT id FROM t WHERE ({where}) OR 1 = 0 ORDER BY id")  # noqa: S608
            assert by_index == read_all.rows, where
        assert db.execute("SELECT id FROM t WHERE x < 5 ORDER BY id").rows == [
            ["d00"],
            ["d08"],
            ["d09"],
            ["d10"],
        ]
        shown = db.execute("EXPLAIN SELECT id FROM t WHERE x < 5").rows[0][0]
        assert shown.startswith("Index range on t by t_x")
        assert db.execute("EXPLAIN SELECT id FROM t WHERE x > 5").rows[0][0].startswith("Scan")

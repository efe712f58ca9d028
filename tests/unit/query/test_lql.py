"""LQL semantics: NULL logic, ordering, parameters, grouping, writes, and its errors."""

# ruff: noqa: S608 - the statements are built from this file's own constant predicates

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

import lumadb
from lumadb.errors import CollectionNotFound, DocumentExists, QueryError


@pytest.fixture
def db() -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", shards=2) as handle:
        handle.query("CREATE COLLECTION t")
        people = handle.collection("t")
        people.put("a", {"n": 1, "s": "x", "k": None, "arr": [1, 2], "o": {"p": {"q": 5}}})
        people.put("b", {"n": 2, "s": "Y"})
        people.put("c", {"n": None, "s": "x", "arr": [3]})
        people.put("d", {"n": 2.5, "s": 7})
        yield handle


def _ids(db: lumadb.Database, where: str, params: Any = None) -> list[str]:
    rows = db.query(f"SELECT id FROM t WHERE {where} ORDER BY id", params)
    return [r["id"] for r in rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("n > 1", ["b", "d"]),
        ("n <> 2", ["a", "d"]),  # NULL <> 2 is unknown: c is not kept
        ("NOT (n = 2)", ["a", "d"]),
        ("n IS NULL", ["c"]),  # a field set to null and a missing field read alike
        ("k IS NULL", ["a", "b", "c", "d"]),
        ("n IS NOT NULL", ["a", "b", "d"]),
        ("n IN (1, 2)", ["a", "b"]),
        ("n NOT IN (1, NULL)", []),  # unknown for every row, as in SQL
        ("n BETWEEN 1 AND 2", ["a", "b"]),
        ("s = 'x' OR n = 2", ["a", "b", "c"]),
        ("s = 'x' AND n IS NULL", ["c"]),
        ("s LIKE 'x'", ["a", "c"]),
        ("s LIKE 'y'", []),
        ("s ILIKE 'y'", ["b"]),
        ("s NOT LIKE 'x'", ["b", "d"]),  # 7 is not text: NOT LIKE of a number is true
        ("o.p.q = 5", ["a"]),
        ("o['p']['q'] = 5", ["a"]),
        ("arr[1] = 2", ["a"]),
        ("arr[5] IS NULL", ["a", "b", "c", "d"]),
        ("3 = ANY(arr)", ["c"]),
        ("arr @> ARRAY[2, 1]", ["a"]),
        ("s > 5", ["a", "b", "c", "d"]),  # text sorts after numbers; 7 > 5 too
        ("n + 1 > 3", ["d"]),
        ("id = 'b'", ["b"]),
        ("id IN ('c', 'a', 'zz')", ["a", "c"]),
        ("id = 'a' AND n > 5", []),
    ],
)
def test_conditions(db: lumadb.Database, where: str, expected: list[str]) -> None:
    assert _ids(db, where) == expected


def test_parameters_by_position_and_by_name(db: lumadb.Database) -> None:
    assert _ids(db, "n > ? AND s = ?", [1, "Y"]) == ["b"]
    assert _ids(db, "n > :low AND s = :s", {"low": 1, "s": "Y"}) == ["b"]
    rows = db.query("SELECT ? AS first, n FROM t WHERE id = ?", ["hello", "a"])
    assert rows == [{"first": "hello", "n": 1}]
    assert db.query("SELECT id FROM t ORDER BY id LIMIT ? OFFSET ?", [2, 1]) == [
        {"id": "b"},
        {"id": "c"},
    ]
    with pytest.raises(QueryError, match="parameter 2 has no value"):
        db.query("SELECT id FROM t WHERE n > ? AND s = ?", [1])
    with pytest.raises(QueryError, match="not both"):
        db.query("SELECT id FROM t WHERE n > ? AND s = :s", [1])
    with pytest.raises(QueryError, match=":s has no value"):
        db.query("SELECT id FROM t WHERE s = :s", {})


def test_a_repeated_statement_uses_its_plan_with_new_parameters(db: lumadb.Database) -> None:
    text = "SELECT n FROM t WHERE id = ?"
    assert [db.query(text, [i]) for i in ("a", "b", "zz")] == [[{"n": 1}], [{"n": 2}], []]
    engine = db._lql
    assert engine is not None
    assert list(engine._plans).count(text) == 1


def test_ordering_puts_null_first_ascending_and_last_descending(db: lumadb.Database) -> None:
    up = [r["id"] for r in db.query("SELECT id FROM t ORDER BY n, id")]
    down = [r["id"] for r in db.query("SELECT id FROM t ORDER BY n DESC, id")]
    assert up == ["c", "a", "b", "d"]
    assert down == ["d", "b", "a", "c"]
    last = [r["id"] for r in db.query("SELECT id FROM t ORDER BY n NULLS LAST LIMIT 4")]
    assert last == ["a", "b", "d", "c"]
    mixed = [r["s"] for r in db.query("SELECT s FROM t ORDER BY s DESC, id")]
    assert mixed == ["x", "x", "Y", 7]  # text above numbers
    assert db.query("SELECT id FROM t ORDER BY 1 DESC LIMIT 1") == [{"id": "d"}]


def test_grouping_and_aggregates(db: lumadb.Database) -> None:
    rows = db.query(
        "SELECT s, count(*) AS c, count(n) AS cn, sum(n) AS total, min(n) AS lo, "
        "max(n) AS hi, avg(n) AS mean FROM t GROUP BY s HAVING count(*) >= 1 ORDER BY c DESC, s"
    )
    assert rows[0] == {"s": "x", "c": 2, "cn": 1, "total": 1, "lo": 1, "hi": 1, "mean": 1.0}
    assert {r["s"] for r in rows} == {"x", "Y", 7}
    assert db.query("SELECT count(*) AS c, count(DISTINCT s) AS d FROM t") == [{"c": 4, "d": 3}]
    assert db.query("SELECT count(*) AS c, sum(n) AS s FROM t WHERE n > 100") == [
        {"c": 0, "s": None}
    ]
    assert db.query("SELECT s FROM t GROUP BY s HAVING count(*) > 1") == [{"s": "x"}]
    with pytest.raises(QueryError, match="must appear in GROUP BY"):
        db.query("SELECT s, n FROM t GROUP BY s")
    with pytest.raises(QueryError, match="not allowed here"):
        db.query("SELECT id FROM t WHERE count(*) > 1")


def test_distinct_and_select_without_from(db: lumadb.Database) -> None:
    assert db.query("SELECT DISTINCT s FROM t WHERE s = 'x'") == [{"s": "x"}]
    assert db.query("SELECT 1 + 1 AS two, 'a' || 'b' AS ab, 7 % 3 AS m, -7 / 2 AS q") == [
        {"two": 2, "ab": "ab", "m": 1, "q": -3}
    ]
    assert db.query("SELECT 1 AS one WHERE 1 = 0") == []


def test_writes_return_what_they_wrote(db: lumadb.Database) -> None:
    made = db.query("INSERT INTO t (name) VALUES ('gen') RETURNING id, name")
    assert made[0]["name"] == "gen"
    assert db.collection("t").get(made[0]["id"]) == {"name": "gen"}
    with pytest.raises(DocumentExists):
        db.query("INSERT INTO t (id, n) VALUES ('a', 9)")
    assert db.query("INSERT INTO t (id, n) VALUES ('a', 9) ON CONFLICT (id) DO NOTHING") == [
        {"count": 0}
    ]
    changed = db.query("UPDATE t SET n = n * 10, o.p.r = 1 WHERE n >= 2 RETURNING id, n")
    assert sorted((r["id"], r["n"]) for r in changed) == [("b", 20), ("d", 25.0)]
    assert db.collection("t").get("b") == {"n": 20, "s": "Y", "o": {"p": {"r": 1}}}
    assert db.query("DELETE FROM t WHERE s = 'x'") == [{"count": 2}]
    assert sorted(i for i, _ in db.collection("t").scan()) == sorted(["b", "d", made[0]["id"]])
    with pytest.raises(QueryError, match="id cannot be changed"):
        db.query("UPDATE t SET id = 'z'")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELEC 1", "line 1, column"),
        ("SELECT FROM WHERE", "line 1"),
        ("", "empty"),
        ("VACUUM", "not supported"),
        ("SELECT a FROM t JOIN u ON t.id = u.id", "joins"),
        ("SELECT * , * FROM t", "only once"),
        ("SELECT id FROM t WHERE s", "condition must be"),
        ("SELECT 1 / 0", "division by zero"),
        ("SELECT 'a' + 1", "needs numbers"),
        ("CREATE COLLECTION a b", "expected CREATE COLLECTION"),
        ("SELECT arr[-1] FROM t", "not supported"),
        ("INSERT INTO t VALUES (1)", "columns"),
        ("INSERT INTO t (a, a) VALUES (1, 2)", "twice"),
        ("INSERT INTO t (a) VALUES (1, 2)", "row of 2 values"),
        ("SELECT id FROM t LIMIT -1", "LIMIT"),
        ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "nested too deeply"),
        ("SELECT " + " + ".join(["1"] * 20000), "nested too deeply"),
        ("SELECT id FROM t WHERE " + " AND ".join(["n = n"] * 5000), "nested too deeply"),
    ],
)
def test_errors_are_query_errors(db: lumadb.Database, text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        db.query(text)


def test_a_missing_collection_is_not_found(db: lumadb.Database) -> None:
    with pytest.raises(CollectionNotFound):
        db.query("SELECT * FROM nope")
    assert db.query("DROP COLLECTION IF EXISTS nope") == [{"collection": "nope", "dropped": False}]
    with pytest.raises(QueryError):
        db.query(12)  # type: ignore[arg-type]


# --- the same answers as SQLite ---------------------------------------------------------------

PREDICATES = [
    "a > b",
    "a = b OR c < 3",
    "NOT (a <= 2) AND b IS NOT NULL",
    "a + b > c * 2",
    "a BETWEEN 1 AND 4",
    "c IN (1, 3, 5)",
    "a - c <> 0",
    "(a > 2 OR b > 2) AND NOT c = 0",
    "COALESCE(a, b, c) >= 3",
    "CASE WHEN a > b THEN a ELSE b END > 3",
    "a IS NULL OR b IS NULL",
    "a * 2 - b BETWEEN c AND 10",
]


def test_whole_number_conditions_agree_with_sqlite() -> None:
    rng = random.Random(7)
    rows = [
        {k: (rng.randint(0, 5) if rng.random() > 0.2 else None) for k in "abc"} for _ in range(200)
    ]
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE t (id TEXT, a INT, b INT, c INT)")
    lite.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(f"r{i:03d}", r["a"], r["b"], r["c"]) for i, r in enumerate(rows)],
    )
    with lumadb.open(":memory:", shards=2) as db:
        db.query("CREATE COLLECTION t")
        db.collection("t").put_many([(f"r{i:03d}", r) for i, r in enumerate(rows)])
        cases = 0
        for where in PREDICATES:
            expected = [r[0] for r in lite.execute(f"SELECT id FROM t WHERE {where} ORDER BY id")]
            assert _ids(db, where) == expected, where
            cases += 1
            total = lite.execute(f"SELECT count(*), sum(a), min(b), max(c) FROM t WHERE {where}")
            ours = db.query(f"SELECT count(*), sum(a), min(b), max(c) FROM t WHERE {where}")
            assert tuple(ours[0].values()) == total.fetchone(), where
    assert cases == len(PREDICATES)


def test_explain_says_how_and_runs_nothing(db: lumadb.Database) -> None:
    lookup = db.query("EXPLAIN SELECT n FROM t WHERE id IN ('a', 'b') AND n > 1")
    assert [r["plan"] for r in lookup] == [
        "Key lookup on t: 2 ids, reading only the shards that hold them",
        "Filter: id IN ('a', 'b') AND n > 1",
        "Output: n",
    ]
    scan = [r["plan"] for r in db.query("EXPLAIN DELETE FROM t WHERE n > 1")]
    assert scan[1] == "Scan of t in id order, every shard"
    assert db.collection("t").count() == 4  # nothing was deleted
    with pytest.raises(CollectionNotFound):
        db.query("EXPLAIN SELECT * FROM nope")
    with pytest.raises(QueryError, match="one statement"):
        db.query("EXPLAIN")
    engine = db._lql
    assert engine is not None
    prepared = engine.prepare("EXPLAIN UPDATE t SET n = 1")
    assert prepared.needs == [("write", "t"), ("read", "t")]  # the statement's own rights


# --- joins ------------------------------------------------------------------------------------

JOINS = [
    "SELECT u.id, o.id FROM u JOIN o ON o.uid = u.id ORDER BY u.id, o.id",
    "SELECT u.id, o.id FROM u LEFT JOIN o ON o.uid = u.id ORDER BY u.id, o.id",
    "SELECT u.id, count(o.id), sum(o.v) FROM u LEFT JOIN o ON u.id = o.uid GROUP BY u.id "
    "ORDER BY u.id",
    "SELECT u.id, o.id FROM u JOIN o ON o.v > u.k ORDER BY u.id, o.id",
    "SELECT u.id, o.id FROM u LEFT JOIN o ON o.uid = u.id AND o.v > 2 ORDER BY u.id, o.id",
    "SELECT u.id, o.id, p.id FROM u JOIN o ON o.uid = u.id JOIN o AS p ON p.v = o.v "
    "WHERE p.id <> o.id ORDER BY u.id, o.id, p.id",
    "SELECT u.k, count(*) FROM u JOIN o ON o.uid = u.id WHERE o.v IS NOT NULL GROUP BY u.k "
    "ORDER BY u.k",
]


def test_joins_agree_with_sqlite() -> None:
    rng = random.Random(11)
    users = [(f"u{i}", rng.choice([None, 0, 1, 2])) for i in range(8)]
    orders = [
        (f"o{i:02d}", rng.choice([f"u{j}" for j in range(10)]), rng.choice([None, 1, 2, 3, 4]))
        for i in range(25)
    ]
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE u (id TEXT, k INT)")
    lite.execute("CREATE TABLE o (id TEXT, uid TEXT, v INT)")
    lite.executemany("INSERT INTO u VALUES (?, ?)", users)
    lite.executemany("INSERT INTO o VALUES (?, ?, ?)", orders)
    with lumadb.open(":memory:", shards=2) as db:
        db.query("CREATE COLLECTION u; CREATE COLLECTION o")
        db.collection("u").put_many([(i, {"k": k}) for i, k in users])
        db.collection("o").put_many([(i, {"uid": u, "v": v}) for i, u, v in orders])
        for text in JOINS:
            expected = [list(r) for r in lite.execute(text)]
            assert expected, text  # the data gives every join something to find
            assert db.execute(text).rows == expected, text


def test_join_columns_must_name_their_collection(db: lumadb.Database) -> None:
    db.query("CREATE COLLECTION u2")
    with pytest.raises(QueryError, match="must name its collection"):
        db.query("SELECT n FROM t JOIN u2 ON u2.id = t.id")
    with pytest.raises(QueryError, match="own name"):
        db.query("SELECT t.n FROM t JOIN t ON t.id = t.id")
    with pytest.raises(QueryError, match="LEFT JOIN"):
        db.query("SELECT t.n FROM t RIGHT JOIN u2 ON u2.id = t.id")
    lines = [r["plan"] for r in db.query("EXPLAIN SELECT t.n FROM t JOIN u2 ON u2.id = t.id")]
    assert lines[1] == "Join u2 (hash join, u2 read once): on u2.id = t.id"


def test_a_join_needs_reading_every_collection(db: lumadb.Database) -> None:
    db.query("SELECT 1")  # makes the engine
    engine = db._lql
    assert engine is not None
    prepared = engine.prepare("SELECT a.n FROM t a JOIN other b ON b.id = a.id")
    assert prepared.needs == [("read", "t"), ("read", "other")]


# --- subqueries and WITH ----------------------------------------------------------------------

NESTED = [
    "SELECT id FROM u WHERE id IN (SELECT uid FROM o WHERE v > 2) ORDER BY id",
    "SELECT id FROM u WHERE id NOT IN (SELECT uid FROM o WHERE uid IS NOT NULL) ORDER BY id",
    "SELECT id, (SELECT max(v) FROM o) AS top FROM u ORDER BY id",
    "SELECT id FROM o WHERE v = (SELECT min(v) FROM o) ORDER BY id",
    "SELECT id FROM u WHERE k IN (SELECT v FROM o WHERE uid IN (SELECT id FROM u WHERE k = 1)) "
    "ORDER BY id",
    "WITH busy AS (SELECT uid, count(*) AS n FROM o GROUP BY uid) "
    "SELECT u.id, b.n FROM u JOIN busy b ON b.uid = u.id ORDER BY u.id",
    "WITH a AS (SELECT id, v FROM o WHERE v > 1), b AS (SELECT id FROM a WHERE v < 4) "
    "SELECT id FROM b ORDER BY id",
]


def test_subqueries_and_with_agree_with_sqlite() -> None:
    rng = random.Random(5)
    users = [(f"u{i}", rng.choice([None, 0, 1, 2, 3])) for i in range(8)]
    orders = [
        (f"o{i:02d}", rng.choice([f"u{j}" for j in range(10)]), rng.choice([None, 1, 2, 3, 4]))
        for i in range(25)
    ]
    lite = sqlite3.connect(":memory:")
    lite.execute("CREATE TABLE u (id TEXT, k INT)")
    lite.execute("CREATE TABLE o (id TEXT, uid TEXT, v INT)")
    lite.executemany("INSERT INTO u VALUES (?, ?)", users)
    lite.executemany("INSERT INTO o VALUES (?, ?, ?)", orders)
    with lumadb.open(":memory:", shards=2) as db:
        db.query("CREATE COLLECTION u; CREATE COLLECTION o")
        db.collection("u").put_many([(i, {"k": k}) for i, k in users])
        db.collection("o").put_many([(i, {"uid": u, "v": v}) for i, u, v in orders])
        for text in NESTED:
            expected = [list(r) for r in lite.execute(text)]
            assert expected, text
            assert db.execute(text).rows == expected, text


def test_parameters_are_numbered_in_text_order(db: lumadb.Database) -> None:
    # sqlglot keeps LIMIT before WHERE and subqueries apart: ? follow the text regardless
    rows = db.query(
        "SELECT ? AS tag, id FROM t WHERE n > ? AND id IN (SELECT id FROM t WHERE s = ?) "
        "ORDER BY id LIMIT ?",
        ["x", 0, "x", 5],
    )
    assert rows == [{"tag": "x", "id": "a"}]
    assert db.query("SELECT id FROM t WHERE n > ? AND id = ?", [0, "b"]) == [{"id": "b"}]
    withs = "WITH w AS (SELECT id, n FROM t WHERE n > ?) SELECT id FROM w WHERE n < ? ORDER BY id"
    assert db.query(withs, [1, 3]) == [{"id": "b"}, {"id": "d"}]


def test_subquery_limits_are_clear_errors(db: lumadb.Database) -> None:
    with pytest.raises(QueryError, match="correlated"):
        db.query("SELECT id FROM t x WHERE n IN (SELECT n FROM t y WHERE y.s = x.s)")
    with pytest.raises(QueryError, match="more than one row"):
        db.query("SELECT id FROM t WHERE n = (SELECT n FROM t)")
    with pytest.raises(QueryError, match="exactly one column"):
        db.query("SELECT id FROM t WHERE n IN (SELECT n, s FROM t)")
    with pytest.raises(QueryError, match="RECURSIVE"):
        db.query("WITH RECURSIVE r AS (SELECT 1 AS x) SELECT x FROM r")
    engine = db._lql
    assert engine is not None
    needs = engine.prepare(
        "WITH w AS (SELECT id FROM other) DELETE FROM t WHERE id IN (SELECT id FROM w)"
    ).needs
    assert ("write", "t") in needs
    assert ("read", "other") in needs
    assert ("read", "w") not in needs
    db.query("CREATE COLLECTION other")
    db.collection("other").put("a", {})
    gone = db.query(
        "WITH w AS (SELECT id FROM other) DELETE FROM t WHERE id IN (SELECT id FROM w) RETURNING id"
    )
    assert gone == [{"id": "a"}]


def test_round_takes_its_digits_and_rounds_half_away_from_zero(db: lumadb.Database) -> None:
    found = db.query(
        "SELECT round(1.41421, 3) AS a, round(2.5) AS b, round(-2.5) AS c, "
        "round(1234.5, -2) AS d, round(7, -1) AS e, round(0.125, 2) AS f"
    )
    assert found == [{"a": 1.414, "b": 3.0, "c": -3.0, "d": 1200.0, "e": 10, "f": 0.13}]

"""The columnar replica against the documents: generated aggregate queries, both answers equal.

Two in-memory databases hold the same documents: one answers aggregates from its DuckDB
replica, the other (``analytics.columnar = false``) by reading documents. The documents mix
what the replica must get right: integers and floats in one field, texts, booleans, nested
objects, missing fields and NULLs, a field that holds a number in some documents and a text
in others (which the replica must refuse, leaving the query to the documents), and arrays.
Between rounds of queries both databases take the same writes, so the replica also follows
the change feed. Sums of floats may differ in the last bits (DuckDB adds in parallel). A
second collection ``u`` refers to ``t`` and is joined with it (JOIN and LEFT JOIN on numbers,
texts, ids and fields of mixed kinds).
"""

# ruff: noqa: S608 - the statements are generated here, from this file's own grammar

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumadb
from lumadb.config import load_settings
from lumadb.errors import QueryError

CASES = 600
JOIN_CASES = 250
ROWS = 300
U_ROWS = 120

KEYS = ["k", "t", "flag", "nested.v", "mixed", "missing"]
NUMBERS = ["x", "k", "nested.v", "mixed", "x * 2", "k + nested.v", "abs(k - 3)"]
ANY = ["x", "k", "t", "flag", "nested.v", "mixed", "missing", "id"]
CONDITIONS = [
    "k > ?",
    "x <= ?",
    "t = ?",
    "t LIKE 'a%'",
    "flag",
    "NOT flag",
    "nested.v BETWEEN 1 AND ?",
    "k IN (1, 2, ?)",
    "t IS NULL",
    "x IS NOT NULL",
    "mixed > 2",
    "coalesce(k, 0) < ?",
    "CASE WHEN k > 2 THEN t ELSE 'z' END = 'z'",
    "(t || 'x') = 'abx'",
    "k = 'text'",
]


def _doc(rng: random.Random, i: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if rng.random() < 0.9:
        doc["k"] = rng.choice([None, 0, 1, 2, 3, 4, 5, -1])
    doc["x"] = rng.choice([None, rng.randint(-5, 9), round(rng.uniform(-5, 9), 3)])
    doc["t"] = rng.choice([None, "a", "ab", "b", "abc", "", "Z"])
    doc["flag"] = rng.choice([True, False, None])
    if rng.random() < 0.8:
        doc["nested"] = {"v": rng.choice([None, 1, 2, 3]), "w": "deep"}
    doc["mixed"] = rng.randint(0, 4) if i % 10 else "four"
    doc["tags"] = ["a", "b"][: rng.randint(0, 2)]
    return doc


JOIN_KEYS = ["a.k", "a.t", "b.name", "b.k", "a.id"]
JOIN_AGGREGATES = [
    "count(*)",
    "sum(b.w)",
    "avg(a.x)",
    "min(b.name)",
    "max(a.t)",
    "count(b.id)",
    "count(DISTINCT a.id)",
    "sum(a.x * b.w)",
    "max(b.mixed)",
]
JOIN_ON = [
    "a.k = b.k",
    "b.ref = a.id",
    "a.id = b.ref AND b.w > 1",
    "a.t = b.name",
    "a.mixed = b.mixed",
]
JOIN_CONDITIONS = ["a.k > ?", "b.w <= ?", "b.name IS NULL", "a.flag", "b.k IN (1, ?)"]


def _u_doc(rng: random.Random, i: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"k": rng.choice([None, 0, 1, 2, 3, 9])}
    if rng.random() < 0.85:
        doc["ref"] = f"d{rng.randrange(ROWS + 20):04d}"
    doc["w"] = rng.choice([None, rng.randint(0, 5), round(rng.uniform(0, 5), 2)])
    doc["name"] = rng.choice([None, "a", "ab", "q"])
    doc["mixed"] = rng.randint(0, 4) if i % 7 else "four"
    return doc


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[lumadb.Database, lumadb.Database, random.Random]]:
    rng = random.Random(7)
    columnar = lumadb.open(":memory:", config=load_settings(overrides={"storage.shards": 3}))
    rows = lumadb.open(
        ":memory:",
        config=load_settings(overrides={"storage.shards": 3, "analytics.columnar": False}),
    )
    for db in (columnar, rows):
        db.create_collection("t")
        db.create_collection("u")
    for i in range(ROWS):
        doc = _doc(rng, i)
        for db in (columnar, rows):
            db.collection("t").put(f"d{i:04d}", doc)
    for i in range(U_ROWS):
        doc = _u_doc(rng, i)
        for db in (columnar, rows):
            db.collection("u").put(f"u{i:04d}", doc)
    yield columnar, rows, rng
    columnar.close()
    rows.close()


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, list[Any]]:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=2, unique=True))
    aggregates = draw(
        st.lists(
            st.one_of(
                st.just("count(*)"),
                st.sampled_from(NUMBERS).map(lambda e: f"sum({e})"),
                st.sampled_from(NUMBERS).map(lambda e: f"avg({e})"),
                st.sampled_from(ANY).map(lambda e: f"min({e})"),
                st.sampled_from(ANY).map(lambda e: f"max({e})"),
                st.sampled_from(ANY).map(lambda e: f"count({e})"),
                st.sampled_from(ANY).map(lambda e: f"count(DISTINCT {e})"),
            ),
            min_size=1,
            max_size=3,
        )
    )
    conditions = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2))
    params = [draw(st.sampled_from([0, 2, 3.5, "ab", None])) for c in conditions for _ in c]
    params = params[: sum(c.count("?") for c in conditions)]
    sql = f"SELECT {', '.join([*keys, *aggregates])} FROM t"
    if conditions:
        sql += " WHERE " + draw(st.sampled_from([" AND ", " OR "])).join(conditions)
    if keys:
        sql += f" GROUP BY {', '.join(keys)}"
        if draw(st.booleans()):
            sql += " HAVING count(*) > 1"
        sql += f" ORDER BY {', '.join(keys)}"
        if draw(st.booleans()):
            sql += " LIMIT 3"
    return sql, params


@st.composite
def join_statements(draw: st.DrawFn) -> tuple[str, list[Any]]:
    keys = draw(st.lists(st.sampled_from(JOIN_KEYS), max_size=2, unique=True))
    aggregates = draw(st.lists(st.sampled_from(JOIN_AGGREGATES), min_size=1, max_size=3))
    side = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
    sql = f"SELECT {', '.join([*keys, *aggregates])} FROM t a {side} u b"
    sql += f" ON {draw(st.sampled_from(JOIN_ON))}"
    conditions = draw(st.lists(st.sampled_from(JOIN_CONDITIONS), max_size=2))
    params = [draw(st.sampled_from([0, 2, 3.5, "ab", None])) for c in conditions if "?" in c]
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if keys:
        sql += f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    return sql, params


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, str | bool) or isinstance(b, str | bool):
            return False
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b and type(a) is type(b))


def _answer(db: lumadb.Database, sql: str, params: list[Any]) -> Any:
    try:
        result = db.execute(sql, params)
    except QueryError as exc:
        return ("error", str(exc))
    return result.columns, result.rows


@settings(
    max_examples=CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(statement=statements(), writes=st.integers(0, 3))
def test_the_replica_answers_what_the_documents_answer(
    twins: tuple[lumadb.Database, lumadb.Database, random.Random],
    statement: tuple[str, list[Any]],
    writes: int,
) -> None:
    columnar, rows, rng = twins
    for _ in range(writes):  # the same writes to both, between queries
        doc_id = f"d{rng.randrange(ROWS + 20):04d}"
        doc = _doc(rng, rng.randrange(ROWS))
        delete = rng.random() < 0.2
        for db in (columnar, rows):
            if delete:
                db.collection("t").delete(doc_id)
            else:
                db.collection("t").put(doc_id, doc)
    sql, params = statement
    assert _agree(_answer(columnar, sql, params), _answer(rows, sql, params)), sql


@settings(
    max_examples=JOIN_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(statement=join_statements(), writes=st.integers(0, 2))
def test_joined_aggregates_agree(
    twins: tuple[lumadb.Database, lumadb.Database, random.Random],
    statement: tuple[str, list[Any]],
    writes: int,
) -> None:
    columnar, rows, rng = twins
    for _ in range(writes):  # the same writes to both: the replica follows both feeds
        doc_id = f"u{rng.randrange(U_ROWS + 10):04d}"
        doc = _u_doc(rng, rng.randrange(U_ROWS))
        for db in (columnar, rows):
            db.collection("u").put(doc_id, doc)
    sql, params = statement
    assert _agree(_answer(columnar, sql, params), _answer(rows, sql, params)), sql


def _agree(ours: Any, expected: Any) -> bool:
    if expected[0] == "error" or ours[0] == "error":
        return bool(ours == expected)
    if ours[0] != expected[0] or len(ours[1]) != len(expected[1]):
        return False
    return all(
        _same(a, b)
        for got, want in zip(ours[1], expected[1], strict=True)
        for a, b in zip(got, want, strict=True)
    )


FIXED = [
    ("SELECT t, count(*), sum(x), max(k) FROM t GROUP BY t ORDER BY t", []),
    ("SELECT nested.v, avg(k) FROM t WHERE k > ? GROUP BY nested.v ORDER BY nested.v", [1]),
    ("SELECT count(*), count(DISTINCT t), min(flag) FROM t", []),
]


def test_the_replica_answers_and_declines(
    twins: tuple[lumadb.Database, lumadb.Database, random.Random],
) -> None:
    columnar, rows, _ = twins
    before = columnar.stats()["columnar"]
    for sql, params in FIXED:
        assert _agree(_answer(columnar, sql, params), _answer(rows, sql, params)), sql
    joined = (
        "SELECT b.name, count(*), sum(a.x) FROM t a JOIN u b ON b.ref = a.id "
        "GROUP BY b.name ORDER BY 1"
    )
    assert _agree(_answer(columnar, joined, []), _answer(rows, joined, [])), joined
    after = columnar.stats()["columnar"]
    assert after["answered"] == before["answered"] + len(FIXED) + 1, after
    sql = "SELECT max(mixed), count(tags) FROM t"  # mixed kinds and arrays: documents answer
    assert _agree(_answer(columnar, sql, []), _answer(rows, sql, []))
    assert columnar.stats()["columnar"]["declined"] == after["declined"] + 1
    assert rows.stats()["columnar"] == {"answered": 0, "declined": 0}


def test_canary_a_replica_that_misses_deletes_is_caught(
    twins: tuple[lumadb.Database, lumadb.Database, random.Random],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The comparison above catches a replica that falls out of step with the documents.
    from lumadb.analytics import replica

    applied = replica.Replica._apply

    def forgetful(self: Any, table: Any, shard: int, changes: list[Any], cursor: int) -> None:
        kept = [c for c in changes if c.op != "delete"]
        applied(self, table, shard, kept, cursor)

    monkeypatch.setattr(replica.Replica, "_apply", forgetful)
    columnar, rows, _ = twins
    for db in (columnar, rows):
        for i in range(0, 40, 2):
            db.collection("t").delete(f"d{i:04d}")
    sql = FIXED[0][0]
    assert not _agree(_answer(columnar, sql, []), _answer(rows, sql, []))

"""LQL against SQLite on generated queries, and the parser against generated garbage.

The same rows are loaded into SQLite (columns ``a``, ``b``, ``c`` of whole numbers, ``s`` of
text, any of them NULL) and into a LumaDB collection (documents with those fields, a NULL one
sometimes missing altogether). Hypothesis writes queries in the SQL both share — arithmetic
without division, comparisons, AND/OR/NOT, IS NULL, IN, BETWEEN, CASE, COALESCE, LIKE, ``||``,
aggregates, GROUP BY, ORDER BY with LIMIT — and both must return the same rows. Integer and
text expressions are kept apart, because SQLite converts between them by column affinity and
LQL does not. The parser must answer any text with a ``QueryError``, never a crash.
"""

# ruff: noqa: S608 - the statements are generated here, from this file's own grammar

from __future__ import annotations

import contextlib
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumadb
from lumadb.errors import LumaError, QueryError
from lumadb.query.parser import parse

CASES = 1200  # generated statements checked against SQLite
ROWS = 40


def _rows(seed: int, nulls: float) -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def maybe(value: Any) -> Any:
        return None if rng.random() < nulls else value

    return [
        {
            "a": maybe(rng.randint(-3, 5)),
            "b": maybe(rng.randint(0, 4)),
            "c": maybe(rng.randint(-2, 2)),
            "s": maybe(rng.choice(["ab", "b", "abc", "", "ba", "cab"])),
        }
        for _ in range(ROWS)
    ]


DATASETS = [_rows(1, 0.0), _rows(2, 0.2), _rows(3, 0.5)]


@pytest.fixture(scope="module")
def engines() -> Iterator[list[tuple[sqlite3.Connection, lumadb.Database]]]:
    opened = []
    for number, rows in enumerate(DATASETS):
        lite = sqlite3.connect(":memory:")
        lite.execute("CREATE TABLE t (id TEXT, a INTEGER, b INTEGER, c INTEGER, s TEXT)")
        lite.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            [(f"r{i:02d}", r["a"], r["b"], r["c"], r["s"]) for i, r in enumerate(rows)],
        )
        db = lumadb.open(":memory:", shards=2)
        db.create_collection("t")
        docs = []
        for i, row in enumerate(rows):
            # A NULL is stored as null or left out, alternately: LQL reads both as NULL.
            doc = {k: v for k, v in row.items() if v is not None or (i + number) % 2}
            docs.append((f"r{i:02d}", doc))
        db.collection("t").put_many(docs)
        opened.append((lite, db))
    yield opened
    for lite, db in opened:
        lite.close()
        db.close()


# --- the grammar both engines share ---------------------------------------------------------

INT_COLUMNS = st.sampled_from(["a", "b", "c"])
small = st.integers(-3, 6).map(str)


def _ints(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(INT_COLUMNS, small, st.just("NULL"))
    if depth == 0:
        return leaf
    inner = _ints(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(inner, inner).map(lambda t: f"COALESCE({t[0]}, {t[1]})"),
        st.tuples(_bools(depth - 1), inner, inner).map(
            lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"
        ),
        inner.map(lambda e: f"abs({e})"),
    )


def _texts() -> st.SearchStrategy[str]:
    literal = st.sampled_from(["'ab'", "'b'", "''", "'x'"])
    leaf = st.one_of(st.just("s"), literal)
    return st.one_of(
        leaf,
        st.tuples(leaf, leaf).map(lambda t: f"({t[0]} || {t[1]})"),
        leaf.map(lambda e: f"upper({e})"),
    )


def _bools(depth: int) -> st.SearchStrategy[str]:
    ints = _ints(0) if depth == 0 else _ints(depth - 1)
    compare = st.tuples(ints, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), ints).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    text_compare = st.tuples(_texts(), st.sampled_from(["=", "<>", "<", ">"]), _texts()).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    leaf = st.one_of(
        compare,
        text_compare,
        ints.map(lambda e: f"{e} IS NULL"),
        ints.map(lambda e: f"{e} IS NOT NULL"),
        st.tuples(ints, st.lists(small, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]} IN ({', '.join(t[1])})"
        ),
        st.tuples(ints, small, small).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(st.just("s"), st.sampled_from(["'a%'", "'%b'", "'_b%'", "'%'", "'ab'"])).map(
            lambda t: f"{t[0]} LIKE {t[1]}"
        ),
    )
    if depth == 0:
        return leaf
    inner = _bools(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda e: f"NOT ({e})"),
    )


WHERE = _bools(2)
INTS = _ints(2)


@st.composite
def statements(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["filter", "project", "aggregate", "group", "top"]))
    where = draw(WHERE)
    if kind == "filter":
        return f"SELECT id FROM t WHERE {where} ORDER BY id"
    if kind == "project":
        return f"SELECT id, {draw(INTS)} AS v, {draw(_texts())} AS w FROM t ORDER BY id"
    if kind == "aggregate":
        value = draw(INTS)
        return (
            f"SELECT count(*), count({value}), sum({value}), min({value}), max({value}), "
            f"count(DISTINCT {value}) FROM t WHERE {where}"
        )
    if kind == "group":
        key = draw(INT_COLUMNS)
        value = draw(INTS)
        return (
            f"SELECT {key}, count(*), sum({value}), max({value}) FROM t WHERE {where} "
            f"GROUP BY {key} ORDER BY {key}"
        )
    value = draw(INTS)
    direction = draw(st.sampled_from(["", " DESC"]))
    limit = draw(st.integers(0, 12))
    return f"SELECT id, {value} AS v FROM t ORDER BY v{direction}, id LIMIT {limit}"


def _normal(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


@settings(
    max_examples=CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(statement=statements(), which=st.integers(0, len(DATASETS) - 1))
def test_lql_returns_what_sqlite_returns(
    engines: list[tuple[sqlite3.Connection, lumadb.Database]], statement: str, which: int
) -> None:
    lite, db = engines[which]
    expected = [list(row) for row in lite.execute(statement)]
    ours = db.execute(statement)
    assert [[_normal(v) for v in row] for row in ours.rows] == expected, statement


# --- the parser does not crash ----------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE",
        "CREATE", "DROP", "COLLECTION", "GROUP", "BY", "ORDER", "LIMIT", "(", ")", ",", ";",
        "*", "=", "<>", "?", ":x", "'a'", "1", "1.5", "t", "a", "a.b", "a[0]", "NULL", "AND",
        "NOT", "IN", "CASE", "WHEN", "THEN", "END", "||", "::", "@>", "[", "]", "-", "$1",
    ]
)  # fmt: skip
SOUP = st.lists(WORDS, min_size=1, max_size=12).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=60), SOUP))
def test_the_parser_answers_any_text_with_a_query_error(text: str) -> None:
    with contextlib.suppress(QueryError):  # anything else fails the test
        parse(text)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=SOUP, params=st.lists(st.one_of(st.integers(-2, 2), st.text(max_size=2)), max_size=3))
def test_running_garbage_raises_only_luma_errors(
    engines: list[tuple[sqlite3.Connection, lumadb.Database]], text: str, params: list[Any]
) -> None:
    db = engines[0][1]
    if any(word in text.upper().split() for word in ("DROP", "DELETE", "UPDATE", "INSERT")):
        return  # reads only: the generated data stays as the other tests expect it
    with contextlib.suppress(LumaError):  # anything else fails the test
        db.query(text, params)

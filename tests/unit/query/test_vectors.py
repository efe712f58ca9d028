"""pgvector's operators in LQL, exact over the rows read, against numpy's answers."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import pytest

import lumadb
from lumadb.errors import QueryError
from lumadb.query.parser import Lql, parse_one

DIM = 8


@pytest.fixture(scope="module")
def db() -> Iterator[tuple[lumadb.Database, dict[str, list[float]]]]:
    rng = random.Random(3)
    vectors = {f"v{i:02d}": [rng.uniform(-1, 1) for _ in range(DIM)] for i in range(40)}
    with lumadb.open(":memory:", shards=2) as opened:
        opened.create_collection("v")
        opened.collection("v").put_many([(k, {"e": e}) for k, e in vectors.items()])
        yield opened, vectors


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("op", "reference"),
    [
        ("<->", math.dist),
        ("<=>", lambda a, b: 1 - _dot(a, b) / (math.hypot(*a) * math.hypot(*b))),
        ("<#>", lambda a, b: -_dot(a, b)),
    ],
)
def test_nearest_by_each_operator(
    db: tuple[lumadb.Database, dict[str, list[float]]], op: str, reference: object
) -> None:
    database, vectors = db
    query = [0.5] * DIM
    text = f"SELECT id, e {op} ? AS d FROM v ORDER BY d LIMIT 5"  # noqa: S608 - fixed operators
    found = database.query(text, [query])
    want = sorted(vectors, key=lambda k: reference(vectors[k], query))[:5]  # type: ignore[operator]
    assert [r["id"] for r in found] == want
    for row in found:
        assert row["d"] == pytest.approx(reference(vectors[row["id"]], query))  # type: ignore[operator]


def test_operators_parse_and_print_back() -> None:
    for text in ["SELECT a <-> b FROM t", "SELECT a <=> b FROM t", "SELECT a <#> b FROM t"]:
        assert parse_one(text).sql(dialect=Lql) == text


def test_bad_vectors_are_query_errors(db: tuple[lumadb.Database, dict[str, list[float]]]) -> None:
    database, _ = db
    for text, words in [
        ("SELECT e <-> [1, 2] FROM v", "one length, not 8 and 2"),
        ("SELECT e <=> 'x' FROM v", "arrays of numbers"),
        ("SELECT e <#> [true] FROM v", "arrays of numbers"),
        ("SELECT id FROM v ORDER BY e <=> embed('cats') LIMIT 3", "embedding model"),
        ("SELECT nosuch(1)", "not a function"),
    ]:
        with pytest.raises(QueryError, match=words):
            database.query(text)
    assert database.query("SELECT NULL <-> [1] AS d") == [{"d": None}]
    assert database.query("SELECT [0, 0] <=> [1, 0] AS d") == [{"d": None}]

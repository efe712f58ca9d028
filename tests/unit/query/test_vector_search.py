"""LQL's nearest-document queries with a vector index against the same without one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import lumadb
from lumadb.errors import InvalidArgument, QueryError

DIM = 16


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, DIM)) * 4
    return (centres[rng.integers(0, 12, n)] + rng.normal(size=(n, DIM))).astype(np.float32)


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[lumadb.Database, lumadb.Database]]:
    data = clustered(2500, 1)
    pairs = [
        (f"d{i:04d}", {"e": v.tolist(), "g": i % 7, "t": f"w{i % 3}"}) for i, v in enumerate(data)
    ]
    pairs += [(f"n{i}", {"g": i, "t": "none"}) for i in range(5)]  # no vector
    with lumadb.open(":memory:", shards=3) as indexed, lumadb.open(":memory:", shards=3) as plain:
        for db in (indexed, plain):
            db.create_collection("docs").put_many(pairs)
            db.query("CREATE INDEX docs_g ON docs (g)")
        indexed.query("CREATE VECTOR INDEX ON docs (e) WITH (metric = 'l2', ef_search = 256)")
        yield indexed, plain


STATEMENTS = [
    "SELECT id FROM docs ORDER BY e <-> ? LIMIT 10",
    "SELECT id, e <-> ? AS d FROM docs ORDER BY d LIMIT 10",
    "SELECT id FROM docs WHERE g = 3 ORDER BY e <-> ? LIMIT 10",
    "SELECT id FROM docs WHERE t = 'w1' AND g IN (1, 2, 4) ORDER BY e <-> ? LIMIT 10",
    "SELECT id FROM docs ORDER BY e <-> ? LIMIT 5 OFFSET 5",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_index_finds_what_reading_every_document_finds(
    twins: tuple[lumadb.Database, lumadb.Database], statement: str
) -> None:
    indexed, plain = twins
    queries = clustered(20, 2)
    hit = total = 0
    for q in queries:
        params = [q.tolist()] * statement.count("?")
        ours = [r["id"] for r in indexed.query(statement, params)]
        truth = [r["id"] for r in plain.query(statement, params)]
        assert len(ours) == len(truth)
        hit += len(set(ours) & set(truth))
        total += len(truth)
    assert hit / total >= 0.95
    plan = indexed.query("EXPLAIN " + statement)
    assert plan[0]["plan"].startswith("Nearest by the vector index")


def test_every_search_sees_the_writes_before_it(
    twins: tuple[lumadb.Database, lumadb.Database],
) -> None:
    indexed, _ = twins
    docs = indexed.collection("docs")
    target = [50.0] * DIM
    docs.put("far", {"e": target, "g": 99})
    assert indexed.query("SELECT id FROM docs ORDER BY e <-> ? LIMIT 1", [target]) == [
        {"id": "far"}
    ]
    docs.delete("far")
    assert indexed.query("SELECT id FROM docs ORDER BY e <-> ? LIMIT 1", [target]) != [
        {"id": "far"}
    ]


def test_without_enough_vectors_the_rest_come_from_the_documents(
    twins: tuple[lumadb.Database, lumadb.Database],
) -> None:
    indexed, plain = twins
    statement = "SELECT id FROM docs WHERE t = 'none' OR g = 0 ORDER BY e <-> ? LIMIT 400"
    q = clustered(1, 3)[0].tolist()
    ours = [r["id"] for r in indexed.query(statement, [q])]
    assert ours == [r["id"] for r in plain.query(statement, [q])]
    assert ours[-5:] == [f"n{i}" for i in range(5)]  # no vector: last


def test_collection_search(twins: tuple[lumadb.Database, lumadb.Database]) -> None:
    indexed, _ = twins
    docs = indexed.collection("docs")
    q = clustered(1, 4)[0]
    hits = docs.search(q.tolist(), k=5, where="g = ?", params=[2])
    assert len(hits) == 5
    assert all(h["document"]["g"] == 2 for h in hits)
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    assert all(h["score"] == -h["distance"] for h in hits)
    with pytest.raises(InvalidArgument, match="k must be"):
        docs.search(q.tolist(), k=0)
    with pytest.raises(QueryError):
        docs.search(q.tolist(), where="g = 1); DROP COLLECTION docs; SELECT (1")
    with pytest.raises(InvalidArgument, match="array of 16 numbers"):
        docs.search([1.0, 2.0])
    assert indexed.list_collections() == ["docs"]

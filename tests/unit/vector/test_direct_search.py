"""``Collection.search`` without a WHERE, answered by the vector index alone, against LQL."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

import lumadb
from lumadb.errors import InvalidArgument

DIM = 12


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, DIM)) * 4
    return (centres[rng.integers(0, 8, n)] + rng.normal(size=(n, DIM))).astype(np.float32)


@pytest.fixture(params=["l2", "cosine", "ip"])
def db(request: pytest.FixtureRequest) -> Iterator[lumadb.Database]:
    with lumadb.open(":memory:", shards=2) as opened:
        docs = opened.create_collection("docs")
        data = clustered(600, 1)
        docs.put_many([(f"d{i:03d}", {"e": v.tolist(), "g": i % 5}) for i, v in enumerate(data)])
        docs.create_vector_index("e", dim=DIM, metric=request.param, index="flat")
        yield opened


OPERATORS = {"l2": "<->", "cosine": "<=>", "ip": "<#>"}


def test_the_index_alone_answers_as_the_statement_does(db: lumadb.Database) -> None:
    docs = db.collection("docs")
    metric = docs.describe()["vectors"]["e"]["metric"]
    op = OPERATORS[metric]
    for q in clustered(10, 2):
        hits = docs.search(q.tolist(), k=7)
        statement = f"SELECT id, e {op} ? AS d FROM docs ORDER BY d LIMIT 7"  # noqa: S608
        rows = db.query(statement, [q.tolist()])
        assert [h["id"] for h in hits] == [r["id"] for r in rows]
        for hit, row in zip(hits, rows, strict=True):
            assert hit["distance"] == pytest.approx(row["d"], rel=1e-5, abs=1e-5)
            assert hit["document"] == docs.get(hit["id"])
            expected = 1.0 - hit["distance"] if metric == "cosine" else -hit["distance"]
            assert hit["score"] == expected


def test_numpy_queries_answer_as_lists_do(db: lumadb.Database) -> None:
    docs = db.collection("docs")
    for q in clustered(5, 3):
        by_list = [h["id"] for h in docs.search(q.tolist(), k=5)]
        assert [h["id"] for h in docs.search(q, k=5)] == by_list
        assert [h["id"] for h in docs.search(q.astype(np.float64), k=5)] == by_list
        found = db._svc.vector_search("docs", ["e"], q, 5)
        assert [i for _, i in found or []] == by_list
        filtered = docs.search(q, k=5, where="g = ?", params=[1])
        assert filtered and all(h["document"]["g"] == 1 for h in filtered)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, DIM), dtype=np.float32),
        np.zeros(DIM + 1, dtype=np.float32),
        np.zeros(DIM, dtype=bool),
        np.array(["1"] * DIM),
        (1.0, "x") * (DIM // 2),
        5,
    ],
)
def test_bad_query_vectors_are_refused(db: lumadb.Database, bad: object) -> None:
    with pytest.raises(InvalidArgument, match="query vector must be"):
        db.collection("docs").search(bad, k=3)  # type: ignore[arg-type]


def test_a_write_is_found_by_the_next_search(db: lumadb.Database) -> None:
    docs = db.collection("docs")
    target = np.full(DIM, 40.0, dtype=np.float32)
    docs.put("new", {"e": target.tolist(), "g": 9})
    assert docs.search(target, k=1)[0]["id"] == "new"
    docs.put("new", {"e": (-target).tolist(), "g": 9})
    hit = docs.search(-target, k=1)[0]
    assert hit["id"] == "new" and hit["document"]["e"][0] == -40.0
    docs.delete("new")
    assert "new" not in [h["id"] for h in docs.search(-target, k=20)]


def test_fewer_vectors_than_k_come_with_the_statement(db: lumadb.Database) -> None:
    docs = db.collection("docs")
    docs.put("plain", {"g": 1})  # no vector: never a hit
    hits = docs.search(clustered(1, 4)[0], k=1000)
    assert len(hits) == 600 and "plain" not in {h["id"] for h in hits}
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    near = docs.search(clustered(1, 4)[0], k=3)
    assert not math.isnan(near[0]["distance"])

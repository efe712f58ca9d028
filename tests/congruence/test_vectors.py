"""Vector indexes and search: the embedded API and a served node answer alike."""

# ruff: noqa: S608 - statements name collections the tests made

from __future__ import annotations

import math
import random
from typing import Any

import pytest

import lumadb

ENGINES = ("embedded", "rocks", "remote")
DIM = 8


def vectors(n: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.gauss(0, 1) for _ in range(DIM)] for _ in range(n)]


def test_declare_write_and_search(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    data = vectors(300, 1)
    docs.put_many([(f"d{i:03d}", {"e": v, "g": i % 4}) for i, v in enumerate(data)])
    made = docs.create_vector_index("e", dim=DIM, metric="l2", index="flat")
    assert made == {
        "name": f"{name}_e_vector",
        "collection": name,
        "path": "e",
        "dim": DIM,
        "index": "flat",
        "metric": "l2",
    }
    query = data[17]
    hits = docs.search(query, k=3)
    assert hits[0]["id"] == "d017"
    truth = sorted(range(300), key=lambda i: math.dist(data[i], query))[:3]
    assert [h["id"] for h in hits] == [f"d{i:03d}" for i in truth]
    assert hits[1]["distance"] == pytest.approx(math.dist(data[truth[1]], query), rel=1e-5)
    assert hits[0]["document"] == {"e": data[17], "g": 1}
    filtered = docs.search(query, k=5, where="g = ?", params=[2])
    assert len(filtered) == 5 and all(h["document"]["g"] == 2 for h in filtered)
    docs.delete("d017")  # the next search sees it
    assert "d017" not in [h["id"] for h in docs.search(query, k=3)]
    rows = db.query(f"SELECT id FROM {name} ORDER BY e <-> ? LIMIT 2", [query])
    assert [r["id"] for r in rows] == [f"d{i:03d}" for i in truth[1:3]]


def test_bad_vectors_and_requests_are_clear_errors(db: Any, name: str) -> None:
    docs = db.create_collection(name)
    docs.create_vector_index("e", dim=DIM)
    with pytest.raises(lumadb.InvalidDocument, match="an array of 8 numbers"):
        docs.put("bad", {"e": [1, 2, 3]})
    with pytest.raises(lumadb.InvalidArgument, match="query vector must be"):
        docs.search([1.0, 2.0], k=3)
    with pytest.raises(lumadb.InvalidArgument, match="k must be"):
        docs.search([0.5] * DIM, k=0)
    with pytest.raises(lumadb.InvalidArgument, match="metric must be one of"):
        docs.create_vector_index("f", dim=DIM, metric="hamming")
    with pytest.raises(lumadb.InvalidArgument, match="no vector index on 'nope'"):
        docs.search([0.5] * DIM, field="nope")

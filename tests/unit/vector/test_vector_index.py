"""Vector indexes against numpy brute force: recall, deletes, filters, files, rebuilds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import lumadb
from lumadb.errors import Conflict, InvalidArgument, InvalidDocument

DIM = 24
N = 3000


def clustered(n: int, dim: int, seed: int = 7) -> np.ndarray:
    """A Gaussian mixture: uniform random vectors would make recall meaningless."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim)) * 4
    return (centres[rng.integers(0, 20, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def exact(data: np.ndarray, ids: list[str], query: np.ndarray, k: int, metric: str) -> list[str]:
    if metric == "l2":
        d = np.linalg.norm(data - query, axis=1)
    elif metric == "cosine":
        d = 1 - (data @ query) / (np.linalg.norm(data, axis=1) * np.linalg.norm(query))
    else:
        d = -(data @ query)
    return [ids[i] for i in np.argsort(d, kind="stable")[:k]]


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / sum(
        len(t) for t in truth
    )


@pytest.fixture(params=["memory", "rocks"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[lumadb.Database]:
    target = ":memory:" if request.param == "memory" else str(tmp_path / "data")
    with lumadb.open(target, shards=3) as handle:
        yield handle


def load(db: lumadb.Database, data: np.ndarray, name: str = "docs") -> list[str]:
    docs = db.create_collection(name, exist_ok=True)
    ids = [f"d{i:05d}" for i in range(len(data))]
    docs.put_many(
        [(i, {"emb": v.tolist(), "n": at}) for at, (i, v) in enumerate(zip(ids, data, strict=True))]
    )
    return ids


def search(db: lumadb.Database, query: np.ndarray, k: int, **kw: object) -> list[str]:
    found = db._svc.vector_search("docs", ["emb"], query.tolist(), k, **kw)  # type: ignore[arg-type]
    assert found is not None
    return [doc_id for _, doc_id in found]


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_recall_against_brute_force(db: lumadb.Database, metric: str, kind: str) -> None:
    data = clustered(N, DIM)
    ids = load(db, data)
    options: dict[str, object] = {"dim": DIM, "metric": metric, "index": kind}
    if metric == "ip" and kind == "hnsw":
        options["ef_search"] = 512  # inner product is no metric: raw FAISS needs 256-512 here
    db._svc.create_vector_index("docs", None, ["emb"], options)
    queries = clustered(50, DIM, seed=99)
    found = [search(db, q, 10) for q in queries]
    truth = [exact(data, ids, q, 10, metric) for q in queries]
    floor = 1.0 if kind == "flat" else 0.95
    assert recall(found, truth) >= floor


def test_distances_are_the_operators(db: lumadb.Database) -> None:
    data = clustered(200, DIM)
    load(db, data)
    db._svc.create_vector_index("docs", None, ["emb"], {"dim": DIM, "metric": "l2"})
    query = data[3] + 0.5
    (distance, found), *_ = db._svc.vector_search("docs", ["emb"], query.tolist(), 1) or []
    assert found == "d00003"
    assert distance == pytest.approx(float(np.linalg.norm(data[3] - query)), rel=1e-5)


def test_writes_are_found_by_the_next_search_and_deletes_never(db: lumadb.Database) -> None:
    data = clustered(1500, DIM)
    ids = load(db, data)
    db._svc.create_vector_index("docs", None, ["emb"], {"dim": DIM, "metric": "cosine"})
    docs = db.collection("docs")
    target = data[10]
    assert search(db, target, 1) == ["d00010"]
    docs.delete("d00010")
    assert "d00010" not in search(db, target, 50)
    docs.put("moved", {"emb": target.tolist()})
    assert search(db, target, 1) == ["moved"]
    docs.put("moved", {"emb": (-target).tolist()})  # replaced: its old vector is gone
    assert "moved" not in search(db, target, 20)
    docs.put("moved", {"other": 1})  # no vector any more
    assert "moved" not in search(db, -target, 20)
    # Many deletes: the parts rebuild, and still no deleted document comes back.
    for doc_id in ids[:1200]:
        docs.delete(doc_id)
    found = search(db, target, 100)
    assert len(found) == 100 and not set(found) & set(ids[:1200])
    stats = db._svc._vectors.stats()  # type: ignore[union-attr]
    assert stats["deleted"] < 1200 and stats["vectors"] == 300


@pytest.mark.parametrize("selectivity", [0.01, 0.1, 0.5])
def test_filtered_search_keeps_recall(db: lumadb.Database, selectivity: float) -> None:
    data = clustered(N, DIM)
    ids = load(db, data)
    db._svc.create_vector_index("docs", None, ["emb"], {"dim": DIM, "metric": "cosine"})
    rng = np.random.default_rng(3)
    chosen = sorted(rng.choice(N, int(N * selectivity), replace=False).tolist())
    allowed = [ids[i] for i in chosen]
    queries = clustered(30, DIM, seed=5)
    found = [search(db, q, 10, allowed=allowed) for q in queries]
    truth = [exact(data[chosen], allowed, q, 10, "cosine") for q in queries]
    assert recall(found, truth) >= 0.95
    assert all(set(f) <= set(allowed) for f in found)


def test_the_index_is_saved_and_loaded_without_a_rebuild(tmp_path: Path) -> None:
    target = str(tmp_path / "data")
    data = clustered(800, DIM)
    with lumadb.open(target, shards=2) as db:
        load(db, data)
        db._svc.create_vector_index("docs", None, ["emb"], {"dim": DIM})
        before = search(db, data[7], 10)
        db.collection("docs").delete("d00001")
    files = sorted((tmp_path / "data" / "vectors").glob("*.vec"))
    assert len(files) == 1  # one part per process, over both shards
    with lumadb.open(target, shards=2) as db:
        kept = [i for i in before if i != "d00001"]
        assert search(db, data[7], 10)[: len(kept)] == kept
        assert "d00001" not in search(db, data[1], 10)
        assert db._svc._vectors.stats()["builds"] == 0  # type: ignore[union-attr]
        db.collection("docs").put("late", {"emb": data[7].tolist()})
    files[0].write_bytes(files[0].read_bytes()[:-100])  # a torn file
    with lumadb.open(target, shards=2) as db:
        assert search(db, data[7], 2)[0] in ("d00007", "late")
        assert set(search(db, data[7], 2)) == {"d00007", "late"}
        assert db._svc._vectors.stats()["builds"] == 1  # type: ignore[union-attr]


def test_ivf_pq_is_exact_until_trained_then_approximate(db: lumadb.Database) -> None:
    data = clustered(2000, 32)
    ids = load(db, data)
    options = {"dim": 32, "index": "ivf_pq", "nlist": 8, "pq_m": 8, "nprobe": 8}
    db._svc.create_vector_index("docs", None, ["emb"], options)
    queries = clustered(20, 32, seed=11)
    found = [search(db, q, 10) for q in queries]
    truth = [exact(data, ids, q, 10, "cosine") for q in queries]
    assert recall(found, truth) >= 0.5  # compressed: approximate, but finds neighbours


def test_declarations_are_checked(db: lumadb.Database) -> None:
    load(db, clustered(10, DIM))
    svc = db._svc
    for options, match in [
        ({"metric": "cosine"}, "needs dim"),
        ({"dim": DIM, "metric": "hamming"}, "metric must be one of"),
        ({"dim": DIM, "index": "lsh"}, "index must be one of"),
        ({"dim": DIM, "m": 2}, "m must be a whole number from 4"),
        ({"dim": DIM, "index": "flat", "m": 16}, "not a parameter of flat"),
        ({"dim": DIM, "index": "ivf_pq", "pq_m": 5}, "pq_m must divide dim"),
    ]:
        with pytest.raises(InvalidArgument, match=match):
            svc.create_vector_index("docs", None, ["emb"], options)
    with pytest.raises(InvalidDocument, match="an array of 8 numbers, not of 24"):
        svc.create_vector_index("docs", None, ["emb"], {"dim": 8})
    svc.create_vector_index("docs", "v", ["emb"], {"dim": DIM})
    with pytest.raises(Conflict):
        svc.create_vector_index("docs", "w", ["emb"], {"dim": DIM})
    with pytest.raises(InvalidDocument, match='item 1 is "x"'):
        db.collection("docs").put("bad", {"emb": [1, "x", *([0] * (DIM - 2))]})
    with pytest.raises(InvalidArgument, match="query vector must be an array of 24"):
        svc.vector_search("docs", ["emb"], [1.0, 2.0], 3)
    db.collection("docs").put("none", {"emb": None})  # no vector: fine, never found

"""The contenders of the ``vector`` suite: LumaDB, raw FAISS, chromadb and lancedb.

Each is built over the same vectors (float32 rows), the same ids (the row numbers) and the same
``tag`` per row, and answers the same query objects (one float32 numpy row each, the form an
embedding model returns). :meth:`Contender.search` is what the timed loop calls; what it
returns is turned into row numbers by :meth:`Contender.ids` afterwards, outside the clock, so
no contender pays for a conversion another does not need. Each has a list of search
parameters (``points``), cheapest first, that the suite sweeps to find where its recall@10
first reaches the target.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import lumadb

__all__ = ["Chroma", "Contender", "Faiss", "Lance", "Luma", "LumaDocs"]

K = 10
M, EF_CONSTRUCTION = 32, 200
EFS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
BATCH = 5000
FAISS_METRICS = {"l2": faiss.METRIC_L2, "cosine": faiss.METRIC_INNER_PRODUCT}


def prepared(x: np.ndarray, metric: str) -> np.ndarray:
    """Rows as FAISS ranks them: unit length for cosine (FAISS ranks by inner product)."""
    if metric != "cosine":
        return np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class Contender:
    """One system under test, with its search parameters."""

    name = ""
    points: tuple[Any, ...] = EFS
    point: Any = None

    def set(self, point: Any) -> None:
        """Search with the parameters ``point`` (one of :attr:`points`) from now on."""
        self.point = point

    def queries(self, rows: np.ndarray) -> list[np.ndarray]:
        """The queries as this contender is given them (one float32 row each)."""
        return list(rows)

    def search(self, q: np.ndarray) -> Any:
        """The ``K`` nearest to ``q``, as the system returns them."""
        raise NotImplementedError

    def filtered(self, q: np.ndarray, percent: int) -> Any:
        """The ``K`` nearest to ``q`` among rows whose ``tag < percent``."""
        raise NotImplementedError

    def ids(self, found: Any) -> list[int]:
        """Row numbers out of what :meth:`search` returned."""
        return [int(i) for i in found]

    def close(self) -> None:
        """Release what it holds."""


class Faiss(Contender):
    """One ``IndexHNSWFlat`` with the suite's M and efConstruction, searched one query at a
    time through FAISS's own Python ``search`` (its documented API)."""

    name = "faiss"

    def __init__(self, data: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.index = faiss.IndexHNSWFlat(data.shape[1], M, FAISS_METRICS[metric])
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.index.add(prepared(data, metric))
        self.params: Any = None

    def set(self, ef: int) -> None:
        self.point = ef
        self.params = faiss.SearchParametersHNSW(efSearch=ef)

    def queries(self, rows: np.ndarray) -> list[np.ndarray]:
        # Normalised before the clock starts (LumaDB normalises inside its search), so raw
        # FAISS does only the search.
        return list(prepared(rows, self.metric))

    def search(self, q: np.ndarray) -> Any:
        return self.index.search(q[None, :], K, params=self.params)[1][0]


class Luma(Contender):
    """A LumaDB collection on disk (default shards, ``durability="off"``) of documents
    ``{"e": [...], "tag": t}`` with an HNSW vector index of the same M and efConstruction
    (``ef_search`` set to ``ef_search``) and a value index on ``tag``. :meth:`search` is the
    index's search (``LocalService.vector_search``: the query checked, every shard's change
    feed caught up with, FAISS, positions mapped to ids), returning ``(distance, id)`` pairs
    as FAISS returns distances and labels."""

    name = "luma"

    def __init__(self, root: Path, data: np.ndarray, metric: str, ef_search: int) -> None:
        self.db = lumadb.open(root / "luma", durability="off")
        self.docs = self.db.create_collection("docs")
        tags = (np.arange(len(data)) % 100).tolist()
        for at in range(0, len(data), BATCH):
            rows = data[at : at + BATCH].tolist()
            self.docs.put_many(
                [(f"{at + i:08d}", {"e": v, "tag": tags[at + i]}) for i, v in enumerate(rows)]
            )
        self.db.query("CREATE INDEX docs_tag ON docs (tag)")
        self.db.query(
            f"CREATE VECTOR INDEX ON docs (e) USING hnsw WITH (m = {M}, ef_construction = "
            f"{EF_CONSTRUCTION}, ef_search = {ef_search}, metric = '{metric}', "
            f"dim = {data.shape[1]})"
        )
        self.service = self.db._svc
        self.service.vector_search("docs", ["e"], data[0], K)  # builds the index

    def set(self, ef: int) -> None:
        self.point = ef

    def search(self, q: np.ndarray) -> Any:
        return self.service.vector_search("docs", ["e"], q, K, ef=self.point)

    def filtered(self, q: np.ndarray, percent: int) -> Any:
        # The value index answers it (the results on file were measured with this form).
        return self.docs.search(q, k=K, where="tag >= 0 AND tag < ?", params=[percent])

    def ids(self, found: Any) -> list[int]:
        if found and isinstance(found[0], dict):
            return [int(h["id"]) for h in found]
        return [int(i) for _, i in found]

    def close(self) -> None:
        self.db.close()


class LumaDocs(Contender):
    """The embedded API a user calls, ``Collection.search(q, k=10)``: hits with their
    documents (read and decoded: each holds its vector), at the index's ``ef_search``."""

    name = "luma_docs"

    def __init__(self, luma: Luma) -> None:
        self.docs = luma.docs
        self.point = luma.point

    def search(self, q: np.ndarray) -> Any:
        return self.docs.search(q, k=K)

    def ids(self, found: Any) -> list[int]:
        return [int(h["id"]) for h in found]


class Chroma(Contender):
    """chromadb's ``PersistentClient`` with no embedding function, HNSW with
    ``max_neighbors`` = M and ``ef_construction`` as FAISS's; ``ef_search`` swept through
    ``collection.modify`` and a reopen; queries ask for ids and distances only."""

    name = "chroma"

    def __init__(self, root: Path, data: np.ndarray, metric: str) -> None:
        import chromadb

        logging.getLogger("chromadb").setLevel(logging.ERROR)
        self._path = str(root / "chroma")
        self._settings = chromadb.Settings(anonymized_telemetry=False)
        self.client = chromadb.PersistentClient(path=self._path, settings=self._settings)
        hnsw = {"space": metric, "max_neighbors": M, "ef_construction": EF_CONSTRUCTION}
        self.col = self.client.create_collection(
            "docs", embedding_function=None, configuration={"hnsw": hnsw | {"ef_search": 16}}
        )
        step = min(BATCH, self.client.get_max_batch_size())
        for at in range(0, len(data), step):
            chunk = range(at, min(at + step, len(data)))
            self.col.add(
                ids=[str(i) for i in chunk],
                embeddings=data[at : at + step],
                metadatas=[{"tag": i % 100} for i in chunk],
            )

    def set(self, ef: int) -> None:
        import chromadb

        self.point = ef
        self.col.modify(configuration={"hnsw": {"ef_search": ef}})
        # A loaded index keeps the ef_search it was loaded with (measured: recall does not
        # move after modify): reopen the client so the new one is in force.
        self.client.clear_system_cache()
        self.client = chromadb.PersistentClient(path=self._path, settings=self._settings)
        self.col = self.client.get_collection("docs")

    def search(self, q: np.ndarray) -> Any:
        return self.col.query(query_embeddings=q[None, :], n_results=K, include=["distances"])

    def filtered(self, q: np.ndarray, percent: int) -> Any:
        return self.col.query(
            query_embeddings=q[None, :],
            n_results=K,
            include=["distances"],
            where={"tag": {"$lt": percent}},
        )

    def ids(self, found: Any) -> list[int]:
        return [int(i) for i in found["ids"][0]]


class Lance(Contender):
    """A lancedb table (``id``, ``tag``, ``vector``) with an ``IVF_HNSW_SQ`` index of one
    partition (so one HNSW graph, as the others have) with ``m`` = M and ``ef_construction``
    as FAISS's, and a scalar index on ``tag``; ``ef`` swept, each ``ef`` first without and then
    with a refine step (``refine_factor`` 4: exact re-ranking of the quantised candidates);
    queries select ``id`` and ``_distance`` and come back as Arrow tables; filters are
    pre-filters."""

    name = "lance"

    def __init__(self, root: Path, data: np.ndarray, metric: str) -> None:
        import lancedb
        import pyarrow as pa

        os.environ.setdefault("LANCE_LOG", "error")
        self.metric = metric
        n, dim = data.shape
        table = pa.table(
            {
                "id": pa.array(np.arange(n, dtype=np.int64)),
                "tag": pa.array((np.arange(n) % 100).astype(np.int32)),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), dim),
            }
        )
        self.db = lancedb.connect(str(root / "lance"))
        self.table = self.db.create_table("docs", data=table)
        self.table.create_index(
            metric=metric,
            num_partitions=1,
            vector_column_name="vector",
            index_type="IVF_HNSW_SQ",
            m=M,
            ef_construction=EF_CONSTRUCTION,
        )
        from lancedb.index import BTree

        self.table.create_index("tag", config=BTree())
        # lancedb refuses an ef below the candidates a refine step asks for (K times the factor).
        self.points = tuple(
            (ef, refine) for ef in EFS for refine in (None, 4) if refine is None or ef >= K * refine
        )

    def set(self, point: tuple[int, int | None]) -> None:
        self.point = point

    def _query(self, q: np.ndarray) -> Any:
        ef, refine = self.point
        query = self.table.search(q).distance_type(self.metric).limit(K).ef(ef)
        if refine is not None:
            query = query.refine_factor(refine)
        return query.select(["id", "_distance"])

    def search(self, q: np.ndarray) -> Any:
        return self._query(q).to_arrow()

    def filtered(self, q: np.ndarray, percent: int) -> Any:
        return self._query(q).where(f"tag < {percent}", prefilter=True).to_arrow()

    def ids(self, found: Any) -> list[int]:
        return [int(i) for i in found.column("id").to_pylist()]

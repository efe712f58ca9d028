"""One FAISS index over the vectors at positions 0, 1, 2, … (the only module importing faiss).

Positions are FAISS's own sequential ids, so no id map sits between: the caller (a shard's part
of a vector index, :mod:`lumadb.vector.shard`) maps positions to document ids and keeps which
positions are deleted, and a search skips those with an ID selector over a bitmap. Distances
come back as LQL's operators give them: the cosine distance (vectors are normalised and FAISS
ranks by inner product), the Euclidean distance (FAISS gives its square) or the negative
inner product.

An ``ivf_pq`` index needs training before it can hold anything: until a shard has enough
vectors to train it (39 per list, as FAISS advises), they stay in an exact flat index, and
the first add that reaches the number trains the IVF-PQ index on all of them.
"""

from __future__ import annotations

import math

import faiss
import numpy as np
from numpy.typing import NDArray

from lumadb.catalog.vectors import VectorOptions

__all__ = ["Ann", "normalised"]

Floats = NDArray[np.float32]
_TRAIN_PER_LIST = 39


def normalised(vectors: Floats) -> Floats:
    """A copy with rows scaled to length 1 (rows of zeros stay zeros), by FAISS in C."""
    copy = np.array(vectors, dtype=np.float32, order="C", copy=True)
    faiss.normalize_L2(copy)
    return copy


def _metric(options: VectorOptions) -> int:
    return int(faiss.METRIC_L2 if options.metric == "l2" else faiss.METRIC_INNER_PRODUCT)


def _empty(options: VectorOptions) -> faiss.Index:
    metric = _metric(options)
    if options.index == "hnsw":
        index = faiss.IndexHNSWFlat(options.dim, options.param("m"), metric)
        index.hnsw.efConstruction = options.param("ef_construction")
        return index
    return faiss.IndexFlat(options.dim, metric)  # flat, and ivf_pq until it is trained


class Ann:
    """A FAISS index of one shard's vectors for one vector index."""

    def __init__(self, options: VectorOptions, index: faiss.Index | None = None) -> None:
        self.options = options
        self._index = index if index is not None else _empty(options)
        self._plain: dict[int, faiss.SearchParameters] = {}  # by ef, searches without a selector
        self._cosine = options.metric == "cosine"
        self._ef_search = options.param("ef_search")

    @property
    def size(self) -> int:
        """How many positions the index holds (deleted ones included)."""
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        """Whether searches compare with every vector (flat, or an untrained IVF-PQ)."""
        return isinstance(self._index, faiss.IndexFlat)

    def add(self, vectors: Floats) -> None:
        """Add vectors (rows of ``dim`` float32) at the next positions."""
        if not len(vectors):
            return
        if self.options.metric == "cosine":
            vectors = normalised(vectors)
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        if self.options.index == "ivf_pq" and self.exact:
            self._maybe_train()
            self._plain.clear()  # a trained index takes other parameters

    def _maybe_train(self) -> None:
        options = self.options
        nlist = options.param("nlist")
        if self.size < nlist * _TRAIN_PER_LIST:
            return
        stored = self._index.reconstruct_n(0, self.size)
        quantizer = faiss.IndexFlat(options.dim, _metric(options))
        trained = faiss.IndexIVFPQ(
            quantizer, options.dim, nlist, options.param("pq_m"), 8, _metric(options)
        )
        trained.train(stored)
        trained.add(stored)
        self._quantizer = quantizer  # the IVF index does not own it: keep it alive
        self._index = trained

    def vectors(self, positions: NDArray[np.int64]) -> Floats | None:
        """The stored vectors at ``positions`` (``None`` once compressed by IVF-PQ)."""
        if isinstance(self._index, faiss.IndexIVFPQ):
            return None
        return np.asarray(self._index.reconstruct_batch(positions), dtype=np.float32)

    def search(
        self, query: Floats, k: int, allowed: NDArray[np.uint8] | None, ef: int = 0
    ) -> tuple[list[float], list[int]]:
        """The ``k`` nearest positions to ``query`` (one row of float32, C order) among
        ``allowed`` (a bitmap, bit ``i`` of byte ``i // 8`` little-endian; ``None``: every
        position), nearest first, with their distances; positions of -1 fill what was not
        found. ``ef`` is HNSW's candidate list (0: the index's ``ef_search``; never below
        ``k``)."""
        if self._cosine:
            query = normalised(query)
        wide = max(k, ef or self._ef_search)
        if allowed is not None:
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(allowed))
            params = self._params(selector, wide)
        else:
            params = self._plain.get(wide)
            if params is None:
                params = self._plain[wide] = self._params(None, wide)
        distances = np.empty(k, dtype=np.float32)
        positions = np.empty(k, dtype=np.int64)
        # FAISS's own Python search() re-checks and re-copies its input, which costs a
        # tenth of a small search; the query is already one C-ordered float32 row.
        self._index.search_c(
            1,
            faiss.swig_ptr(query),
            k,
            faiss.swig_ptr(distances),
            faiss.swig_ptr(positions),
            params,
        )
        return self._distances(distances.tolist()), positions.tolist()

    def _params(self, selector: faiss.IDSelector | None, ef: int) -> faiss.SearchParameters:
        options = self.options
        index = self._index
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(efSearch=ef)
        elif isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(nprobe=options.param("nprobe"))
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params

    def _distances(self, raw: list[float]) -> list[float]:
        # In Python: for the ten or so results of a search, cheaper than three numpy calls.
        metric = self.options.metric
        if metric == "cosine":  # rounding may leave 1 - cos just below 0
            return [min(2.0, max(0.0, 1.0 - d)) for d in raw]
        if metric == "l2":
            return [math.sqrt(d) if d > 0 else 0.0 for d in raw]
        return [-d for d in raw]

    def to_bytes(self) -> bytes:
        """The index, serialised by FAISS."""
        return bytes(faiss.serialize_index(self._index))

    @classmethod
    def from_bytes(cls, options: VectorOptions, raw: bytes) -> Ann:
        """An index :meth:`to_bytes` gave (``ValueError`` if FAISS cannot read it)."""
        try:
            index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8))
        except RuntimeError as exc:
            raise ValueError(f"not a FAISS index: {exc}") from None
        if index.d != options.dim:
            raise ValueError(f"the stored index has {index.d} dimensions, not {options.dim}")
        ann = cls(options, index)
        if isinstance(index, faiss.IndexIVF):
            ann._quantizer = faiss.downcast_index(index.quantizer)
        return ann

"""One process's part of one vector index: the FAISS index of the vectors in the shards the
process holds, who is at which position, and how far into each shard's change feed it has read.

One FAISS index per process, not per shard: a search then walks one graph, not one per shard
(on two shards of 50 000 vectors, two HNSW searches took 1.8 times as long as one over all of
them), and the shards of a served node's worker are that worker's own anyway.

A document's vector gets the next position; replacing or deleting the document marks its
position deleted (FAISS's HNSW cannot remove), and searches skip deleted positions with an ID
selector, so a deleted or replaced document is never found. Once a fifth of the positions
(and at least :data:`REBUILD_AT`) are deleted, the index is rebuilt from the live vectors.

Saved as one file: a header (format, options, each shard's cursor, the id at each position, a
CRC of the FAISS bytes) and the FAISS index, written to a temporary file and renamed over the
old one, so a crash leaves the old file or the new one. A file that does not read back (a torn
or foreign file, other options) is discarded and the part rebuilt from the documents."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import crc32c
import msgpack
import numpy as np
from numpy.typing import NDArray

from lumadb.catalog.vectors import VectorOptions
from lumadb.errors import InvalidArgument
from lumadb.service import Change, Document
from lumadb.service.vector_checks import vector_problem
from lumadb.vector.ann import Ann, Floats

__all__ = ["EXACT_AT", "REBUILD_AT", "VectorPart", "distance_to", "query_row", "vector_at"]

FORMAT = 1
REBUILD_AT = 256
EXACT_AT = 4096  # a filter leaving at most this many vectors in a shard is searched exactly
_EF_CAP = 4096
_MAGIC = b"LUMAVEC1"


def distance_to(metric: str, stored: Floats, query: Floats) -> NDArray[np.float64]:
    """Each stored row's distance to ``query`` (rows as the index keeps them: unit length
    for cosine)."""
    rows = stored.astype(np.float64)
    target = query.astype(np.float64)
    found: NDArray[np.float64]
    if metric == "l2":
        found = np.sqrt(np.maximum(((rows - target) ** 2).sum(axis=1), 0.0))
    elif metric == "cosine":
        norm = float(np.linalg.norm(target)) or 1.0
        found = np.clip(1.0 - rows @ (target / norm), 0.0, 2.0)
    else:
        found = -(rows @ target)
    return found


def query_row(vector: Any, dim: int) -> Floats:
    """A query vector as the one C-ordered float32 row FAISS takes: a list or tuple of
    ``dim`` numbers, or a one-dimensional numpy array of ``dim`` numbers (used as it is when
    it is float32 already); anything else is :class:`~lumadb.errors.InvalidArgument`."""
    if type(vector) is np.ndarray:
        if vector.ndim != 1 or len(vector) != dim or vector.dtype.kind not in "fiu":
            raise InvalidArgument(
                f"the query vector must be an array of {dim} numbers, not a numpy array of "
                f"shape {vector.shape} and type {vector.dtype}"
            )
        row: Floats = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, dim)
        return row
    listed = vector if type(vector) is list else list(vector) if type(vector) is tuple else vector
    problem = vector_problem(listed, dim)
    if problem is not None:
        raise InvalidArgument(f"the query vector must be {problem}")
    return np.asarray([listed], dtype=np.float32)


def vector_at(doc: Any, path: tuple[str, ...], dim: int) -> list[float] | None:
    """The vector of ``doc`` at ``path`` if it has one of ``dim`` numbers (not all zeros)."""
    value = doc
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    if not isinstance(value, list) or len(value) != dim:
        return None
    if not all(type(x) is float or type(x) is int for x in value) or not any(value):
        return None
    return value


class VectorPart:
    """A vector index's vectors in the shards of one process."""

    def __init__(
        self,
        options: VectorOptions,
        collection: str,
        path: tuple[str, ...],
        shards: tuple[int, ...] = (),
    ) -> None:
        self.options = options
        self.collection = collection
        self.path = path
        self.ann = Ann(options)
        self.ids: list[str | None] = []  # the document at each position (None: deleted)
        self.where: dict[str, int] = {}  # the position of each indexed document
        self.dead = 0
        self.shards = shards
        self.cursors = dict.fromkeys(shards, 0)  # per shard, the last feed record applied
        self.lock = threading.Lock()
        self._alive: NDArray[np.uint8] | None = None  # bitmap of live positions, when needed
        self.rebuilds = 0

    # --- keeping it -------------------------------------------------------------------------

    def fill(self, shard: int, docs: Iterable[tuple[str, Document]], cursor: int) -> None:
        """Index ``docs`` (a scan of one shard's collection) as of its feed at ``cursor``."""
        batch: list[tuple[str, Document | None]] = []
        for pair in docs:
            batch.append(pair)
            if len(batch) >= 4096:
                self._apply(batch)
                batch = []
        self._apply(batch)
        self.cursors[shard] = cursor

    def apply(self, shard: int, changes: list[Change]) -> None:
        """Apply one shard's change-feed records (those of other collections are skipped)."""
        if not changes:
            return
        mine = [
            (c.id, c.new if c.op != "delete" else None)
            for c in changes
            if c.collection == self.collection and c.id is not None
        ]
        self._apply(mine)
        self.cursors[shard] = changes[-1].seq

    def _apply(self, writes: list[tuple[str, Document | None]]) -> None:
        dim = self.options.dim
        added: list[list[float]] = []
        for doc_id, doc in writes:
            before = self.where.pop(doc_id, None)
            if before is not None:
                self.ids[before] = None
                self.dead += 1
            vector = vector_at(doc, self.path, dim) if doc is not None else None
            if vector is not None:
                self.where[doc_id] = len(self.ids)
                self.ids.append(doc_id)
                added.append(vector)
        if added:
            # Positions given to a document replaced within this same batch are added too (and
            # are dead at once): FAISS positions must stay in step with ``ids``.
            self.ann.add(np.asarray(added, dtype=np.float32))
        self._alive = None
        if self.wants_rebuild and self.ann.vectors(np.zeros(0, dtype=np.int64)) is not None:
            self.rebuild()

    @property
    def wants_rebuild(self) -> bool:
        """Whether enough positions are deleted to rebuild (IVF-PQ's owner rebuilds it from
        a scan: its vectors are compressed)."""
        return self.dead >= REBUILD_AT and self.dead * 5 >= len(self.ids)

    def rebuild(self, scanned: Iterable[tuple[str, Document]] | None = None) -> None:
        """A new index of the live vectors only (from ``scanned`` documents when the stored
        vectors cannot be read back, as with IVF-PQ)."""
        live = np.asarray([p for p, i in enumerate(self.ids) if i is not None], dtype=np.int64)
        vectors = self.ann.vectors(live) if scanned is None else None
        fresh = Ann(self.options)
        if vectors is None and scanned is None:
            return  # compressed vectors: the owner rebuilds this part from a scan instead
        if vectors is not None:
            ids = [self.ids[p] for p in live]
            fresh.add(vectors)
        else:
            assert scanned is not None
            pairs = [(i, vector_at(d, self.path, self.options.dim)) for i, d in scanned]
            ids = [i for i, v in pairs if v is not None]
            fresh.add(np.asarray([v for _, v in pairs if v is not None], dtype=np.float32))
        self.ann = fresh
        self.ids = list(ids)
        self.where = {i: p for p, i in enumerate(self.ids) if i is not None}
        self.dead = 0
        self._alive = None
        self.rebuilds += 1

    def adopt(self, other: VectorPart) -> None:
        """Take ``other``'s contents (a part rebuilt while this one's lock is held)."""
        self.ann, self.ids, self.where = other.ann, other.ids, other.where
        self.dead, self.cursors, self._alive = other.dead, other.cursors, None
        self.rebuilds += 1

    # --- searching --------------------------------------------------------------------------

    def query(self, vector: Any) -> Floats:
        """``vector`` as the row :meth:`search` takes (:func:`query_row`)."""
        return query_row(vector, self.options.dim)

    def search(
        self, query: Floats, k: int, allowed: Iterable[str] | None = None, ef: int | None = None
    ) -> list[tuple[float, str]]:
        """Up to ``k`` ``(distance, id)`` nearest to ``query``, nearest first, among the
        documents ``allowed`` (default: all)."""
        if not self.ids or k <= 0:
            return []
        bitmap: NDArray[np.uint8] | None = None
        wide = ef or 0
        if allowed is not None:
            wanted = np.asarray(
                [p for p in map(self.where.get, allowed) if p is not None], dtype=np.int64
            )
            if not len(wanted):
                return []
            if len(wanted) <= EXACT_AT or len(wanted) * 50 <= len(self.where):
                exact = self._exact(query, k, wanted)
                if exact is not None:
                    return exact
            chosen = np.zeros(len(self.ids), dtype=bool)
            chosen[wanted] = True
            bitmap = np.packbits(chosen, bitorder="little")
            # A graph walk that may keep only some of what it meets must look further.
            wide = min(_EF_CAP, max(wide, k * len(self.where) // len(wanted)))
        elif self.dead:
            bitmap = self._live_bitmap()
        distances, positions = self.ann.search(query, k, bitmap, ef=wide)
        ids = self.ids
        return [
            (d, found)
            for d, p in zip(distances, positions, strict=True)
            if p >= 0 and (found := ids[p]) is not None
        ]

    def _exact(
        self, query: Floats, k: int, positions: NDArray[np.int64]
    ) -> list[tuple[float, str]] | None:
        """The exact nearest among ``positions``, from the stored vectors (``None`` if the
        index keeps them only compressed)."""
        stored = self.ann.vectors(positions)
        if stored is None:
            return None
        distances = distance_to(self.options.metric, stored, query[0])
        order = np.argsort(distances, kind="stable")[:k]
        ids = self.ids
        return [(float(distances[o]), str(ids[positions[o]])) for o in order]

    def _live_bitmap(self) -> NDArray[np.uint8]:
        if self._alive is None:
            alive = np.fromiter((i is not None for i in self.ids), dtype=bool, count=len(self.ids))
            self._alive = np.packbits(alive, bitorder="little")
        return self._alive

    def vector_of(self, doc_id: str) -> Floats | None:
        """The stored vector of ``doc_id`` (as indexed: normalised for cosine)."""
        at = self.where.get(doc_id)
        if at is None:
            return None
        found = self.ann.vectors(np.asarray([at], dtype=np.int64))
        return None if found is None else found[0]

    # --- files ------------------------------------------------------------------------------

    def save(self, file: Path) -> None:
        """Write this part to ``file`` atomically (temporary file, fsync, rename)."""
        body = self.ann.to_bytes()
        header = msgpack.packb(
            {
                "format": FORMAT,
                "options": self.options.to_record(),
                "collection": self.collection,
                "path": list(self.path),
                "cursors": [[shard, seq] for shard, seq in sorted(self.cursors.items())],
                "ids": self.ids,
                "crc": crc32c.crc32c(body),
            }
        )
        temporary = file.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(_MAGIC + len(header).to_bytes(8, "little") + header + body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)

    @classmethod
    def load(
        cls,
        file: Path,
        options: VectorOptions,
        collection: str,
        path: tuple[str, ...],
        shards: tuple[int, ...],
    ) -> VectorPart:
        """The part :meth:`save` wrote (``ValueError`` if it does not read back as such)."""
        raw = file.read_bytes()
        if raw[: len(_MAGIC)] != _MAGIC:
            raise ValueError("not a vector index file")
        size = int.from_bytes(raw[len(_MAGIC) : len(_MAGIC) + 8], "little")
        start = len(_MAGIC) + 8
        try:
            header = msgpack.unpackb(raw[start : start + size])
        except (ValueError, msgpack.UnpackException) as exc:
            raise ValueError(f"unreadable header: {exc}") from None
        body = raw[start + size :]
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError("an unknown format")
        if header.get("options") != options.to_record() or header.get("path") != list(path):
            raise ValueError("made for other options")
        if header.get("crc") != crc32c.crc32c(body):
            raise ValueError("its index bytes are damaged")
        cursors = {int(shard): int(seq) for shard, seq in header.get("cursors", [])}
        if sorted(cursors) != sorted(shards):
            raise ValueError("made for other shards")
        part = cls(options, collection, path, shards)
        part.ann = Ann.from_bytes(options, body)
        part.ids = list(header["ids"])
        if len(part.ids) != part.ann.size:
            raise ValueError("its ids and its index disagree")
        part.where = {i: p for p, i in enumerate(part.ids) if i is not None}
        part.dead = len(part.ids) - len(part.where)
        part.cursors = cursors
        return part

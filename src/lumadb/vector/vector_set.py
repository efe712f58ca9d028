"""The vector indexes of the shards one process holds, kept from their change feeds.

Each vector index has a part per shard (:class:`~lumadb.vector.shard.ShardVectors`), made
when a search first needs it: loaded from its file if one was saved, else built from a scan of
the shard. Before every search each part reads its shard's change feed from where it stopped
and applies what was written since, so **a write is found by every search that starts after
the write was acknowledged** (as an aggregate query sees the columnar replica caught up).

Parts are saved to ``<data_dir>/vectors/<index number>-<shard>.vec`` on close and, as they
go, once :data:`SAVE_EVERY` changes were applied since the last save. After a crash a part
loads its last file and catches up from the feed; a file that does not read back, or whose
place the feed no longer reaches (retention pruned it, or a restore went back in time), is
thrown away and the part rebuilt from the documents. An in-memory database keeps no files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumadb.catalog import CollectionSpec, IndexSpec

if TYPE_CHECKING:
    from lumadb.service.local import LocalService
    from lumadb.vector.shard import ShardVectors

__all__ = ["SAVE_EVERY", "VectorSet", "attach_vectors"]

_log = logging.getLogger("lumadb.vector")

SAVE_EVERY = 50_000  # applied changes between saves of a part
_READ = 4096  # change-feed records read at a time


class VectorSet:
    """Searches over this process's parts of every vector index."""

    def __init__(self, service: LocalService, directory: Path | None) -> None:
        self._service = service
        self._dir = directory
        self._indexes: dict[int, tuple[str, IndexSpec]] = {}  # number -> (collection, index)
        self._parts: dict[tuple[int, int], ShardVectors] = {}  # (number, shard) -> part
        self._unsaved: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Follow the catalog: forget dropped indexes (and their files)."""
        wanted = {
            i.number: (s.name, i) for s in collections for i in s.indexes if i.kind == "vector"
        }
        with self._lock:
            for key in [k for k in self._parts if k[0] not in wanted]:
                del self._parts[key]
                self._unsaved.pop(key, None)
            if self._dir is not None and self._dir.exists():
                for file in self._dir.glob("*.vec"):
                    number = (
                        int(file.stem.split("-")[0]) if file.stem.split("-")[0].isdigit() else -1
                    )
                    if number not in wanted:
                        file.unlink(missing_ok=True)
            self._indexes = wanted

    def search(
        self,
        collection: str,
        index: IndexSpec,
        vector: Sequence[float],
        k: int,
        allowed: Sequence[str] | None,
    ) -> list[tuple[float, str]]:
        """Up to ``k`` ``(distance, id)`` nearest first, over every shard of this process."""
        import numpy as np  # FAISS and numpy load with the first search

        query = np.asarray([vector], dtype=np.float32)
        chosen = None if allowed is None else list(allowed)
        found: list[tuple[float, str]] = []
        for shard in self._service.shard_ids():
            part = self._part(collection, index, shard)
            with part.lock:
                self._catch_up(part, index, shard)
                found.extend(part.search(query, k, chosen))
        found.sort()
        return found[:k]

    def _file(self, number: int, shard: int) -> Path | None:
        return None if self._dir is None else self._dir / f"{number}-{shard}.vec"

    def _part(self, collection: str, index: IndexSpec, shard: int) -> ShardVectors:
        key = (index.number, shard)
        with self._lock:
            part = self._parts.get(key)
            if part is None:
                part = self._parts[key] = self._open(collection, index, shard)
            return part

    def _open(self, collection: str, index: IndexSpec, shard: int) -> ShardVectors:
        from lumadb.vector.shard import ShardVectors

        file = self._file(index.number, shard)
        if file is not None and file.exists():
            try:
                part = ShardVectors.load(file, index.vector, collection, index.path)
            except (OSError, ValueError) as exc:
                _log.warning("vector index %s (shard %d) rebuilt: %s", index.name, shard, exc)
            else:
                if self._reaches(part, shard):
                    return part
                _log.warning(
                    "vector index %s (shard %d) rebuilt: behind the feed", index.name, shard
                )
        return self._build(collection, index, shard)

    def _build(self, collection: str, index: IndexSpec, shard: int) -> ShardVectors:
        from lumadb.vector.shard import ShardVectors

        part = ShardVectors(index.vector, collection, index.path)
        head = self._service.last_seq(shard)
        part.fill(self._service.scan_shard(collection, shard), head)
        self.builds += 1
        self._unsaved[(index.number, shard)] = SAVE_EVERY  # save at the next search
        return part

    def _reaches(self, part: ShardVectors, shard: int) -> bool:
        """Whether the shard's feed still holds every record after the part's place."""
        head = self._service.last_seq(shard)
        if part.cursor > head:
            return False  # the part is ahead of its shard: the data went back in time
        first = self._service.first_seq(shard)
        return part.cursor == head or first is None or first <= part.cursor + 1

    def _catch_up(self, part: ShardVectors, index: IndexSpec, shard: int) -> None:
        key = (index.number, shard)
        service = self._service
        head = service.last_seq(shard)
        if part.cursor >= head:
            return
        if not self._reaches(part, shard):
            _log.warning("vector index %s (shard %d) rebuilt: behind the feed", index.name, shard)
            part.adopt(self._build(part.collection, index, shard))
            return
        applied = 0
        while part.cursor < head:
            changes = service.changes(shard, part.cursor, _READ)
            if not changes:
                break
            part.apply(changes)
            applied += len(changes)
        if part.wants_rebuild:  # IVF-PQ keeps no vectors to rebuild from: read them again
            part.rebuild(service.scan_shard(part.collection, shard))
        self._unsaved[key] = self._unsaved.get(key, 0) + applied
        if self._unsaved[key] >= SAVE_EVERY:
            self._save(key, part)

    def _save(self, key: tuple[int, int], part: ShardVectors) -> None:
        file = self._file(*key)
        self._unsaved[key] = 0
        if file is None:
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            part.save(file)
        except OSError as exc:  # derived data: the feed still has what the file lacks
            _log.warning("vector index file %s not saved: %s", file, exc)

    def stats(self) -> dict[str, Any]:
        """Parts in memory, vectors in them, and builds from scans."""
        with self._lock:
            parts = list(self._parts.values())
        return {
            "parts": len(parts),
            "vectors": sum(len(p.where) for p in parts),
            "deleted": sum(p.dead for p in parts),
            "builds": self.builds,
        }

    def close(self) -> None:
        """Save every part that changed since it was last saved."""
        with self._lock:
            for key, part in self._parts.items():
                if self._unsaved.get(key):
                    with part.lock:
                        self._save(key, part)
            self._parts.clear()


def attach_vectors(service: LocalService) -> None:
    """Give ``service`` its vector indexes (files under its data directory's ``vectors/``)."""
    store = service.store
    directory = None if store.in_memory else Path(store.path) / "vectors"
    service.attach_vectors(VectorSet(service, directory))

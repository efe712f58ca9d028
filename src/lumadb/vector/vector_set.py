"""The vector indexes of the shards one process holds, kept from their change feeds.

Each vector index has a part per process (:class:`~lumadb.vector.part.VectorPart`) over the
shards the process holds, made when a search first needs it: loaded from its file if one was
saved, else built from a scan of those shards. Before every search the part reads each shard's
change feed from where it stopped and applies what was written since, so **a write is found by
every search that starts after the write was acknowledged** (as an aggregate query sees the
columnar replica caught up).

Parts are saved to ``<data_dir>/vectors/<index number>-<shards>.vec`` on close and, as they
go, once :data:`SAVE_EVERY` changes were applied since the last save. After a crash a part
loads its last file and catches up from the feed; a file that does not read back, or whose
place the feed no longer reaches (retention pruned it, or a restore went back in time), is
thrown away and the part rebuilt from the documents. An in-memory database keeps no files.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumadb.catalog import CollectionSpec, IndexSpec
from lumadb.storage.faults import FAULTS

if TYPE_CHECKING:
    from lumadb.service.local import LocalService
    from lumadb.vector.part import VectorPart

__all__ = ["SAVE_EVERY", "VectorSet", "attach_vectors"]

_log = logging.getLogger("lumadb.vector")

SAVE_EVERY = 50_000  # applied changes between saves of a part
_READ = 4096  # change-feed records read at a time


class VectorSet:
    """Searches over this process's part of every vector index."""

    def __init__(self, service: LocalService, directory: Path | None) -> None:
        self._service = service
        self._dir = directory
        self._indexes: dict[int, tuple[str, IndexSpec]] = {}  # number -> (collection, index)
        self._parts: dict[int, VectorPart] = {}  # index number -> this process's part
        self._unsaved: dict[int, int] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def sync(self, collections: Iterable[CollectionSpec]) -> None:
        """Follow the catalog: forget dropped indexes (and their files)."""
        wanted = {
            i.number: (s.name, i) for s in collections for i in s.indexes if i.kind == "vector"
        }
        with self._lock:
            for number in [n for n in self._parts if n not in wanted]:
                del self._parts[number]
                self._unsaved.pop(number, None)
            if self._dir is not None and self._dir.exists():
                for file in self._dir.glob("*.vec"):
                    head = file.stem.split("-")[0]
                    if not head.isdigit() or int(head) not in wanted:
                        file.unlink(missing_ok=True)
            self._indexes = wanted

    def search(
        self,
        collection: str,
        index: IndexSpec,
        vector: Any,
        k: int,
        allowed: Iterable[str] | None,
        ef: int | None = None,
    ) -> list[tuple[float, str]]:
        """Up to ``k`` ``(distance, id)`` nearest first, over every shard of this process
        (``vector``: a list or tuple of numbers, or a numpy array; ``ef``: HNSW's candidate
        list for this search, instead of the index's ``ef_search``)."""
        part = self._parts.get(index.number)
        if part is None:
            from lumadb.vector.part import query_row

            query_row(vector, index.vector.dim)  # a bad query is refused before any build
            part = self._part(collection, index)
        query = part.query(vector)
        with part.lock:
            self._catch_up(part, index)
            return part.search(query, k, allowed, ef)

    def _file(self, number: int) -> Path | None:
        if self._dir is None:
            return None
        shards = "_".join(str(s) for s in self._service.shard_ids())
        return self._dir / f"{number}-{shards}.vec"

    def _part(self, collection: str, index: IndexSpec) -> VectorPart:
        with self._lock:
            part = self._parts.get(index.number)
            if part is None:
                part = self._parts[index.number] = self._open(collection, index)
            return part

    def _open(self, collection: str, index: IndexSpec) -> VectorPart:
        from lumadb.vector.part import VectorPart

        file = self._file(index.number)
        shards = tuple(self._service.shard_ids())
        if file is not None and file.exists():
            try:
                part = VectorPart.load(file, index.vector, collection, index.path, shards)
            except (OSError, ValueError) as exc:
                _log.warning("vector index %s rebuilt: %s", index.name, exc)
            else:
                if FAULTS.vector_skip_feed:  # the canary: the records after the file are lost
                    part.cursors = {s: self._service.last_seq(s) for s in shards}
                if self._reaches(part):
                    return part
                _log.warning("vector index %s rebuilt: behind the change feed", index.name)
        return self._build(collection, index)

    def _build(self, collection: str, index: IndexSpec) -> VectorPart:
        from lumadb.vector.part import VectorPart

        service = self._service
        shards = tuple(service.shard_ids())
        part = VectorPart(index.vector, collection, index.path, shards)
        for shard in shards:
            head = service.last_seq(shard)
            part.fill(shard, service.scan_shard(collection, shard), head)
        self.builds += 1
        self._unsaved[index.number] = SAVE_EVERY  # saved at the next search
        return part

    def _reaches(self, part: VectorPart) -> bool:
        """Whether every shard's feed still holds every record after the part's place."""
        service = self._service
        for shard, cursor in part.cursors.items():
            head = service.last_seq(shard)
            if cursor > head:
                return False  # the part is ahead of its shard: the data went back in time
            first = service.first_seq(shard)
            if cursor < head and first is not None and first > cursor + 1:
                return False
        return True

    def _catch_up(self, part: VectorPart, index: IndexSpec) -> None:
        service = self._service
        last_seq = service.last_seq
        # The common case, first and cheap: no shard has a write the part has not applied.
        for shard, cursor in part.cursors.items():
            if last_seq(shard) != cursor:
                break
        else:
            if self._unsaved.get(index.number, 0) < SAVE_EVERY:
                return
        applied = 0
        for shard, cursor in list(part.cursors.items()):
            head = service.last_seq(shard)
            if cursor == head:
                continue
            if not self._reaches(part):
                _log.warning("vector index %s rebuilt: behind the change feed", index.name)
                part.adopt(self._build(part.collection, index))
                return
            while part.cursors[shard] < head:
                changes = service.changes(shard, part.cursors[shard], _READ)
                if not changes:
                    break
                part.apply(shard, changes)
                applied += len(changes)
        if part.wants_rebuild:  # IVF-PQ keeps no vectors to rebuild from: read them again
            scans = (service.scan_shard(part.collection, s) for s in part.cursors)
            part.rebuild(itertools.chain.from_iterable(scans))
        self._unsaved[index.number] = self._unsaved.get(index.number, 0) + applied
        if self._unsaved[index.number] >= SAVE_EVERY:
            self._save(index.number, part)

    def _save(self, number: int, part: VectorPart) -> None:
        file = self._file(number)
        self._unsaved[number] = 0
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
            for number, part in self._parts.items():
                if self._unsaved.get(number):
                    with part.lock:
                        self._save(number, part)
            self._parts.clear()


def attach_vectors(service: LocalService) -> None:
    """Give ``service`` its vector indexes (files under its data directory's ``vectors/``)."""
    store = service.store
    directory = None if store.in_memory else Path(store.path) / "vectors"
    service.attach_vectors(VectorSet(service, directory))

"""The store interface the storage suite drives, and LumaDB behind it.

Every store takes the same ``(id, dict)`` pairs and hands back dicts, so each pays for its own
JSON encoding and decoding. Each operation is one tight loop written for that store (no shared
adapter layer in the timed path), so the driver costs every contender the same few bytecodes.
The peers are in :mod:`benchmarks.peers`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import lumadb
from benchmarks.workload import Doc, Pair
from lumadb.config import Settings, load_settings

__all__ = ["COLLECTION", "LumaStore", "Opener", "Store", "luma_settings"]

COLLECTION = "bench"


class Store(Protocol):
    """What the storage suite measures; the ``*_each`` and ``put_batches`` loops are timed."""

    def put_each(self, pairs: Sequence[Pair]) -> None:
        """Write the documents one at a time (one write, transaction or batch each)."""

    def put_batches(self, batches: Sequence[list[Pair]]) -> None:
        """Write each batch atomically, in one write, transaction or batch."""

    def get_each(self, ids: Sequence[str]) -> None:
        """Read and decode each document."""

    def scan_each(self, starts: Sequence[str], limit: int) -> None:
        """For each start id, read and decode ``limit`` consecutive documents from it."""

    def get(self, doc_id: str) -> Doc | None:
        """One document (used to check results, not timed)."""

    def scan(self, start: str, limit: int) -> list[Pair]:
        """One range (used to check results, not timed)."""

    def quiet(self) -> bool:
        """Whether no background work (compaction) is pending, so reads are not disturbed."""

    def close(self) -> None:
        """Close the store (flushing whatever it keeps in memory)."""


Opener = Callable[[Path], Store]
"""Opens (creating if needed) a store in the given existing directory."""


def luma_settings(**storage: object) -> Settings:
    """LumaDB's defaults with ``[storage]`` overrides; the environment is ignored.

    The raw-rocksdict peer builds its options from the same settings, so no ``LUMA_*``
    variable can give one side different options than the other.
    """
    overrides = {f"storage.{key}": value for key, value in storage.items()}
    return load_settings(None, env={}, overrides=overrides)


class LumaStore:
    """LumaDB through its embedded API: one collection, ``put``/``get``/``put_many``/``scan``."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self._db = lumadb.open(path, config=settings)
        self._docs = self._db.create_collection(COLLECTION, exist_ok=True)

    def put_each(self, pairs: Sequence[Pair]) -> None:
        """``Collection.put`` per document."""
        put = self._docs.put
        for doc_id, doc in pairs:
            put(doc_id, doc)

    def put_batches(self, batches: Sequence[list[Pair]]) -> None:
        """``Collection.put_many`` per batch."""
        put_many = self._docs.put_many
        for batch in batches:
            put_many(batch)

    def get_each(self, ids: Sequence[str]) -> None:
        """``Collection.get`` per id."""
        get = self._docs.get
        for doc_id in ids:
            get(doc_id)

    def scan_each(self, starts: Sequence[str], limit: int) -> None:
        """``Collection.scan(start=..., limit=...)`` per start, consumed into a list."""
        scan = self._docs.scan
        for start in starts:
            list(scan(start=start, limit=limit))

    def get(self, doc_id: str) -> Doc | None:
        """One document."""
        return self._docs.get(doc_id)

    def scan(self, start: str, limit: int) -> list[Pair]:
        """One range."""
        return list(self._docs.scan(start=start, limit=limit))

    def quiet(self) -> bool:
        """No shard has compaction bytes pending (RocksDB's estimate)."""
        shards = self._db.stats()["shards"]
        return all(shard.get("pending_compaction_bytes", 0) == 0 for shard in shards)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

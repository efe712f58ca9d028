"""HybridStorage: the tiers of one shard behind one read/write surface.

L1 is the hot cache (:mod:`.cache`), L2 the LSM engine (:mod:`.lsm`). Reads try L1 then L2;
writes go to L2 and then update L1 entries that are cached while the shard's write lock is
held, so L1 is exact. The
cold tier (L3) joins here in the tiering work.
"""

from __future__ import annotations

import threading

from lumadb.storage.cache import HotCache
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import KVEngine

__all__ = ["HybridStorage"]


class HybridStorage:
    """L1 over L2 for one shard."""

    def __init__(self, engine: KVEngine, cache: HotCache, lock: threading.Lock) -> None:
        self.engine = engine
        self.cache = cache
        self._lock = lock
        # Bumped by every write; a read miss fills L1 only if no write happened meanwhile,
        # so a slow reader can never put back a value that a writer just replaced.
        self.generation = 0
        self._cache_writes = not FAULTS.stale_cache
        self._caching = cache.capacity > 0
        # Admission doorkeeper (TinyLFU's idea): a key enters L1 on its second miss within a
        # window, so one-off reads and scans neither pay for copies nor evict hot entries.
        self._seen: set[int] = set()
        self._seen_limit = max(1024, cache.capacity // 1024)

    def read(self, key: bytes) -> bytes | None:
        """The stored value of ``key`` (L1, else L2) or ``None``."""
        value = self.cache.get(key)
        if value is not None:
            return value
        generation = self.generation
        value = self.engine.get(key)
        if value is not None and self._caching:
            self._fill(key, value, generation)
        return value

    def _admit(self, key: bytes) -> bool:
        digest = hash(key)
        seen = self._seen
        if digest in seen:
            seen.discard(digest)
            return True
        if len(seen) >= self._seen_limit:
            seen.clear()
        seen.add(digest)
        return False

    def _fill(self, key: bytes, value: bytes, generation: int) -> None:
        if not self._admit(key):
            return
        # Never wait for the lock: a busy writer just means this value is not cached.
        if self._lock.acquire(blocking=False):
            try:
                if generation == self.generation:
                    self.cache.put(key, value)
            finally:
                self._lock.release()

    def read_many(self, keys: list[bytes]) -> list[bytes | None]:
        """Stored values of ``keys`` in order; misses are read from L2 in one multi-get."""
        values = [self.cache.get(k) for k in keys]
        missing = [i for i, v in enumerate(values) if v is None]
        if not missing:
            return values
        generation = self.generation
        found = self.engine.multi_get([keys[i] for i in missing])
        for i, value in zip(missing, found, strict=True):
            values[i] = value
            if value is not None and self._caching:
                self._fill(keys[i], value, generation)
        return values

    def current(self, key: bytes) -> bytes | None:
        """The value a writer is about to replace (caller holds the write lock)."""
        value = self.cache.peek(key)
        return value if value is not None else self.engine.get(key)

    def written(self, key: bytes, value: bytes | None) -> None:
        """After a write of ``key`` (caller holds the lock): keep L1 exact."""
        self.generation += 1
        if self._cache_writes:
            if value is None:
                self.cache.discard(key)
            else:
                self.cache.replace(key, value)

    def written_many(self, items: list[tuple[bytes, bytes | None]]) -> None:
        """After a batch write: keep L1 exact for every key of it."""
        self.generation += 1
        if self._cache_writes and len(self.cache):
            cache = self.cache
            for key, value in items:
                if value is None:
                    cache.discard(key)
                else:
                    cache.replace(key, value)

"""L1: a bounded hot cache of stored values, one per shard.

An LRU over an ``OrderedDict`` bounded in bytes. Reads fill it; writes go through it without
allocating: a write replaces a cached entry (or drops it, for deletes) while holding the shard's
write lock, so the cache is always exact, but a write never adds a key. Read misses fill it
only when no write to the shard happened since the read began (see ``HybridStorage.read``).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["ENTRY_OVERHEAD", "HotCache"]

# Approximate bytes an entry costs beyond its key and value (dict slot, bytes headers).
ENTRY_OVERHEAD = 100


class HotCache:
    """Byte-bounded LRU cache with hit, miss and eviction counters."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self._data: OrderedDict[bytes, bytes] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: bytes) -> bytes | None:
        """The cached value (counted as a hit) or ``None`` (a miss)."""
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        try:  # noqa: SIM105 - contextlib.suppress costs a call on the hottest path
            self._data.move_to_end(key)
        except KeyError:  # evicted by a writer between the two lines: still a valid value
            pass
        return value

    def peek(self, key: bytes) -> bytes | None:
        """The cached value without touching counters or recency."""
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        """Insert or replace ``key``; evicts least recently used entries to stay in budget."""
        cost = len(key) + len(value) + ENTRY_OVERHEAD
        if cost > self.capacity:
            self.discard(key)
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.size -= len(key) + len(old) + ENTRY_OVERHEAD
        self._data[key] = value
        self.size += cost
        while self.size > self.capacity:
            k, v = self._data.popitem(last=False)
            self.size -= len(k) + len(v) + ENTRY_OVERHEAD
            self.evictions += 1

    def replace(self, key: bytes, value: bytes) -> None:
        """Update ``key`` only if it is cached (write-through without write-allocate).

        Writes keep cached entries exact but do not pull new keys in: a bulk load must not
        evict the entries that reads made hot, nor pay for copies nobody reads.
        """
        if key in self._data:
            self.put(key, value)

    def discard(self, key: bytes) -> None:
        """Forget ``key`` if cached."""
        old = self._data.pop(key, None)
        if old is not None:
            self.size -= len(key) + len(old) + ENTRY_OVERHEAD

    def discard_prefix(self, prefix: bytes) -> None:
        """Forget every key starting with ``prefix`` (used when a collection is dropped)."""
        for key in [k for k in self._data if k.startswith(prefix)]:
            self.discard(key)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
        self.size = 0

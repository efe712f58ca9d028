"""L1: a bounded hot cache of stored values, one per shard.

An LRU over an ``OrderedDict`` bounded in bytes. Reads fill it; writes go through it without
allocating: a write replaces a cached entry (or drops it, for deletes) while it holds its key's
stripe lock, so the cache is always exact, but a write never adds a key. Read misses fill it
only when no write of the key happened since the read began (see ``HybridStorage.read``).

Lookups take no lock (each ``OrderedDict`` operation is atomic under the GIL); changes take the
cache's own short lock, which is never held across I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["ENTRY_OVERHEAD", "HotCache"]

# Approximate bytes an entry costs beyond its key and value (dict slot, bytes headers).
ENTRY_OVERHEAD = 100


class HotCache:
    """Byte-bounded LRU cache with hit, miss and eviction counters."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self.data: OrderedDict[bytes, bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.size = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: bytes) -> bytes | None:
        """The cached value (counted as a hit) or ``None`` (a miss)."""
        value = self.data.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        try:  # noqa: SIM105 - contextlib.suppress costs a call on the hottest path
            self.data.move_to_end(key)
        except KeyError:  # evicted by a writer between the two lines: still a valid value
            pass
        return value

    def peek(self, key: bytes) -> bytes | None:
        """The cached value without touching counters or recency."""
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        """Insert or replace ``key``; evicts least recently used entries to stay in budget."""
        with self.lock:
            self.put_locked(key, value)

    def put_locked(self, key: bytes, value: bytes) -> None:
        """:meth:`put` for a caller that holds :attr:`lock`."""
        cost = len(key) + len(value) + ENTRY_OVERHEAD
        old = self.data.pop(key, None)
        if old is not None:
            self.size -= len(key) + len(old) + ENTRY_OVERHEAD
        if cost > self.capacity:
            return
        self.data[key] = value
        self.size += cost
        while self.size > self.capacity:
            k, v = self.data.popitem(last=False)
            self.size -= len(k) + len(v) + ENTRY_OVERHEAD
            self.evictions += 1

    def replace(self, key: bytes, value: bytes | None) -> None:
        """Update ``key`` only if it is cached (write-through without write-allocate).

        Writes keep cached entries exact but do not pull new keys in: a bulk load must not
        evict the entries that reads made hot, nor pay for copies nobody reads. ``None``
        drops the entry (a delete).
        """
        if key in self.data:
            with self.lock:
                if value is None:
                    self.discard_locked(key)
                elif key in self.data:
                    self.put_locked(key, value)

    def discard(self, key: bytes) -> None:
        """Forget ``key`` if cached."""
        if key in self.data:
            with self.lock:
                self.discard_locked(key)

    def discard_locked(self, key: bytes) -> None:
        """:meth:`discard` for a caller that holds :attr:`lock`."""
        old = self.data.pop(key, None)
        if old is not None:
            self.size -= len(key) + len(old) + ENTRY_OVERHEAD

    def discard_prefix(self, prefix: bytes) -> None:
        """Forget every key starting with ``prefix`` (used when a collection is dropped)."""
        with self.lock:
            for key in [k for k in self.data if k.startswith(prefix)]:
                self.discard_locked(key)

    def clear(self) -> None:
        """Forget everything."""
        with self.lock:
            self.data.clear()
            self.size = 0

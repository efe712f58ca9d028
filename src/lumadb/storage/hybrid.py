"""HybridStorage: the tiers of one shard behind one read/write surface.

L1 is the hot cache (:mod:`.cache`), L2 the LSM engine (:mod:`.lsm`). Reads try L1 then L2;
writes go to L2 and then update the L1 entries that are cached while the writer holds its key's
stripe lock, so L1 is exact. The cold tier (L3) joins here in the tiering work.

A read miss may only fill L1 if no write of its key happened between its L2 read and the fill:
every write bumps the generation of its key's stripe (batches bump one epoch for all) *before*
it looks for the key in L1, and the fill, made under the cache's lock, checks both are unchanged
before and after inserting. A writer that looked too early to see the filled entry has bumped
already, so the second check removes it: a slow reader can never put back a value that a
writer just replaced, and writers take no cache lock unless their key is cached.
"""

from __future__ import annotations

from lumadb.storage.cache import HotCache
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import KVEngine

__all__ = ["HybridStorage"]


class HybridStorage:
    """L1 over L2 for one shard."""

    def __init__(self, engine: KVEngine, cache: HotCache, stripes: int) -> None:
        self.engine = engine
        self.cache = cache
        self.mask = stripes - 1
        self.gens = [0] * stripes
        self.epoch = 0
        self._caching = cache.capacity > 0
        # The stale-cache canary: batch writes leave L1 alone (the shard does the same for
        # single writes), so reads can return values that were overwritten.
        self._cache_writes = not FAULTS.stale_cache
        # Admission doorkeeper (TinyLFU's idea): a key enters L1 on its second miss within a
        # window, so one-off reads and scans neither pay for copies nor evict hot entries.
        self._seen: set[int] = set()
        self._seen_limit = max(1024, cache.capacity // 1024)

    def read(self, key: bytes) -> bytes | None:
        """The stored value of ``key`` (L1, else L2) or ``None``."""
        value = self.cache.get(key)
        if value is not None:
            return value
        if not self._caching:
            return self.engine.get(key)
        stripe = hash(key) & self.mask
        gen, epoch = self.gens[stripe], self.epoch
        value = self.engine.get(key)
        if value is not None and self._admit(key):
            self._fill(key, value, stripe, gen, epoch)
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

    def _fill(self, key: bytes, value: bytes, stripe: int, gen: int, epoch: int) -> None:
        cache = self.cache
        with cache.lock:
            if self.gens[stripe] == gen and self.epoch == epoch:
                cache.put_locked(key, value)
                if self.gens[stripe] != gen or self.epoch != epoch:
                    cache.discard_locked(key)

    def read_many(self, keys: list[bytes]) -> list[bytes | None]:
        """Stored values of ``keys`` in order; misses are read from L2 in one multi-get."""
        values = [self.cache.get(k) for k in keys]
        missing = [i for i, v in enumerate(values) if v is None]
        if not missing:
            return values
        mask, gens, epoch = self.mask, self.gens, self.epoch
        seen = [gens[hash(keys[i]) & mask] for i in missing] if self._caching else []
        found = self.engine.multi_get([keys[i] for i in missing])
        for n, (i, value) in enumerate(zip(missing, found, strict=True)):
            values[i] = value
            if value is not None and self._caching and self._admit(keys[i]):
                key = keys[i]
                self._fill(key, value, hash(key) & mask, seen[n], epoch)
        return values

    def current(self, key: bytes) -> bytes | None:
        """The value a writer is about to replace (caller holds the key's stripe)."""
        value = self.cache.peek(key)
        return value if value is not None else self.engine.get(key)

    def written_batch(self, items: list[tuple[bytes, bytes]]) -> None:
        """After a batch of puts (caller holds every stripe): keep L1 exact."""
        self.epoch += 1
        cached = self.cache.data
        if cached and self._cache_writes:
            replace = self.cache.replace
            for key, value in items:
                if key in cached:
                    replace(key, value)

    def written_keys(self, keys: list[bytes]) -> None:
        """After a batch wrote ``keys`` (caller holds every stripe): drop their L1 entries.

        Dropping is exact too; the batch's values are not at hand to replace them.
        """
        self.epoch += 1
        cached = self.cache.data
        if cached and self._cache_writes:
            discard = self.cache.discard
            for key in keys:
                if key in cached:
                    discard(key)

    def dropped(self, prefix: bytes) -> None:
        """After a range of keys was deleted (caller holds every stripe)."""
        self.epoch += 1
        self.cache.discard_prefix(prefix)

"""A shard: one partition of the data, its change feed and its write path.

Every logical write becomes one atomic batch holding the document, its change-feed record and
whatever the registered write hooks add. The batch is written under the shard's write lock (so
sequence numbers follow commit order), L1 is updated, the lock is released, and then the
durability mode decides when the write is acknowledged (:mod:`.commit`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from lumadb.clock import Clock
from lumadb.errors import DiskFullError, DocumentExists, ReadOnlyError, VersionMismatch
from lumadb.storage import codec, keys
from lumadb.storage.cache import HotCache
from lumadb.storage.commit import WalSyncer
from lumadb.storage.faults import FAULTS
from lumadb.storage.hooks import WriteHook
from lumadb.storage.hybrid import HybridStorage
from lumadb.storage.lsm import Batch, KVEngine, ReadView

__all__ = ["IMAGE_NEW", "IMAGE_OLD", "Shard"]

# Which document images a change-feed record carries (a per-collection choice).
IMAGE_NEW = 1
IMAGE_OLD = 2

_NO_EXPECT = -1
_RESUME_INTERVAL = 1.0
_RESUME_MIN_FREE = 1 << 20
_pack_value = codec.pack_value_header
_pack_feed = codec.pack_feed_header
_pack_feed_key = keys.pack_feed_key
_VALUE_VERSION = codec.VALUE_VERSION
_FEED_VERSION = codec.FEED_VERSION
_HAS_NEW = codec.FEED_HAS_NEW
_OP_PUT = codec.OP_PUT


class Shard:
    """One partition: an engine, its hot cache, its change feed and its durability."""

    def __init__(
        self, shard_id: int, engine: KVEngine, cache_bytes: int, durability: str, clock: Clock
    ) -> None:
        self.id = shard_id
        self.name = f"shard {shard_id}"
        self.engine = engine
        self.lock = threading.Lock()
        self.hybrid = HybridStorage(engine, HotCache(cache_bytes), self.lock)
        self._now_ms = clock.now_ms
        self.seq = self._recover_seq()
        self.syncer = WalSyncer(engine, durability, lambda: self.seq, self.name)
        self.hooks: tuple[WriteHook, ...] = ()
        self._hooks_need_old = False
        self._feed = not FAULTS.skip_feed
        self._cache_writes = not FAULTS.stale_cache
        self._monotonic = clock.monotonic
        self._full_since: float | None = None
        self._resume_after = 0.0
        self._wait_sync = durability != "off"
        # Bound once for the write path.
        self._new_batch = engine.batch
        self._write = engine.write
        self._cache_put = self.hybrid.cache.replace
        # Bound once: reads skip a layer of calls (and L1 altogether when it is disabled).
        self.get: Callable[[bytes], bytes | None] = self.hybrid.read
        self.get_many: Callable[[list[bytes]], list[bytes | None]] = self.hybrid.read_many
        if cache_bytes <= 0:
            self.get, self.get_many = engine.get, engine.multi_get

    def _recover_seq(self) -> int:
        # Pruning always keeps the newest record, so the last feed key is the last sequence.
        for key, _ in self.engine.iterate(keys.FEED, keys.FEED_END, reverse=True):
            return keys.feed_seq(key)
        return 0

    def add_hook(self, hook: WriteHook) -> None:
        """Register a write hook (its entries join every later write's batch)."""
        with self.lock:
            self.hooks = (*self.hooks, hook)
            self._hooks_need_old = any(h.needs_old for h in self.hooks)

    def _check_writable(self) -> None:
        failure = self.syncer.failure
        if failure is not None:
            raise ReadOnlyError(f"{self.name} is read-only: {failure.message}")
        if self._full_since is not None:
            self._try_resume()

    # --- a full disk -----------------------------------------------------------------------
    #
    # After ENOSPC RocksDB keeps failing writes until its own recovery sees free space of at
    # least a memtable (64 MiB by default). The shard instead retries by reopening the engine,
    # at most once per second and only when some space is free again, so writes resume as soon
    # as the disk has room. Reads keep working meanwhile (the engine stays open until then).

    def _disk_full(self) -> None:
        if self._full_since is None:
            self._full_since = self._monotonic()
        self._resume_after = self._monotonic() + _RESUME_INTERVAL

    def _guarded_write(self, batch: Batch, sync: bool = False) -> None:
        try:
            self.engine.write(batch, sync=sync)
        except DiskFullError:
            self._disk_full()
            raise

    def _try_resume(self) -> None:
        now = self._monotonic()
        if now >= self._resume_after:
            self._resume_after = now + _RESUME_INTERVAL
            if self.engine.free_bytes() >= _RESUME_MIN_FREE:
                with self.lock:
                    self.engine.recover()
                self._full_since = None
                return
        raise DiskFullError(f"{self.name}: the disk is full; writes resume when space is freed")

    # --- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, body: bytes, images: int = 0, expect: int = _NO_EXPECT) -> int:
        """Store ``body`` under ``key``; returns the new version (its sequence number).

        ``expect`` makes the write conditional: 0 means the key must not exist, n > 0 that its
        current version must be n.
        """
        if self.syncer.failure is not None or self._full_since is not None:
            self._check_writable()
        # The common case (no old image, no condition, no hooks) is inlined: it is the hot path.
        slow = images & IMAGE_OLD or expect != _NO_EXPECT or self.hooks
        with self.lock:
            seq = self.seq + 1
            value = _pack_value(_VALUE_VERSION, seq) + body
            batch = self._new_batch()
            batch.put(key, value)
            if slow:
                current = self.hybrid.current(key)
                _check_expect(key, current, expect)
                self._put_full(batch, seq, key, body, images, current)
            elif self._feed:
                if images & IMAGE_NEW:
                    head = _pack_feed(
                        _FEED_VERSION, _OP_PUT, _HAS_NEW, self._now_ms(), len(key), len(body)
                    )
                    batch.put(_pack_feed_key(b"f", seq), head + key + body)
                else:
                    head = _pack_feed(_FEED_VERSION, _OP_PUT, 0, self._now_ms(), len(key), 0)
                    batch.put(_pack_feed_key(b"f", seq), head + key)
            try:
                self._write(batch, sync=False)
            except DiskFullError:
                self._disk_full()
                raise
            self.hybrid.generation += 1
            if self._cache_writes:
                self._cache_put(key, value)
            self.seq = seq
        if self._wait_sync:
            self.syncer.wait(seq)
        return seq

    def _put_full(
        self, batch: Batch, seq: int, key: bytes, body: bytes, images: int, current: bytes | None
    ) -> None:
        # The slower path: the previous value is needed (old image, condition or hooks).
        old = bytes(codec.stored_body(current)) if current is not None else None
        op = codec.OP_UPDATE if current is not None else codec.OP_INSERT
        if self._feed:
            feed = codec.encode_feed(
                op,
                self._now_ms(),
                key,
                body if images & IMAGE_NEW else None,
                old if images & IMAGE_OLD else None,
            )
            batch.put(keys.feed_key(seq), feed)
        for hook in self.hooks:
            hook.on_write(batch, key, body, old)

    def delete(self, key: bytes, images: int = 0, expect: int = _NO_EXPECT) -> int | None:
        """Remove ``key``; returns the change's sequence number, or ``None`` if it was absent."""
        self._check_writable()
        with self.lock:
            current = self.hybrid.current(key)
            if current is None:
                if expect > 0:
                    _check_expect(key, None, expect)
                return None
            _check_expect(key, current, expect)
            seq = self.seq + 1
            old = bytes(codec.stored_body(current))
            batch = self.engine.batch()
            batch.delete(key)
            if self._feed:
                feed = codec.encode_feed(
                    codec.OP_DELETE, self._now_ms(), key, None, old if images & IMAGE_OLD else None
                )
                batch.put(keys.feed_key(seq), feed)
            for hook in self.hooks:
                hook.on_write(batch, key, None, old)
            self._guarded_write(batch)
            self.hybrid.written(key, None)
            self.seq = seq
        self.syncer.wait(seq)
        return seq

    def put_many(self, items: list[tuple[bytes, bytes]], images: int = 0) -> int:
        """Store many documents in one atomic batch; returns the last sequence number."""
        self._check_writable()
        with self.lock:
            seq = self.seq
            batch = self.engine.batch()
            updates: list[tuple[bytes, bytes | None]] = []
            full = bool(images & IMAGE_OLD) or self._hooks_need_old
            if full or self.hooks or not self._feed:
                seq = self._batch_general(batch, items, images, seq, updates)
            else:
                seq = self._batch_fast(batch, items, images, seq, updates)
            self._guarded_write(batch)
            self.hybrid.written_many(updates)
            self.seq = seq
        self.syncer.wait(seq)
        return seq

    def _batch_fast(
        self,
        batch: Batch,
        items: list[tuple[bytes, bytes]],
        images: int,
        seq: int,
        updates: list[tuple[bytes, bytes | None]],
    ) -> int:
        # Documents with the value format inlined, and one group feed record for all of them.
        put, add = batch.put, updates.append
        written: list[bytes] = []
        note = written.append
        for key, body in items:
            seq += 1
            value = _pack_value(_VALUE_VERSION, seq) + body
            put(key, value)
            add((key, value))
            note(key)
        bodies = [body for _, body in items] if images & IMAGE_NEW else None
        put(keys.feed_key(seq), codec.encode_feed_group(self._now_ms(), written, bodies))
        return seq

    def _batch_general(
        self,
        batch: Batch,
        items: list[tuple[bytes, bytes]],
        images: int,
        seq: int,
        updates: list[tuple[bytes, bytes | None]],
    ) -> int:
        full = bool(images & IMAGE_OLD) or self._hooks_need_old
        # Values written earlier in this batch, for old images of repeated keys.
        pending: dict[bytes, bytes] = {}
        now = self._now_ms()
        for key, body in items:
            seq += 1
            value = codec.stored_value(seq, body)
            batch.put(key, value)
            if full:
                current = pending.get(key) or self.hybrid.current(key)
                self._put_full(batch, seq, key, body, images, current)
                pending[key] = value
            else:
                if self._feed:
                    new = body if images & IMAGE_NEW else None
                    batch.put(keys.feed_key(seq), codec.encode_feed(codec.OP_PUT, now, key, new))
                for hook in self.hooks:
                    hook.on_write(batch, key, body, None)
            updates.append((key, value))
        return seq

    def drop_range(self, prefix: bytes) -> int:
        """Delete every document under ``prefix`` (a dropped collection) and record it."""
        self._check_writable()
        with self.lock:
            seq = self.seq + 1
            batch = self.engine.batch()
            batch.delete_range(prefix, keys.prefix_end(prefix))
            batch.put(keys.feed_key(seq), codec.encode_feed(codec.OP_DROP, self._now_ms(), prefix))
            self._guarded_write(batch)
            self.hybrid.generation += 1
            self.hybrid.cache.discard_prefix(prefix)
            self.seq = seq
        self.syncer.wait(seq)
        return seq

    # --- reads -----------------------------------------------------------------------------

    def scan(
        self, lower: bytes, upper: bytes, *, reverse: bool = False, view: ReadView | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Stored pairs in ``[lower, upper)`` from L2 (scans do not go through L1)."""
        return (view or self.engine).iterate(lower, upper, reverse=reverse)

    def count(self, lower: bytes, upper: bytes, view: ReadView | None = None) -> int:
        """Number of keys in ``[lower, upper)``."""
        return (view or self.engine).count(lower, upper)

    # --- metadata --------------------------------------------------------------------------

    def meta_get(self, name: str) -> bytes | None:
        """A metadata value of this shard."""
        return self.engine.get(keys.meta_key(name))

    def meta_put(self, name: str, value: bytes | None) -> None:
        """Set (or with ``None`` remove) a metadata value, synced before returning."""
        self._check_writable()
        batch = self.engine.batch()
        if value is None:
            batch.delete(keys.meta_key(name))
        else:
            batch.put(keys.meta_key(name), value)
        with self.lock:
            self._guarded_write(batch, sync=True)

    def stats(self) -> dict[str, int]:
        """Figures for metrics: cache counters, sync counters and engine sizes."""
        cache = self.hybrid.cache
        return {
            "seq": self.seq,
            "l1_hits": cache.hits,
            "l1_misses": cache.misses,
            "l1_entries": len(cache),
            "l1_bytes": cache.size,
            "l1_evictions": cache.evictions,
            "wal_syncs": self.syncer.syncs,
            "wal_synced_writes": self.syncer.synced_writes,
            "read_only": int(self.syncer.failure is not None),
            "disk_full": int(self._full_since is not None),
            **self.engine.stats(),
        }


def _check_expect(key: bytes, current: bytes | None, expect: int) -> None:
    if expect == _NO_EXPECT:
        return
    if expect == 0:
        if current is not None:
            raise DocumentExists(f"document {keys.split_doc_key(key)[1]!r} already exists")
        return
    version = codec.stored_version(current) if current is not None else None
    if version != expect:
        doc_id = keys.split_doc_key(key)[1]
        found = "does not exist" if version is None else f"is at version {version}"
        raise VersionMismatch(f"document {doc_id!r} {found}, expected version {expect}")

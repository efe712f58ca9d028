"""A shard: one partition of the data and its write path.

Every logical write is one atomic engine write: a plain put or delete is a single RocksDB
operation; a write that needs more (the old image for the change feed, the entries of write
hooks) is one batch. The change feed costs writes nothing: it is the engine's log, read back
(:mod:`.changefeed`). A collection that records old images puts the previous document under
:data:`~lumadb.storage.keys.OLD_IMAGE` in the same batch, just before the write it belongs to.

Writes of one key are serialized by the key's *stripe* lock (one of :data:`STRIPES`, chosen by
the key's hash), so L1 and conditional writes stay exact; writes of different keys never wait
for each other. (One lock for the whole shard would be held across the engine write, which
releases the GIL, and every other writer would queue behind it and pay a thread wake-up.)
Batches and whole-shard operations take every stripe, in order (:meth:`Shard.exclusive`).
After its write the writer waits for durability as its mode says (:mod:`.commit`).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from lumadb.clock import Clock
from lumadb.errors import DiskFullError, DocumentExists, ReadOnlyError, VersionMismatch
from lumadb.storage import codec, keys
from lumadb.storage.cache import HotCache
from lumadb.storage.commit import WalSyncer
from lumadb.storage.faults import FAULTS
from lumadb.storage.hooks import WriteHook
from lumadb.storage.hybrid import HybridStorage
from lumadb.storage.lsm import Batch, KVEngine, ReadView

__all__ = ["ABSENT", "IMAGE_OLD", "NO_EXPECT", "STRIPES", "Shard"]

IMAGE_OLD = 2  # a collection's feed records carry the previous document
STRIPES = 512
NO_EXPECT = -1  # an unconditional write
ABSENT = 0  # a conditional write that requires the key not to exist

_MASK = STRIPES - 1
_UNGUARDED = contextlib.nullcontext()
_RESUME_INTERVAL = 1.0
_RESUME_MIN_FREE = 1 << 20
_Lock = type(threading.Lock())
_acquire, _release = _Lock.acquire, _Lock.release
# Runs an iterator to its end at C speed (taking 512 locks in a Python loop costs 4x more).
_drain: Callable[[Iterator[object]], None] = collections.deque[object](maxlen=0).extend


class Shard:
    """One partition: an engine, its hot cache and its durability."""

    def __init__(
        self, shard_id: int, engine: KVEngine, cache_bytes: int, durability: str, clock: Clock
    ) -> None:
        self.id = shard_id
        self.name = f"shard {shard_id}"
        self.engine = engine
        self.stripes = [threading.Lock() for _ in range(STRIPES)]
        self.hybrid = HybridStorage(engine, HotCache(cache_bytes), STRIPES)
        # Set while writes must be refused or checked first (a failed sync, a full disk).
        self._blocked = False
        self.syncer = WalSyncer(engine, durability, self.name, self._block)
        self.hooks: tuple[WriteHook, ...] = ()
        self._hooked: tuple[bytes, ...] = ()  # the key prefixes the hooks care about
        self._guarded: tuple[WriteHook, ...] = ()  # the hooks with a guard
        self.hooks_version = 0
        self._hooks_need_old = False
        self._monotonic = clock.monotonic
        self._full_since: float | None = None
        self._resume_after = 0.0
        self._wait: Callable[[], None] | None = None if durability == "off" else self.syncer.wait
        # Bound once for the write path. The stale-cache canary makes writes skip L1.
        self._put = engine.put_fast
        self._put_options = engine.put_options
        self._gens = self.hybrid.gens
        self._cached = self.hybrid.cache.data if not FAULTS.stale_cache else {}
        self._replace = self.hybrid.cache.replace
        # Bound once: reads skip a layer of calls (and L1 altogether when it is disabled).
        self.get: Callable[[bytes], bytes | None] = self.hybrid.read
        self.get_many: Callable[[list[bytes]], list[bytes | None]] = self.hybrid.read_many
        if cache_bytes <= 0:
            self.get, self.get_many = engine.get, engine.multi_get

    @property
    def seq(self) -> int:
        """The sequence number of the shard's newest write."""
        return self.engine.last_seq()

    def add_hook(self, hook: WriteHook, build: Callable[[Batch], None] | None = None) -> None:
        """Register a write hook (its entries join every later write's batch).

        ``build`` adds the hook's entries for what is stored already; it runs while no write
        is in progress, and its batch commits (synced) before any write sees the hook, so
        the derived entries and the documents agree from the first moment.
        """
        with self.exclusive():
            if build is not None:
                batch = self.engine.batch()
                build(batch)
                self._write(batch, sync=True)
            self.hooks = (*self.hooks, hook)
            self._guarded = tuple(h for h in self.hooks if getattr(h, "guard", None))
            self._hooks_need_old = any(h.needs_old for h in self.hooks)
            self._hooked = tuple(h.prefix for h in self.hooks)
            self.hooks_version += 1

    def remove_hook(self, hook: WriteHook, clear: bytes | None = None) -> None:
        """Unregister ``hook``; with ``clear``, delete every key under that prefix too."""
        with self.exclusive():
            self.hooks = tuple(h for h in self.hooks if h is not hook)
            self._guarded = tuple(h for h in self.hooks if getattr(h, "guard", None))
            self._hooks_need_old = any(h.needs_old for h in self.hooks)
            self._hooked = tuple(h.prefix for h in self.hooks)
            self.hooks_version += 1
            if clear is not None:
                batch = self.engine.batch()
                batch.delete_range(clear, keys.prefix_end(clear))
                self._write(batch, sync=True)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold every stripe: no write of this shard is in progress meanwhile."""
        _drain(map(_acquire, self.stripes))
        try:
            yield
        finally:
            _drain(map(_release, self.stripes))

    def _block(self) -> None:
        self._blocked = True

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
        self._blocked = True

    def _failed(self, exc: Exception) -> NoReturn:
        # An exception of the fast path: translated by the engine, a full disk noted.
        try:
            self.engine.translate(exc, "write")
        except DiskFullError:
            self._disk_full()
            raise

    def _write(self, batch: Batch, sync: bool = False) -> None:
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
                with self.exclusive():
                    self.engine.recover()
                    self._put = self.engine.put_fast  # the reopened engine's
                    self._put_options = self.engine.put_options
                self._full_since = None
                self._blocked = self.syncer.failure is not None
                return
        raise DiskFullError(f"{self.name}: the disk is full; writes resume when space is freed")

    # --- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, body: bytes, images: int = 0, expect: int = NO_EXPECT) -> None:
        """Store ``body`` under ``key``.

        ``expect`` makes the write conditional: :data:`ABSENT` means the key must not exist,
        any other value that the current document's version (:func:`codec.version_of`) is it.
        """
        if images or expect != NO_EXPECT:
            if self._blocked:
                self._check_writable()
            self._put_checked(key, body, images, expect)
            if self._wait is not None:
                self._wait()
        else:
            self.put_plain(key, body)

    def put_plain(self, key: bytes, body: bytes) -> None:
        """:meth:`put` of a collection without old images, unconditionally (the hot path)."""
        if self._blocked:
            self._check_writable()
        if self.hooks and key.startswith(self._hooked):
            self._put_checked(key, body, 0, NO_EXPECT)
        else:
            stripe = hash(key) & _MASK
            lock = self.stripes[stripe]
            lock.acquire()  # cheaper than `with` on this path
            try:
                self._put(key, body, self._put_options)
                self._gens[stripe] += 1
                if key in self._cached:
                    self._replace(key, body)
            except Exception as exc:
                self._failed(exc)
            finally:
                lock.release()
        if self._wait is not None:
            self._wait()

    def guards(self, written: Iterable[bytes]) -> list[Any]:
        """The guards of hooks (unique indexes') that writes of ``written`` must hold, in
        the order of their ``number``: entered before any key's lock, held until the batch
        is written (see :mod:`lumadb.storage.hooks`)."""
        found: dict[int, Any] = {}
        for hook in self._guarded:
            guard = getattr(hook, "guard", None)
            if guard is not None and any(k.startswith(hook.prefix) for k in written):
                found[guard.number] = guard
        return [found[n] for n in sorted(found)]

    @contextmanager
    def guarding(self, written: Iterable[bytes]) -> Iterator[None]:
        """Hold :meth:`guards` of ``written``."""
        with contextlib.ExitStack() as held:
            for guard in self.guards(written):
                held.enter_context(guard)
            yield

    def _put_checked(self, key: bytes, body: bytes, images: int, expect: int) -> None:
        # The slower path: the previous value is needed (old image, condition or hooks).
        stripe = hash(key) & _MASK
        with self.guarding((key,)) if self._guarded else _UNGUARDED, self.stripes[stripe]:
            current = self.hybrid.current(key)
            _check_expect(key, current, expect)
            if images or self.hooks:
                batch = self.engine.batch()
                self._derived(batch, key, body, current, images)
                batch.put(key, body)
                self._write(batch)
            else:
                try:
                    self.engine.put(key, body)
                except DiskFullError:
                    self._disk_full()
                    raise
            self._wrote(stripe, key, body)

    def _derived(
        self, batch: Batch, key: bytes, new: bytes | None, old: bytes | None, images: int
    ) -> None:
        """Add the hooks' entries and the old image for a write of ``key`` to ``batch``."""
        for hook in self.hooks:
            if key.startswith(hook.prefix):
                hook.on_write(batch, key, new, old)
        if images & IMAGE_OLD:
            # An empty old image means "did not exist": a stored document is never empty.
            batch.put(keys.OLD_IMAGE, old if old is not None else b"")

    def _wrote(self, stripe: int, key: bytes, value: bytes | None) -> None:
        self._gens[stripe] += 1
        if key in self._cached:
            self._replace(key, value)

    def delete(self, key: bytes, images: int = 0, expect: int = NO_EXPECT) -> bool:
        """Remove ``key``; returns whether it existed."""
        self._check_writable()
        stripe = hash(key) & _MASK
        with self.guarding((key,)) if self._guarded else _UNGUARDED, self.stripes[stripe]:
            current = self.hybrid.current(key)
            _check_expect(key, current, expect)
            if current is None:
                return False
            if images or self.hooks:
                batch = self.engine.batch()
                self._derived(batch, key, None, current, images)
                batch.delete(key)
                self._write(batch)
            else:
                try:
                    self.engine.delete(key)
                except DiskFullError:
                    self._disk_full()
                    raise
            self._wrote(stripe, key, None)
        if self._wait is not None:
            self._wait()
        return True

    def put_many(self, items: list[tuple[bytes, bytes]], images: int = 0) -> None:
        """Store many documents in one atomic batch."""
        self._check_writable()
        general = bool(images) or bool(self.hooks)
        batch = self.engine.batch()
        if not general:  # nothing to read first: build the batch before pausing writers
            put = batch.put
            for key, body in items:
                put(key, body)
        held = self.guarding([k for k, _ in items]) if self._guarded else _UNGUARDED
        with held, self.exclusive():
            if general:
                self._batch_general(batch, items, images)
            self._write(batch)
            self.hybrid.written_batch(items)
        if self._wait is not None:
            self._wait()

    def commit_puts(self, batch: Batch, keys: list[bytes], hooks: int) -> bool:
        """Write a batch of plain puts the caller built (its keys in ``keys``), atomically.

        The fast path of a bulk write: the caller encodes documents straight into the batch,
        so nothing is kept per document but its key. Only for collections without old images,
        on a shard whose hooks are as they were when the caller checked (``hooks`` =
        :attr:`hooks_version` then); otherwise nothing is written and False is returned, and
        the caller uses :meth:`put_many`.
        """
        self._check_writable()
        with self.exclusive():
            if hooks != self.hooks_version or self.hooks:
                return False
            self._write(batch)
            self.hybrid.written_keys(keys)
        if self._wait is not None:
            self._wait()
        return True

    def _batch_general(self, batch: Batch, items: list[tuple[bytes, bytes]], images: int) -> None:
        read = bool(images) or self._hooks_need_old
        # Values written earlier in this batch: the old image of a repeated key.
        pending: dict[bytes, bytes] = {}
        for key, body in items:
            current = (pending.get(key) or self.hybrid.current(key)) if read else None
            self._derived(batch, key, body, current, images)
            batch.put(key, body)
            pending[key] = body

    # A transaction's writes of this shard: (key, body or None to delete, images, expect).
    # The caller holds :meth:`exclusive` across all three steps (and across every shard of
    # the transaction), so nothing changes between the check and the write.

    def check_ops(self, ops: list[tuple[bytes, bytes | None, int, int]]) -> None:
        """Raise if any write's expectation fails (earlier writes of the same key count)."""
        self._check_writable()
        pending: dict[bytes, bytes | None] = {}
        for key, body, _, expect in ops:
            current = pending[key] if key in pending else self.hybrid.current(key)
            _check_expect(key, current, expect)
            pending[key] = body

    def build_ops(self, ops: list[tuple[bytes, bytes | None, int, int]]) -> Batch:
        """The one batch of the writes, with their hooks' entries (hooks may refuse)."""
        batch = self.engine.batch()
        pending: dict[bytes, bytes | None] = {}
        for key, body, images, _ in ops:
            current = pending[key] if key in pending else self.hybrid.current(key)
            if body is None and current is None:
                continue  # deleting what is not there writes nothing
            self._derived(batch, key, body, current, images)
            if body is None:
                batch.delete(key)
            else:
                batch.put(key, body)
            pending[key] = body
        return batch

    def write_ops(self, batch: Batch, ops: list[tuple[bytes, bytes | None, int, int]]) -> None:
        """Write the batch :meth:`build_ops` made and keep L1 exact."""
        self._write(batch)
        for key, body, _, _ in ops:
            self._wrote(hash(key) & _MASK, key, body)

    def wait_durable(self) -> None:
        """Wait for the last write as the durability mode says."""
        if self._wait is not None:
            self._wait()

    def drop_range(self, prefix: bytes) -> None:
        """Delete every document under ``prefix`` (a dropped collection)."""
        self._check_writable()
        batch = self.engine.batch()
        batch.delete_range(prefix, keys.prefix_end(prefix))
        with self.exclusive():
            self._write(batch)
            self.hybrid.dropped(prefix)
        if self._wait is not None:
            self._wait()

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
        self._write(batch, sync=True)

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
    if expect == NO_EXPECT:
        return
    doc_id = keys.split_doc_key(key)[1]
    if expect == ABSENT:
        if current is not None:
            raise DocumentExists(f"document {doc_id!r} already exists")
        return
    if current is None:
        raise VersionMismatch(f"document {doc_id!r} does not exist, expected version {expect}")
    version = codec.version_of(current)
    if version != expect:
        raise VersionMismatch(
            f"document {doc_id!r} is at version {version}, expected version {expect}"
        )

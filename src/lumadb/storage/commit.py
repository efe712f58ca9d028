"""When a write is acknowledged: the durability modes.

``always``
    every write is followed by its own WAL fsync before it is acknowledged.
``group`` (default)
    writers append to the WAL without syncing and then wait for a sync that covers them. A
    per-shard sync thread runs those syncs back to back while anyone waits: a writer joins the
    next sync's generation after its write returned, so that sync covers it, and RocksDB's
    ``flush_wal`` releases the GIL, so the next writes are made while the current sync is on
    the disk (a pipeline, as in MySQL's and RocksDB's own group commit). Each waiter sleeps on
    a plain lock of its own that the sync thread releases, far cheaper than a condition
    variable.
``off``
    writes are acknowledged once in the OS page cache (they survive a process crash, not a
    machine crash).

An event loop must not sleep in a writer's lock. Inside :func:`deferred`, a ``group`` wait
returns at once and notes the shard instead; the caller then awaits
:meth:`WalSyncer.wait_async` of each noted shard, which joins the next generation with an
asyncio future. The sync thread settles every future of one loop with a single
``call_soon_threadsafe``, so a generation costs one wake-up per event loop, not one per
request.

A failed sync is never followed by an acknowledgement: the shard turns read-only and every
writer waiting on that sync gets :class:`~lumadb.errors.DurabilityError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lumadb.errors import DurabilityError, LumaError, StorageError
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import KVEngine

__all__ = ["DURABILITY_MODES", "WalSyncer", "deferred"]

DURABILITY_MODES = ("always", "group", "off")
_allocate_lock = threading.Lock
_local = threading.local()


@contextmanager
def deferred() -> Iterator[set[WalSyncer]]:
    """Group-commit waits in this thread return at once; the syncers are collected instead.

    Whoever enters this must await :meth:`WalSyncer.wait_async` of every collected syncer
    before acknowledging the writes made inside it.
    """
    pending: set[WalSyncer] = set()
    outer = getattr(_local, "pending", None)
    _local.pending = pending
    try:
        yield pending
    finally:
        _local.pending = outer


def _settle(futures: list[asyncio.Future[None]], error: LumaError | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class _Generation:
    """The writers one sync will acknowledge; each sleeps on its own held lock."""

    __slots__ = ("error", "futures", "waiters")

    def __init__(self) -> None:
        self.waiters: list[threading.Lock] = []
        self.futures: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        self.error: LumaError | None = None

    def __bool__(self) -> bool:
        return bool(self.waiters or self.futures)

    def size(self) -> int:
        """How many writes this generation acknowledges."""
        return len(self.waiters) + sum(len(f) for f in self.futures.values())


class WalSyncer:
    """Makes a shard's writes durable according to its mode."""

    def __init__(
        self,
        engine: KVEngine,
        mode: str,
        shard_name: str,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        if mode not in DURABILITY_MODES:
            raise ValueError(f"unknown durability mode {mode!r}")
        self.mode = mode
        self._engine = engine
        self._name = shard_name
        self._on_failure = on_failure
        self._sync_lock = threading.Lock()
        self.failure: DurabilityError | None = None
        self.syncs = 0
        self.synced_writes = 0
        self._ignore_errors = FAULTS.ignore_sync_errors
        # group mode state, guarded by _mutex
        self._mutex = threading.Lock()
        self._next = _Generation()
        self._idle = True
        self._stopped = False
        self._work = threading.Lock()  # held while the sync thread has nothing to do
        self._work.acquire()
        self._thread: threading.Thread | None = None
        self.wait: Callable[[], None] = {
            "always": self._wait_always,
            "group": self._wait_group,
            "off": self._wait_off,
        }[mode]
        if mode == "group":
            self._thread = threading.Thread(
                target=self._run, name=f"luma-sync-{shard_name}", daemon=True
            )
            self._thread.start()

    def _sync(self) -> None:
        try:
            self._engine.sync_wal()
        except StorageError as exc:
            if self._ignore_errors:
                return
            self.failure = DurabilityError(
                f"{self._name}: syncing the write-ahead log failed ({exc.message}); the write "
                "was not acknowledged and the shard is read-only until restarted"
            )
            self._on_failure()
            raise self.failure from exc
        self.syncs += 1

    def _wait_off(self) -> None:
        return

    def _wait_always(self) -> None:
        with self._sync_lock:
            if self.failure is not None:
                raise self.failure
            self._sync()
            self.synced_writes += 1

    def _wait_group(self) -> None:
        pending = getattr(_local, "pending", None)
        if pending is not None:
            pending.add(self)
            return
        with self._mutex:
            if self.failure is not None:
                raise self.failure
            if self._stopped:
                raise StorageError(f"{self._name} is closed")
            gen = self._next
            parked = _allocate_lock()
            parked.acquire()
            gen.waiters.append(parked)
            if self._idle:
                self._idle = False
                self._work.release()
        # Released by the sync thread once the sync covering this write is done. One lock per
        # waiter lets them all wake at once (a shared gate would wake them one after another).
        parked.acquire()
        if gen.error is not None:
            raise gen.error

    async def wait_async(self) -> None:
        """Wait, without blocking the event loop, for a group sync covering earlier writes."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._mutex:
            if self.failure is not None:
                raise self.failure
            if self._stopped:
                raise StorageError(f"{self._name} is closed")
            self._next.futures.setdefault(loop, []).append(future)
            if self._idle:
                self._idle = False
                self._work.release()
        await future

    def _run(self) -> None:
        while True:
            self._work.acquire()
            while True:
                with self._mutex:
                    gen = self._next
                    if not gen:
                        self._idle = True
                        break
                    # Every write of this generation returned before joining it, so the sync
                    # that follows covers them all.
                    self._next = _Generation()
                self._sync_generation(gen)
            if self._stopped:
                return

    def _sync_generation(self, gen: _Generation) -> None:
        try:
            self._sync()
        except LumaError as exc:
            gen.error = exc
        else:
            self.synced_writes += gen.size()
        for parked in gen.waiters:
            parked.release()
        for loop, futures in gen.futures.items():
            # A loop that has closed has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, futures, gen.error)

    def close(self) -> None:
        """Stop the sync thread (after it finishes the syncs writers wait for)."""
        if self._thread is None:
            return
        with self._mutex:
            self._stopped = True
            if self._idle:
                self._idle = False
                self._work.release()
        self._thread.join(timeout=10)
        self._thread = None

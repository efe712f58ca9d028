"""When a write is acknowledged: the durability modes.

``always``
    every write is followed by its own WAL fsync before it is acknowledged.
``group`` (default)
    writers append to the WAL without syncing, then wait for a sync that covers them; the first
    waiter becomes the leader and syncs for everyone written so far, the others wait. RocksDB's
    ``flush_wal`` releases the GIL, so writes keep arriving while the leader's fsync runs and the
    next sync covers all of them: thousands of durable writes per second from a disk that does a
    few thousand fsyncs.
``off``
    writes are acknowledged once in the OS page cache (they survive a process crash, not a
    machine crash).

A failed sync is never followed by an acknowledgement: the shard turns read-only and every
writer waiting on that sync gets :class:`~lumadb.errors.DurabilityError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lumadb.errors import DurabilityError, LumaError, StorageError
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import KVEngine

__all__ = ["DURABILITY_MODES", "WalSyncer"]

DURABILITY_MODES = ("always", "group", "off")


class WalSyncer:
    """Makes a shard's writes durable according to its mode."""

    def __init__(
        self, engine: KVEngine, mode: str, written: Callable[[], int], shard_name: str
    ) -> None:
        if mode not in DURABILITY_MODES:
            raise ValueError(f"unknown durability mode {mode!r}")
        self.mode = mode
        self._engine = engine
        self._written = written
        self._name = shard_name
        self._cond = threading.Condition()
        self._sync_lock = threading.Lock()
        self._durable = 0
        self._syncing = False
        self.failure: DurabilityError | None = None
        self.syncs = 0
        self.synced_writes = 0
        self._ignore_errors = FAULTS.ignore_sync_errors
        self.wait: Callable[[int], None] = {
            "always": self._wait_always,
            "group": self._wait_group,
            "off": self._wait_off,
        }[mode]

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
            raise self.failure from exc
        self.syncs += 1

    def _wait_off(self, seq: int) -> None:
        return

    def _wait_always(self, seq: int) -> None:
        with self._sync_lock:
            if self.failure is not None:
                raise self.failure
            self._sync()
            self.synced_writes += 1

    def _wait_group(self, seq: int) -> None:
        cond = self._cond
        with cond:
            while self._durable < seq:
                if self.failure is not None:
                    raise self.failure
                if self._syncing:
                    cond.wait()
                    continue
                self._lead(cond)

    def _lead(self, cond: threading.Condition) -> None:
        # Everything written before the sync starts is covered by it.
        target = self._written()
        self._syncing = True
        cond.release()
        error: LumaError | None = None
        try:
            self._sync()
        except LumaError as exc:
            error = exc
        finally:
            cond.acquire()
            self._syncing = False
        if error is None:
            self.synced_writes += target - self._durable
            self._durable = max(self._durable, target)
        cond.notify_all()
        if error is not None:
            raise error

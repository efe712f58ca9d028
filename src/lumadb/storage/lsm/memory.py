"""The in-memory twin of the RocksDB engine.

Same contract as :mod:`lumadb.storage.lsm.rocks`, kept in a sorted dict. Used by ``:memory:``
databases and by fast tests that run the same bodies against both engines. ``sync_wal`` and
``sync`` writes count their calls so tests can observe the durability protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from sortedcontainers import SortedDict

from lumadb.errors import BackupError, StorageError
from lumadb.storage.lsm import Batch

__all__ = ["MemoryBatch", "MemoryEngine", "MemoryFactory"]

_PUT, _DELETE, _DELETE_RANGE = 0, 1, 2


class MemoryBatch:
    """Operations recorded in order, applied atomically by :meth:`MemoryEngine.write`."""

    def __init__(self) -> None:
        self.ops: list[tuple[int, bytes, bytes]] = []

    def put(self, key: bytes, value: bytes) -> None:
        """Record a put."""
        self.ops.append((_PUT, bytes(key), bytes(value)))

    def delete(self, key: bytes) -> None:
        """Record a delete."""
        self.ops.append((_DELETE, bytes(key), b""))

    def delete_range(self, begin: bytes, end: bytes) -> None:
        """Record a range delete of ``[begin, end)``."""
        self.ops.append((_DELETE_RANGE, bytes(begin), bytes(end)))


class _SortedView:
    """Reads over a SortedDict; scans copy the key range first so writers cannot disturb them."""

    def __init__(self, data: SortedDict, lock: threading.Lock) -> None:
        self._data = data
        self._lock = lock

    def get(self, key: bytes) -> bytes | None:
        """Point read."""
        value: bytes | None = self._data.get(key)
        return value

    def multi_get(self, keys: list[bytes]) -> list[bytes | None]:
        """Point reads."""
        return [self._data.get(k) for k in keys]

    def iterate(
        self, lower: bytes, upper: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs in ``[lower, upper)`` as they were when the scan started."""
        with self._lock:
            keys = list(self._data.irange(lower, upper, (True, False), reverse=reverse))
            pairs = [(k, self._data[k]) for k in keys]
        yield from pairs

    def count(self, lower: bytes, upper: bytes) -> int:
        """Keys in ``[lower, upper)``."""
        with self._lock:
            return sum(1 for _ in self._data.irange(lower, upper, (True, False)))


class MemorySnapshot(_SortedView):
    """A copy of the data at snapshot time."""

    def __init__(self, data: SortedDict) -> None:
        super().__init__(data, threading.Lock())
        self._open = True

    def get(self, key: bytes) -> bytes | None:
        """Point read as of the snapshot."""
        self._check()
        return super().get(key)

    def iterate(
        self, lower: bytes, upper: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Range read as of the snapshot."""
        self._check()
        return super().iterate(lower, upper, reverse=reverse)

    def _check(self) -> None:
        if not self._open:
            raise StorageError("the snapshot was closed")

    def close(self) -> None:
        """Release the copy."""
        self._open = False


class MemoryEngine(_SortedView):
    """A sorted dict with the engine's contract."""

    def __init__(self) -> None:
        super().__init__(SortedDict(), threading.Lock())
        self.wal_syncs = 0
        self.closed = False

    def batch(self) -> Batch:
        """A new batch."""
        return MemoryBatch()

    def write(self, batch: Batch, *, sync: bool) -> None:
        """Apply every operation of ``batch`` under one lock (atomic for readers)."""
        if self.closed:
            raise StorageError("write: the engine is closed")
        if not isinstance(batch, MemoryBatch):
            raise TypeError("MemoryEngine.write takes batches from MemoryEngine.batch()")
        with self._lock:
            for op, key, value in batch.ops:
                if op == _PUT:
                    self._data[key] = value
                elif op == _DELETE:
                    self._data.pop(key, None)
                else:
                    for k in list(self._data.irange(key, value, (True, False))):
                        del self._data[k]
            if sync:
                self.wal_syncs += 1

    def sync_wal(self) -> None:
        """Nothing to sync; counted for tests."""
        self.wal_syncs += 1

    def snapshot(self) -> MemorySnapshot:
        """A copy of the current data."""
        with self._lock:
            return MemorySnapshot(self._data.copy())

    def checkpoint(self, path: str) -> None:
        """In-memory data has no files to checkpoint."""
        raise BackupError("an in-memory database cannot be backed up to files")

    def flush(self) -> None:
        """Nothing to flush."""

    def stats(self) -> dict[str, int]:
        """Key count and the bytes held."""
        with self._lock:
            size = sum(len(k) + len(v) for k, v in self._data.items())
            return {"estimate_keys": len(self._data), "live_data_bytes": size}

    def free_bytes(self) -> int:
        """Memory is never "full" here."""
        return 1 << 62

    def recover(self) -> None:
        """Nothing sticky to clear."""

    def close(self) -> None:
        """Mark closed (the data stays readable for tests that inspect it)."""
        self.closed = True


class MemoryFactory:
    """Opens memory engines; the same path gives the same engine while the factory lives."""

    def __init__(self) -> None:
        self._engines: dict[str, MemoryEngine] = {}

    def open(self, path: str) -> MemoryEngine:
        """The engine for ``path`` (re-opened if it had been closed)."""
        engine = self._engines.get(path)
        if engine is None:
            engine = self._engines[path] = MemoryEngine()
        engine.closed = False
        return engine

    def close(self) -> None:
        """Nothing shared to release."""

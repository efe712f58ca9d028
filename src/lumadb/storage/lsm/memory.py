"""The in-memory twin of the RocksDB engine.

Same contract as :mod:`lumadb.storage.lsm.rocks`, kept in a sorted dict. Used by ``:memory:``
databases and by fast tests that run the same bodies against both engines. ``sync_wal`` and
``sync`` writes count their calls so tests can observe the durability protocol. The log is a
list of segments of logged operations, a new segment every :data:`SEGMENT_OPS` operations (the
twin of RocksDB's WAL files); all but the newest count as archived.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator
from typing import NoReturn

from sortedcontainers import SortedDict

from lumadb.errors import BackupError, LumaError, StorageError
from lumadb.storage.lsm import DELETE, DELETE_RANGE, PUT, Batch, LogOp, LogSegment

__all__ = ["SEGMENT_OPS", "MemoryBatch", "MemoryEngine", "MemoryFactory"]

_PUT, _DELETE, _DELETE_RANGE = PUT, DELETE, DELETE_RANGE
SEGMENT_OPS = 4096


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


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


class _Segment:
    __slots__ = ("ends", "mtime_ms", "number", "ops", "size")

    def __init__(self, number: int, now_ms: int) -> None:
        self.number = number
        self.ops: list[LogOp] = []
        self.ends: list[int] = []  # per operation: the sequence number ending its write
        self.size = 0
        self.mtime_ms = now_ms


class MemoryEngine(_SortedView):
    """A sorted dict with the engine's contract."""

    def __init__(self, now_ms: Callable[[], int] = _wall_ms) -> None:
        super().__init__(SortedDict(), threading.Lock())
        self.wal_syncs = 0
        self.closed = False
        self._now_ms = now_ms
        self._seq = 0
        self._segments = [_Segment(1, now_ms())]

    def put(self, key: bytes, value: bytes) -> None:
        """Set one key."""
        self._apply([(_PUT, bytes(key), bytes(value))], sync=False)

    def put_fast(self, key: bytes, value: bytes, options: object) -> None:
        """:meth:`put` (it raises LumaDB errors already)."""
        self.put(key, value)

    put_options = None

    def translate(self, exc: Exception, what: str) -> NoReturn:
        """Memory engines raise LumaDB errors themselves: anything else is a bug."""
        if isinstance(exc, LumaError):
            raise exc
        raise StorageError(f"{what}: {exc}") from exc

    def delete(self, key: bytes) -> None:
        """Remove one key."""
        self._apply([(_DELETE, bytes(key), b"")], sync=False)

    def batch(self) -> Batch:
        """A new batch."""
        return MemoryBatch()

    def write(self, batch: Batch, *, sync: bool) -> None:
        """Apply every operation of ``batch`` under one lock (atomic for readers)."""
        if not isinstance(batch, MemoryBatch):
            raise TypeError("MemoryEngine.write takes batches from MemoryEngine.batch()")
        self._apply(batch.ops, sync)

    def _apply(self, ops: list[tuple[int, bytes, bytes]], sync: bool) -> None:
        if self.closed:
            raise StorageError("write: the engine is closed")
        with self._lock:
            for op, key, value in ops:
                if op == _PUT:
                    self._data[key] = value
                elif op == _DELETE:
                    self._data.pop(key, None)
                else:
                    for k in list(self._data.irange(key, value, (True, False))):
                        del self._data[k]
            self._log(ops)
            if sync:
                self.wal_syncs += 1

    def _log(self, ops: list[tuple[int, bytes, bytes]]) -> None:
        segment = self._segments[-1]
        if len(segment.ops) >= SEGMENT_OPS:
            segment = _Segment(segment.number + 1, self._now_ms())
            self._segments.append(segment)
        end = self._seq + len(ops)
        for op, key, value in ops:
            self._seq += 1
            segment.ops.append((self._seq, op, key, value))
            segment.ends.append(end)
            segment.size += len(key) + len(value) + 8
        segment.mtime_ms = self._now_ms()

    def last_seq(self) -> int:
        """The newest operation's sequence number."""
        return self._seq

    def log_since(self, since: int, limit: int) -> list[LogOp]:
        """Logged operations after ``since``; whole writes, so possibly a few past ``limit``."""
        out: list[LogOp] = []
        with self._lock:
            for segment in self._segments:
                ops = segment.ops
                if not ops or ops[-1][0] <= since:
                    continue
                at = bisect.bisect_right(ops, since, key=lambda op: op[0])
                stop = min(len(ops), at + limit - len(out))
                end = segment.ends[stop - 1]
                while stop < len(ops) and ops[stop][0] <= end:
                    stop += 1
                out.extend(ops[at:stop])
                if len(out) >= limit:
                    break
        return out

    def log_segments(self) -> list[LogSegment]:
        """The segments, oldest first; all but the newest are archived."""
        with self._lock:
            last = len(self._segments) - 1
            return [
                LogSegment(
                    s.number,
                    s.ops[0][0] if s.ops else 0,
                    s.size,
                    s.mtime_ms,
                    i < last,
                    f"memory:{s.number}",
                )
                for i, s in enumerate(self._segments)
            ]

    def drop_log_segment(self, segment: LogSegment) -> None:
        """Forget an archived segment."""
        with self._lock:
            if not segment.archived or segment.number == self._segments[-1].number:
                raise StorageError(f"log segment {segment.number} is still in use")
            self._segments = [s for s in self._segments if s.number != segment.number]

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
        """Nothing to flush; starts a new log segment, as RocksDB starts a new WAL file."""
        with self._lock:
            if self._segments[-1].ops:
                number = self._segments[-1].number + 1
                self._segments.append(_Segment(number, self._now_ms()))

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

    def __init__(self, now_ms: Callable[[], int] = _wall_ms) -> None:
        self._engines: dict[str, MemoryEngine] = {}
        self._now_ms = now_ms

    def open(self, path: str) -> MemoryEngine:
        """The engine for ``path`` (re-opened if it had been closed)."""
        engine = self._engines.get(path)
        if engine is None:
            engine = self._engines[path] = MemoryEngine(self._now_ms)
        engine.closed = False
        return engine

    def close(self) -> None:
        """Nothing shared to release."""

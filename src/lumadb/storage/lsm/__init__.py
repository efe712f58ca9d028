"""The L2 seam: an ordered, durable key-value engine.

:class:`KVEngine` is what a shard needs from an LSM: atomic batches, point and range reads,
snapshots, a WAL that can be synced on demand and read back, and checkpoints. Two engines
implement it: ``rocks`` (RocksDB through rocksdict, the real thing) and ``memory`` (a sorted
dict, the twin for fast tests and ``:memory:`` databases). Keys and values are ``bytes``;
ranges are ``[lower, upper)``.

The log: every operation an engine applies gets the next sequence number, and
:meth:`KVEngine.log_since` reads the applied operations back in that order (for RocksDB, its
write-ahead log). The shard's change feed is this log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn, Protocol

__all__ = [
    "DELETE",
    "DELETE_RANGE",
    "PUT",
    "Batch",
    "EngineFactory",
    "EngineOptions",
    "KVEngine",
    "LogOp",
    "LogSegment",
    "ReadView",
    "Snapshot",
]

# Kinds of logged operations.
PUT, DELETE, DELETE_RANGE = 0, 1, 2

LogOp = tuple[int, int, bytes, bytes]
"""A logged operation: ``(seq, kind, key, value)``; a range delete's value is its end key."""


@dataclass(frozen=True, slots=True)
class LogSegment:
    """One piece of an engine's log (a WAL file), the unit in which old log is deleted."""

    number: int
    first_seq: int  # the sequence number of its first operation; 0 while it holds none
    size: int
    mtime_ms: int  # when it was last written (wall clock)
    archived: bool  # no longer needed by the engine itself: may be deleted
    path: str


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Tuning of one engine instance (derived from ``[storage]`` settings)."""

    write_buffer: int = 64 << 20
    compression: str = "lz4"
    bottommost_compression: str = "zstd"
    bloom_bits_per_key: float = 10.0
    background_jobs: int = 2


class Batch(Protocol):
    """Operations applied together, atomically, by :meth:`KVEngine.write`."""

    def put(self, key: bytes, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        ...

    def delete(self, key: bytes) -> None:
        """Remove ``key``."""
        ...

    def delete_range(self, begin: bytes, end: bytes) -> None:
        """Remove every key in ``[begin, end)``."""
        ...


class ReadView(Protocol):
    """Reads, either of the live engine or of a snapshot."""

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` or ``None``."""
        ...

    def multi_get(self, keys: list[bytes]) -> list[bytes | None]:
        """Values of ``keys`` in the same order, ``None`` for missing ones."""
        ...

    def iterate(
        self, lower: bytes, upper: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with ``lower <= key < upper`` in key order (descending if ``reverse``)."""
        ...

    def count(self, lower: bytes, upper: bytes) -> int:
        """How many keys lie in ``[lower, upper)``."""
        ...


class Snapshot(ReadView, Protocol):
    """A frozen view of the engine at the moment it was taken."""

    def close(self) -> None:
        """Release the snapshot (it pins old versions in the LSM)."""
        ...


class KVEngine(ReadView, Protocol):
    """One LSM instance (one per shard)."""

    @property
    def put_fast(self) -> Callable[[bytes, bytes, object], None]:
        """:meth:`put` without its error translation, for the hottest write path.

        Called as ``put_fast(key, value, put_options)``. It may raise the engine's own
        exceptions, which the caller passes to :meth:`translate`.
        """
        ...

    @property
    def put_options(self) -> object:
        """The third argument of :attr:`put_fast` (positional: keyword calls cost more)."""
        ...

    def put(self, key: bytes, value: bytes) -> None:
        """Set one key, atomically, as a write of its own (not synced)."""
        ...

    def translate(self, exc: Exception, what: str) -> NoReturn:
        """Raise the LumaDB error for an exception of the engine (LumaErrors pass through)."""
        ...

    def delete(self, key: bytes) -> None:
        """Remove one key as a write of its own (not synced)."""
        ...

    def batch(self) -> Batch:
        """A new, empty batch for :meth:`write`."""
        ...

    def write(self, batch: Batch, *, sync: bool) -> None:
        """Apply ``batch`` atomically; with ``sync`` the WAL is fsynced before returning."""
        ...

    def sync_wal(self) -> None:
        """Make every write so far durable (one fsync of the WAL)."""
        ...

    def snapshot(self) -> Snapshot:
        """A consistent read view as of now."""
        ...

    def last_seq(self) -> int:
        """The sequence number of the newest applied operation (0 for an empty engine)."""
        ...

    def log_since(self, since: int, limit: int) -> list[LogOp]:
        """About ``limit`` logged operations after ``since``, in order (whole writes)."""
        ...

    def log_segments(self) -> list[LogSegment]:
        """The pieces of the log still kept, oldest first."""
        ...

    def drop_log_segment(self, segment: LogSegment) -> None:
        """Delete an archived piece of the log (change-feed retention)."""
        ...

    def checkpoint(self, path: str) -> None:
        """Write a consistent, openable copy of the engine to the new directory ``path``."""
        ...

    def flush(self) -> None:
        """Flush memtables to sorted files (makes checkpoints and restarts cheaper)."""
        ...

    def stats(self) -> dict[str, int]:
        """Engine figures for metrics (sizes, counts); names are engine-specific."""
        ...

    def free_bytes(self) -> int:
        """Free space on the engine's disk (for resuming after the disk was full)."""
        ...

    def recover(self) -> None:
        """Reopen to clear a sticky error (such as a full disk) once its cause is gone."""
        ...

    def close(self) -> None:
        """Flush and close; the engine is unusable afterwards."""
        ...


class EngineFactory(Protocol):
    """Opens engines that share process-wide resources (such as one block cache)."""

    def open(self, path: str) -> KVEngine:
        """Open (creating if needed) the engine stored at ``path``."""
        ...

    def close(self) -> None:
        """Release shared resources once every engine is closed."""
        ...

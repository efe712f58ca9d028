"""The node's own records (the catalog, the accounts), shared by every process of the node.

Each record is one file under ``meta/`` in the data directory, replaced atomically (temp
file, fsync, rename). A node's shard workers are separate processes that all read these
records, so a change made by one must reach the others before their next request:

- a read-modify-write holds ``meta/LOCK`` (``flock``) as well as a thread lock, and re-reads
  the record under it, so two workers never overwrite each other's change;
- after every write the writer bumps a counter in ``meta/GEN``, a small file every process
  maps into memory. Reading the counter costs a memory load, so a worker checks it before
  each request and reloads the records only when it moved.

The counter lives only in memory-mapped pages: it is not data and a restart re-reads
everything anyway. A database in memory keeps its records in a dict.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from lumadb.errors import InvalidArgument, StorageError
from lumadb.storage.datadir import atomic_write

__all__ = ["META_DIR", "MetaStore"]

META_DIR = "meta"
_LOCK = "LOCK"
_GEN = "GEN"
RESERVED = frozenset({_LOCK, _GEN})
_COUNTER = struct.Struct("<Q")


def _check_name(name: str) -> None:
    if not name or name in RESERVED or not name.replace(".", "").replace("_", "").isalnum():
        raise InvalidArgument(f"{name!r} is not a usable record name")


class MetaStore:
    """Named byte records of one data directory (``root=None``: of memory)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self._thread_lock = threading.RLock()
        self._memory: dict[str, bytes] | None = None
        self._local_gen = 0
        self._map: mmap.mmap | None = None
        self._lock_fd: int | None = None
        self.root = None if root is None else Path(root) / META_DIR
        if self.root is None:
            self._memory = {}
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            gen_fd = os.open(self.root / _GEN, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if os.fstat(gen_fd).st_size < _COUNTER.size:
                    os.ftruncate(gen_fd, _COUNTER.size)
                self._map = mmap.mmap(gen_fd, _COUNTER.size)
            finally:
                os.close(gen_fd)
        except OSError as exc:
            self.close()
            raise StorageError(f"cannot use {self.root} for the node's records: {exc}") from exc

    def generation(self) -> int:
        """A number that changes whenever any process of the node writes a record."""
        if self._map is None:
            return self._local_gen
        return int(_COUNTER.unpack_from(self._map)[0])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the records against writers in this and every other process of the node."""
        with self._thread_lock:
            if self._lock_fd is None:
                yield
                return
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def get(self, name: str) -> bytes | None:
        """A record's bytes, or ``None`` when it was never written."""
        _check_name(name)
        if self._memory is not None:
            return self._memory.get(name)
        assert self.root is not None
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self.root / name}: {exc}") from exc

    def put(self, name: str, value: bytes) -> None:
        """Replace a record (durable before it returns) and tell the other processes."""
        _check_name(name)
        with self.locked():
            if self._memory is not None:
                self._memory[name] = value
                self._local_gen += 1
                return
            assert self.root is not None
            assert self._map is not None
            try:
                atomic_write(self.root / name, value)
            except OSError as exc:
                raise StorageError(f"cannot write {self.root / name}: {exc}") from exc
            _COUNTER.pack_into(self._map, 0, self.generation() + 1)

    def names(self) -> list[str]:
        """Every record's name (what a backup copies)."""
        if self._memory is not None:
            return sorted(self._memory)
        assert self.root is not None
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_file() and p.name not in RESERVED and not p.name.startswith(".")
        )

    def close(self) -> None:
        """Release the lock file and the counter's mapping (idempotent)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

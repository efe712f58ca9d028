"""The storage database: a data directory holding N shards.

Layout of a data directory::

    LOCK                  exclusive lock, names its holder
    luma.json             manifest: format, shard count, creation time
    meta/                 the node's records: catalog, accounts (see storage/meta.py)
    shards/000 ... NNN    one RocksDB instance per shard

A document key belongs to shard ``xxh3_64(key) % N``; the count is fixed when the directory is
created (``storage.shards``, default one per core) and read from the manifest afterwards.

A served node's shard workers each open only the shards they own (``owned``); the node
process holds the directory's lock for all of them (``lock=False`` in the workers), and each
shard's own RocksDB lock keeps two workers from opening the same shard.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import xxhash

from lumadb.clock import Clock, SystemClock
from lumadb.config import Settings
from lumadb.errors import ConfigError, CorruptionError, DatabaseClosed, StorageError, Unavailable
from lumadb.storage import changefeed
from lumadb.storage.datadir import DirLock, atomic_write, read_json
from lumadb.storage.lsm import EngineFactory, EngineOptions, ReadView
from lumadb.storage.meta import MetaStore
from lumadb.storage.shard import Shard

__all__ = [
    "MANIFEST",
    "Database",
    "DatabaseSnapshot",
    "dump_manifest",
    "engine_options",
    "manifest_intact",
    "stored_shard_count",
]

_log = logging.getLogger("lumadb.storage")

MANIFEST = "luma.json"
FORMAT = 1
MEMORY = ":memory:"


def engine_options(settings: Settings) -> EngineOptions:
    """Engine tuning from ``[storage]`` settings."""
    st = settings.storage
    return EngineOptions(
        write_buffer=st.write_buffer,
        compression=st.compression,
        bottommost_compression=st.bottommost_compression,
        bloom_bits_per_key=float(st.bloom_bits_per_key),
        background_jobs=st.background_jobs,
    )


def _factory(in_memory: bool, settings: Settings, clock: Clock) -> EngineFactory:
    if in_memory:
        from lumadb.storage.lsm.memory import MemoryFactory

        return MemoryFactory(clock.now_ms)
    from lumadb.storage.lsm.rocks import RocksFactory

    return RocksFactory(engine_options(settings), settings.storage.block_cache)


class DatabaseSnapshot:
    """A consistent view of every shard, taken at one instant."""

    def __init__(self, views: list[ReadView]) -> None:
        self.views = views

    def close(self) -> None:
        """Release the per-shard snapshots."""
        for view in self.views:
            close = getattr(view, "close", None)
            if close is not None:
                close()
        self.views = []


class Database:
    """Shards of one data directory (or of memory), their lock and their maintenance."""

    def __init__(
        self,
        path: str,
        settings: Settings,
        clock: Clock | None = None,
        *,
        owned: Sequence[int] | None = None,
        lock: bool = True,
    ) -> None:
        self.path = path
        self.in_memory = path == MEMORY
        self.settings = settings
        self.clock = clock or SystemClock()
        self._lock: DirLock | None = None
        self._closed = False
        self.meta: MetaStore | None = None
        count = self._prepare(lock)
        ids = list(range(count)) if owned is None else sorted(set(owned))
        if not ids or not 0 <= ids[0] <= ids[-1] < count:
            self.close()
            raise ConfigError(f"owned shards {list(owned or [])} are outside 0..{count - 1}")
        self._factory = _factory(self.in_memory, settings, self.clock)
        cache_each = settings.storage.hot_cache // count
        self.shards: list[Shard] = []
        try:
            self.meta = MetaStore(None if self.in_memory else self.path)
            for i in ids:
                engine = self._factory.open(self._shard_path(i))
                self.shards.append(
                    Shard(i, engine, cache_each, settings.storage.durability, self.clock)
                )
        except BaseException:
            self.close()
            raise
        self._hash = xxhash.xxh3_64_intdigest
        self._count = count
        self.complete = len(ids) == count
        # Position in self.shards by shard id; -1 for the shards another process owns.
        self._positions = [-1] * count
        for pos, shard in enumerate(self.shards):
            self._positions[shard.id] = pos
        if self.complete:
            self.shard_for = self._shard_for_all  # type: ignore[method-assign]
            self.shard_index = self._shard_index_all  # type: ignore[method-assign]
        self._stop = threading.Event()
        # What the change-feed consumers of this process still need (shard -> oldest seq).
        self.feed_floor: Callable[[], dict[int, int]] | None = None
        self._maintenance = threading.Thread(
            target=self._maintain, name="luma-maintenance", daemon=True
        )
        self._maintenance.start()

    @property
    def shard_count(self) -> int:
        """How many shards the data directory has (this process may own fewer)."""
        return self._count

    @property
    def records(self) -> MetaStore:
        """The node's records (catalog, accounts)."""
        if self.meta is None:
            raise DatabaseClosed("the database is closed")
        return self.meta

    def _shard_path(self, index: int) -> str:
        return os.path.join(self.path, "shards", f"{index:03d}")

    def _prepare(self, lock: bool) -> int:
        wanted = self.settings.storage.shards
        if self.in_memory:
            return wanted or os.cpu_count() or 1
        root = Path(self.path)
        if not lock:  # the caller (the node process) holds the directory's lock
            return self._read_or_create_manifest(root, wanted)
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._lock = DirLock(root)
            self._lock.acquire()
        except OSError as exc:
            raise StorageError(
                f"cannot use {root} as a data directory: {exc.strerror or exc}"
            ) from exc
        try:
            return self._read_or_create_manifest(root, wanted)
        except BaseException:
            self._lock.release()
            raise

    def _read_or_create_manifest(self, root: Path, wanted: int) -> int:
        manifest = root / MANIFEST
        if not manifest.exists():
            if (root / "shards").exists():
                raise CorruptionError(f"{manifest} is missing but {root}/shards exists")
            count = wanted or os.cpu_count() or 1
            info = {"format": FORMAT, "shards": count, "created_ms": _wall_ms()}
            atomic_write(manifest, dump_manifest(info))
            return count
        count = _check_manifest(manifest, read_json(manifest))
        _check_shard_dirs(root, count)
        if wanted and wanted != count:
            raise ConfigError(
                f"storage.shards = {wanted}, but the data directory {root} was created with "
                f"{count} shards; changing the shard count of existing data is not supported "
                "(use 0 to keep the directory's count)"
            )
        return count

    # --- routing ---------------------------------------------------------------------------

    def shard_for(self, key: bytes) -> Shard:
        """The shard owning a document key (:class:`Unavailable` if another process owns it)."""
        pos = self._positions[self._hash(key) % self._count]
        if pos < 0:
            raise Unavailable(f"shard {self._hash(key) % self._count} is not open in this process")
        return self.shards[pos]

    def shard_index(self, key: bytes) -> int:
        """The position in :attr:`shards` of the shard owning a document key."""
        pos = self._positions[self._hash(key) % self._count]
        if pos < 0:
            raise Unavailable(f"shard {self._hash(key) % self._count} is not open in this process")
        return pos

    def shard_id(self, key: bytes) -> int:
        """The id of the shard owning a document key (any process's)."""
        return self._hash(key) % self._count

    def _shard_for_all(self, key: bytes) -> Shard:
        return self.shards[self._hash(key) % self._count]

    def _shard_index_all(self, key: bytes) -> int:
        return self._hash(key) % self._count

    def shard_by_id(self, shard_id: int) -> Shard:
        """An open shard by id."""
        pos = self._positions[shard_id] if 0 <= shard_id < self._count else -1
        if pos < 0:
            raise Unavailable(f"shard {shard_id} is not open in this process")
        return self.shards[pos]

    def check_open(self) -> None:
        """Raise :class:`DatabaseClosed` after :meth:`close`."""
        if self._closed:
            raise DatabaseClosed("the database is closed")

    # --- consistent cuts -------------------------------------------------------------------

    def exclusive(self) -> ExitStack:
        """Every stripe of every shard: no write is in progress while it is held."""
        stack = ExitStack()
        for shard in self.shards:
            stack.enter_context(shard.exclusive())
        return stack

    def snapshot(self) -> DatabaseSnapshot:
        """Snapshots of all shards taken while no write is in progress (a consistent cut)."""
        self.check_open()
        with self.exclusive():
            return DatabaseSnapshot([s.engine.snapshot() for s in self.shards])

    def backup(self, dest: str) -> dict[str, Any]:
        """Write a consistent checkpoint of every shard to the new directory ``dest``.

        Writes pause only while the checkpoints are linked (memtables are flushed first,
        outside the pause). ``BACKUP.json`` is written last: its presence marks a complete
        backup.
        """
        self.check_open()
        from lumadb.storage.backup import write_backup

        return write_backup(self, dest)

    # --- maintenance -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write every shard's memtables to sorted files (this also starts a new log file)."""
        self.check_open()
        for shard in self.shards:
            shard.engine.flush()

    def prune_feeds(self, floor: dict[int, int] | None = None) -> int:
        """Apply change-feed retention to every shard now; returns records removed."""
        cfg = self.settings.changefeed
        if floor is None and self.feed_floor is not None:
            floor = self.feed_floor()
        now = self.clock.now_ms()
        removed = 0
        for shard in self.shards:
            keep = changefeed.Retention(
                int(cfg.retention * 1000), cfg.max_size, (floor or {}).get(shard.id)
            )
            removed += changefeed.prune(shard, now, keep)
        return removed

    def _maintain(self) -> None:
        interval = self.settings.changefeed.prune_interval
        while not self._stop.wait(interval):
            try:
                self.prune_feeds()
            except Exception:  # a failed round must not end retention: log it, retry later
                _log.exception("change-feed pruning failed; retrying in %.0f s", interval)

    def stats(self) -> list[dict[str, int]]:
        """Per-shard figures."""
        self.check_open()
        return [shard.stats() for shard in self.shards]

    def close(self) -> None:
        """Stop maintenance, close every shard and release the directory (idempotent)."""
        if self._closed:
            return
        self._closed = True
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            self._maintenance.join(timeout=5)
        errors: list[BaseException] = []
        for shard in getattr(self, "shards", []):
            shard.syncer.close()
            with shard.exclusive():
                try:
                    shard.engine.close()
                except StorageError as exc:
                    errors.append(exc)
        factory = getattr(self, "_factory", None)
        if factory is not None:
            factory.close()
        if self.meta is not None:
            self.meta.close()
        if self._lock is not None:
            self._lock.release()
        if errors:
            raise errors[0]


def stored_shard_count(path: str) -> int:
    """The shard count in the manifest of the data directory ``path``."""
    manifest = Path(path) / MANIFEST
    return _check_manifest(manifest, read_json(manifest))


def _wall_ms() -> int:
    """Wall-clock milliseconds for manifests (not injected: it is only a record)."""
    return time.time_ns() // 1_000_000


def _checksum(info: dict[str, Any]) -> str:
    body = {k: v for k, v in info.items() if k != "checksum"}
    return xxhash.xxh64_hexdigest(json.dumps(body, sort_keys=True).encode())


def manifest_intact(info: dict[str, Any]) -> bool:
    """Whether a manifest written by :func:`dump_manifest` still matches its checksum."""
    return info.get("checksum") == _checksum(info)


def _check_manifest(path: Path, info: dict[str, Any]) -> int:
    stored = info.get("shards")
    if info.get("format") != FORMAT or not isinstance(stored, int) or stored < 1:
        raise CorruptionError(f"{path} has an unknown format: {info}")
    if not manifest_intact(info):
        raise CorruptionError(f"{path} fails its checksum: it was damaged or edited")
    return stored


def _check_shard_dirs(root: Path, count: int) -> None:
    # The count routes every key: a directory that disagrees with it must not be opened.
    shards = root / "shards"
    found = {p.name for p in shards.iterdir()} if shards.is_dir() else set()
    expected = {f"{i:03d}" for i in range(count)}
    if found and found != expected:
        raise CorruptionError(
            f"{root / MANIFEST} says {count} shards but {shards} holds {sorted(found)}"
        )


def dump_manifest(info: dict[str, Any]) -> bytes:
    """A manifest as pretty, sorted JSON bytes, with a checksum over its other fields."""
    info = {**info, "checksum": _checksum(info)}
    return (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()

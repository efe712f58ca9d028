"""RocksDB through rocksdict: the real L2 engine.

This is the only module that imports ``rocksdict``. Every rocksdict exception is translated here
into a :class:`~lumadb.errors.StorageError` subclass, so callers never see a raw one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import rocksdict

from lumadb.errors import CorruptionError, DiskFullError, LumaError, StorageError
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm import Batch, EngineOptions, LogOp, LogSegment
from lumadb.storage.lsm.wal import WalReader

__all__ = ["RocksEngine", "RocksFactory", "rocks_options", "translate_error"]

_T = TypeVar("_T")

_COMPRESSION: dict[str, Callable[[], rocksdict.DBCompressionType]] = {
    "none": rocksdict.DBCompressionType.none,
    "snappy": rocksdict.DBCompressionType.snappy,
    "lz4": rocksdict.DBCompressionType.lz4,
    "zstd": rocksdict.DBCompressionType.zstd,
}

# Figures read for stats(); all are integer-valued RocksDB properties.
_STAT_PROPERTIES = {
    "estimate_keys": "rocksdb.estimate-num-keys",
    "live_data_bytes": "rocksdb.estimate-live-data-size",
    "sst_bytes": "rocksdb.total-sst-files-size",
    "memtable_bytes": "rocksdb.cur-size-all-mem-tables",
    "pending_compaction_bytes": "rocksdb.estimate-pending-compaction-bytes",
    "block_cache_capacity": "rocksdb.block-cache-capacity",
}


def translate_error(exc: BaseException, what: str) -> NoReturn:
    """Raise the LumaDB error matching a rocksdict exception (whose type is always generic)."""
    if isinstance(exc, LumaError):  # already translated further down
        raise exc
    text = str(exc)
    lowered = text.lower()
    if "corruption" in lowered or "checksum" in lowered:
        raise CorruptionError(f"{what}: stored data is corrupted ({text})") from exc
    if "no space left" in lowered or "enospc" in lowered:
        raise DiskFullError(f"{what}: the disk is full ({text})") from exc
    raise StorageError(f"{what}: {text}") from exc


def rocks_options(options: EngineOptions, cache: rocksdict.Cache | None) -> rocksdict.Options:
    """The rocksdict ``Options`` LumaDB opens every shard with.

    Public so that benchmarks can give the raw-rocksdict peer exactly the same options.
    """
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.increase_parallelism(options.background_jobs)
    opts.set_max_background_jobs(options.background_jobs)
    opts.set_write_buffer_size(options.write_buffer)
    opts.set_max_write_buffer_number(3)
    opts.set_compression_type(_COMPRESSION[options.compression]())
    opts.set_bottommost_compression_type(_COMPRESSION[options.bottommost_compression]())
    opts.set_level_compaction_dynamic_level_bytes(True)
    # A torn WAL tail after a crash is expected; recover to the last consistent point.
    opts.set_wal_recovery_mode(rocksdict.DBRecoveryMode.point_in_time())
    opts.set_paranoid_checks(True)
    opts.set_keep_log_file_num(4)
    # Logs RocksDB no longer needs move to archive/ instead of being deleted: they are the
    # change feed, and change-feed retention deletes them (RocksDB never will at this age).
    opts.set_wal_ttl_seconds(_WAL_TTL_SECONDS)
    opts.set_bytes_per_sync(1 << 20)
    table = rocksdict.BlockBasedOptions()
    if options.bloom_bits_per_key > 0:
        table.set_bloom_filter(max(1, round(options.bloom_bits_per_key)), False)
    if cache is None:
        table.disable_cache()
    else:
        table.set_block_cache(cache)
    if cache is not None:
        # Index and filter blocks live in the cache; without one RocksDB refuses the setting.
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    table.set_format_version(5)
    opts.set_block_based_table_factory(table)
    return opts


_new_batch = rocksdict.WriteBatch
_WAL_TTL_SECONDS = 100 * 365 * 86400


def _open_rdict(path: str, opts: rocksdict.Options) -> rocksdict.Rdict:
    # rocksdict applies ``opts`` only to column families it creates: reopening an existing
    # database would silently fall back to defaults (8 MiB cache, no bloom filter) unless the
    # default family's options are passed explicitly.
    return rocksdict.Rdict(path, opts, column_families={"default": opts})


def _bounds(lower: bytes, upper: bytes) -> rocksdict.ReadOptions:
    read_opt = rocksdict.ReadOptions()
    read_opt.set_iterate_upper_bound(upper)
    return read_opt


def _range(
    source: rocksdict.Rdict, lower: bytes, upper: bytes, reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """Pairs in ``[lower, upper)``; raises if the scan ended on an error instead of the range end.

    rocksdict's ``items()`` honours the upper iterate bound but not the lower one (so forward
    scans seek to ``lower`` and backward scans stop at it themselves), and it ends quietly when
    the underlying iterator fails (a corrupted block, say): :func:`_verify_end` tells the two
    endings apart.
    """
    kv: tuple[bytes, bytes] | None = None
    try:
        if reverse:
            for kv in _pairs(source.items(backwards=True, read_opt=_bounds(lower, upper))):
                if kv[0] < lower:
                    return
                yield kv
        else:
            for kv in _pairs(source.items(from_key=lower, read_opt=_bounds(lower, upper))):
                yield kv
        _verify_end(source, lower, upper, reverse, kv[0] if kv is not None else None)
    except LumaError:
        raise
    except Exception as exc:
        translate_error(exc, "scan")


def _pairs(items: object) -> Iterator[tuple[bytes, bytes]]:
    return cast("Iterator[tuple[bytes, bytes]]", items)


def _verify_end(
    source: rocksdict.Rdict, lower: bytes, upper: bytes, reverse: bool, last: bytes | None
) -> None:
    it = source.iter(_bounds(lower, upper))
    if reverse:
        it.seek_for_prev(last if last is not None else upper)
        bound = last if last is not None else upper
        while it.valid() and cast(bytes, it.key()) >= bound:
            it.prev()
        ended_early = it.valid() and cast(bytes, it.key()) >= lower
    else:
        it.seek(last + b"\x00" if last is not None else lower)
        ended_early = it.valid()
    it.status()  # raises the iterator's error, if any
    if ended_early:
        raise CorruptionError("a scan ended before the end of its range without an error")


def _count(source: rocksdict.Rdict, lower: bytes, upper: bytes) -> int:
    count = 0
    last: bytes | None = None
    for key in cast("Iterator[bytes]", source.keys(from_key=lower, read_opt=_bounds(lower, upper))):
        count += 1
        last = key
    _verify_end(source, lower, upper, False, last)
    return count


class RocksSnapshot:
    """A frozen view through one pinned RocksDB iterator.

    A RocksDB iterator sees the version current when it was created, however it is moved
    later. rocksdict's own ``Snapshot`` only pins point reads (its iterators read the live
    data), so every read here goes through the pinned iterator instead: point reads seek,
    scans read chunks and seek again, and a lock lets several readers share it.
    """

    _CHUNK = 256

    def __init__(self, pinned: rocksdict.RdictIter) -> None:
        self._it: rocksdict.RdictIter | None = pinned
        self._lock = threading.Lock()

    def _live(self) -> rocksdict.RdictIter:
        if self._it is None:
            raise StorageError("the snapshot was closed")
        return self._it

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` as of the snapshot."""
        with self._lock:
            it = self._live()
            try:
                it.seek(key)
                if it.valid() and it.key() == key:
                    return cast(bytes, it.value())
                it.status()
            except Exception as exc:
                translate_error(exc, "snapshot read")
        return None

    def multi_get(self, keys: list[bytes]) -> list[bytes | None]:
        """Values of ``keys`` as of the snapshot."""
        return [self.get(k) for k in keys]

    def _chunk(self, pos: bytes, lower: bytes, upper: bytes, reverse: bool) -> list[Any]:
        out: list[tuple[bytes, bytes]] = []
        with self._lock:
            it = self._live()
            try:
                if reverse:
                    it.seek_for_prev(pos)
                    while it.valid() and it.key() >= pos:  # positions are exclusive
                        it.prev()
                    while it.valid() and len(out) < self._CHUNK and it.key() >= lower:
                        out.append((it.key(), it.value()))
                        it.prev()
                else:
                    it.seek(pos)
                    while it.valid() and len(out) < self._CHUNK and it.key() < upper:
                        out.append((it.key(), it.value()))
                        it.next()
                it.status()
            except Exception as exc:
                translate_error(exc, "snapshot scan")
        return out

    def iterate(
        self, lower: bytes, upper: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs in ``[lower, upper)`` as of the snapshot."""
        pos = upper if reverse else lower
        while True:
            chunk = self._chunk(pos, lower, upper, reverse)
            yield from chunk
            if len(chunk) < self._CHUNK:
                return
            pos = chunk[-1][0] if reverse else chunk[-1][0] + b"\x00"

    def count(self, lower: bytes, upper: bytes) -> int:
        """Keys in ``[lower, upper)`` as of the snapshot."""
        return sum(1 for _ in self.iterate(lower, upper))

    def close(self) -> None:
        """Release the pinned version."""
        with self._lock:
            self._it = None


class RocksEngine:
    """One RocksDB instance."""

    def __init__(self, path: str, opts: rocksdict.Options) -> None:
        self.path = path
        self._opts = opts
        try:
            self._db = _open_rdict(path, opts)
        except Exception as exc:
            translate_error(exc, f"opening RocksDB at {path}")
        self._nosync = rocksdict.WriteOptions()
        self._nosync.sync = False
        self._sync = rocksdict.WriteOptions()
        self._sync.sync = True
        if FAULTS.wal_disabled:
            # The stub declares a method, but rocksdict exposes a settable attribute.
            setattr(self._nosync, "disable_wal", True)  # noqa: B010
        self._bind()
        self._log = WalReader(path)

    def _bind(self) -> None:
        self._db_write = self._db.write
        self._db_get = self._db.get
        self._db_put = self._db.put
        self._db_delete = self._db.delete
        self.put_fast: Callable[[bytes, bytes, object], None] = self._db.put  # type: ignore[assignment]
        self.put_options: object = self._nosync

    def translate(self, exc: Exception, what: str) -> NoReturn:
        """Raise the LumaDB error for a rocksdict exception."""
        translate_error(exc, what)

    def put(self, key: bytes, value: bytes) -> None:
        """Set one key (a write batch of one, inside RocksDB)."""
        try:
            self._db_put(key, value, self._nosync)
        except Exception as exc:
            translate_error(exc, "write")

    def delete(self, key: bytes) -> None:
        """Remove one key."""
        try:
            self._db_delete(key, self._nosync)
        except Exception as exc:
            translate_error(exc, "write")

    def batch(self) -> Batch:
        """A new rocksdict WriteBatch (it satisfies :class:`Batch` structurally)."""
        return cast(Batch, _new_batch(True))

    def write(self, batch: Batch, *, sync: bool) -> None:
        """Apply ``batch`` atomically."""
        try:  # no cast() here: it is a call, and this is the hottest line of the write path
            self._db_write(batch, self._sync if sync else self._nosync)  # type: ignore[arg-type]
        except Exception as exc:
            translate_error(exc, "write")

    def sync_wal(self) -> None:
        """fsync the WAL; rocksdict releases the GIL meanwhile, so other writers go on."""
        try:
            self._db.flush_wal(True)
        except Exception as exc:
            translate_error(exc, "syncing the write-ahead log")

    def get(self, key: bytes) -> bytes | None:
        """Point read."""
        try:
            return self._db_get(key)
        except Exception as exc:
            translate_error(exc, "read")

    def multi_get(self, keys: list[bytes]) -> list[bytes | None]:
        """Batched point reads (one RocksDB MultiGet)."""
        if not keys:
            return []
        try:
            return cast(
                "list[bytes | None]",
                self._db.get(cast("list[str | int | float | bytes | bool]", keys)),
            )
        except Exception as exc:
            translate_error(exc, "read")

    def iterate(
        self, lower: bytes, upper: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Range read; the iterator sees one consistent version of the data."""
        return _range(self._db, lower, upper, reverse)

    def count(self, lower: bytes, upper: bytes) -> int:
        """Count keys without copying values into Python."""
        try:
            return _count(self._db, lower, upper)
        except Exception as exc:
            translate_error(exc, "count")

    def snapshot(self) -> RocksSnapshot:
        """A RocksDB snapshot."""
        try:
            return RocksSnapshot(self._db.iter())
        except Exception as exc:
            translate_error(exc, "snapshot")

    def last_seq(self) -> int:
        """RocksDB's latest sequence number."""
        try:
            return int(self._db.latest_sequence_number())
        except Exception as exc:
            translate_error(exc, "reading the sequence number")

    def log_since(self, since: int, limit: int) -> list[LogOp]:
        """Operations read back from the write-ahead log (live and archived files)."""
        try:
            return self._log.read(since, limit)
        except OSError as exc:
            raise StorageError(f"reading the write-ahead log of {self.path}: {exc}") from exc

    def log_segments(self) -> list[LogSegment]:
        """The WAL files, oldest first."""
        try:
            return self._log.segments()
        except OSError as exc:
            raise StorageError(f"listing the write-ahead log of {self.path}: {exc}") from exc

    def drop_log_segment(self, segment: LogSegment) -> None:
        """Delete an archived WAL file."""
        if not segment.archived:
            raise StorageError(f"{segment.path} is still in use by RocksDB")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(segment.path)

    def checkpoint(self, path: str) -> None:
        """A RocksDB checkpoint: hard links to the sorted files plus the live WAL."""
        try:
            rocksdict.Checkpoint(self._db).create_checkpoint(path)
        except Exception as exc:
            translate_error(exc, f"checkpoint to {path}")

    def flush(self) -> None:
        """Flush memtables and wait for it."""
        try:
            self._db.flush(True)
        except Exception as exc:
            translate_error(exc, "flush")

    def stats(self) -> dict[str, int]:
        """Size figures from RocksDB properties."""
        out: dict[str, int] = {}
        for name, prop in _STAT_PROPERTIES.items():
            try:
                value = self._db.property_int_value(prop)
            except Exception:  # noqa: S112 - a missing property only leaves a figure out
                continue
            if value is not None:
                out[name] = value
        return out

    def free_bytes(self) -> int:
        """Free space for unprivileged writers on the shard's filesystem."""
        try:
            st = os.statvfs(self.path)
        except OSError:
            return 0
        return st.f_bavail * st.f_frsize

    def recover(self) -> None:
        """Close and reopen RocksDB, replaying its WAL: this clears a sticky background error.

        RocksDB's own resume after ENOSPC waits for free space of a whole memtable; a reopen
        only needs room for what it replays.
        """
        # A database in a hard-error state may fail to flush while closing: that is expected.
        with contextlib.suppress(Exception):
            self._db.close()
        try:
            self._db = _open_rdict(self.path, self._opts)
        except Exception as exc:
            translate_error(exc, f"reopening RocksDB at {self.path}")
        self._bind()

    def close(self) -> None:
        """Flush and close."""
        try:
            self._db.close()
        except Exception as exc:
            translate_error(exc, "close")


class RocksFactory:
    """Opens RocksDB engines sharing one block cache."""

    def __init__(self, options: EngineOptions, block_cache: int) -> None:
        self._options = options
        self._cache = rocksdict.Cache(block_cache) if block_cache > 0 else None

    def open(self, path: str) -> RocksEngine:
        """Open the shard engine in ``path`` (created when missing)."""
        os.makedirs(path, exist_ok=True)
        return RocksEngine(path, rocks_options(self._options, self._cache))

    def close(self) -> None:
        """Drop the shared cache reference."""
        self._cache = None

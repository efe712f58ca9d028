"""The storage suite's peers: raw rocksdict, SQLite and LMDB, each as a :class:`Store`.

All three acknowledge a write once it is in the OS page cache, as LumaDB's ``durability="off"``
does: it survives the process crashing, not the machine.

* rocksdict: exactly LumaDB's RocksDB options (:func:`lumadb.storage.lsm.rocks.rocks_options`
  from the same settings), also for the ``default`` column family of a reopened database, and
  ``WriteOptions.sync = False``.
* SQLite: WAL journal with ``synchronous=NORMAL`` (commits append to the WAL without fsync;
  only checkpoints sync), a page cache as large as LumaDB's block cache, autocommit per single
  put, one transaction per batch.
* LMDB: ``sync=False`` (``MDB_NOSYNC``: commits are written to the file but not fsynced) and
  ``metasync=False``; ``writemap`` stays off so commits go through ``write()`` like the others.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

import lmdb
import orjson
import rocksdict

from benchmarks.workload import Doc, Pair
from lumadb.config import Settings
from lumadb.storage.database import engine_options
from lumadb.storage.lsm.rocks import rocks_options

__all__ = ["LMDB_MAP_SIZE", "LmdbStore", "RocksStore", "SqliteStore"]

# The map is reserved address space, not disk: the file grows only as pages are written.
LMDB_MAP_SIZE = 16 << 30

_dumps = orjson.dumps
_loads = orjson.loads

# rocksdict in raw mode takes and returns bytes; its stubs allow every key type.
_RawGet = Callable[[bytes], bytes | None]
_RawItems = Callable[..., Iterator[tuple[bytes, bytes]]]


class RocksStore:
    """Raw rocksdict with LumaDB's options; the value is the orjson-encoded document."""

    def __init__(self, path: Path, settings: Settings) -> None:
        cache = rocksdict.Cache(settings.storage.block_cache)
        options = rocks_options(engine_options(settings), cache)
        # Without column_families, rocksdict applies ``options`` only to column families it
        # creates: reopening an existing database silently falls back to RocksDB's default
        # table options (an 8 MiB block cache, no bloom filter). Naming "default" keeps them.
        self._db = rocksdict.Rdict(
            str(path / "rocks"), options, column_families={"default": options}
        )
        self._wo = rocksdict.WriteOptions()
        self._wo.sync = False
        self._get = cast(_RawGet, self._db.get)
        self._items = cast(_RawItems, self._db.items)

    def put_each(self, pairs: Sequence[Pair]) -> None:
        """``Rdict.put`` per document, unsynced."""
        put, wo = self._db.put, self._wo
        for doc_id, doc in pairs:
            put(doc_id.encode(), _dumps(doc), wo)

    def put_batches(self, batches: Sequence[list[Pair]]) -> None:
        """One raw-mode ``WriteBatch`` per batch."""
        write, wo = self._db.write, self._wo
        for pairs in batches:
            batch = rocksdict.WriteBatch(raw_mode=True)
            put = batch.put
            for doc_id, doc in pairs:
                put(doc_id.encode(), _dumps(doc))
            write(batch, wo)

    def get_each(self, ids: Sequence[str]) -> None:
        """``Rdict.get`` per id, then decode."""
        get = self._get
        for doc_id in ids:
            _loads(get(doc_id.encode()))  # type: ignore[arg-type]  # every id exists

    def scan_each(self, starts: Sequence[str], limit: int) -> None:
        """``Rdict.items(from_key=...)``, taking ``limit`` pairs, ids and documents decoded."""
        items, islice = self._items, itertools.islice
        for start in starts:
            pairs = items(from_key=start.encode(), read_opt=rocksdict.ReadOptions())
            [(k.decode(), _loads(v)) for k, v in islice(pairs, limit)]

    def get(self, doc_id: str) -> Doc | None:
        """One document."""
        raw = self._get(doc_id.encode())
        return None if raw is None else cast(Doc, _loads(raw))

    def scan(self, start: str, limit: int) -> list[Pair]:
        """One range."""
        pairs = self._items(from_key=start.encode(), read_opt=rocksdict.ReadOptions())
        return [(k.decode(), _loads(v)) for k, v in itertools.islice(pairs, limit)]

    def quiet(self) -> bool:
        """No compaction bytes pending (the same estimate LumaDB reports)."""
        pending = self._db.property_int_value("rocksdb.estimate-pending-compaction-bytes")
        return not pending

    def close(self) -> None:
        """Flush the memtables and close."""
        self._db.close()


_SQL_PUT = "INSERT OR REPLACE INTO docs (id, doc) VALUES (?, ?)"
_SQL_GET = "SELECT doc FROM docs WHERE id = ?"
_SQL_SCAN = "SELECT id, doc FROM docs WHERE id >= ? ORDER BY id LIMIT ?"


class SqliteStore:
    """stdlib sqlite3: ``docs(id TEXT PRIMARY KEY, doc BLOB)``, WAL, ``synchronous=NORMAL``."""

    def __init__(self, path: Path, settings: Settings) -> None:
        # isolation_level=None: autocommit, so a lone INSERT is its own transaction.
        self._conn = sqlite3.connect(path / "bench.sqlite", isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(f"PRAGMA cache_size = -{settings.storage.block_cache // 1024}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, doc BLOB NOT NULL)"
        )

    def put_each(self, pairs: Sequence[Pair]) -> None:
        """One autocommitted ``INSERT OR REPLACE`` per document."""
        execute = self._conn.execute
        for doc_id, doc in pairs:
            execute(_SQL_PUT, (doc_id, _dumps(doc)))

    def put_batches(self, batches: Sequence[list[Pair]]) -> None:
        """``executemany`` inside one transaction per batch."""
        conn = self._conn
        for pairs in batches:
            conn.execute("BEGIN")
            conn.executemany(_SQL_PUT, [(doc_id, _dumps(doc)) for doc_id, doc in pairs])
            conn.execute("COMMIT")

    def get_each(self, ids: Sequence[str]) -> None:
        """One primary-key ``SELECT`` per id, then decode."""
        execute = self._conn.execute
        for doc_id in ids:
            _loads(execute(_SQL_GET, (doc_id,)).fetchone()[0])

    def scan_each(self, starts: Sequence[str], limit: int) -> None:
        """``WHERE id >= ? ORDER BY id LIMIT ?`` per start, documents decoded."""
        execute = self._conn.execute
        for start in starts:
            [(doc_id, _loads(doc)) for doc_id, doc in execute(_SQL_SCAN, (start, limit))]

    def get(self, doc_id: str) -> Doc | None:
        """One document."""
        row = self._conn.execute(_SQL_GET, (doc_id,)).fetchone()
        return None if row is None else cast(Doc, _loads(row[0]))

    def scan(self, start: str, limit: int) -> list[Pair]:
        """One range."""
        rows = self._conn.execute(_SQL_SCAN, (start, limit))
        return [(doc_id, _loads(doc)) for doc_id, doc in rows]

    def quiet(self) -> bool:
        """SQLite does no background work."""
        return True

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._conn.close()


class LmdbStore:
    """py-lmdb, unsynced commits: a write transaction per put or per batch, a read one per get."""

    def __init__(self, path: Path, settings: Settings) -> None:
        del settings  # LMDB has no cache to size: it reads through the OS page cache (mmap)
        self._env = lmdb.open(
            str(path), map_size=LMDB_MAP_SIZE, sync=False, metasync=False, writemap=False
        )

    def put_each(self, pairs: Sequence[Pair]) -> None:
        """One write transaction per document."""
        begin = self._env.begin
        for doc_id, doc in pairs:
            with begin(write=True) as txn:
                txn.put(doc_id.encode(), _dumps(doc))

    def put_batches(self, batches: Sequence[list[Pair]]) -> None:
        """One write transaction per batch (``Cursor.putmulti``)."""
        begin = self._env.begin
        for pairs in batches:
            with begin(write=True) as txn:
                txn.cursor().putmulti([(doc_id.encode(), _dumps(doc)) for doc_id, doc in pairs])

    def get_each(self, ids: Sequence[str]) -> None:
        """One read transaction per id, then decode."""
        begin = self._env.begin
        for doc_id in ids:
            with begin() as txn:
                _loads(txn.get(doc_id.encode()))  # type: ignore[arg-type]  # every id exists

    def scan_each(self, starts: Sequence[str], limit: int) -> None:
        """A cursor positioned with ``set_range``, ``limit`` pairs, ids and documents decoded."""
        begin, islice = self._env.begin, itertools.islice
        for start in starts:
            with begin() as txn:
                cursor = txn.cursor()
                cursor.set_range(start.encode())
                [(k.decode(), _loads(v)) for k, v in islice(cursor.iternext(), limit)]

    def get(self, doc_id: str) -> Doc | None:
        """One document."""
        with self._env.begin() as txn:
            raw = txn.get(doc_id.encode())
        return None if raw is None else cast(Doc, _loads(raw))

    def scan(self, start: str, limit: int) -> list[Pair]:
        """One range."""
        with self._env.begin() as txn:
            cursor = txn.cursor()
            cursor.set_range(start.encode())
            return [(k.decode(), _loads(v)) for k, v in itertools.islice(cursor.iternext(), limit)]

    def quiet(self) -> bool:
        """LMDB does no background work."""
        return True

    def close(self) -> None:
        """Close the environment."""
        self._env.close()

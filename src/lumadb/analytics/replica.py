"""The columnar replica: each collection as a DuckDB table, kept from the change feed.

A collection's table is built the first time an aggregate query reads it (a scan, taken after
noting every shard's newest sequence number) and from then on follows the shards' change
feeds: before each query, the records past the table's cursor in every shard are applied, so a
query sees every write acknowledged before it started. Applying a batch (deleting the ids it
touches, inserting their newest documents, moving the cursors) is one DuckDB transaction, so
after a crash the table and its cursors agree and the feed is read again from there; the
feed's records are idempotent upserts and deletes, so reading one twice is harmless.

Documents are flattened: every scalar at a path of object keys (``address.city``) becomes a
column, typed by the values seen there (BIGINT, DOUBLE once a float arrives, VARCHAR,
BOOLEAN). The kinds of value each path has held are kept with it; a path that has held more
than one kind (a number and a text), an object or an array is not answered here, and the
query that reads it runs on the documents instead. So a columnar answer is always the answer
the documents give.

The replica is derived data: it is not backed up, and a file DuckDB cannot open, a format it
does not know, or a cursor the feed no longer reaches (pruned by retention, or past the newest
record after a restore) makes it rebuild the table from a scan.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import orjson
import pyarrow as pa

from lumadb.query.columnar import Shipped
from lumadb.service import Change, Document
from lumadb.storage.faults import FAULTS

__all__ = ["Feed", "Replica"]

_log = logging.getLogger("lumadb.analytics")

FORMAT = 1
BATCH = 20_000  # feed records or scanned documents per DuckDB transaction
_INT64 = 2**63
_KIND_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "bool": "BOOLEAN"}
_ARROW = {
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
}


class Feed(Protocol):
    """What the replica reads: the collections, each shard's change feed, and scans."""

    def shards(self) -> list[int]: ...
    def number_of(self, collection: str) -> int | None: ...
    def numbers(self) -> set[int]: ...
    def last_seq(self, shard: int) -> int: ...
    def first_seq(self, shard: int) -> int | None: ...
    def changes(self, shard: int, since: int, limit: int) -> list[Change]: ...
    def scan(self, collection: str) -> Iterator[tuple[str, Document]]: ...


@dataclass
class _Column:
    name: str | None  # None: no scalar seen yet (only objects or arrays)
    kinds: set[str]
    type: str | None


@dataclass
class _Table:
    number: int
    collection: str
    columns: dict[tuple[str, ...], _Column] = field(default_factory=dict)
    cursors: dict[int, int] = field(default_factory=dict)
    heads: dict[int, int] = field(default_factory=dict)  # newest seq seen caught up (memory)
    dirty: bool = False  # columns changed since they were last saved

    @property
    def name(self) -> str:
        return f"c{self.number}"


def kind_of(value: Any) -> str | None:
    """The replica's kind of a JSON value (None for NULL)."""
    kind = type(value)
    if kind is str:
        return "str"
    if kind is bool:
        return "bool"
    if kind is int:
        return "int" if -_INT64 <= value < _INT64 else "huge"
    if kind is float:
        return "float"
    if kind is dict:
        return "object"
    return None if value is None else "array"


def class_of(kinds: set[str]) -> str | None:
    """What a path's kinds allow: one of number/text/bool, or None (not answered here)."""
    if kinds <= {"int", "float"}:
        return "number"
    if kinds == {"str"}:
        return "text"
    if kinds == {"bool"}:
        return "bool"
    return None


def _flatten(doc: Document, prefix: tuple[str, ...], out: dict[tuple[str, ...], Any]) -> None:
    for key, value in doc.items():
        path = (*prefix, key)
        if type(value) is dict:
            out[path] = _OBJECT
            _flatten(value, path, out)
        elif value is not None:
            out[path] = value


_OBJECT = object()  # the marker of an object at a path (its fields are paths of their own)


class Replica:
    """The DuckDB replica of a node's collections (one per node; safe across threads)."""

    def __init__(self, path: str | None, feed: Feed, memory_limit: int, threads: int) -> None:
        self.feed = feed
        self._path = path
        self._config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": f"{memory_limit // (1024 * 1024)}MB"
        }
        if threads:
            self._config["threads"] = str(threads)
        self._lock = threading.Lock()
        self._tables: dict[int, _Table] = {}
        self.answered = 0  # aggregate queries answered here
        self.declined = 0  # and those left to the documents
        self.builds = 0  # tables built from a scan by this process
        self._cursor_first = FAULTS.replica_cursor_first
        self._db = self._open()

    # --- the DuckDB file --------------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._path is None:
            db = duckdb.connect(":memory:", config=self._config)
        else:
            Path(self._path).mkdir(parents=True, exist_ok=True)
            file = os.path.join(self._path, "replica.duckdb")
            try:
                db = duckdb.connect(file, config=self._config)
                self._load(db)
                return db
            except duckdb.Error as exc:  # derived data: start again rather than refuse
                _log.warning("columnar replica unreadable (%s); rebuilding it", exc)
                for stale in (file, file + ".wal"):
                    Path(stale).unlink(missing_ok=True)
                db = duckdb.connect(file, config=self._config)
        self._load(db)
        return db

    def _load(self, db: duckdb.DuckDBPyConnection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS luma_format (version INTEGER)")
        found = db.execute("SELECT version FROM luma_format").fetchall()
        if found and found[0][0] != FORMAT:
            raise duckdb.Error(f"format {found[0][0]}, not {FORMAT}")
        if not found:
            db.execute("INSERT INTO luma_format VALUES (?)", [FORMAT])
        db.execute("CREATE TABLE IF NOT EXISTS luma_tables (number INTEGER, collection VARCHAR)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS luma_columns "
            "(number INTEGER, path VARCHAR, name VARCHAR, kinds VARCHAR, type VARCHAR)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS luma_cursors (number INTEGER, shard INTEGER, seq BIGINT)"
        )
        self._tables = {
            number: _Table(number, collection)
            for number, collection in db.execute("SELECT * FROM luma_tables").fetchall()
        }
        for number, path, name, kinds, kind in db.execute("SELECT * FROM luma_columns").fetchall():
            if number in self._tables:
                column = _Column(name, set(orjson.loads(kinds)), kind)
                self._tables[number].columns[tuple(orjson.loads(path))] = column
        for number, shard, seq in db.execute("SELECT * FROM luma_cursors").fetchall():
            if number in self._tables:
                self._tables[number].cursors[shard] = seq

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- queries ----------------------------------------------------------------------------

    def run(self, query: Shipped) -> list[list[Any]] | None:
        """The rows of ``query``, or ``None`` when the documents must answer it."""
        with self._lock:
            rows = self._run(query)
            if rows is None:
                self.declined += 1
            else:
                self.answered += 1
            return rows

    def _run(self, query: Shipped) -> list[list[Any]] | None:
        tables: dict[str, _Table] = {}
        for collection in query.collections:
            if collection in tables:
                continue  # a collection joined with itself
            number = self.feed.number_of(collection)
            if number is None:
                return None  # the row plan names the missing collection
            try:
                table = self._tables.get(number)
                if table is None or table.collection != collection:
                    table = self._build(number, collection)
                tables[collection] = self._catch_up(table)
            except (duckdb.Error, pa.ArrowException) as exc:
                # Rolled back: the documents answer, and the table state is read again.
                _log.warning("columnar replica of %s not updated: %s", collection, exc)
                self._load(self._db)
                return None
        names = self._columns([tables[c] for c in query.collections], query)
        if names is None:
            return None
        slots = {f"t{at}": tables[c].name for at, c in enumerate(query.collections)}
        sql = query.sql.format(*names, **slots)
        try:
            return [list(row) for row in self._db.execute(sql, query.values).fetchall()]
        except duckdb.Error as exc:  # a form DuckDB types otherwise: the rows answer
            _log.debug("columnar query fell back to rows: %s", exc)
            return None

    def _columns(self, tables: list[_Table], query: Shipped) -> list[str] | None:
        """Qualified column names for the query's paths, if every demand on kinds holds."""
        names: list[str] = []
        classes: list[str] = []
        for path, source in zip(query.paths, query.sources, strict=True):
            column = tables[source].columns.get(tuple(path))
            if column is None:
                names.append("NULL")
                classes.append("null")
                continue
            kind = class_of(column.kinds)
            if kind is None or column.name is None:
                return None
            names.append(f's{source}."{column.name}"')
            classes.append(kind)

        def resolve(term: list[Any]) -> str:
            if term[0] == "col":
                return classes[int(term[1])]
            value = query.values[term[1]]
            if value is None:
                return "null"
            kind = kind_of(value)
            return "number" if kind in ("int", "float") else "text" if kind == "str" else "bool"

        for demand, term, other in query.demands:
            first = resolve(term)
            second = resolve(other) if demand == "same" else other
            if "null" not in (first, second) and first != second:
                return None
        return names

    # --- keeping tables -----------------------------------------------------------------------

    def _build(self, number: int, collection: str) -> _Table:
        """A new table for ``collection``, from a scan (replacing any it had)."""
        self._forget(self._tables.pop(number, None))
        live = self.feed.numbers()
        for stale in [t for n, t in self._tables.items() if n not in live]:
            self._forget(self._tables.pop(stale.number))
        table = _Table(number, collection)
        heads = {s: self.feed.last_seq(s) for s in self.feed.shards()}
        db = self._db
        db.execute("BEGIN")
        try:
            db.execute(f"DROP TABLE IF EXISTS {table.name}")
            db.execute(f"CREATE TABLE {table.name} (_id VARCHAR)")
            db.execute("INSERT INTO luma_tables VALUES (?, ?)", [number, collection])
            batch: list[tuple[str, Document]] = []
            for pair in self.feed.scan(collection):
                batch.append(pair)
                if len(batch) >= BATCH:
                    self._insert(table, batch)
                    batch = []
            self._insert(table, batch)
            table.cursors = heads
            table.dirty = True
            self._save(table)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._tables[number] = table
        self.builds += 1
        _log.info("columnar replica of %s built", collection)
        return table

    def _forget(self, table: _Table | None) -> None:
        if table is None:
            return
        self._db.execute(f"DROP TABLE IF EXISTS {table.name}")
        for meta in ("luma_tables", "luma_columns", "luma_cursors"):
            self._db.execute(f"DELETE FROM {meta} WHERE number = ?", [table.number])  # noqa: S608

    def _catch_up(self, table: _Table, rebuilt: bool = False) -> _Table:
        """Apply every shard's feed records past the table's cursor (the table caught up)."""
        for shard in self.feed.shards():
            head = self.feed.last_seq(shard)
            cursor = table.cursors.get(shard, 0)
            if table.heads.get(shard) == head:
                continue  # nothing written to the shard since the last catch-up
            lost = head < cursor
            if head > cursor:  # only then can the feed have been pruned past the cursor
                first = self.feed.first_seq(shard)
                lost = first is not None and first > cursor + 1
            if lost and not rebuilt:
                _log.warning("columnar replica of %s lost its place; rebuilding", table.collection)
                return self._catch_up(self._build(table.number, table.collection), rebuilt=True)
            while True:
                changes = self.feed.changes(shard, cursor, BATCH)
                if not changes:
                    break
                cursor = changes[-1].seq
                self._apply(table, shard, changes, cursor)
                if len(changes) < BATCH:
                    break
            table.heads[shard] = head
        return table

    def _apply(self, table: _Table, shard: int, changes: list[Change], cursor: int) -> None:
        newest: dict[str, Document | None] = {}
        for change in changes:
            if change.collection == table.collection and change.id is not None:
                newest[change.id] = change.new if change.op != "delete" else None
        db = self._db
        if self._cursor_first:  # the canary's bug: the place moves on in its own commit
            table.cursors[shard] = cursor
            self._save(table)
        db.execute("BEGIN")
        try:
            if newest:
                ids = pa.table({"_id": pa.array(list(newest), pa.string())})
                db.register("luma_touched", ids)
                db.execute(f"DELETE FROM {table.name} WHERE _id IN (SELECT _id FROM luma_touched)")  # noqa: S608
                db.unregister("luma_touched")
                self._insert(table, [(k, d) for k, d in newest.items() if d is not None])
            table.cursors[shard] = cursor
            self._save(table)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _insert(self, table: _Table, docs: Iterable[tuple[str, Document]]) -> None:
        """Insert documents (their ids not in the table), adding or widening columns."""
        rows = []
        for doc_id, doc in docs:
            flat: dict[tuple[str, ...], Any] = {}
            _flatten(doc, (), flat)
            flat.pop(("id",), None)  # a document's id is its key
            rows.append((doc_id, flat))
        if not rows:
            return
        seen: dict[tuple[str, ...], set[str]] = {}
        for _, flat in rows:
            for path, value in flat.items():
                kind = "object" if value is _OBJECT else kind_of(value)
                if kind is not None:
                    seen.setdefault(path, set()).add(kind)
        writable = self._widen(table, seen)
        data: dict[str, pa.Array] = {"_id": pa.array([r[0] for r in rows], pa.string())}
        for path, column in writable.items():
            assert column.name is not None
            assert column.type is not None
            values = [flat.get(path) for _, flat in rows]
            data[column.name] = pa.array(values, _ARROW[column.type])
        self._db.register("luma_rows", pa.table(data))
        names = ", ".join(f'"{n}"' for n in data)
        self._db.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM luma_rows")  # noqa: S608
        self._db.unregister("luma_rows")

    def _widen(
        self, table: _Table, seen: dict[tuple[str, ...], set[str]]
    ) -> dict[tuple[str, ...], _Column]:
        """Record the kinds seen; the columns this batch can fill (added or widened now)."""
        writable = {}
        for path, kinds in seen.items():
            column = table.columns.get(path)
            if column is None:
                column = table.columns[path] = _Column(None, set(), None)
            if not kinds <= column.kinds:
                column.kinds |= kinds
                table.dirty = True
            kind = class_of(column.kinds)
            if kind is None:
                continue  # not answered here: its values need not be kept
            wanted = "DOUBLE" if "float" in column.kinds else _KIND_TYPES[min(column.kinds)]
            if column.name is None:
                column.name = f"f{len(table.columns)}"  # never reused: columns only grow
                self._db.execute(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {wanted}')
            elif column.type != wanted:
                self._db.execute(
                    f'ALTER TABLE {table.name} ALTER COLUMN "{column.name}" TYPE {wanted}'
                )
            column.type = wanted
            writable[path] = column
        return writable

    def _save(self, table: _Table) -> None:
        db, number = self._db, table.number
        if table.dirty:
            db.execute("DELETE FROM luma_columns WHERE number = ?", [number])
            columns = [
                [
                    number,
                    orjson.dumps(list(p)).decode(),
                    c.name,
                    orjson.dumps(sorted(c.kinds)).decode(),
                    c.type,
                ]
                for p, c in table.columns.items()
            ]
            if columns:
                db.executemany("INSERT INTO luma_columns VALUES (?, ?, ?, ?, ?)", columns)
            table.dirty = False
        db.execute("DELETE FROM luma_cursors WHERE number = ?", [number])
        cursors = [[number, shard, seq] for shard, seq in table.cursors.items()]
        if cursors:
            db.executemany("INSERT INTO luma_cursors VALUES (?, ?, ?)", cursors)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()

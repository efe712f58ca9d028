"""LocalService: the facade over a storage database in this process."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import orjson

from lumadb.ai import embedder_for
from lumadb.catalog import Catalog, CollectionSpec, IndexSpec, validate_name
from lumadb.catalog.vectors import VectorOptions
from lumadb.clock import Clock
from lumadb.config import Settings
from lumadb.errors import (
    CollectionExists,
    CollectionNotFound,
    Conflict,
    CorruptionError,
    InvalidArgument,
    InvalidDocument,
    InvalidId,
    LumaError,
    NotFound,
    QueryError,
    SchemaViolation,
    UniqueViolation,
)
from lumadb.service import Change, Document, ScanRange, bulk
from lumadb.service.embedding import Embedding
from lumadb.service.ids import new_id
from lumadb.service.indexes import IndexSet
from lumadb.service.reembed import Reembedder
from lumadb.service.schemas import SchemaSet, compile_schema, violation
from lumadb.service.text import TextSet, tokens
from lumadb.service.ttl import TtlSet
from lumadb.service.vector_checks import VectorCheckSet, vector_problem
from lumadb.storage import changefeed, codec, keys
from lumadb.storage.backup import restore_backup
from lumadb.storage.commit import deferred as deferred_durability
from lumadb.storage.database import Database, DatabaseSnapshot
from lumadb.storage.lsm import Batch, ReadView
from lumadb.storage.shard import ABSENT, NO_EXPECT

_log = logging.getLogger("lumadb.service")

__all__ = ["LocalService", "deferred_durability", "restore_backup"]

_CATALOG_KEY = "catalog"
ACCOUNTS = "accounts"  # the system record AccountStore keeps
_ABSENT: Any = object()
_encode_id = keys.encode_id
_encode_document = codec.encode_document
_decode_stored = codec.decode_stored
_dumps = orjson.dumps
_MAX_TTL = 100 * 365 * 86400  # seconds: longer is "never", and would overflow the clock's ms
_ENCODE_OPTIONS = codec.ENCODE_OPTIONS
_MAX_ID = keys.MAX_ID_BYTES
_finite_only = codec.finite_only
_has_null = codec.has_null


class Columnar(Protocol):
    """What answers aggregate queries from a columnar replica (:mod:`lumadb.analytics`)."""

    @property
    def answered(self) -> int: ...
    @property
    def declined(self) -> int: ...
    def run(self, query: Any) -> list[list[Any]] | None: ...
    def close(self) -> None: ...


class Vectors(Protocol):
    """What searches vector indexes (:mod:`lumadb.vector`): this process's shards' parts."""

    def sync(self, collections: Iterable[CollectionSpec]) -> None: ...
    def search(
        self,
        collection: str,
        index: IndexSpec,
        vector: Any,
        k: int,
        allowed: Iterable[str] | None,
        ef: int | None = None,
    ) -> list[tuple[float, str]]: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class EventsPart(Protocol):
    """What the service needs of its triggers (``lumadb.events``): kept apart to stay optional."""

    def refresh(self) -> None: ...
    def floor(self) -> dict[int, int]: ...
    def close(self) -> None: ...


class LocalService:
    """Collections and documents on a local :class:`~lumadb.storage.database.Database`."""

    def __init__(
        self,
        path: str,
        settings: Settings,
        clock: Clock | None = None,
        *,
        owned: Sequence[int] | None = None,
        lock: bool = True,
    ) -> None:
        self.settings = settings
        self.store = Database(path, settings, clock, owned=owned, lock=lock)
        self._max_doc = settings.storage.max_document_size
        self._ddl = threading.Lock()
        self._shard_for = self.store.shard_for
        self._shard_index = self.store.shard_index
        self._shards = self.store.shards
        one = len(self._shards) == 1 and self.store.complete
        self._one = self._shards[0] if one else None  # no routing needed
        self.records = self.store.records
        self._indexes = IndexSet(self._shards)
        self._ttl = TtlSet(self._shards, self.store.clock)
        self._schemas = SchemaSet(self._shards)
        self._texts = TextSet(self._shards)
        self._vector_checks = VectorCheckSet(self._shards)
        self._embedding = Embedding(settings.embeddings)
        self._reembed = Reembedder(self, self._embedding)
        self._vectors: Vectors | None = None
        self._purger: threading.Thread | None = None
        self._stop = threading.Event()
        self._columnar: Columnar | None = None
        self.events: Any = None  # lumadb.events.Events, once attached
        try:
            self._migrate_records()
            self._seen = self.records.generation()
            self._set_catalog(self._read_catalog())
            self._sweep_orphans()
        except BaseException:
            self.store.close()
            raise

    def _migrate_records(self) -> None:
        # Data directories from before meta/ kept these records in shard 0's meta keys.
        first = self._shards[0]
        if first.id != 0 or self.records.get(_CATALOG_KEY) is not None:
            return
        for name in (f"system.{ACCOUNTS}", _CATALOG_KEY):  # the catalog last: it marks done
            value = first.meta_get(name)
            if value is not None:
                self.records.put(name, value)

    def _read_catalog(self) -> Catalog:
        raw = self.records.get(_CATALOG_KEY)
        return Catalog.decode(raw) if raw is not None else Catalog()

    def _set_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._specs = catalog.collections
        self._by_number = {s.number: s.name for s in catalog.collections.values()}
        self._indexes.sync(catalog.collections.values())
        self._ttl.sync(catalog.collections.values())
        self._schemas.sync(catalog.collections.values())
        self._texts.sync(catalog.collections.values())
        self._vector_checks.sync(catalog.collections.values())
        self._embedding.sync(list(catalog.collections.values()))
        self._reembed.kick()
        if self._vectors is not None:
            self._vectors.sync(catalog.collections.values())
        if self._ttl.active and self._purger is None:
            self._purger = threading.Thread(target=self._purging, name="luma-ttl", daemon=True)
            self._purger.start()

    def refresh(self) -> bool:
        """Take in records another process of the node changed; returns whether any did.

        Collections dropped elsewhere lose their documents in this process's shards now.
        """
        generation = self.records.generation()
        if generation == self._seen:
            return False
        with self._ddl:
            self._seen = generation
            gone = self._adopt(self._read_catalog())
        self._drop_numbers(gone)
        if self.events is not None:
            self.events.refresh()
        return True

    def _adopt(self, catalog: Catalog) -> set[int]:
        """Use ``catalog``; returns the numbers of the collections it no longer has."""
        before = set(self._by_number)
        self._set_catalog(catalog)
        return before - set(self._by_number)

    def _drop_numbers(self, numbers: Iterable[int]) -> None:
        for number in sorted(numbers):
            for shard in self._shards:
                shard.drop_range(keys.doc_prefix(number))
                shard.drop_range(keys.written_prefix(number))

    def _sweep_orphans(self) -> None:
        # Keys of collections dropped just before a crash: remove them now.
        live = set(self._by_number)
        for shard in self.store.shards:
            lower = keys.DOC
            while True:
                first = next(iter(shard.scan(lower, keys.DOC_END)), None)
                if first is None:
                    break
                number, _ = keys.split_doc_key(first[0])
                if number not in live:
                    shard.drop_range(keys.doc_prefix(number))
                following = keys.doc_prefix(number + 1)
                if following <= lower:  # never loop on a key outside the range asked for
                    raise CorruptionError(f"unexpected key {first[0]!r} in {shard.name}")
                lower = following

    def _spec(self, name: str) -> CollectionSpec:
        spec = self._specs.get(name)
        if spec is None and self.refresh():  # made by another process of the node just now?
            spec = self._specs.get(name)
        if spec is None:
            self.store.check_open()
            if not isinstance(name, str):
                raise InvalidArgument(
                    f"collection name must be a string, not {type(name).__name__}"
                )
            raise CollectionNotFound(f"collection {name!r} does not exist")
        return spec

    # --- system records (accounts, secrets of the node) ----------------------------------

    def system_get(self, name: str) -> bytes | None:
        """A system record, kept beside the catalog."""
        self.store.check_open()
        return self.records.get(f"system.{name}")

    def system_put(self, name: str, value: bytes) -> None:
        """Set a system record (synced before it returns)."""
        self.store.check_open()
        self.records.put(f"system.{name}", value)

    # --- collections -----------------------------------------------------------------------

    def create_collection(
        self, name: str, *, exist_ok: bool = False, changefeed: str = "new"
    ) -> dict[str, Any]:
        """Create a collection; with ``exist_ok`` an existing one is returned as is."""
        validate_name(name)
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())  # another process may have changed it
            existing = self._specs.get(name)
            if existing is None:
                now = self.store.clock.now_ms()
                self._write_catalog(self._catalog.with_collection(name, now, changefeed))
        self._drop_numbers(gone)
        if existing is not None and not exist_ok:
            raise CollectionExists(f"collection {name!r} already exists")
        return self._specs[name].describe()

    def _write_catalog(self, catalog: Catalog) -> None:
        self.records.put(_CATALOG_KEY, catalog.encode())
        self._set_catalog(catalog)

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop a collection and all its documents."""
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())
            spec = self._specs.get(name)
            if spec is not None:
                self._write_catalog(self._catalog.without(name))
                gone.add(spec.number)
        self._drop_numbers(gone)
        if spec is None and not missing_ok:
            raise CollectionNotFound(f"collection {name!r} does not exist")
        return spec is not None

    def create_index(
        self,
        collection: str,
        name: str,
        path: Sequence[str],
        *,
        exist_ok: bool = False,
        kind: str = "value",
        more: Sequence[Sequence[str]] = (),
        unique: bool = False,
    ) -> dict[str, Any]:
        """Index ``collection`` on the field ``path`` (and the ``more`` paths after it, for a
        composite index; built before this returns); ``kind`` ``"text"`` makes a full-text
        index (for MATCH). A ``unique`` index refuses a write that would give two documents
        the same values (:class:`~lumadb.errors.UniqueViolation`), and is not made if two
        stored documents share them already."""
        if kind not in ("value", "text"):
            raise InvalidArgument(f"an index is of kind 'value' or 'text', not {kind!r}")
        if unique and kind != "value":
            raise InvalidArgument("a text index cannot be unique")
        further = tuple(tuple(p) for p in more)
        if further and kind != "value":
            raise InvalidArgument("a text index covers one field")
        if any(not p or not all(isinstance(s, str) and s for s in p) for p in further):
            raise InvalidArgument("an index needs field paths of names")
        if len(set((tuple(path), *further))) != 1 + len(further):
            raise InvalidArgument("an index names each field once")
        validate_name(name)
        steps = tuple(path)
        if not steps or not all(isinstance(p, str) and p for p in steps):
            raise InvalidArgument("an index needs a field path of names")
        if steps == ("id",):
            raise InvalidArgument("documents are found by id already; index another field")
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())
            spec = self._spec(collection)
            found = self._catalog.index(name)
            if found is None:
                clash = next(
                    (
                        i
                        for i in spec.indexes
                        if i.paths == (steps, *further) and i.kind == kind and i.unique == unique
                    ),
                    None,
                )
                if clash is not None:
                    raise Conflict(
                        f"{collection} is indexed on {'.'.join(steps)} by {clash.name!r}"
                    )
                made = self._catalog.with_index(collection, name, steps, kind, further, unique)
                self._write_catalog(made)
                if unique:
                    self._check_unique(name)
            elif (
                not exist_ok
                or found[0].name != collection
                or found[1].paths != (steps, *further)
                or found[1].kind != kind
                or found[1].unique != unique
            ):
                raise Conflict(f"index {name!r} already exists")
        self._drop_numbers(gone)
        shown = ", ".join(".".join(p) for p in (steps, *further))
        described = {"name": name, "collection": collection, "path": shown}
        return (
            described
            | ({"kind": kind} if kind != "value" else {})
            | ({"unique": True} if unique else {})
        )

    def _check_unique(self, name: str) -> None:
        """Undo the new unique index ``name`` if two documents of this process's shards
        share its values (every later write is checked by its hooks already)."""
        found = self._catalog.index(name)
        assert found is not None
        index = found[1]
        guard = self._indexes.guard(index)
        assert guard is not None
        with guard:
            clash = self._indexes.duplicate(index)
        if clash is not None:
            self._write_catalog(self._catalog.without_index(name))
            shown, one, other = clash
            raise UniqueViolation(
                f"unique index {name!r} not created: documents {one!r} and {other!r} of "
                f"{found[0].name} both have {shown}"
            )

    def unique_entries(self, name: str) -> list[tuple[bytes, str]]:
        """``(packed values, id)`` of the unique index ``name`` in this process's shards, in
        order (a node's workers are asked for theirs when one of them makes the index)."""
        self.refresh()
        found = self._catalog.index(name)
        return [] if found is None else list(self._indexes.entries(found[1]))

    def _triggers(self) -> Any:
        if self.events is None:
            raise InvalidArgument("events are turned off here ([events] enabled = false)")
        return self.events

    def create_trigger(self, raw: dict[str, Any], *, exist_ok: bool = False) -> dict[str, Any]:
        """Store and start a trigger (docs/events.md); with ``exist_ok`` an existing one of the
        same name is left as it is and described."""
        events = self._triggers()
        try:
            made: dict[str, Any] = events.create(raw)
        except Conflict:  # the events layer's TriggerExists (service does not import events)
            if not exist_ok:
                raise
            made = events.get(raw["name"]).describe()
        return made

    def drop_trigger(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a trigger with its cursors and dead letters."""
        return bool(self._triggers().drop(name, missing_ok=missing_ok))

    def create_vector_index(
        self,
        collection: str,
        name: str | None,
        path: Sequence[str],
        options: dict[str, Any],
        *,
        exist_ok: bool = False,
    ) -> dict[str, Any]:
        """Index the vectors at ``path`` of ``collection`` for nearest-neighbour search
        (``options`` as :meth:`VectorOptions.parse <lumadb.catalog.vectors.VectorOptions.parse>`
        takes them; ``dim`` is required). Returns the index's description."""
        steps = tuple(path)
        if not steps or not all(isinstance(p, str) and p for p in steps):
            raise InvalidArgument("a vector index needs a field path of names")
        vector = self._model_dim(VectorOptions.parse(options))
        name = name or f"{collection}_{'_'.join(steps)}_vector"
        validate_name(name)
        stored = tuple(sorted(vector.to_record().items()))
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())
            spec = self._spec(collection)
            found = self._catalog.index(name)
            if found is None:
                clash = next(
                    (i for i in spec.indexes if i.kind == "vector" and i.path == steps), None
                )
                if clash is not None:
                    raise Conflict(
                        f"{collection}.{'.'.join(steps)} has a vector index: {clash.name!r}"
                    )
                bad = self._first_bad_vector(collection, steps, vector.dim)
                if bad is not None:
                    raise InvalidDocument(bad)
                made = self._catalog.with_index(collection, name, steps, "vector", options=stored)
                self._write_catalog(made)
            elif not exist_ok or found[0].name != collection or found[1].options != stored:
                raise Conflict(f"index {name!r} already exists")
        self._drop_numbers(gone)
        self._reembed.kick()
        return {"name": name, "collection": collection, "path": ".".join(steps)} | (
            vector.describe()
        )

    def _model_dim(self, vector: VectorOptions) -> VectorOptions:
        """The options with ``dim`` taken from the model when one is named (and checked)."""
        if vector.model:
            dim = embedder_for(vector.model, self.settings.embeddings).dim
            if vector.dim and vector.dim != dim:
                raise InvalidArgument(
                    f"the model {vector.model!r} makes vectors of {dim} numbers, not {vector.dim}"
                )
            vector = vector.with_dim(dim)
        if not vector.dim:
            raise InvalidArgument("a vector index needs dim, the number of values in a vector")
        return vector

    def alter_vector_index(
        self, collection: str, path: Sequence[str], options: dict[str, Any]
    ) -> dict[str, Any]:
        """Change the options of the vector index on ``path`` (a new ``model`` or
        ``embed_from`` among them): the index is rebuilt under its name, and documents whose
        computed vector was made otherwise are re-embedded in the background."""
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())
            index = self.vector_index(collection, path)
            if index is None:
                raise NotFound(f"{collection}.{'.'.join(path)} has no vector index")
            record = index.vector.to_record()
            given = VectorOptions.parse({**record, **options})  # the names' spellings checked
            if "dim" not in options and given.model != index.vector.model:
                given = VectorOptions.parse({**given.to_record(), "dim": 0})
            vector = self._model_dim(given)
            stored = tuple(sorted(vector.to_record().items()))
            if stored != index.options:
                catalog = self._catalog.without_index(index.name)
                self._write_catalog(
                    catalog.with_index(collection, index.name, index.path, "vector", options=stored)
                )
        self._drop_numbers(gone)
        self._reembed.kick()
        return {"name": index.name, "collection": collection, "path": ".".join(index.path)} | (
            vector.describe()
        )

    def embed_query(
        self,
        text: str,
        model: str | None,
        collection: str | None = None,
        path: Sequence[str] | None = None,
    ) -> list[float]:
        """A query's vector: by ``model``, or by the model of the vector index on ``path``
        of ``collection``."""
        if model is None:
            if collection is None or path is None:
                raise QueryError("embedding a query needs a model or a vector field")
            index = self.vector_index(collection, path)
            shown = f"{collection}.{'.'.join(path)}"
            if index is None:
                raise QueryError(f"{shown} has no vector index, so no embedding model")
            model = index.vector.model
            if not model:
                raise QueryError(
                    f"the vector index on {shown} names no embedding model: give it one "
                    "(WITH (model = '...')) or name it in embed('...', 'model')"
                )
        row = embedder_for(model, self.settings.embeddings).embed([text])[0]
        vector: list[float] = row.tolist()
        return vector

    def collection_specs(self) -> list[CollectionSpec]:
        """The collections' specs as this process knows them now."""
        return list(self._specs.values())

    def wait_embedded(self, timeout: float = 60.0) -> bool:
        """Wait until the background re-embedding has nothing left to do here."""
        return self._reembed.wait(timeout)

    def embedding_backlog(self, collection: str) -> int:
        """How many documents of this process's shards still wait for their computed vector
        fields to be (re)made with the current model (0 once the background work is done)."""
        return self._reembed.backlog(self._spec(collection))

    def _first_bad_vector(self, collection: str, path: tuple[str, ...], dim: int) -> str | None:
        """What is wrong with the first stored document (of this process) whose value at
        ``path`` is not a vector of ``dim`` numbers."""
        for doc_id, doc in self.scan(collection, ScanRange()):
            value: Any = doc
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            problem = None if value is None else vector_problem(value, dim)
            if problem is not None:
                return f"document {doc_id!r} of {collection}: {'.'.join(path)} must be {problem}"
        return None

    def attach_events(self, events: EventsPart) -> None:
        """Run ``events`` (triggers and their dispatcher) with this service; closed with it."""
        self.events = events
        self.store.feed_floor = events.floor

    def record_old_images(self, name: str) -> None:
        """Make collection ``name``'s change feed carry old documents (triggers need them)."""
        if self._spec(name).changefeed != "new_and_old":
            self._change_spec(name, lambda spec: replace(spec, changefeed="new_and_old"))

    def attach_vectors(self, vectors: Vectors) -> None:
        """Let vector searches be answered by ``vectors`` (closed with this service)."""
        self._vectors = vectors
        vectors.sync(self._specs.values())

    def vector_index(self, collection: str, path: Sequence[str]) -> IndexSpec | None:
        """The vector index on ``path`` of ``collection``, if there is one."""
        steps = tuple(path)
        for index in self._spec(collection).indexes:
            if index.path == steps and index.kind == "vector":
                return index
        return None

    def vector_search(
        self,
        collection: str,
        path: Sequence[str],
        vector: Any,
        k: int,
        allowed: Iterable[str] | None = None,
        operator: str | None = None,
        ef: int | None = None,
    ) -> list[tuple[float, str]] | None:
        """``(distance, id)`` of up to ``k`` documents of this process's shards nearest to
        ``vector`` (a list or tuple of numbers, or a one-dimensional numpy array: checked as
        it is converted) by the vector index on ``path``, nearest first, among ``allowed`` ids
        when given; ``None`` when no vector index covers ``path`` (with the metric of the LQL
        ``operator``, when one is given)."""
        index = self.vector_index(collection, path)
        if index is None or self._vectors is None:
            return None
        options = index.vector
        if operator is not None and options.operator != operator:
            return None
        self.store.check_open()
        if type(k) is not int or k < 0:
            raise InvalidArgument(f"k must be a whole number of at least 0, not {k!r}")
        if ef is not None and (type(ef) is not int or not 1 <= ef <= 32_768):
            raise InvalidArgument(f"ef must be a whole number from 1 to 32768, not {ef!r}")
        return self._vectors.search(collection, index, vector, k, allowed, ef)

    def shard_ids(self) -> list[int]:
        """The ids of the shards this process holds."""
        return [shard.id for shard in self._shards]

    def last_seq(self, shard_id: int) -> int:
        """The newest change-feed sequence number of one of this process's shards."""
        return self.store.shard_by_id(shard_id).engine.last_seq()

    def first_seq(self, shard_id: int) -> int | None:
        """The oldest change-feed sequence number still kept by one of this process's shards."""
        return changefeed.first_seq(self.store.shard_by_id(shard_id))

    def scan_shard(self, collection: str, shard_id: int) -> Iterator[tuple[str, Document]]:
        """``(id, document)`` of ``collection`` in one shard of this process, in id order."""
        spec = self._spec(collection)
        shard = self.store.shard_by_id(shard_id)
        cut = len(spec.prefix)
        for key, value in shard.scan(spec.prefix, keys.prefix_end(spec.prefix)):
            yield key[cut:].decode(), _decode_stored(value)

    def index_spec(self, name: str) -> IndexSpec | None:
        """The index ``name`` as the catalog has it, or ``None``."""
        found = self._catalog.index(name)
        return None if found is None else found[1]

    def unique_indexes(self, collection: str) -> list[IndexSpec]:
        """The unique indexes of ``collection`` (none if there is no such collection)."""
        spec = self._specs.get(collection)
        return [i for i in spec.indexes if i.unique] if spec is not None else []

    def unique_holders(self, collection: str, name: str, values: Sequence[Any]) -> list[str]:
        """Ids of this process's documents holding ``values`` in the unique index ``name``."""
        index = next((i for i in self.unique_indexes(collection) if i.name == name), None)
        return [] if index is None else self._indexes.lookup_leading(index, tuple(values))

    def drop_index(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop the index ``name`` and its entries; returns whether it existed."""
        with self._ddl, self.records.locked():
            self.store.check_open()
            gone = self._adopt(self._read_catalog())
            found = self._catalog.index(name)
            if found is not None:
                self._write_catalog(self._catalog.without_index(name))
        self._drop_numbers(gone)
        if found is None and not missing_ok:
            raise NotFound(f"index {name!r} does not exist")
        return found is not None

    def index_ids(self, collection: str, path: Sequence[str], value: Any) -> list[str] | None:
        """Ids whose value at ``path`` equals ``value`` in this process's shards, by an
        index; ``None`` when no index covers ``path``."""
        index = self._index_on(collection, path, "value")
        return None if index is None else self._indexes.lookup(index, value)

    def _index_on(self, collection: str, path: Sequence[str], kind: str) -> IndexSpec | None:
        steps = tuple(path)
        indexes = self._spec(collection).indexes
        found = (i for i in indexes if i.path == steps and i.kind == kind and not i.more)
        return next(found, None)

    def index_match(
        self, collection: str, equalities: Sequence[tuple[Sequence[str], Any]]
    ) -> list[str] | None:
        """Ids by the value index with the most paths, all of them among ``equalities``
        (``path = value`` terms ANDed), in this process's shards; ``None``: no index fits.

        A composite index holds only documents with a value at every one of its paths, so it
        answers only when every path is asked for (a document lacking one cannot match).
        """
        given = {tuple(path): value for path, value in equalities}
        fitting = [
            i
            for i in self._spec(collection).indexes
            if i.kind == "value" and all(p in given for p in i.paths)
        ]
        if not fitting:
            return None
        index = max(fitting, key=lambda i: len(i.paths))
        return self._indexes.lookup_leading(index, tuple(given[p] for p in index.paths))

    def text_ids(self, collection: str, path: Sequence[str], words: str) -> list[str] | None:
        """Ids of the documents whose field at ``path`` holds every term of ``words``, by a
        text index (this process's shards); ``None`` when no text index covers ``path``."""
        index = self._index_on(collection, path, "text")
        return None if index is None else self._texts.ids(index, tokens(words))

    def text_stats(
        self, collection: str, path: Sequence[str], terms: Sequence[str]
    ) -> dict[str, Any] | None:
        """The BM25 figures of a text index for ``terms`` (this process's shards)."""
        index = self._index_on(collection, path, "text")
        return None if index is None else self._texts.stats(index, list(terms))

    def index_range(
        self,
        collection: str,
        path: Sequence[str],
        low: Any,
        low_inclusive: bool,
        high: Any,
        high_inclusive: bool,
    ) -> list[str] | None:
        """Ids whose value at ``path`` lies between the bounds, by an index (this process's
        shards); ``None`` when no index covers ``path`` or the range cannot be answered."""
        index = self._index_on(collection, path, "value")
        if index is None:
            return None
        return self._indexes.range(index, low, low_inclusive, high, high_inclusive)

    def list_collections(self) -> list[dict[str, Any]]:
        """Descriptions of every collection, sorted by name."""
        self.store.check_open()
        return [self._specs[n].describe() for n in sorted(self._specs)]

    def set_ttl(self, name: str, seconds: float | None) -> dict[str, Any]:
        """Give collection ``name`` a TTL of ``seconds`` (``None``: its documents never expire).

        Documents expire ``seconds`` after their last write; those written before the
        collection had a TTL count as written now. Removing the TTL first deletes what has
        expired (in this process's shards: a node's router asks every worker first).
        """
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 < seconds <= _MAX_TTL
        ):
            raise InvalidArgument(
                f"a TTL must be a positive number of seconds up to {_MAX_TTL} (100 years), "
                f"not {seconds!r}"
            )
        if seconds is None:  # what has expired stays gone
            self._spec(name)
            self.purge_expired()
        ttl_ms = 0 if seconds is None else max(1, round(seconds * 1000))
        now = self.store.clock.now_ms()

        def with_ttl(spec: CollectionSpec) -> CollectionSpec:
            since = spec.ttl_since_ms if spec.ttl_ms else now
            return replace(spec, ttl_ms=ttl_ms, ttl_since_ms=since if ttl_ms else 0)

        self._change_spec(name, with_ttl)
        return self._specs[name].describe()

    def set_schema(self, name: str, schema: str | None, *, check: bool = True) -> dict[str, Any]:
        """Make every document written to ``name`` match the JSON schema ``schema`` (JSON
        text; ``None`` removes it).

        With ``check`` the stored documents (of this process's shards) are checked once the
        schema is in force; if one does not match, the previous schema comes back and
        :class:`~lumadb.errors.SchemaViolation` names it.
        """
        if schema is not None:
            if not isinstance(schema, str):
                raise InvalidArgument(f"a schema is JSON text, not {type(schema).__name__}")
            compile_schema(schema)
        previous = self._replace_schema(name, schema or "")
        if schema is not None and check:
            found = self.first_violation(name)
            if found is not None:
                self._replace_schema(name, previous)
                raise SchemaViolation(f"{found}; the schema was not set")
        return self._specs[name].describe()

    def _replace_schema(self, name: str, schema: str) -> str:
        return self._change_spec(name, lambda spec: replace(spec, schema=schema)).schema

    def _change_spec(
        self, name: str, change: Callable[[CollectionSpec], CollectionSpec]
    ) -> CollectionSpec:
        """Store ``change(spec)`` as collection ``name``'s spec; returns the previous one."""
        with self._ddl, self.records.locked():
            self.store.check_open()
            self._adopt(self._read_catalog())
            spec = self._specs.get(name)
            if spec is None:
                raise CollectionNotFound(f"collection {name!r} does not exist")
            self._write_catalog(self._catalog.with_spec(change(spec)))
        return spec

    def first_violation(
        self, name: str, docs: Iterable[tuple[str, Document]] | None = None
    ) -> str | None:
        """The first stored document of ``name`` (or of ``docs``) its schema refuses."""
        spec = self._spec(name)
        if not spec.schema:
            return None
        validator = compile_schema(spec.schema)
        for doc_id, doc in docs if docs is not None else self.scan(name, ScanRange()):
            found = violation(validator, name, doc_id, doc)
            if found is not None:
                return found
        return None

    def purge_expired(self) -> int:
        """Delete the expired documents of this process's shards now; how many."""
        self.store.check_open()
        return sum(self._ttl.purge(s) for s in list(self._specs.values()) if s.ttl_ms)

    def _purging(self) -> None:
        interval = self.settings.storage.ttl_purge_interval
        while not self._stop.wait(interval):
            try:
                self.purge_expired()
            except LumaError as exc:  # closed, read-only, disk full: try again later
                _log.warning("purging expired documents failed: %s", exc)

    def collection_numbers(self) -> dict[str, int]:
        """Each collection's number (its key prefix; a re-created collection has a new one)."""
        self.refresh()
        return {name: spec.number for name, spec in self._specs.items()}

    def describe_collection(self, name: str) -> dict[str, Any]:
        """The description of one collection."""
        return self._spec(name).describe()

    # --- documents -------------------------------------------------------------------------

    def _encode(self, doc_id: object, doc: object) -> bytes:
        return bulk.encode_checked(doc_id, doc, self._max_doc)

    def put(self, collection: str, doc_id: str, doc: Document) -> None:
        """Create or replace a document."""
        spec = self._specs.get(collection) or self._spec(collection)
        if self._embedding.active and self._embedding.fields(spec):
            doc = self._embedding.fill(spec, [doc])[0]
        # The checks of encode_id and encode_document, inlined: this is the hottest path of
        # the embedded API. Anything unusual takes the slow path, which raises their errors.
        if type(doc_id) is str and type(doc) is dict and doc_id.isprintable():
            raw = doc_id.encode()
            try:
                body: bytes | None = _dumps(doc, option=_ENCODE_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                body = None
            if (
                body is not None
                and 0 < len(raw) <= _MAX_ID
                and len(body) <= self._max_doc
                and (_finite_only(map(type, doc.values())) or not _has_null(body))
                and ("id" not in doc or doc["id"] == doc_id)
            ):
                key = spec.prefix + raw
                shard = self._one or self._shard_for(key)
                if spec.images:
                    shard.put(key, body, spec.images)
                else:
                    shard.put_plain(key, body)
                return
        key = spec.prefix + _encode_id(doc_id)
        self._shard_for(key).put(key, self._encode(doc_id, doc), spec.images)

    def insert(self, collection: str, doc: Document, generated: str | None = None) -> str:
        """Create a document; its ``id`` field is used when present, else one is generated.

        ``generated`` is an id the caller generated (with :func:`new_id`) for a document
        without one: a router picks it first, to know the shard.
        """
        spec = self._spec(collection)
        if self._embedding.active and self._embedding.fields(spec):
            doc = self._embedding.fill(spec, [doc])[0]
        given = doc.get("id", _ABSENT) if isinstance(doc, dict) else _ABSENT
        if given is not _ABSENT and not isinstance(given, str):
            raise InvalidId(f"the 'id' field must be a string, not {type(given).__name__}")
        doc_id = (generated or new_id()) if given is _ABSENT else given
        key = spec.prefix + keys.encode_id(doc_id)
        body = self._encode(doc_id, doc)
        # Generated ids are unique by construction; a given one must not exist yet.
        expect = NO_EXPECT if given is _ABSENT else ABSENT
        self.store.shard_for(key).put(key, body, spec.images, expect)
        return doc_id

    def shard_of(self, collection: str, doc_id: str) -> int:
        """The id of the shard holding (or to hold) a document, open here or not."""
        spec = self._specs.get(collection) or self._spec(collection)
        return self.store.shard_id(spec.prefix + _encode_id(doc_id))

    def get(
        self, collection: str, doc_id: str, view: DatabaseSnapshot | None = None
    ) -> Document | None:
        """A document or ``None``."""
        spec = self._specs.get(collection) or self._spec(collection)
        key = spec.prefix + _encode_id(doc_id)
        source = self._shard_for(key) if view is None else self._view(view, key)
        value = source.get(key)
        if value is None or (spec.ttl_ms and not self._alive(spec, key)):
            return None
        return _decode_stored(value)

    def get_versioned(self, collection: str, doc_id: str) -> tuple[Document, int] | None:
        """A document and its version (a hash of its stored bytes), or ``None``."""
        found = self.get_stored(collection, doc_id)
        return None if found is None else (_decode_stored(found[0]), found[1])

    def get_stored(self, collection: str, doc_id: str) -> tuple[bytes, int] | None:
        """A document's stored JSON (compact, as orjson writes it) and its version."""
        spec = self._specs.get(collection) or self._spec(collection)
        key = spec.prefix + _encode_id(doc_id)
        value = self._shard_for(key).get(key)
        if value is None or (spec.ttl_ms and not self._alive(spec, key)):
            return None
        return (bytes(value), codec.version_of(value))

    def _alive(self, spec: CollectionSpec, key: bytes) -> bool:
        return self._ttl.alive(spec, self._shard_for(key), key)

    def locate(self, collection: str, doc_id: str) -> tuple[int, bytes]:
        """The id of the shard holding a document (open here or not), and its key."""
        spec = self._specs.get(collection) or self._spec(collection)
        key = spec.prefix + _encode_id(doc_id)
        return self.store.shard_id(key), key

    def get_stored_at(self, key: bytes) -> tuple[bytes, int] | None:
        """:meth:`get_stored` by a key :meth:`locate` gave (a shard open here)."""
        value = self._shard_for(key).get(key)
        if value is None:
            return None
        if self._ttl.active:  # the key names its collection
            spec = self._specs.get(self._by_number.get(keys.split_doc_key(key)[0], ""))
            if spec is not None and spec.ttl_ms and not self._alive(spec, key):
                return None
        return (bytes(value), codec.version_of(value))

    def put_if(self, collection: str, doc_id: str, doc: Document, version: int | None) -> int:
        """Replace a document only if it is at ``version`` (``None``: only if it is absent).

        Raises :class:`~lumadb.errors.VersionMismatch` or
        :class:`~lumadb.errors.DocumentExists`; returns the new version.
        """
        spec = self._spec(collection)
        if self._embedding.active and self._embedding.fields(spec):
            doc = self._embedding.fill(spec, [doc])[0]
        key = spec.prefix + _encode_id(doc_id)
        body = self._encode(doc_id, doc)
        self._shard_for(key).put(key, body, spec.images, ABSENT if version is None else version)
        return codec.version_of(body)

    def _view(self, snapshot: DatabaseSnapshot, key: bytes) -> ReadView:
        return snapshot.views[self.store.shard_for(key).id]

    def get_many(
        self, collection: str, ids: Iterable[str], view: DatabaseSnapshot | None = None
    ) -> list[Document | None]:
        """Documents in the order of ``ids`` (``None`` where missing)."""
        spec = self._spec(collection)
        prefix = spec.prefix
        key_list = [prefix + keys.encode_id(i) for i in _as_list(ids, "ids")]
        groups: dict[int, list[int]] = {}
        for pos, key in enumerate(key_list):
            groups.setdefault(self._shard_index(key), []).append(pos)
        out: list[Document | None] = [None] * len(key_list)
        for shard_id, positions in groups.items():
            wanted = [key_list[p] for p in positions]
            if view is None:
                values = self.store.shards[shard_id].get_many(wanted)
            else:
                values = view.views[shard_id].multi_get(wanted)
            for pos, value in zip(positions, values, strict=True):
                if value is not None and (not spec.ttl_ms or self._alive(spec, key_list[pos])):
                    out[pos] = _decode_stored(value)
        return out

    def delete(self, collection: str, doc_id: str, version: int | None = None) -> bool:
        """Delete a document; returns whether it existed.

        With ``version`` only while the document is at it (else
        :class:`~lumadb.errors.VersionMismatch`), checked under the key's lock.
        """
        spec = self._spec(collection)
        key = spec.prefix + keys.encode_id(doc_id)
        expect = NO_EXPECT if version is None else version
        return self.store.shard_for(key).delete(key, spec.images, expect)

    def commit(self, writes: Sequence[tuple[str, str, Document | None, int]]) -> int:
        """Apply a transaction's writes — ``(collection, id, document or None to delete,
        expect)`` with ``expect`` as :meth:`Shard.put` takes it — all or none.

        Every shard involved is paused while all expectations are checked and all batches
        built (a hook refusing a document refuses the whole transaction); then each shard
        writes its one batch. So a conflict leaves nothing written, and each shard's part is
        atomic; a crash between two shards' writes can keep one shard's part without the
        other's. Returns how many writes there were.
        """
        self.store.check_open()
        writes = self._embedded_writes(writes)
        groups: dict[int, list[tuple[bytes, bytes | None, int, int]]] = {}
        for collection, doc_id, doc, expect in writes:
            spec = self._spec(collection)
            key = spec.prefix + _encode_id(doc_id)
            body = None if doc is None else self._encode(doc_id, doc)
            groups.setdefault(self._shard_index(key), []).append((key, body, spec.images, expect))
        shards = [(self._shards[at], ops) for at, ops in sorted(groups.items())]
        guards: dict[int, Any] = {}  # unique indexes' guards come before any shard's locks
        for shard, ops in shards:
            guards.update((g.number, g) for g in shard.guards([op[0] for op in ops]))
        with contextlib.ExitStack() as paused:
            for number in sorted(guards):
                paused.enter_context(guards[number])
            for shard, _ in shards:
                paused.enter_context(shard.exclusive())
            for shard, ops in shards:
                shard.check_ops(ops)
            batches = [shard.build_ops(ops) for shard, ops in shards]
            for (shard, ops), batch in zip(shards, batches, strict=True):
                shard.write_ops(batch, ops)
        for shard, _ in shards:
            shard.wait_durable()
        return len(writes)

    def _embedded_writes(
        self, writes: Sequence[tuple[str, str, Document | None, int]]
    ) -> Sequence[tuple[str, str, Document | None, int]]:
        """A transaction's writes with the computed vector fields of its documents set (one
        model call per collection and field)."""
        by_collection: dict[str, list[int]] = {}
        for at, (collection, _, doc, _) in enumerate(writes):
            if doc is not None:
                by_collection.setdefault(collection, []).append(at)
        out = list(writes)
        for collection, positions in by_collection.items():
            spec = self._spec(collection)
            if self._embedding.fields(spec):
                filled = self._embedding.fill(spec, [writes[at][2] for at in positions])
                for at, doc in zip(positions, filled, strict=True):
                    out[at] = (out[at][0], out[at][1], doc, out[at][3])
        return out

    def put_many(self, collection: str, pairs: Iterable[tuple[str, Document]]) -> int:
        """Create or replace many documents; one atomic batch per shard (all or none in a
        collection with a unique index, whose check may refuse any of them)."""
        spec = self._spec(collection)
        items = _as_list(pairs, "pairs")
        if self._embedding.fields(spec):
            pairs_at = [_pair(at, item) for at, item in enumerate(items)]
            filled = self._embedding.fill(spec, [doc for _, doc in pairs_at])
            items = [(doc_id, doc) for (doc_id, _), doc in zip(pairs_at, filled, strict=True)]
        if any(i.unique for i in spec.indexes):
            return self.commit(
                [(collection, *_pair(at, item), NO_EXPECT) for at, item in enumerate(items)]
            )
        shards = self._shards
        if spec.images or any(shard.hooks for shard in shards):
            groups = self._encode_groups(spec, items)
            for shard, group in zip(shards, groups, strict=True):
                if group:
                    shard.put_many(group, spec.images)
            return len(items)
        versions = [shard.hooks_version for shard in shards]
        batches = [shard.engine.batch() for shard in shards]
        written: list[list[bytes]] = [[] for _ in shards]
        self._encode_into(spec, items, batches, written)
        for i, shard in enumerate(shards):
            if written[i] and not shard.commit_puts(batches[i], written[i], versions[i]):
                # Hooks appeared meanwhile: this shard's part goes the general way.
                group = self._encode_groups(spec, items)[i]
                shard.put_many(group, spec.images)
        return len(items)

    def _encode_into(
        self,
        spec: CollectionSpec,
        items: list[Any],
        batches: list[Batch] | list[_Group],
        written: list[list[bytes]],
    ) -> None:
        bulk.encode_into(
            items,
            spec.prefix,
            self._max_doc,
            None if self._one else self._shard_index,
            [b.put for b in batches],
            [w.append for w in written],
        )

    def _encode_groups(
        self, spec: CollectionSpec, items: list[Any]
    ) -> list[list[tuple[bytes, bytes]]]:
        groups = [_Group() for _ in self._shards]
        self._encode_into(spec, items, groups, [[] for _ in self._shards])
        return [g.items for g in groups]

    def scan(
        self, collection: str, rng: ScanRange, view: DatabaseSnapshot | None = None
    ) -> Iterator[tuple[str, Document]]:
        """``(id, document)`` pairs in id order, merged across shards."""
        spec = self._spec(collection)
        lower, upper = _bounds(spec.prefix, rng)
        limit = _check_limit(rng.limit)
        views: list[ReadView | None] = list(view.views) if view else [None] * len(self.store.shards)
        if lower >= upper or limit == 0:
            return iter(())
        streams = [
            shard.scan(lower, upper, reverse=rng.reverse, view=v)
            for shard, v in zip(self.store.shards, views, strict=True)
        ]
        if spec.ttl_ms:  # expired documents are gone at once, before the purge
            shards = self.store.shards
            streams = [
                self._ttl.living(spec, sh, st) for sh, st in zip(shards, streams, strict=True)
            ]
        merged: Iterator[tuple[bytes, bytes]] = (
            streams[0]
            if len(streams) == 1
            else heapq.merge(*streams, key=operator.itemgetter(0), reverse=rng.reverse)
        )
        if limit is not None:
            merged = itertools.islice(merged, limit)
        cut = len(spec.prefix)
        decode = _decode_stored
        return ((k[cut:].decode(), decode(v)) for k, v in merged)

    def count(
        self, collection: str, prefix: str | None = None, view: DatabaseSnapshot | None = None
    ) -> int:
        """How many documents (with ids starting with ``prefix``)."""
        spec = self._spec(collection)
        if spec.ttl_ms:
            return sum(1 for _ in self.scan(collection, ScanRange(prefix=prefix), view))
        lower, upper = _bounds(spec.prefix, ScanRange(prefix=prefix))
        views: list[ReadView | None] = list(view.views) if view else [None] * len(self.store.shards)
        return sum(
            shard.count(lower, upper, v) for shard, v in zip(self.store.shards, views, strict=True)
        )

    # --- database ----------------------------------------------------------------------------

    def snapshot(self) -> DatabaseSnapshot:
        """A consistent read view of every shard."""
        return self.store.snapshot()

    def changes(self, shard: int, since: int = 0, limit: int = 1000) -> list[Change]:
        """Change-feed records of ``shard`` with sequence numbers above ``since``."""
        self.store.check_open()
        count = self.store.shard_count
        if not isinstance(shard, int) or not 0 <= shard < count:
            raise InvalidArgument(f"shard must be 0..{count - 1}, got {shard!r}")
        if not isinstance(since, int) or since < 0:
            raise InvalidArgument(f"since must be a non-negative integer, got {since!r}")
        source = self.store.shard_by_id(shard)
        records = changefeed.read_changes(source, since, _check_limit(limit) or 0)
        return [self._change(shard, r) for r in records]

    def _change(self, shard: int, record: codec.FeedRecord) -> Change:
        number, doc_id = keys.split_doc_key(record.key)
        return Change(
            shard=shard,
            seq=record.seq,
            op=codec.OP_NAMES[record.op],
            collection=self._by_number.get(number),
            id=doc_id if record.op != codec.OP_DROP else None,
            new=codec.decode_document(record.new) if record.new is not None else None,
            old=codec.decode_document(record.old) if record.old is not None else None,
        )

    def backup(self, dest: str) -> dict[str, Any]:
        """A consistent backup of every shard into the new directory ``dest``."""
        return self.store.backup(dest)

    def stats(self) -> dict[str, Any]:
        """Per-shard figures plus totals."""
        self.store.check_open()
        shards = [{"shard": shard.id, **shard.stats()} for shard in self._shards]
        return {
            "path": self.store.path,
            "collections": len(self._specs),
            "shards": shards,
            "l1_hits": sum(s["l1_hits"] for s in shards),
            "l1_misses": sum(s["l1_misses"] for s in shards),
            "columnar": self.columnar_counts(),
        }

    def columnar_counts(self) -> dict[str, int]:
        """Aggregate queries the columnar replica answered, and those it left to documents."""
        kept = self._columnar
        return {
            "answered": kept.answered if kept else 0,
            "declined": kept.declined if kept else 0,
        }

    def attach_columnar(self, columnar: Columnar) -> None:
        """Let aggregate queries be answered by ``columnar`` (closed with this service)."""
        self._columnar = columnar

    @property
    def keeps_columnar(self) -> bool:
        """Whether this process keeps the columnar replica."""
        return self._columnar is not None

    def columnar(self, query: Any) -> list[list[Any]] | None:
        """The rows of an aggregate query (a :class:`~lumadb.query.columnar.Shipped`) from
        the columnar replica; ``None``: the documents must answer it."""
        if self._columnar is None or not self.settings.analytics.columnar:
            return None
        for name in query.collections:
            spec = self._specs.get(name)
            if spec is not None and spec.ttl_ms:
                return None  # the replica does not know write times: documents answer
        self.store.check_open()
        return self._columnar.run(query)

    def close(self) -> None:
        """Close the columnar replica and the storage database."""
        self._stop.set()
        if self.events is not None:
            self.events.close()
            self.events = None
        self._reembed.close()
        if self._purger is not None:
            self._purger.join()
        if self._columnar is not None:
            self._columnar.close()
            self._columnar = None
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        self.store.close()


class _Group:
    """Collects one shard's part of a bulk write as pairs (for the general write path)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[bytes, bytes]] = []

    def put(self, key: bytes, body: bytes) -> None:
        """Keep one encoded document."""
        self.items.append((key, body))


def _pair(position: int, item: Any) -> tuple[str, Document]:
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise InvalidArgument(f"put_many takes (id, document) pairs; item {position} is not one")
    return item[0], item[1]


def _as_list(items: Iterable[Any], what: str) -> list[Any]:
    if isinstance(items, str | bytes | dict):
        raise InvalidArgument(f"{what} must be a list, not {type(items).__name__}")
    try:
        return list(items)
    except TypeError:
        raise InvalidArgument(f"{what} must be iterable, not {type(items).__name__}") from None


def _check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if type(limit) is not int or limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def _id_bound(value: object, what: str) -> bytes:
    if type(value) is not str:
        raise InvalidArgument(f"{what} must be a string, not {type(value).__name__}")
    return value.encode(errors="surrogatepass")


def _bounds(prefix: bytes, rng: ScanRange) -> tuple[bytes, bytes]:
    lower, upper = prefix, keys.prefix_end(prefix)
    if rng.prefix is not None:
        narrowed = prefix + _id_bound(rng.prefix, "prefix")
        lower, upper = narrowed, keys.prefix_end(narrowed)
    if rng.start is not None:
        lower = max(lower, prefix + _id_bound(rng.start, "start"))
    if rng.end is not None:
        upper = min(upper, prefix + _id_bound(rng.end, "end"))
    if type(rng.reverse) is not bool:
        raise InvalidArgument(f"reverse must be true or false, got {rng.reverse!r}")
    return lower, upper

"""The embedded Python API: ``lumadb.open(path)`` runs every shard in the caller's process."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from lumadb.analytics.feeds import attach_replica
from lumadb.clock import Clock
from lumadb.config import Settings, load_settings
from lumadb.errors import InvalidArgument
from lumadb.events.manager import Events, attach_events
from lumadb.query import Engine, Result
from lumadb.query.hybrid import SearchAsk, run_search
from lumadb.query.search import nearest_hits, query_list, vector_field
from lumadb.service import Change, Document, ScanRange
from lumadb.service.local import LocalService
from lumadb.storage.database import DatabaseSnapshot
from lumadb.vector.vector_set import attach_vectors

__all__ = ["Collection", "Database", "Snapshot", "open_database"]


def open_database(
    path: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | Settings | None = None,
    clock: Clock | None = None,
    **storage: object,
) -> Database:
    """Open (creating if needed) the database at ``path``, or an in-memory one for ``":memory:"``.

    ``config`` is a ``luma.toml`` path or a :class:`~lumadb.config.Settings`; keyword arguments
    override ``[storage]`` settings (``durability="always"``, ``shards=4``, ``hot_cache="1GiB"``).
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgument(f"path must be a string or path, not {type(path).__name__}")
    target = os.fspath(path)
    overrides: dict[str, object] = {f"storage.{k}": v for k, v in storage.items()}
    if isinstance(config, Settings):
        settings = config
        if overrides:
            raise InvalidArgument("pass storage options either in Settings or as keywords")
    else:
        settings = load_settings(config, overrides=overrides)
    service = LocalService(target, settings, clock)
    attach_replica(service)
    attach_vectors(service)
    attach_events(service)
    return Database(service)


class Collection:
    """A handle on one collection; cheap to create, valid until the collection is dropped."""

    __slots__ = ("_db", "_svc", "name")

    def __init__(self, service: LocalService, name: str, db: Database | None = None) -> None:
        self._svc = service
        self.name = name
        self._db = db

    def __repr__(self) -> str:
        return f"<Collection {self.name!r}>"

    def put(self, doc_id: str, doc: Document) -> None:
        """Create or replace the document ``doc_id``."""
        self._svc.put(self.name, doc_id, doc)

    def insert(self, doc: Document) -> str:
        """Create a document and return its id (its ``id`` field, or a new time-ordered one).

        Raises :class:`~lumadb.errors.DocumentExists` if the given id is taken.
        """
        return self._svc.insert(self.name, doc)

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` or ``None``."""
        return self._svc.get(self.name, doc_id)

    def get_many(self, ids: Iterable[str]) -> list[Document | None]:
        """Documents in the order of ``ids``, ``None`` for missing ones."""
        return self._svc.get_many(self.name, ids)

    def delete(self, doc_id: str) -> bool:
        """Delete ``doc_id``; returns whether it existed."""
        return self._svc.delete(self.name, doc_id)

    def put_many(self, pairs: Iterable[tuple[str, Document]]) -> int:
        """Create or replace ``(id, document)`` pairs; atomic per shard. Returns the count."""
        return self._svc.put_many(self.name, pairs)

    def scan(
        self,
        prefix: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[str, Document]]:
        """``(id, document)`` pairs in id order; ``start`` is inclusive, ``end`` exclusive."""
        return self._svc.scan(self.name, ScanRange(prefix, start, end, limit, reverse))

    def count(self, prefix: str | None = None) -> int:
        """How many documents (whose ids start with ``prefix``)."""
        return self._svc.count(self.name, prefix)

    def describe(self) -> dict[str, Any]:
        """The collection's settings."""
        return self._svc.describe_collection(self.name)

    def create_vector_index(
        self,
        field: str,
        *,
        dim: int | None = None,
        metric: str = "cosine",
        index: str = "hnsw",
        name: str | None = None,
        exist_ok: bool = False,
        embed_from: Sequence[str] | None = None,
        model: str | None = None,
        **params: int,
    ) -> dict[str, Any]:
        """Index the vectors at ``field`` (a dotted path) for :meth:`search`: ``dim``
        numbers each, ``metric`` ``cosine``, ``l2`` or ``ip``, ``index`` ``hnsw`` (``m``,
        ``ef_construction``, ``ef_search``), ``ivf_pq`` (``nlist``, ``pq_m``, ``nprobe``)
        or ``flat``. With ``embed_from`` (fields) the field is computed on every write by
        ``model`` (all-MiniLM-L6-v2 by default), whose size ``dim`` is then; ``model`` alone
        names the model ``search(text=...)`` and LQL's ``embed()`` use. Returns the index's
        description."""
        options: dict[str, Any] = {"metric": metric, "index": index, **params}
        if dim is not None:
            options["dim"] = dim
        if embed_from is not None:
            options["embed_from"] = [embed_from] if isinstance(embed_from, str) else embed_from
        if model is not None:
            options["model"] = model
        path = field.split(".") if isinstance(field, str) else field
        return self._svc.create_vector_index(self.name, name, path, options, exist_ok=exist_ok)

    def alter_vector_index(self, field: str, **options: Any) -> dict[str, Any]:
        """Change the vector index on ``field``: a new ``model``, ``embed_from`` or
        parameters. Documents are re-embedded in the background (``wait_embedded``)."""
        path = field.split(".") if isinstance(field, str) else field
        return self._svc.alter_vector_index(self.name, path, options)

    def wait_embedded(self, timeout: float = 60.0) -> bool:
        """Wait until no document waits for its computed vectors; whether none does."""
        return self._svc.wait_embedded(timeout) and self._svc.embedding_backlog(self.name) == 0

    def search(
        self,
        vector: Sequence[float] | None = None,
        *,
        text: str | None = None,
        k: int = 10,
        field: str | None = None,
        where: str | None = None,
        params: Sequence[Any] = (),
        hybrid: bool = False,
        text_field: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``k`` documents nearest to ``vector`` (a list of numbers or a numpy array) — or
        to ``text``, embedded with the model of the field's index — by the vector index on
        ``field`` (the collection's only one by default), among those matching the LQL
        condition ``where`` (its ``?`` filled from ``params``): ``{"id", "score", "distance",
        "document"}`` each, best first (:mod:`lumadb.query.search`). ``hybrid=True`` fuses the
        vector ranking with BM25 over the text index on ``text_field``
        (:mod:`lumadb.query.hybrid`)."""
        if isinstance(params, dict | str | bytes):
            raise InvalidArgument("a search's params are a list (for the ? of where)")
        if vector is not None and text is None and where is None and hybrid is False:
            # A plain vector search: the index may answer alone (search.nearest_hits), which
            # skips the statement's planning; it says None when the statement must answer.
            found, options = vector_field(self._svc.describe_collection(self.name), field)
            hits = nearest_hits(self._svc, self.name, found, options, vector, k)
            if hits is not None:
                return hits
        ask = SearchAsk(query_list(vector), text, k, field, where, list(params), hybrid, text_field)
        db = self._db
        engine = db.engine() if db is not None else Engine(self._svc)
        return run_search(ask, self.name, self._svc, engine, _no_check)


def _no_check(prepared: Any) -> None:
    """The embedded database has no users: every statement is allowed."""


class SnapshotCollection:
    """Read-only access to one collection as of a snapshot."""

    __slots__ = ("_snap", "_svc", "name")

    def __init__(self, service: LocalService, snap: DatabaseSnapshot, name: str) -> None:
        self._svc = service
        self._snap = snap
        self.name = name

    def get(self, doc_id: str) -> Document | None:
        """The document as of the snapshot."""
        return self._svc.get(self.name, doc_id, self._snap)

    def get_many(self, ids: Iterable[str]) -> list[Document | None]:
        """Documents as of the snapshot."""
        return self._svc.get_many(self.name, ids, self._snap)

    def scan(
        self,
        prefix: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[str, Document]]:
        """Pairs in id order as of the snapshot."""
        return self._svc.scan(self.name, ScanRange(prefix, start, end, limit, reverse), self._snap)

    def count(self, prefix: str | None = None) -> int:
        """Documents as of the snapshot."""
        return self._svc.count(self.name, prefix, self._snap)


class Snapshot:
    """A consistent view of the whole database at one instant (a context manager)."""

    def __init__(self, service: LocalService) -> None:
        self._svc = service
        self._snap = service.snapshot()

    def collection(self, name: str) -> SnapshotCollection:
        """One collection as of the snapshot (it must still exist in the catalog)."""
        self._svc.describe_collection(name)
        return SnapshotCollection(self._svc, self._snap, name)

    def close(self) -> None:
        """Release the snapshot."""
        self._snap.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Database:
    """An open LumaDB database (use as a context manager or call :meth:`close`)."""

    def __init__(self, service: LocalService) -> None:
        self._svc = service
        self._lql: Engine | None = None
        self._nlq: tuple[Any, Any] | None = None  # the question provider and audit log

    @property
    def path(self) -> str:
        """The data directory (or ``":memory:"``)."""
        return self._svc.store.path

    @property
    def shard_count(self) -> int:
        """How many shards the data is spread over."""
        return len(self._svc.store.shards)

    def create_collection(
        self, name: str, *, exist_ok: bool = False, changefeed: str = "new"
    ) -> Collection:
        """Create a collection (``changefeed``: ``new`` images, or ``new_and_old``)."""
        self._svc.create_collection(name, exist_ok=exist_ok, changefeed=changefeed)
        return Collection(self._svc, name, self)

    def collection(self, name: str) -> Collection:
        """An existing collection; raises :class:`~lumadb.errors.CollectionNotFound`."""
        self._svc.describe_collection(name)
        return Collection(self._svc, name, self)

    def list_collections(self) -> list[str]:
        """Collection names, sorted."""
        return [c["name"] for c in self._svc.list_collections()]

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop a collection and its documents; returns whether it existed."""
        return self._svc.drop_collection(name, missing_ok=missing_ok)

    def query(
        self, text: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run LQL (``docs/lql.md``); the rows of the last statement as dicts.

        ``params`` fill ``?`` (a list) or ``:name`` (a dict) placeholders.
        """
        return self.execute(text, params).dicts()

    def execute(self, text: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Result:
        """Run LQL; the last statement's :class:`~lumadb.query.Result` (columns and rows)."""
        result: Result = self.engine().query(text, params)
        return result

    def ask(self, question: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Answer a question in plain language: ``{"question", "lql", "provider", "columns",
        "rows"}`` (the LQL only when ``dry_run``), by ``[nlq] provider`` — the built-in
        offline translator by default (:mod:`lumadb.nlq`)."""
        from lumadb.nlq.ask import answer, schema_of
        from lumadb.nlq.audit import AuditLog
        from lumadb.nlq.providers import provider_for

        svc = self._svc
        if self._nlq is None:
            path = None if svc.store.in_memory else svc.store.path
            self._nlq = (provider_for(svc.settings.nlq), AuditLog(path))
        provider, audit = self._nlq
        sample = svc.settings.nlq.sample_size
        found: dict[str, Any] = answer(
            question,
            provider=provider,
            schema=lambda: schema_of(svc, self.list_collections(), sample),
            engine=self.engine(),
            source=svc,
            allow=_no_check,
            dry_run=dry_run,
            record=audit.record,
        )
        return found

    # --- triggers (docs/events.md) --------------------------------------------------------

    def create_trigger(
        self,
        name: str,
        collection: str,
        sink: dict[str, Any],
        *,
        on: Sequence[str] = ("insert", "update", "delete"),
        when: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Send changes of ``collection`` to ``sink`` (``{"type": "webhook", "url": ...}``).

        ``when`` is an LQL condition over ``new`` and ``old``; ``options``: ``payload``,
        ``retries``, ``backoff``, ``max_backoff``, ``timeout``, ``enabled``.
        """
        raw = {"name": name, "collection": collection, "sink": sink, "on": list(on), **options}
        if when is not None:
            raw["when"] = when
        return self._events().create(raw)

    def drop_trigger(self, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a trigger, its cursors and its dead letters."""
        return self._events().drop(name, missing_ok=missing_ok)

    def triggers(self) -> list[dict[str, Any]]:
        """Every trigger's description."""
        return self._events().describe_all()

    def trigger_status(self, name: str, *, lag: bool = True) -> dict[str, Any]:
        """A trigger with its cursors, lag, counters and number of dead letters.

        Counting the lag reads the change feed; ``lag=False`` skips it (``"lag": None``).
        """
        return self._events().status(name, lag=lag)

    def enable_trigger(self, name: str, enabled: bool = True) -> dict[str, Any]:
        """Start (or with ``enabled=False`` pause) a trigger's deliveries.

        A paused trigger's cursors stay where they are, so the changes made meanwhile are
        delivered once it is enabled again.
        """
        return self._events().set_enabled(name, enabled)

    def replay_trigger(self, name: str, since: Mapping[int, int]) -> dict[str, int]:
        """Deliver again every change after ``since[shard]`` (0 = the oldest the feed keeps)."""
        return self._events().replay(name, dict(since))

    def dead_letters(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """Events of ``name`` that failed every attempt, oldest first."""
        return self._events().dead_letters(name, limit)

    def redeliver(self, name: str) -> int:
        """Try the dead letters of ``name`` again; returns how many."""
        return self._events().redeliver(name)

    def _events(self) -> Events:
        self._svc.store.check_open()
        events: Events | None = self._svc.events
        if events is None:
            raise InvalidArgument("events are turned off here ([events] enabled = false)")
        return events

    def engine(self) -> Engine:
        """The LQL engine of this database (made on first use; it caches plans)."""
        engine: Engine | None = self._lql
        if engine is None:
            engine = self._lql = Engine(self._svc)
        return engine

    def snapshot(self) -> Snapshot:
        """A consistent read-only view of every collection."""
        return Snapshot(self._svc)

    def changes(self, shard: int = 0, since: int = 0, limit: int = 1000) -> list[Change]:
        """Change-feed records of ``shard`` after sequence number ``since``."""
        return self._svc.changes(shard, since, limit)

    def flush(self) -> None:
        """Write in-memory write buffers to disk files (reads and durability are unaffected)."""
        self._svc.store.flush()

    def prune_changes(self) -> int:
        """Apply change-feed retention now (it also runs in the background)."""
        return self._svc.store.prune_feeds()

    def backup(self, dest: str | os.PathLike[str]) -> dict[str, Any]:
        """Write a consistent backup to the new directory ``dest`` while writes continue."""
        return self._svc.backup(os.fspath(dest))

    def stats(self) -> dict[str, Any]:
        """Per-shard figures: L1 hits and misses, WAL syncs, sizes."""
        return self._svc.stats()

    def close(self) -> None:
        """Close the database (idempotent)."""
        self._svc.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<lumadb.Database {self.path!r}>"

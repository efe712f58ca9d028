"""``POST /api/v1/_query``: LQL over HTTP, run across the node's shard workers.

The LQL engine is synchronous (the embedded API calls it directly); here it runs on a worker
thread, and every read or write it makes is handed back to the event loop, where the
:class:`~lumadb.service.routed.ShardRouter` runs it on the owning worker. So a query sees every
shard of the node, and its writes are durable before it answers, as a REST write is.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator, Sequence
from dataclasses import astuple
from typing import Any, TypeVar

import orjson

from lumadb.api._wire import Request, Response, json_response
from lumadb.api.context import ApiContext
from lumadb.api.routing import Params, Router
from lumadb.errors import Forbidden, InvalidArgument, SchemaViolation, UniqueViolation
from lumadb.query import Engine, Result
from lumadb.query.columnar import Shipped
from lumadb.query.hybrid import SearchAsk, run_search
from lumadb.query.plans import Source
from lumadb.query.text import merge_stats
from lumadb.service import Document, ScanRange
from lumadb.service.permissions import Actor
from lumadb.service.routed import wait_on
from lumadb.service.unique import first_duplicate

__all__ = ["QueryRoutes"]

T = TypeVar("T")


class _RoutedSource:
    """The engine's :class:`~lumadb.query.execute.Source`, called from a worker thread."""

    def __init__(self, ctx: ApiContext, loop: asyncio.AbstractEventLoop) -> None:
        self._ctx = ctx
        self._docs = ctx.docs
        self._loop = loop

    def _wait(self, work: Awaitable[T]) -> T:
        return wait_on(self._loop, work)

    def get(self, collection: str, doc_id: str) -> Document | None:
        found = self._wait(self._docs.get_versioned(collection, doc_id))
        return None if found is None else found[0]

    def get_many(self, collection: str, ids: Iterable[str]) -> list[Document | None]:
        return self._wait(self._docs.get_many(collection, list(ids)))

    def get_versioned(self, collection: str, doc_id: str) -> tuple[Document, int] | None:
        return self._wait(self._docs.get_versioned(collection, doc_id))

    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]:
        chunks: AsyncGenerator[list[tuple[str, Document]], None] = self._docs.scan(collection, rng)
        try:
            while True:
                try:
                    chunk = self._wait(chunks.__anext__())
                except StopAsyncIteration:
                    return
                yield from chunk
        finally:
            self._wait(chunks.aclose())

    def put_if(self, collection: str, doc_id: str, doc: Document, version: int | None) -> int:
        return self._wait(self._docs.put_if(collection, doc_id, doc, version))

    def delete(self, collection: str, doc_id: str, version: int | None = None) -> bool:
        return self._wait(self._docs.delete(collection, doc_id, version))

    def describe_collection(self, name: str) -> dict[str, Any]:
        return self._ctx.service.describe_collection(name)

    def alter_vector_index(
        self, collection: str, path: Sequence[str], options: dict[str, Any]
    ) -> dict[str, Any]:
        return self._ctx.service.alter_vector_index(collection, path, options)

    def embed_query(
        self,
        text: str,
        model: str | None,
        collection: str | None = None,
        path: Sequence[str] | None = None,
    ) -> list[float]:
        return self._ctx.service.embed_query(text, model, collection, path)

    def create_collection(self, name: str, *, exist_ok: bool = False) -> dict[str, Any]:
        return self._ctx.service.create_collection(name, exist_ok=exist_ok)

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        return self._ctx.service.drop_collection(name, missing_ok=missing_ok)

    def index_ids(self, collection: str, path: Sequence[str], value: Any) -> list[str] | None:
        return self._wait(self._docs.index_ids(collection, list(path), value))

    def index_range(self, collection: str, path: Sequence[str], *bounds: Any) -> list[str] | None:
        return self._wait(self._docs.index_range(collection, list(path), *bounds))

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
        service = self._ctx.service
        made = service.create_index(
            collection, name, path, exist_ok=exist_ok, kind=kind, more=more, unique=unique
        )
        if unique and self._docs.workers > 1:  # this worker checked its own shards only
            self._check_unique(name)
        return made

    def _check_unique(self, name: str) -> None:
        """Undo the new unique index ``name`` if documents of different workers share its
        values (asking each worker builds its part of the index first)."""
        found = self._ctx.service.index_spec(name)
        if found is None:
            return  # dropped meanwhile
        parts = self._wait(self._docs.every_worker("unique_entries", name))
        pairs = heapq.merge(*[[(bytes(p), str(i)) for p, i in part] for part in parts])
        clash = first_duplicate(pairs, found)
        if clash is not None:
            self._ctx.service.drop_index(name, missing_ok=True)
            shown, one, other = clash
            raise UniqueViolation(
                f"unique index {name!r} not created: documents {one!r} and {other!r} both "
                f"have {shown}"
            )

    def index_match(
        self, collection: str, equalities: Sequence[tuple[Sequence[str], Any]]
    ) -> list[str] | None:
        given = [(list(path), value) for path, value in equalities]
        return self._wait(self._docs.index_match(collection, given))

    def text_ids(self, collection: str, path: Sequence[str], words: str) -> list[str] | None:
        return self._wait(self._docs.text_ids(collection, list(path), words))

    def text_stats(
        self, collection: str, path: Sequence[str], terms: Sequence[str]
    ) -> dict[str, Any] | None:
        return merge_stats(self._wait(self._docs.text_stats(collection, list(path), list(terms))))

    def drop_index(self, name: str, *, missing_ok: bool = False) -> bool:
        return self._ctx.service.drop_index(name, missing_ok=missing_ok)

    def commit(self, writes: Sequence[tuple[str, str, Document | None, int]]) -> int:
        return self._wait(self._docs.commit(list(writes)))

    def set_ttl(self, name: str, seconds: float | None) -> dict[str, Any]:
        if seconds is None:  # every worker deletes what has expired in its shards first
            self._wait(
                self._docs.ask_all(
                    "purge_expired", timeout=self._ctx.settings.server.request_timeout
                )
            )
        return self._ctx.service.set_ttl(name, seconds)

    def set_schema(self, name: str, schema: str | None) -> dict[str, Any]:
        service = self._ctx.service
        previous = service.describe_collection(name).get("schema")
        described = service.set_schema(name, schema, check=False)
        if schema is not None:  # the stored documents of every worker, once it is in force
            found = service.first_violation(name, self.scan(name, ScanRange()))
            if found is not None:
                old = None if previous is None else orjson.dumps(previous).decode()
                service.set_schema(name, old, check=False)
                raise SchemaViolation(f"{found}; the schema was not set")
        return described

    def vector_search(
        self,
        collection: str,
        path: Sequence[str],
        vector: Sequence[float],
        k: int,
        allowed: Sequence[str] | None = None,
        operator: str | None = None,
    ) -> list[tuple[float, str]] | None:
        chosen = None if allowed is None else list(allowed)
        work = self._docs.vector_search(collection, list(path), list(vector), k, chosen, operator)
        return self._wait(work)

    def create_vector_index(
        self,
        collection: str,
        name: str | None,
        path: Sequence[str],
        options: dict[str, Any],
        *,
        exist_ok: bool = False,
    ) -> dict[str, Any]:
        return self._ctx.service.create_vector_index(
            collection, name, path, options, exist_ok=exist_ok
        )

    def create_trigger(self, raw: dict[str, Any], *, exist_ok: bool = False) -> dict[str, Any]:
        return self._ctx.service.create_trigger(raw, exist_ok=exist_ok)

    def drop_trigger(self, name: str, *, missing_ok: bool = False) -> bool:
        return self._ctx.service.drop_trigger(name, missing_ok=missing_ok)

    def columnar(self, query: Shipped) -> list[list[Any]] | None:
        service = self._ctx.service
        if service.keeps_columnar:  # one worker, or worker 0 of several
            return service.columnar(query)
        if self._docs.workers == 1 or not self._ctx.settings.analytics.columnar:
            return None
        found: list[list[Any]] | None = self._wait(self._docs.on(0, "columnar", *astuple(query)))
        return found


class QueryRoutes:
    """The LQL endpoint."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.engine = Engine()  # plans only: each request brings its source (and loop)

    def register(self, router: Router) -> None:
        """Add the routes."""
        router.add("POST", "/api/v1/_query", self.query, summary="Run LQL")
        router.add("POST", "/api/v1/{collection}/_search", self.search, summary="Nearest documents")

    def _allow(self, prepared: Any, actor: Actor) -> None:
        allow_lql(prepared, actor)

    async def search(self, request: Request, params: Params, actor: Actor) -> Response:
        """``{"vector" | "text", "k"?, "field"?, "where"?, "params"?, "hybrid"?,
        "text_field"?}`` → ``{"hits": [...]}`` (:mod:`lumadb.query.hybrid`)."""
        collection = params["collection"]
        actor.require("read", collection)
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        ask = SearchAsk.of(body)
        source = _RoutedSource(self.ctx, asyncio.get_running_loop())
        hits = await self.ctx.blocking(
            lambda: run_search(
                ask,
                collection,
                source,
                self.engine,
                lambda prepared: self._allow(prepared, actor),
                with_ids=True,  # as GET /api/v1/{collection}/{id} answers documents
            )
        )
        return json_response({"hits": hits})

    async def query(self, request: Request, params: Params, actor: Actor) -> Response:
        """Run ``{"query", "params"?}``; answer ``{"columns", "rows"}`` of the last statement."""
        body = await request.json(self.ctx.max_body, self.ctx.max_depth)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise InvalidArgument('send {"query": "<LQL>", "params": [...]}')
        unknown = set(body) - {"query", "params"}
        if unknown:
            raise InvalidArgument(f"unknown field {sorted(unknown)[0]!r}; known: params, query")
        values = body.get("params")
        if values is not None and not isinstance(values, list | dict):
            raise InvalidArgument("params must be a list (for ?) or an object (for :name)")
        # Parsing a long statement takes time: not on the event loop.
        prepared = await self.ctx.blocking(self.engine.prepare, body["query"])
        self._allow(prepared, actor)
        source = _RoutedSource(self.ctx, asyncio.get_running_loop())
        result = await self.ctx.blocking(self.engine.run, prepared, values, source)
        if b"application/x-ndjson" in (request.header(b"accept") or b""):
            return Response(200, headers=[(b"content-type", _NDJSON)], chunks=_lines(result))
        return json_response({"columns": result.columns, "rows": result.rows})


_NDJSON = b"application/x-ndjson"
_ROWS_PER_CHUNK = 1000


def _lines(result: Result) -> Iterator[bytes]:
    """NDJSON: ``{"columns": [...]}``, then one JSON array per row, a thousand rows a chunk."""
    yield orjson.dumps({"columns": result.columns}, option=orjson.OPT_APPEND_NEWLINE)
    rows = result.rows
    for at in range(0, len(rows), _ROWS_PER_CHUNK):
        yield b"".join(
            orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
            for row in rows[at : at + _ROWS_PER_CHUNK]
        )


def routed_source(ctx: ApiContext, loop: asyncio.AbstractEventLoop) -> Source:
    """The LQL source of a request: the node's documents and catalog, from a worker thread."""
    return _RoutedSource(ctx, loop)


def allow_lql(prepared: Any, actor: Actor) -> None:
    """Refuse prepared LQL that needs a permission ``actor`` lacks (or reaches row-filtered
    collections, which LQL does not filter yet)."""
    for action, collection in prepared.needs:
        actor.require(action, collection)
        if actor.rows(action, collection) is not None:
            raise Forbidden(
                f"{actor.name!r} may reach only some rows of {collection!r}; "
                "LQL on row-filtered collections is not supported yet (use REST)"
            )

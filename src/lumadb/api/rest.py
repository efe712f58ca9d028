"""REST routes for documents: ``/api/v1/{collection}[/{id}]`` and ``_bulk``.

A document travels as its JSON object with its ``id`` in it. Reads carry an ``ETag`` (the
document's version); ``If-Match`` makes PUT, PATCH and DELETE conditional (412 when the
document moved on), ``If-None-Match: *`` makes PUT create-only.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson

from lumadb.api._wire import Request, Response, empty_response, json_response, parse_json
from lumadb.api.context import ApiContext
from lumadb.api.routing import Params, Router
from lumadb.errors import (
    DocumentNotFound,
    Forbidden,
    InvalidArgument,
    InvalidDocument,
    MalformedRequest,
    VersionMismatch,
)
from lumadb.query.conditions import compile_condition
from lumadb.service import ScanRange
from lumadb.service.filters import Predicate, compile_filter, compile_order
from lumadb.service.ids import new_id
from lumadb.service.permissions import Actor

__all__ = ["DocumentRoutes"]

_LIST_PARAMS = {"limit", "offset", "prefix", "cursor", "where", "order_by"}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000
_MISSING: Any = object()


def _etag(version: int) -> bytes:
    return b'"%016x"' % version


def _if_match(request: Request) -> int | None:
    """The version ``If-Match`` names, or None when the header is absent or ``*``."""
    header = request.header(b"if-match")
    if header is None or header.strip() == b"*":
        return None
    tag = header.strip().removeprefix(b"W/").strip(b'"')
    try:
        return int(tag, 16)
    except ValueError:
        raise VersionMismatch(f"If-Match {header.decode('latin-1')!r} names no version") from None


def _with_id(doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return doc if doc.get("id") == doc_id else {"id": doc_id, **doc}


def _stored_with_id(doc_id: str, stored: bytes) -> bytes:
    """The stored JSON object with ``"id"`` first, spliced without parsing when it is safe."""
    if b'"id":' in stored:  # maybe a key "id" somewhere: let the parser decide
        return orjson.dumps(_with_id(doc_id, orjson.loads(stored)))
    if stored == b"{}":
        return b'{"id":%b}' % orjson.dumps(doc_id)
    return b"".join((b'{"id":', orjson.dumps(doc_id), b",", memoryview(stored)[1:]))


def _object(value: object, what: str = "the body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidDocument(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _int_param(query: dict[str, str], name: str, default: int, top: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    # str.isdigit alone also takes digits int() refuses ("²"): ASCII digits only.
    if not (text.isascii() and text.isdigit()) or int(text) > top:
        raise InvalidArgument(f"{name} must be an integer from 0 to {top}, not {text!r}")
    return int(text)


def _cursor_id(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        doc_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeError):
        doc_id = ""
    if not doc_id:
        raise InvalidArgument("cursor is not one this server handed out")
    return doc_id


def _where(text: str | None, max_depth: int, collection: str) -> Predicate | None:
    if text is None:
        return None
    if not text.lstrip().startswith("{"):  # not a JSON filter: an LQL condition
        return compile_condition(text, collection)
    try:
        spec = parse_json(text, max_depth)
    except MalformedRequest as exc:
        raise InvalidArgument(f"where must be a JSON filter object: {exc.message}") from None
    return compile_filter(spec)


def _both(first: Predicate | None, second: Predicate | None) -> Predicate | None:
    if first is None or second is None:
        return first or second
    return lambda doc: first(doc) and second(doc)


def _cursor(doc_id: str) -> str:
    return base64.urlsafe_b64encode(doc_id.encode()).rstrip(b"=").decode("ascii")


class DocumentRoutes:
    """Handlers for documents, bound to one :class:`ApiContext`."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.docs = ctx.docs

    async def _row_guard(
        self, actor: Actor, collection: str, doc_id: str, new: dict[str, Any]
    ) -> tuple[bool, int | None]:
        """For a caller limited to some rows: whether it is, and the version it may replace."""
        keep = actor.rows("write", collection)
        if keep is None:
            return False, None
        found = await self.docs.get_versioned(collection, doc_id)
        if found is not None and not keep(_with_id(doc_id, found[0])):
            raise Forbidden(f"document {doc_id!r} is outside the rows {actor.name!r} may write")
        if not keep(_with_id(doc_id, new)):
            raise Forbidden(f"the new document is outside the rows {actor.name!r} may write")
        return True, None if found is None else found[1]

    async def _bulk_rows(
        self, actor: Actor, collection: str, pairs: list[tuple[str, dict[str, Any]]]
    ) -> None:
        # Checked before the batch is written; a concurrent write to one of these ids in
        # between is not seen (the batch itself stays atomic per shard).
        keep = actor.rows("write", collection)
        if keep is None:
            return
        existing = await self.docs.get_many(collection, [i for i, _ in pairs])
        for (doc_id, doc), old in zip(pairs, existing, strict=True):
            if not keep(_with_id(doc_id, doc)) or (
                old is not None and not keep(_with_id(doc_id, old))
            ):
                raise Forbidden(f"document {doc_id!r} is outside the rows {actor.name!r} may write")

    def register(self, router: Router) -> None:
        """Add the document routes."""
        add = router.add
        add("GET", "/api/v1/{collection}", self.listing, summary="List documents")
        add("POST", "/api/v1/{collection}", self.create, summary="Create a document")
        add("POST", "/api/v1/{collection}/_bulk", self.bulk, summary="Write NDJSON documents")
        # The hottest route: it never awaits, so it skips the request timer.
        add("GET", "/api/v1/{collection}/{id}", self.read, summary="Read a document", timed=False)
        add("PUT", "/api/v1/{collection}/{id}", self.replace, summary="Create or replace")
        add("PATCH", "/api/v1/{collection}/{id}", self.patch, summary="Merge-patch a document")
        add("DELETE", "/api/v1/{collection}/{id}", self.delete, summary="Delete a document")

    async def _body(self, request: Request) -> Any:
        return await request.json(self.ctx.max_body, self.ctx.max_depth)

    async def read(self, request: Request, params: Params, actor: Actor) -> Response:
        """GET one document, with its ETag."""
        collection, doc_id = params["collection"], params["id"]
        actor.require("read", collection)
        found = await self.docs.get_stored(collection, doc_id)
        keep = actor.rows("read", collection)
        if found is None or (
            keep is not None and not keep(_with_id(doc_id, orjson.loads(found[0])))
        ):
            raise DocumentNotFound(f"document {doc_id!r} does not exist in {collection!r}")
        stored, version = found
        etag = _etag(version)
        if request.header(b"if-none-match") == etag:
            return empty_response(304, [(b"etag", etag)])
        body = _stored_with_id(doc_id, stored)
        return Response(200, body, [(b"content-type", b"application/json"), (b"etag", etag)])

    async def create(self, request: Request, params: Params, actor: Actor) -> Response:
        """POST a new document; its ``id`` field is used when present."""
        collection = params["collection"]
        actor.require("write", collection)
        doc = _object(await self._body(request))
        keep = actor.rows("write", collection)
        if keep is not None and not keep(doc):
            raise Forbidden(f"the document is outside the rows {actor.name!r} may write")
        doc_id = await self.docs.insert(collection, doc)
        # Percent-encoded like ids in request paths: "a/b" is a%2Fb, and headers stay ASCII.
        location = f"/api/v1/{collection}/{quote(doc_id, safe='')}".encode()
        return json_response({"id": doc_id}, 201, [(b"location", location)])

    async def replace(self, request: Request, params: Params, actor: Actor) -> Response:
        """PUT a whole document (conditional with If-Match / If-None-Match: *)."""
        collection, doc_id = params["collection"], params["id"]
        actor.require("write", collection)
        doc = _object(await self._body(request))
        guarded, current = await self._row_guard(actor, collection, doc_id, doc)
        if request.header(b"if-none-match") == b"*":
            version = await self.docs.put_if(collection, doc_id, doc, None)
            return json_response({"id": doc_id}, 201, [(b"etag", _etag(version))])
        expected = _if_match(request)
        if expected is None and guarded:
            expected = current  # the version checked against the rows: nothing slips between
            if expected is None:
                version = await self.docs.put_if(collection, doc_id, doc, None)
                return json_response({"id": doc_id}, headers=[(b"etag", _etag(version))])
        if expected is None:
            await self.docs.put(collection, doc_id, doc)
            return json_response({"id": doc_id})
        version = await self.docs.put_if(collection, doc_id, doc, expected)
        return json_response({"id": doc_id}, headers=[(b"etag", _etag(version))])

    async def patch(self, request: Request, params: Params, actor: Actor) -> Response:
        """PATCH with a JSON merge patch, applied only to the version it was read from."""
        collection, doc_id = params["collection"], params["id"]
        actor.require("write", collection)
        patch = _object(await self._body(request), "a merge patch")
        if "id" in patch and patch["id"] != doc_id:
            raise InvalidDocument("a merge patch cannot change the document's id")
        found = await self.docs.get_versioned(collection, doc_id)
        if found is None:
            raise DocumentNotFound(f"document {doc_id!r} does not exist in {collection!r}")
        doc, version = found
        keep = actor.rows("write", collection)
        if keep is not None and not keep(_with_id(doc_id, doc)):
            raise DocumentNotFound(f"document {doc_id!r} does not exist in {collection!r}")
        expected = _if_match(request)
        if expected is not None and expected != version:
            raise VersionMismatch(f"document {doc_id!r} has changed since that version")
        merged = merge_patch(doc, patch)
        if keep is not None and not keep(_with_id(doc_id, merged)):
            raise Forbidden(f"the patched document is outside the rows {actor.name!r} may write")
        # Conditional on the version read, so a concurrent write is never silently undone.
        new_version = await self.docs.put_if(collection, doc_id, merged, version)
        return json_response(_with_id(doc_id, merged), headers=[(b"etag", _etag(new_version))])

    async def delete(self, request: Request, params: Params, actor: Actor) -> Response:
        """DELETE a document (conditional with If-Match)."""
        collection, doc_id = params["collection"], params["id"]
        actor.require("write", collection)
        expected = _if_match(request)
        keep = actor.rows("write", collection)
        if keep is not None:
            found = await self.docs.get_versioned(collection, doc_id)
            if found is None or not keep(_with_id(doc_id, found[0])):
                raise DocumentNotFound(f"document {doc_id!r} does not exist in {collection!r}")
            expected = found[1] if expected is None else expected
        # The version is checked under the key's lock, with the delete: no write slips between.
        existed = await self.docs.delete(collection, doc_id, expected)
        if not existed:
            raise DocumentNotFound(f"document {doc_id!r} does not exist in {collection!r}")
        return empty_response(204)

    async def listing(self, request: Request, params: Params, actor: Actor) -> Response:
        """GET documents: ``where``, ``order_by``, ``limit``, ``offset``, ``prefix``, ``cursor``."""
        collection = params["collection"]
        actor.require("read", collection)
        query = request.query()
        unknown = set(query) - _LIST_PARAMS
        if unknown:
            raise InvalidArgument(
                f"unknown query parameter {sorted(unknown)[0]!r}; known: "
                + ", ".join(sorted(_LIST_PARAMS))
            )
        limit = _int_param(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        offset = _int_param(query, "offset", 0, MAX_OFFSET)
        after = _cursor_id(query["cursor"]) if "cursor" in query else None
        where = _where(query.get("where"), self.ctx.max_depth, collection)
        keep = _both(where, actor.rows("read", collection))
        chunks = self.docs.scan(
            collection, ScanRange(prefix=query.get("prefix") or None, start=after)
        )
        wanted = offset + limit + 1  # one more than the page: does another follow?
        found: list[tuple[str, dict[str, Any]]] = []
        ordered = "order_by" in query
        if ordered:
            if after is not None:
                raise InvalidArgument("cursor pages in id order; with order_by use offset")
            key, descending = compile_order(query["order_by"])
            pick = heapq.nlargest if descending else heapq.nsmallest
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                rows: Iterable[tuple[str, dict[str, Any]]] = chunk
                if after is not None:
                    rows = (row for row in rows if row[0] != after)
                if keep is not None:
                    rows = [row for row in rows if keep(_with_id(*row))]
                if ordered:  # memory: the page, not the collection
                    found = pick(wanted, itertools.chain(found, rows), key=key)
                else:
                    found.extend(itertools.islice(rows, wanted - len(found)))
                    if len(found) >= wanted:
                        break
        found = found[offset:]
        page = found[:limit]
        following = None
        if len(found) > limit and page and not ordered:
            following = _cursor(page[-1][0])
        items = [_with_id(i, d) for i, d in page]
        return json_response({"items": items, "next_cursor": following})

    async def bulk(self, request: Request, params: Params, actor: Actor) -> Response:
        """POST NDJSON: one document per line, all written or none (per shard, atomic)."""
        collection = params["collection"]
        actor.require("write", collection)
        body = await request.body(self.ctx.max_body)
        request.require_json()
        pairs: list[tuple[str, dict[str, Any]]] = []
        for number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc = _object(parse_json(line, self.ctx.max_depth), f"line {number}")
            except (MalformedRequest, InvalidDocument) as exc:
                message = exc.message.removeprefix(f"line {number} ")
                raise type(exc)(f"line {number}: {message}") from None
            doc_id = doc.get("id", _MISSING)
            pairs.append((new_id() if doc_id is _MISSING else doc_id, doc))
        if not pairs:
            raise InvalidArgument("the body holds no documents (one JSON object per line)")
        await self._bulk_rows(actor, collection, pairs)
        count = await self.docs.put_many(collection, pairs)
        return json_response({"count": count, "ids": [i for i, _ in pairs]})

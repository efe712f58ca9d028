"""The asyncio client: :func:`lumadb.connect_async` returns an :class:`AsyncClient`.

Its methods are those of the sync :class:`~lumadb.client.Client` as coroutines; ``scan``
returns an async iterator. ``collection(name)`` is not a coroutine, so it cannot ask the
server whether the collection exists: a missing one raises
:class:`~lumadb.errors.CollectionNotFound` on first use instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from types import TracebackType
from typing import Any

import httpx

from lumadb.client import _calls
from lumadb.client._calls import ABSENT, USER_AGENT, Call, finish
from lumadb.client._errors import transport_error
from lumadb.client._scan import Pair, ScanPlan
from lumadb.client._wire import collection_segment
from lumadb.errors import DatabaseClosed
from lumadb.service import Document

__all__ = ["AsyncClient", "AsyncCollection", "AsyncSession"]

PARALLEL_GETS = 8  # get_many's requests in flight at once


class AsyncSession:
    """A pool of HTTP connections to one node, and the credentials to use on it."""

    def __init__(
        self,
        url: str,
        timeout: float,
        token: str | None,
        login: tuple[str, str] | None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (tests pass an ``httpx.MockTransport``)."""
        self.url = url
        self._timeout = timeout
        self._token = token
        self._login = login
        self._lock = asyncio.Lock()
        self._closed = False
        self._http = httpx.AsyncClient(
            base_url=url, timeout=timeout, headers={"user-agent": USER_AGENT}, transport=transport
        )

    async def call(self, call: Call) -> Any:
        """Send ``call``; its reply (see :func:`~lumadb.client._calls.finish`) or its error."""
        if self._closed:
            raise DatabaseClosed(f"this client of {self.url} is closed")
        await self.ensure_token()
        token = self._token
        response = await self._send(call, token)
        if response.status_code == 401 and call.authorized and self._login is not None:
            # The token expired or was refused: log in again, once, and repeat the request.
            response = await self._send(call, await self._relogin(token))
        return finish(call, response)

    async def ensure_token(self) -> None:
        """Log in unless a token is at hand (the first request of a client does this)."""
        if self._token is None and self._login is not None:
            await self._relogin(None)

    async def login(self) -> None:
        """Exchange the user name and password for a new token."""
        if self._login is None:
            return
        call = _calls.login(*self._login)
        self._token = _calls.token_of(finish(call, await self._send(call, None)))

    async def _relogin(self, stale: str | None) -> str | None:
        async with self._lock:
            if self._token == stale:  # else a concurrent request has just logged in
                await self.login()
            return self._token

    async def _send(self, call: Call, token: str | None) -> httpx.Response:
        headers = {"content-type": call.content_type} if call.body is not None else {}
        if token is not None and call.authorized:
            headers["authorization"] = f"Bearer {token}"
        try:
            return await self._http.request(
                call.method, call.path, content=call.body, params=call.params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url, self._timeout) from exc

    async def close(self) -> None:
        """Close the connections (idempotent)."""
        self._closed = True
        await self._http.aclose()


class AsyncCollection:
    """One collection over HTTP; the methods of :class:`lumadb.Collection` as coroutines."""

    __slots__ = ("_s", "name")

    def __init__(self, session: AsyncSession, name: str) -> None:
        self._s = session
        self.name = name

    def __repr__(self) -> str:
        return f"<lumadb.client.AsyncCollection {self.name!r}>"

    async def put(self, doc_id: str, doc: Document) -> None:
        """Create or replace the document ``doc_id``."""
        await self._s.call(_calls.put(self.name, doc_id, doc))

    async def insert(self, doc: Document) -> str:
        """Create a document and return its id; DocumentExists if the given id is taken."""
        return str((await self._s.call(_calls.insert(self.name, doc)))["id"])

    async def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` or ``None`` (without an ``id`` field)."""
        return _calls.document_of(doc_id, await self._s.call(_calls.get(self.name, doc_id)))

    async def get_many(self, ids: Iterable[str]) -> list[Document | None]:
        """Documents in the order of ``ids``, ``None`` for missing ones (a few GETs at once)."""
        wanted = _calls.ids_list(ids)
        if not wanted:
            await self.describe()
            return []
        gate = asyncio.Semaphore(PARALLEL_GETS)

        async def one(doc_id: str) -> Document | None:
            async with gate:
                return await self.get(doc_id)

        found = await asyncio.gather(*(one(i) for i in wanted), return_exceptions=True)
        for item in found:
            if isinstance(item, BaseException):
                raise item
        return found  # type: ignore[return-value]  # no exceptions left in it

    async def delete(self, doc_id: str) -> bool:
        """Delete ``doc_id``; returns whether it existed."""
        return await self._s.call(_calls.delete(self.name, doc_id)) is not ABSENT

    async def put_many(self, pairs: Iterable[tuple[str, Document]]) -> int:
        """Create or replace ``(id, document)`` pairs through ``_bulk``; returns the count."""
        calls = _calls.bulk_calls(self.name, pairs)
        if not calls:
            await self.describe()
        return sum([_calls.bulk_count(await self._s.call(call)) for call in calls])

    def scan(
        self,
        prefix: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> AsyncIterator[tuple[str, Document]]:
        """``(id, document)`` pairs in id order, as an async iterator (``async for``).

        Arguments are checked at once; requests start with the iteration.
        """
        return self._pairs(ScanPlan(self.name, prefix, start, end, limit, reverse))

    async def _pairs(self, plan: ScanPlan) -> AsyncIterator[Pair]:
        call = plan.next_call()
        while call is not None:
            for pair in plan.feed(await self._s.call(call)):
                yield pair
            call = plan.next_call()

    async def count(self, prefix: str | None = None) -> int:
        """How many documents (whose ids start with ``prefix``), by paging through them."""
        return sum([1 async for _ in self._pairs(ScanPlan(self.name, prefix))])

    async def describe(self) -> dict[str, Any]:
        """The collection's settings."""
        return dict(await self._s.call(_calls.describe(self.name)))

    async def create_vector_index(
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
        """Index the vectors at ``field`` (as :meth:`lumadb.Collection.create_vector_index`)."""
        options = _calls.vector_options(dim, metric, index, embed_from, model, **params)
        await self._s.call(_calls.create_vector_index(self.name, field, name, exist_ok, options))
        described = await self._s.call(_calls.describe(self.name))
        return _calls.vector_index_of(self.name, field, described)

    async def alter_vector_index(self, field: str, **options: Any) -> dict[str, Any]:
        """Change the vector index on ``field`` (as
        :meth:`lumadb.Collection.alter_vector_index`)."""
        await self._s.call(_calls.alter_vector_index(self.name, field, options))
        described = await self._s.call(_calls.describe(self.name))
        return _calls.vector_index_of(self.name, field, described)

    async def search(
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
        """The ``k`` best documents for ``vector`` or ``text`` (see
        :meth:`lumadb.Collection.search`)."""
        call = _calls.search(
            self.name,
            vector,
            params,
            text=text,
            k=k,
            field=field,
            where=where,
            hybrid=hybrid,
            text_field=text_field,
        )
        hits = list((await self._s.call(call))["hits"])
        return _calls.hits_of(hits)


class AsyncClient:
    """A LumaDB node over HTTP for asyncio (``async with`` or ``await client.close()``)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    @property
    def url(self) -> str:
        """The node's base URL."""
        return self._s.url

    async def create_collection(
        self, name: str, *, exist_ok: bool = False, changefeed: str = "new"
    ) -> AsyncCollection:
        """Create a collection (``changefeed``: ``new`` images, or ``new_and_old``)."""
        await self._s.call(_calls.create_collection(name, exist_ok, changefeed))
        return AsyncCollection(self._s, name)

    def collection(self, name: str) -> AsyncCollection:
        """A handle on a collection; whether it exists shows on first use."""
        return AsyncCollection(self._s, collection_segment(name))

    async def list_collections(self) -> list[str]:
        """Names of the collections the caller may read, sorted."""
        return _calls.names_of(await self._s.call(_calls.list_collections()))

    async def query(
        self, text: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run LQL on the node; the rows of the last statement as dicts (``docs/lql.md``)."""
        return _calls.rows_of(await self._s.call(_calls.query(text, params)))

    async def ask(self, question: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Answer a question in plain language (see :meth:`lumadb.Database.ask`)."""
        answer: dict[str, Any] = await self._s.call(_calls.ask(question, dry_run))
        return answer

    async def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop a collection and its documents; returns whether it existed."""
        call = _calls.drop_collection(name, missing_ok)
        return call is not None and await self._s.call(call) is not ABSENT

    async def close(self) -> None:
        """Close the connections (idempotent); later calls raise DatabaseClosed."""
        await self._s.close()

    async def __aenter__(self) -> AsyncClient:
        try:
            await self._s.ensure_token()  # a wrong password fails here, not on first use
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<lumadb.AsyncClient {self.url!r}>"

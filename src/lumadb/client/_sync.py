"""The synchronous client: :func:`lumadb.connect` returns a :class:`Client`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx

from lumadb.client import _calls
from lumadb.client._calls import ABSENT, USER_AGENT, Call, finish
from lumadb.client._errors import transport_error
from lumadb.client._scan import Pair, ScanPlan
from lumadb.errors import DatabaseClosed
from lumadb.service import Document

__all__ = ["Client", "Collection", "Session"]


class Session:
    """A pool of HTTP connections to one node, and the credentials to use on it."""

    def __init__(
        self,
        url: str,
        timeout: float,
        token: str | None,
        login: tuple[str, str] | None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (tests pass an ``httpx.MockTransport``)."""
        self.url = url
        self._timeout = timeout
        self._token = token
        self._login = login
        self._lock = threading.Lock()
        self._closed = False
        self._http = httpx.Client(
            base_url=url, timeout=timeout, headers={"user-agent": USER_AGENT}, transport=transport
        )

    def call(self, call: Call) -> Any:
        """Send ``call``; its reply (see :func:`~lumadb.client._calls.finish`) or its error."""
        if self._closed:
            raise DatabaseClosed(f"this client of {self.url} is closed")
        token = self._token
        response = self._send(call, token)
        if response.status_code == 401 and call.authorized and self._login is not None:
            # The token expired or was refused: log in again, once, and repeat the request
            # (a 401 comes before the handler runs, so nothing was done the first time).
            response = self._send(call, self._relogin(token))
        return finish(call, response)

    def login(self) -> None:
        """Exchange the user name and password for a new token."""
        if self._login is None:
            return
        call = _calls.login(*self._login)
        self._token = _calls.token_of(finish(call, self._send(call, None)))

    def _relogin(self, stale: str | None) -> str | None:
        with self._lock:
            if self._token == stale:  # else another thread has just logged in
                self.login()
            return self._token

    def _send(self, call: Call, token: str | None) -> httpx.Response:
        headers = {"content-type": call.content_type} if call.body is not None else {}
        if token is not None and call.authorized:
            headers["authorization"] = f"Bearer {token}"
        try:
            return self._http.request(
                call.method, call.path, content=call.body, params=call.params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url, self._timeout) from exc

    def close(self) -> None:
        """Close the connections (idempotent)."""
        self._closed = True
        self._http.close()


class Collection:
    """One collection over HTTP, with the methods of the embedded :class:`lumadb.Collection`."""

    __slots__ = ("_s", "name")

    def __init__(self, session: Session, name: str) -> None:
        self._s = session
        self.name = name

    def __repr__(self) -> str:
        return f"<lumadb.client.Collection {self.name!r}>"

    def put(self, doc_id: str, doc: Document) -> None:
        """Create or replace the document ``doc_id``."""
        self._s.call(_calls.put(self.name, doc_id, doc))

    def insert(self, doc: Document) -> str:
        """Create a document and return its id (its ``id`` field, or a new time-ordered one).

        Raises :class:`~lumadb.errors.DocumentExists` if the given id is taken.
        """
        return str(self._s.call(_calls.insert(self.name, doc))["id"])

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` or ``None`` (without an ``id`` field: see the package doc)."""
        return _calls.document_of(doc_id, self._s.call(_calls.get(self.name, doc_id)))

    def get_many(self, ids: Iterable[str]) -> list[Document | None]:
        """Documents in the order of ``ids``, ``None`` for missing ones (one GET each)."""
        wanted = _calls.ids_list(ids)
        if not wanted:
            self.describe()  # still CollectionNotFound for a missing collection
        return [self.get(doc_id) for doc_id in wanted]

    def delete(self, doc_id: str) -> bool:
        """Delete ``doc_id``; returns whether it existed."""
        return self._s.call(_calls.delete(self.name, doc_id)) is not ABSENT

    def put_many(self, pairs: Iterable[tuple[str, Document]]) -> int:
        """Create or replace ``(id, document)`` pairs through ``_bulk``; returns the count.

        Each NDJSON body (up to 8 MiB) is atomic per shard; when there are several, a failed
        body leaves the ones before it written.
        """
        calls = _calls.bulk_calls(self.name, pairs)
        if not calls:
            self.describe()
        return sum(_calls.bulk_count(self._s.call(call)) for call in calls)

    def scan(
        self,
        prefix: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[str, Document]]:
        """``(id, document)`` pairs in id order; ``start`` is inclusive, ``end`` exclusive.

        The first page is read at once (so errors surface here), later ones as the iterator
        is consumed. ``reverse`` reads the whole range before yielding its last pair first.
        """
        plan = ScanPlan(self.name, prefix, start, end, limit, reverse)
        first = plan.feed(self._s.call(_first(plan)))
        return self._rest(plan, first)

    def _rest(self, plan: ScanPlan, first: list[Pair]) -> Iterator[Pair]:
        yield from first
        call = plan.next_call()
        while call is not None:
            yield from plan.feed(self._s.call(call))
            call = plan.next_call()

    def count(self, prefix: str | None = None) -> int:
        """How many documents (whose ids start with ``prefix``), by paging through them."""
        plan = ScanPlan(self.name, prefix)
        return sum(1 for _ in self._rest(plan, plan.feed(self._s.call(_first(plan)))))

    def describe(self) -> dict[str, Any]:
        """The collection's settings."""
        return dict(self._s.call(_calls.describe(self.name)))

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
        """Index the vectors at ``field`` (as :meth:`lumadb.Collection.create_vector_index`)."""
        options = _calls.vector_options(dim, metric, index, embed_from, model, **params)
        self._s.call(_calls.create_vector_index(self.name, field, name, exist_ok, options))
        described = self._s.call(_calls.describe(self.name))
        return _calls.vector_index_of(self.name, field, described)

    def alter_vector_index(self, field: str, **options: Any) -> dict[str, Any]:
        """Change the vector index on ``field`` (as
        :meth:`lumadb.Collection.alter_vector_index`)."""
        self._s.call(_calls.alter_vector_index(self.name, field, options))
        described = self._s.call(_calls.describe(self.name))
        return _calls.vector_index_of(self.name, field, described)

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
        hits = list((self._s.call(call))["hits"])
        return _calls.hits_of(hits)


def _first(plan: ScanPlan) -> Call:
    call = plan.next_call()
    assert call is not None  # a plan always starts with a call
    return call


class Client:
    """A LumaDB node over HTTP, with the methods of the embedded :class:`lumadb.Database`.

    Use it as a context manager or call :meth:`close`. It is safe to share between threads.
    """

    def __init__(self, session: Session) -> None:
        self._s = session

    @property
    def url(self) -> str:
        """The node's base URL."""
        return self._s.url

    def create_collection(
        self, name: str, *, exist_ok: bool = False, changefeed: str = "new"
    ) -> Collection:
        """Create a collection (``changefeed``: ``new`` images, or ``new_and_old``)."""
        self._s.call(_calls.create_collection(name, exist_ok, changefeed))
        return Collection(self._s, name)

    def collection(self, name: str) -> Collection:
        """An existing collection; raises :class:`~lumadb.errors.CollectionNotFound`."""
        self._s.call(_calls.describe(name))
        return Collection(self._s, name)

    def list_collections(self) -> list[str]:
        """Names of the collections the caller may read, sorted."""
        return _calls.names_of(self._s.call(_calls.list_collections()))

    def query(
        self, text: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run LQL on the node; the rows of the last statement as dicts (``docs/lql.md``)."""
        return _calls.rows_of(self._s.call(_calls.query(text, params)))

    def ask(self, question: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Answer a question in plain language (see :meth:`lumadb.Database.ask`)."""
        answer: dict[str, Any] = self._s.call(_calls.ask(question, dry_run))
        return answer

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop a collection and its documents; returns whether it existed."""
        call = _calls.drop_collection(name, missing_ok)
        return call is not None and self._s.call(call) is not ABSENT

    def close(self) -> None:
        """Close the connections (idempotent); later calls raise DatabaseClosed."""
        self._s.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<lumadb.Client {self.url!r}>"

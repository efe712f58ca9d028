"""The client's session, error mapping and encodings, against an in-memory fake node.

``httpx.MockTransport`` answers instead of a server, so these tests can count logins,
inject 401s and transport failures, and look at the exact requests sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import lumadb
from lumadb import errors
from lumadb.api import rest
from lumadb.client import _calls, _scan
from lumadb.client._async import AsyncClient, AsyncSession
from lumadb.client._errors import error_from_response
from lumadb.client._sync import Client, Session
from lumadb.client._wire import id_segment

URL = "http://luma.test"
LOGIN = "/api/v1/_auth/token"


class FakeNode:
    """Issues tokens t1, t2, ...; accepts only the newest (or none with ``refuse_all``)."""

    def __init__(self, refuse_all: bool = False) -> None:
        self.refuse_all = refuse_all
        self.logins = 0
        self.seen: list[tuple[str, str, str | None]] = []  # method, raw path, token

    def __call__(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization")
        token = auth.removeprefix("Bearer ") if auth else None
        self.seen.append((request.method, request.url.raw_path.decode(), token))
        if request.url.path == LOGIN:
            self.logins += 1
            return httpx.Response(200, json={"access_token": f"t{self.logins}", "expires_in": 60})
        if self.refuse_all or token != f"t{self.logins}":
            body = {"error": {"code": "unauthorized", "message": "token expired"}}
            return httpx.Response(401, json=body)
        if request.url.path == "/api/v1/_collections":
            return httpx.Response(200, json={"collections": [{"name": "b"}, {"name": "a"}]})
        if request.url.path.startswith("/api/v1/_collections/"):
            return httpx.Response(200, json={"name": request.url.path.rsplit("/", 1)[1]})
        doc_id = unquote(request.url.raw_path.decode().split("?")[0].rsplit("/", 1)[1])
        return httpx.Response(200, json={"id": doc_id, "v": 1})


def _client(node: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> Client:
    token = kwargs.get("token", "stale")
    login = kwargs.get("login", ("admin", "pw"))
    return Client(Session(URL, 5.0, token, login, transport=httpx.MockTransport(node)))


def test_a_refused_token_is_replaced_once_and_the_request_repeated() -> None:
    node = FakeNode()
    with _client(node) as db:
        assert db.list_collections() == ["a", "b"]
        assert db.list_collections() == ["a", "b"]
    assert node.logins == 1
    assert [(m, t) for m, _, t in node.seen] == [
        ("GET", "stale"),
        ("POST", None),
        ("GET", "t1"),
        ("GET", "t1"),
    ]


def test_a_401_after_logging_in_again_is_raised_not_retried() -> None:
    node = FakeNode(refuse_all=True)
    with _client(node) as db, pytest.raises(lumadb.Unauthorized, match="token expired"):
        db.list_collections()
    assert node.logins == 1
    assert len(node.seen) == 3


def test_a_client_with_only_a_token_never_logs_in() -> None:
    node = FakeNode()
    with _client(node, login=None) as db, pytest.raises(lumadb.Unauthorized):
        db.list_collections()
    assert node.logins == 0


def test_concurrent_refusals_of_the_async_client_log_in_once() -> None:
    node = FakeNode()
    session = AsyncSession(URL, 5.0, "stale", ("admin", "pw"), transport=httpx.MockTransport(node))

    async def main() -> list[Any]:
        async with AsyncClient(session) as db:
            return await db.collection("c").get_many([f"k{i}" for i in range(20)])

    assert asyncio.run(main()) == [{"v": 1}] * 20
    assert node.logins == 1


def test_the_async_client_logs_in_before_its_first_request() -> None:
    node = FakeNode()
    session = AsyncSession(URL, 5.0, None, ("admin", "pw"), transport=httpx.MockTransport(node))

    async def main() -> list[str]:
        db = AsyncClient(session)
        try:
            return await db.list_collections()
        finally:
            await db.close()

    assert asyncio.run(main()) == ["a", "b"]
    assert [(m, t) for m, _, t in node.seen] == [("POST", None), ("GET", "t1")]


def test_ids_are_percent_encoded_and_dot_segments_survive() -> None:
    node = FakeNode()
    with _client(node, token="t0", login=None) as db:  # t0: valid before any login
        docs = db.collection("c")
        for doc_id in (".", "..", "a/b", "?#%", "é"):
            assert docs.get(doc_id) == {"v": 1}
    paths = [p for _, p, _ in node.seen]
    assert paths == [
        "/api/v1/_collections/c",
        "/api/v1/c/%2E",
        "/api/v1/c/%2E%2E",
        "/api/v1/c/a%2Fb",
        "/api/v1/c/%3F%23%25",
        "/api/v1/c/%C3%A9",
    ]
    assert id_segment("x y") == "x%20y"


def _lumaerror_classes() -> list[type[errors.LumaError]]:
    found = [getattr(errors, n) for n in errors.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, errors.LumaError)]


@pytest.mark.parametrize("cls", _lumaerror_classes(), ids=lambda c: c.__name__)
def test_every_error_code_becomes_its_class(cls: type[errors.LumaError]) -> None:
    body = {"error": {"code": cls.code, "message": "what the server said"}}
    error = error_from_response(httpx.Response(cls.status, json=body))
    assert type(error) is cls
    assert error.message == "what the server said"
    assert errors.class_for_code(cls.code) is cls


def test_unknown_codes_and_foreign_answers_are_luma_errors() -> None:
    body = {"error": {"code": "brand_new", "message": "from a newer server"}}
    newer = error_from_response(httpx.Response(418, json=body))
    assert type(newer) is errors.LumaError
    assert (newer.code, newer.status, newer.message) == ("brand_new", 418, "from a newer server")
    proxy = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert type(proxy) is errors.LumaError
    assert "HTTP 502" in proxy.message and proxy.status == 502


def test_errors_keep_what_their_headers_say() -> None:
    limited = {"error": {"code": "rate_limited", "message": "slow down"}}
    error = error_from_response(httpx.Response(429, json=limited, headers={"retry-after": "7"}))
    assert isinstance(error, errors.TooManyRequests) and error.retry_after == 7.0
    wrong = {"error": {"code": "method_not_allowed", "message": "no"}}
    error = error_from_response(httpx.Response(405, json=wrong, headers={"allow": "GET, PUT"}))
    assert isinstance(error, errors.MethodNotAllowed) and error.allowed == ("GET", "PUT")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("refused"), lumadb.DatabaseClosed),
        (httpx.RemoteProtocolError("dropped"), lumadb.DatabaseClosed),
        (httpx.ReadTimeout("slow"), lumadb.RequestTimeout),
        (httpx.ConnectTimeout("slow"), lumadb.RequestTimeout),
        (httpx.DecodingError("garbled"), lumadb.LumaError),
    ],
)
def test_transport_failures_are_luma_errors(failure: Exception, expected: type) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    with _client(fail, token="t") as db, pytest.raises(expected) as caught:
        db.list_collections()
    assert type(caught.value) is expected
    assert caught.value.__cause__ is failure


def test_the_scan_cursor_is_the_servers() -> None:
    # The client starts a listing at ``start`` by making the cursor the server would hand out.
    for doc_id in ("a", "k00990", "é/x", "東京🐍", "a" * 512):
        assert _scan._cursor(doc_id) == rest._cursor(doc_id)
        assert rest._cursor_id(_scan._cursor(doc_id)) == doc_id


def test_put_many_splits_large_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_calls, "BULK_BYTES", 100)
    pairs = [(f"k{i}", {"s": "x" * 20}) for i in range(10)] + [("big", {"s": "y" * 300})]
    calls = _calls.bulk_calls("c", pairs)
    assert len(calls) > 3
    lines = [json.loads(line) for c in calls for line in (c.body or b"").split(b"\n")]
    assert lines == [{"id": i, **d} for i, d in pairs]
    assert all(len(c.body or b"") <= 100 for c in calls if b"big" not in (c.body or b""))
    assert {c.content_type for c in calls} == {"application/x-ndjson"}


def test_strip_id_removes_only_the_documents_own_id() -> None:
    assert _calls.strip_id("a", {"id": "a", "n": 1}) == {"n": 1}
    assert _calls.strip_id("a", {"n": 1}) == {"n": 1}

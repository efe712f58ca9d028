"""The HTTP request and response as the handlers see them, over raw ASGI.

No framework sits between granian and the handlers: a hot request costs one small
:class:`Request` object, one route lookup and one ``orjson`` call each way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from lumadb.errors import MalformedRequest, RequestTooLarge, UnsupportedMediaType

__all__ = [
    "Receive",
    "Request",
    "Response",
    "Scope",
    "Send",
    "empty_response",
    "json_response",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"
_JSON_TYPES = (b"application/json", b"application/x-ndjson", b"application/merge-patch+json")


@dataclass(slots=True)
class Response:
    """A response: status, headers and body — or, with ``chunks``, a body sent piece by
    piece as they are made (no content-length; chunked transfer)."""

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: Iterable[bytes] | None = None


def json_response(
    value: object, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
) -> Response:
    """``value`` as a JSON body."""
    return Response(status, orjson.dumps(value), [(b"content-type", _JSON), *headers])


def empty_response(status: int = 204, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """A response without a body."""
    return Response(status, b"", list(headers))


async def send_response(send: Send, response: Response, request_id: str) -> None:
    """Write ``response`` (with its length and the request id) to the client."""
    if response.chunks is not None:
        headers = [*response.headers, (b"x-request-id", request_id.encode())]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        for chunk in response.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [
        *response.headers,
        (b"content-length", str(len(response.body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class Request:
    """One HTTP request: method, path segments, query, headers and a lazily read body."""

    __slots__ = ("_body", "_headers", "_receive", "method", "query_string", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self.method: str = scope["method"]
        self.query_string: bytes = scope.get("query_string", b"")
        self._headers: dict[bytes, bytes] | None = None
        self._body: bytes | None = None

    @property
    def client(self) -> str:
        """The client's address (for login limits)."""
        client = self.scope.get("client")
        return str(client[0]) if client else "unknown"

    def segments(self) -> list[str]:
        """The path split at ``/``, each part percent-decoded (so ids may hold ``%2F``)."""
        raw: bytes | None = self.scope.get("raw_path")
        if raw is None:
            return self.scope["path"].split("/")[1:]  # type: ignore[no-any-return]
        if b"%" not in raw and raw.isascii():
            # Nothing to unquote (the common case): the server's decoded path is the same.
            return self.scope["path"].split("/")[1:]  # type: ignore[no-any-return]
        try:
            text = raw.split(b"?", 1)[0].decode("ascii")
            return [unquote(part, errors="strict") for part in text.split("/")[1:]]
        except UnicodeError:
            raise MalformedRequest("the request path is not valid percent-encoded UTF-8") from None

    def header(self, name: bytes) -> bytes | None:
        """A request header by lower-case name (the last one when repeated)."""
        if self._headers is None:
            self._headers = dict(self.scope.get("headers", ()))
        return self._headers.get(name)

    def query(self) -> dict[str, str]:
        """Query parameters; a parameter given twice is an error (which one would win?)."""
        try:
            text = self.query_string.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
        except UnicodeError:
            raise MalformedRequest("the query string is not valid UTF-8") from None
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in params:
                raise MalformedRequest(f"query parameter {key!r} is given more than once")
            params[key] = value
        return params

    async def body(self, limit: int) -> bytes:
        """The whole body; more than ``limit`` bytes is :class:`RequestTooLarge`."""
        if self._body is not None:
            return self._body
        declared = self.header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"the request body is over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise MalformedRequest("the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(f"the request body is over the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    async def json(self, limit: int, max_depth: int) -> Any:
        """The body parsed as JSON (any JSON value), with size and nesting limits."""
        body = await self.body(limit)
        self.require_json()
        if not body.strip():
            raise MalformedRequest("the request body is empty; expected JSON")
        return parse_json(body, max_depth)

    def require_json(self) -> None:
        """415 unless the content type, when given, is a JSON type."""
        kind = self.header(b"content-type")
        if kind is None:
            return
        base = kind.split(b";", 1)[0].strip().lower()
        if base not in _JSON_TYPES:
            shown = base.decode("latin-1")
            raise UnsupportedMediaType(
                f"content type {shown!r} is not accepted here; send application/json"
            )


def parse_json(body: bytes | str, max_depth: int) -> Any:
    """Parse JSON text, refusing malformed input and nesting deeper than ``max_depth``."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None
    if isinstance(body, str):
        body = body.encode()
    # Counting brackets (at C speed) proves most bodies shallow without walking them.
    if body.count(b"[") + body.count(b"{") > max_depth:
        _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise MalformedRequest(f"the JSON body nests deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)

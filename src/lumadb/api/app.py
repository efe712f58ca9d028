"""The ASGI application: lifespan, routing, authentication, timeouts, errors, metrics.

One request: match the route, turn the bearer token into an actor (unless the route is
public), run the handler under ``server.request_timeout``, and answer; every exception
becomes a response in :func:`lumadb.api.errors.error_response`. Unknown paths under
``/api/`` answer 401 before 404, so a caller without a token learns nothing about routes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable

from lumadb.api._wire import Receive, Request, Response, Scope, Send, send_response
from lumadb.api.admin import AdminRoutes
from lumadb.api.context import ApiContext
from lumadb.api.errors import error_response
from lumadb.api.nlq import NlqRoutes
from lumadb.api.query import QueryRoutes
from lumadb.api.rest import DocumentRoutes
from lumadb.api.routing import Route, Router
from lumadb.api.system import Metrics, SystemRoutes
from lumadb.api.triggers import TriggerRoutes
from lumadb.errors import DatabaseClosed, LumaError, MethodNotAllowed, NotFound, RequestTimeout

__all__ = ["LumaApp", "build_router"]

_log = logging.getLogger("lumadb.api")
_UNMATCHED = "(unmatched)"
_current_task = asyncio.current_task
_running_loop = asyncio.get_running_loop
_id_prefix = f"{random.getrandbits(32):08x}"  # per process; not a secret
_ids = itertools.count(1)


def build_router(ctx: ApiContext, metrics: Metrics) -> Router:
    """Every route of the API."""
    from lumadb.api import docs

    router = Router()
    SystemRoutes(ctx, metrics).register(router)
    AdminRoutes(ctx).register(router)
    QueryRoutes(ctx).register(router)
    NlqRoutes(ctx).register(router)
    TriggerRoutes(ctx).register(router)
    DocumentRoutes(ctx).register(router)
    # Last: it documents every route registered before it (and fails on one it cannot).
    docs.register(router)
    return router


def _not_open(authorization: bytes | None) -> object:
    raise DatabaseClosed("the server is starting or stopping")


def _nothing() -> None:
    pass


def _request_id(request: Request) -> str:
    given = request.header(b"x-request-id")
    if given is not None and 0 < len(given) <= 64 and given.isascii() and given.isalnum():
        return given.decode()
    return f"{_id_prefix}{next(_ids):08x}"


class LumaApp:
    """ASGI 3 application; ``start`` builds the context at lifespan start-up."""

    def __init__(
        self,
        start: Callable[[], ApiContext],
        stop: Callable[[ApiContext], None],
        *,
        started: Callable[[ApiContext], Awaitable[None]] | None = None,
        stopping: Callable[[ApiContext], Awaitable[None]] | None = None,
    ) -> None:
        self._start = start
        self._stop = stop
        self._started = started
        self._stopping = stopping
        self.metrics = Metrics()
        self.ctx: ApiContext | None = None
        self.router: Router | None = None
        self._expired: set[asyncio.Task[object]] = set()
        self._authenticate: Callable[[bytes | None], object] = _not_open
        self._refresh: Callable[[], None] = _nothing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:  # WebSockets arrive with GraphQL subscriptions and change streams
            await receive()
            await send({"type": "websocket.close", "code": 1003})

    def open(self) -> None:
        """Build the context and routes (lifespan start-up, or directly in tests)."""
        self.ctx = self._start()
        self.router = build_router(self.ctx, self.metrics)
        self._authenticate = self.ctx.auth.authenticate
        self._refresh = self.ctx.refresh

    def close(self) -> None:
        """Release the context (lifespan shutdown)."""
        if self.ctx is not None:
            ctx, self.ctx = self.ctx, None
            self._stop(ctx)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.open()
                    if self._started is not None and self.ctx is not None:
                        await self._started(self.ctx)
                except Exception as exc:
                    text = exc.message if isinstance(exc, LumaError) else repr(exc)
                    _log.error("start-up failed: %s", text)
                    self.close()
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._stopping is not None and self.ctx is not None:
                    await self._stopping(self.ctx)
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        request_id = _request_id(request)
        template = _UNMATCHED
        try:
            route, params = self._route(request)
            template = route.template
            self._refresh()
            actor = None if route.public else self._authenticate(request.header(b"authorization"))
            if route.timed:
                response = await self._timed(request, route, params, actor)
            else:  # it never awaits, so a cancellation could not take effect: no timer
                response = await route.handler(request, params, actor)
        except Exception as exc:  # every failure gets an answer
            response = error_response(exc, request_id)
        if request.method == "HEAD":
            response.body = b""
        await send_response(send, response, request_id)
        elapsed = time.perf_counter() - started
        self.metrics.observe(request.method, template, response.status, elapsed)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "route": template,
                    "status": response.status,
                    "ms": round(elapsed * 1000, 3),
                },
            )

    def _route(self, request: Request) -> tuple[Route, dict[str, str]]:
        if self.router is None or self.ctx is None:
            raise DatabaseClosed("the server is starting or stopping")
        parts = request.segments()
        try:
            return self.router.match(request.method, parts)
        except (NotFound, MethodNotAllowed):
            if parts and parts[0] == "api":
                self.ctx.auth.authenticate(request.header(b"authorization"))
            raise

    async def _timed(
        self, request: Request, route: Route, params: dict[str, str], actor: object
    ) -> Response:
        assert self.ctx is not None
        limit = self.ctx.settings.server.request_timeout
        task = _current_task()
        assert task is not None
        # One timer handle per request (cheaper than asyncio.timeout's context manager).
        timer = _running_loop().call_later(limit, self._expire, task)
        try:
            return await route.handler(request, params, actor)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # the client went away or the server is stopping
            self._expired.discard(task)
            task.uncancel()
            raise RequestTimeout(f"the request took longer than {limit:g} s") from None
        finally:
            timer.cancel()

    def _expire(self, task: asyncio.Task[object]) -> None:
        self._expired.add(task)
        task.cancel()

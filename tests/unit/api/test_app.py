"""The ASGI app's own duties: request timeouts, request ids, errors of unknown paths."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from lumadb.api._wire import Request, Response, json_response
from lumadb.api.app import LumaApp
from lumadb.config import load_settings
from lumadb.server.worker import build_app


def _app(**overrides: object) -> LumaApp:
    settings = load_settings(
        None,
        env={},
        overrides={"storage.data_dir": ":memory:", "auth.jwt_secret": "t" * 40, **overrides},
    )
    app = build_app(settings)
    app.open()
    return app


async def _slow(request: Request, params: Any, actor: Any) -> Response:
    await asyncio.sleep(5)
    return json_response({})


async def _quick(request: Request, params: Any, actor: Any) -> Response:
    await asyncio.sleep(0.01)
    return json_response({"ok": True})


def _get(app: LumaApp, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path)

    return asyncio.run(run())


def test_a_request_over_its_time_gets_504_and_the_next_is_served() -> None:
    app = _app(**{"server.request_timeout": 0.1})
    assert app.router is not None
    app.router.add("GET", "/slow", _slow, summary="slow", public=True)
    app.router.add("GET", "/quick", _quick, summary="quick", public=True)
    try:
        reply = _get(app, "/slow")
        assert reply.status_code == 504
        assert reply.json()["error"]["code"] == "timeout"
        assert _get(app, "/quick").json() == {"ok": True}
        assert app._expired == set()
    finally:
        app.close()


def test_request_ids_differ_per_request() -> None:
    app = _app()
    try:
        ids = {_get(app, "/health").headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5
    finally:
        app.close()

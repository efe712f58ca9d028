"""The HTTP API under test, two ways: the ASGI app in this process (on the memory engine)
and a real ``luma serve`` subprocess (granian, RocksDB) reached over loopback.

Test bodies take the ``api`` fixture and run once on each. State is shared within a module,
so tests use their own collection and user names (the ``name`` fixture).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lumadb.api.app import LumaApp
from lumadb.api.auth.passwords import hash_password
from lumadb.api.routing import Route
from lumadb.config import load_settings
from lumadb.server.worker import build_app

ADMIN_PASSWORD = "admin-pass-123"
JWT_SECRET = "e2e-secret-" + "x" * 40
STARTUP_TIMEOUT = 30.0
_names = itertools.count()


class Api:
    """Requests to one node; ``token`` adds the bearer header."""

    def __init__(self, kind: str, base: str, client: Any, routes: list[Route]) -> None:
        self.kind = kind
        self.base = base
        self._client = client
        self.routes = routes
        self._admin: str | None = None

    def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request; ``json=``, ``content=``, ``headers=``, ``params=`` as in httpx."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if self.kind == "asgi":
            return asyncio.run(self._client.request(method, path, headers=headers, **kwargs))
        return self._client.request(method, path, headers=headers, **kwargs)  # type: ignore[no-any-return]

    def login(self, username: str, password: str) -> str:
        """A fresh access token."""
        reply = self.call(
            "POST", "/api/v1/_auth/token", json={"username": username, "password": password}
        )
        assert reply.status_code == 200, reply.text
        token = reply.json()["access_token"]
        assert isinstance(token, str)
        return token

    @property
    def admin(self) -> str:
        """A token of the initial admin."""
        if self._admin is None:
            self._admin = self.login("admin", ADMIN_PASSWORD)
        return self._admin

    def user(self, name: str, roles: list[str], password: str = "user-pass-123") -> str:
        """Create a user with ``roles`` and return its token."""
        body = {"name": name, "password": password, "roles": roles}
        reply = self.call("POST", "/api/v1/_users", token=self.admin, json=body)
        assert reply.status_code == 201, reply.text
        return self.login(name, password)

    def collection(self, name: str) -> str:
        """Create a collection as admin; returns its name."""
        reply = self.call("POST", "/api/v1/_collections", token=self.admin, json={"name": name})
        assert reply.status_code == 201, reply.text
        return name


def _settings(data_dir: str, port: int = 8080, **extra: object) -> Any:
    overrides = {
        "storage.data_dir": data_dir,
        "storage.shards": 2,
        "server.port": port,
        "server.max_body": "64KiB",
        "auth.jwt_secret": JWT_SECRET,
        "auth.admin_password": ADMIN_PASSWORD,
        "events.allow_private": ["127.0.0.0/8"],  # the tests' webhook receivers
        **extra,
    }
    return load_settings(None, env={}, overrides=overrides)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _routes() -> list[Route]:
    app = build_app(_settings(":memory:"))
    app.open()
    try:
        assert app.router is not None
        return list(app.router.routes)
    finally:
        app.close()


@pytest.fixture(scope="module")
def asgi_api() -> Iterator[Api]:
    """The app in this process on the memory engine."""
    app: LumaApp = build_app(_settings(":memory:"))
    app.open()
    assert app.ctx is not None and app.router is not None
    app.ctx.accounts.bootstrap("admin", hash_password(ADMIN_PASSWORD))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    client = httpx.AsyncClient(transport=transport, base_url="http://luma.test")
    try:
        yield Api("asgi", "http://luma.test", client, list(app.router.routes))
    finally:
        asyncio.run(client.aclose())
        app.close()


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``python -m lumadb serve`` on a fresh data directory and a free loopback port."""
    root = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LUMA_")}
    env |= {"LUMA_ADMIN_PASSWORD": ADMIN_PASSWORD, "LUMA_JWT_SECRET": JWT_SECRET}
    argv = [
        sys.executable,
        "-m",
        "lumadb",
        "serve",
        "--data-dir",
        str(root / "data"),
        "--port",
        str(port),
    ]
    extra = {"LUMA_STORAGE__SHARDS": "2", "LUMA_SERVER__MAX_BODY": "64KiB"}
    extra["LUMA_EVENTS__ALLOW_PRIVATE"] = '["127.0.0.0/8"]'  # the tests' webhook receivers
    proc = subprocess.Popen(
        argv, env=env | extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=30)
    try:
        _wait_until_up(proc, client)
        yield Api("served", base, client, _routes())
    finally:
        client.close()
        stop(proc)


def _wait_until_up(proc: subprocess.Popen[str], client: httpx.Client) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"luma serve exited with {proc.returncode}: {err[-2000:]}")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"luma serve did not answer /health within {STARTUP_TIMEOUT}s")


def stop(proc: subprocess.Popen[str], timeout: float = 20.0) -> tuple[int, str, str]:
    """SIGINT, wait, and return (exit code, stdout, stderr); kills it if it hangs."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("luma serve did not stop within its timeout after SIGINT")
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode, out, err


@pytest.fixture(params=["asgi", "served"])
def api(request: pytest.FixtureRequest) -> Api:
    """Each test body runs against the in-process app and against a served node."""
    return request.getfixturevalue(f"{request.param}_api")  # type: ignore[no-any-return]


@pytest.fixture
def name() -> str:
    """A collection or user name no other test in the session uses."""
    return f"t{next(_names)}_{os.getpid()}"

"""Credentials of the client: tokens, passwords, logging in again, and unreachable nodes."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from typing import Any

import httpx
import jwt
import pytest

import lumadb


def _expired_token(node: Any, subject: str = "admin") -> str:
    """A correctly signed token that expired an hour ago (well beyond the 30 s leeway)."""
    now = int(time.time())
    claims = {
        "iss": "lumadb",
        "sub": subject,
        "iat": now - 7200,
        "exp": now - 3600,
        "kind": "user",
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, node.jwt_secret, algorithm="HS256", headers={"typ": "JWT"})


def _admin_call(node: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {node.token}"}
    return httpx.request(method, f"{node.url}{path}", headers=headers, timeout=30, **kwargs)


def _user(node: Any, name: str, roles: list[str], password: str = "user-pass-123") -> str:
    body = {"name": name, "password": password, "roles": roles}
    reply = _admin_call(node, "POST", "/api/v1/_users", json=body)
    assert reply.status_code == 201, reply.text
    return password


def test_a_token_alone(node: Any) -> None:
    with lumadb.connect(node.url, token=node.token) as db:
        assert isinstance(db.list_collections(), list)


def test_a_refused_token_with_a_password_logs_in_again(node: Any) -> None:
    with lumadb.connect(
        node.url, token="not-a-token", username="admin", password=node.admin_password
    ) as db:
        assert isinstance(db.list_collections(), list)


def test_an_expired_token_with_a_password_logs_in_again(node: Any, name: str) -> None:
    expired = _expired_token(node)
    with (
        lumadb.connect(node.url, token=expired) as alone,
        pytest.raises(lumadb.Unauthorized, match="token expired"),
    ):
        alone.list_collections()
    with lumadb.connect(
        node.url, token=expired, username="admin", password=node.admin_password
    ) as db:
        db.create_collection(name).put("a", {"n": 1})  # the first request is refused, then
        assert db.collection(name).get("a") == {"n": 1}  # the new token serves the rest


def test_a_wrong_password_fails_at_connect(node: Any, name: str) -> None:
    _user(node, name, ["reader"])
    with pytest.raises(lumadb.Unauthorized):
        lumadb.connect(node.url, username=name, password="not-the-password")


def test_a_deleted_user_is_refused_after_one_more_login(node: Any, name: str) -> None:
    password = _user(node, name, ["writer"])
    with lumadb.connect(node.url, username=name, password=password) as db:
        assert isinstance(db.list_collections(), list)
        assert _admin_call(node, "DELETE", f"/api/v1/_users/{name}").status_code == 204
        with pytest.raises(lumadb.Unauthorized):
            db.list_collections()  # 401, the login again fails: raised, not retried forever


def test_a_reader_may_read_but_not_write(node: Any, name: str) -> None:
    with node.connect() as admin:
        admin.create_collection(name).put("a", {"n": 1})
    password = _user(node, name, ["reader"])
    with lumadb.connect(node.url, username=name, password=password) as db:
        docs = db.collection(name)
        assert docs.get("a") == {"n": 1}
        with pytest.raises(lumadb.Forbidden):
            docs.put("b", {"n": 2})
        with pytest.raises(lumadb.Forbidden):
            db.drop_collection(name)


BAD_ARGUMENTS: list[dict[str, Any]] = [
    {},
    {"username": "admin"},
    {"password": "pw"},
    {"token": ""},
    {"token": 5},
    {"username": 5, "password": "pw"},
    {"token": "t", "timeout": 0},
    {"token": "t", "timeout": -1.0},
    {"token": "t", "timeout": "30"},
    {"token": "t", "timeout": True},
    {"token": "t", "timeout": float("nan")},
    {"token": "t", "url": "ftp://127.0.0.1"},
    {"token": "t", "url": "127.0.0.1:8080"},
    {"token": "t", "url": "http://"},
    {"token": "t", "url": 8080},
]


@pytest.mark.parametrize("kwargs", BAD_ARGUMENTS, ids=[repr(a) for a in BAD_ARGUMENTS])
def test_bad_arguments_to_connect(kwargs: dict[str, Any]) -> None:
    url = kwargs.pop("url", "http://127.0.0.1:9")
    with pytest.raises(lumadb.InvalidArgument):
        lumadb.connect(url, **kwargs)
    with pytest.raises(lumadb.InvalidArgument):
        lumadb.connect_async(url, **kwargs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_an_unreachable_node() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(lumadb.DatabaseClosed, match="cannot reach the server at"):
        lumadb.connect(url, username="admin", password="pw")
    with lumadb.connect(url, token="t") as db, pytest.raises(lumadb.DatabaseClosed, match=url):
        db.list_collections()

    async def main() -> None:
        async with lumadb.connect_async(url, token="t") as client:
            await client.list_collections()

    with pytest.raises(lumadb.DatabaseClosed):
        asyncio.run(main())


def test_a_node_that_does_not_answer_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts connections; nobody ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with (
            lumadb.connect(url, token="t", timeout=0.3) as db,
            pytest.raises(lumadb.RequestTimeout, match="within 0.3 s"),
        ):
            db.list_collections()

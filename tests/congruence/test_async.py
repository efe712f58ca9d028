"""The asyncio client against a served node: the same answers as the sync client.

Each test body is a coroutine run with ``asyncio.run`` (no pytest plugin needed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import lumadb
import lumadb.client

Body = Callable[[lumadb.client.AsyncClient], Awaitable[None]]


def _run(node: Any, body: Body) -> None:
    async def main() -> None:
        async with lumadb.connect_async(
            node.url, token=node.token, username="admin", password=node.admin_password
        ) as db:
            await body(db)

    asyncio.run(main())


def test_crud_and_collections(node: Any, name: str) -> None:
    async def body(db: lumadb.client.AsyncClient) -> None:
        docs = await db.create_collection(name)
        assert await docs.put("u1", {"name": "Ada"}) is None
        assert await docs.get("u1") == {"name": "Ada"}
        assert await docs.get("u2") is None
        made = await docs.insert({"name": "Bob"})
        assert await docs.get(made) == {"name": "Bob"}
        assert await docs.insert({"id": "b7"}) == "b7"
        with pytest.raises(lumadb.DocumentExists):
            await docs.insert({"id": "b7"})
        assert await docs.delete("u1") is True
        assert await docs.delete("u1") is False
        assert (await docs.describe())["name"] == name
        assert name in await db.list_collections()
        assert (await db.create_collection(name, exist_ok=True)).name == name
        assert await db.drop_collection(name) is True
        assert await db.drop_collection(name, missing_ok=True) is False
        with pytest.raises(lumadb.CollectionNotFound):
            await docs.get(made)

    _run(node, body)


def test_get_many_runs_in_parallel_and_keeps_the_order(node: Any, name: str) -> None:
    async def body(db: lumadb.client.AsyncClient) -> None:
        docs = await db.create_collection(name)
        assert await docs.put_many([(f"k{i:02}", {"i": i}) for i in range(40)]) == 40
        wanted = [f"k{i:02}" for i in range(45, -1, -1)]  # 6 missing, descending
        expected = [{"i": i} if i < 40 else None for i in range(45, -1, -1)]
        assert await docs.get_many(wanted) == expected
        assert await docs.get_many([]) == []
        with pytest.raises(lumadb.InvalidId):
            await docs.get_many(["k01", ""])

    _run(node, body)


def test_scan_and_count_match_the_sync_client(node: Any, name: str) -> None:
    ranges: list[dict[str, Any]] = [
        {},
        {"prefix": "k01"},
        {"start": "k00998", "limit": 5},
        {"start": "k00500", "end": "k01600"},
        {"reverse": True, "limit": 3},
    ]
    with node.connect() as sync_db:
        sync_docs = sync_db.create_collection(name)
        sync_docs.put_many([(f"k{i:05}", {"i": i}) for i in range(1500)])
        expected = [list(sync_docs.scan(**rng)) for rng in ranges]

    async def body(db: lumadb.client.AsyncClient) -> None:
        docs = db.collection(name)
        for rng, want in zip(ranges, expected, strict=True):
            assert [pair async for pair in docs.scan(**rng)] == want, rng
        assert await docs.count() == 1500
        assert await docs.count("k01") == 500

    _run(node, body)


def test_errors(node: Any, name: str) -> None:
    async def body(db: lumadb.client.AsyncClient) -> None:
        missing = db.collection("missing")  # no request: shows on first use
        with pytest.raises(lumadb.CollectionNotFound):
            await missing.put("a", {})
        with pytest.raises(lumadb.CollectionNotFound):
            [pair async for pair in missing.scan()]
        with pytest.raises(lumadb.CollectionNotFound):
            db.collection("_users")
        docs = await db.create_collection(name)
        with pytest.raises(lumadb.InvalidArgument):
            docs.scan(limit=-1)  # checked at the call, before any await
        with pytest.raises(lumadb.InvalidDocument):
            await docs.put("a", {"x": float("nan")})
        with pytest.raises(lumadb.DocumentTooLarge):
            await docs.put("a", {"s": "x" * node.max_document_size})
        with pytest.raises(lumadb.CollectionExists):
            await db.create_collection(name)

    _run(node, body)


def test_password_login_and_close(node: Any) -> None:
    async def main() -> None:
        client = lumadb.connect_async(node.url, username="admin", password=node.admin_password)
        assert isinstance(await client.list_collections(), list)  # logs in on first use
        await client.close()
        await client.close()
        with pytest.raises(lumadb.DatabaseClosed):
            await client.list_collections()
        wrong = lumadb.connect_async(node.url, username="admin", password="wrong-password")
        with pytest.raises(lumadb.Unauthorized):
            async with wrong:
                pass  # the login of ``async with`` fails

    asyncio.run(main())


def test_concurrent_requests_with_a_refused_token_log_in_again(node: Any, name: str) -> None:
    with node.connect() as sync_db:
        sync_db.create_collection(name).put_many([(f"k{i}", {"i": i}) for i in range(20)])

    async def main() -> None:
        async with lumadb.connect_async(
            node.url, token="not-a-token", username="admin", password=node.admin_password
        ) as db:
            found = await db.collection(name).get_many([f"k{i}" for i in range(20)])
            assert found == [{"i": i} for i in range(20)]

    asyncio.run(main())

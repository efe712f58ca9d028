"""The peer protocol: pipelined calls, errors by class, and a peer that goes away."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from lumadb.errors import DocumentNotFound, InvalidArgument, LumaError, Unavailable
from lumadb.server.peers import PeerClient, PeerServer


def _address() -> str:
    return f"\0lumadb-test-{os.getpid()}-{os.urandom(4).hex()}"


async def _echo(*args: Any) -> Any:
    return list(args)


async def _slow(delay: float, value: Any) -> Any:
    await asyncio.sleep(delay)
    return value


_GATE: dict[str, asyncio.Event] = {}


async def _gated(value: Any) -> Any:
    await _GATE["gate"].wait()  # answered only after the test opens the gate
    return value


async def _missing(doc_id: str) -> None:
    raise DocumentNotFound(f"document {doc_id!r} does not exist")


async def _broken() -> None:
    raise RuntimeError("a bug")


HANDLERS = {
    "echo": _echo,
    "slow": _slow,
    "gated": _gated,
    "missing": _missing,
    "broken": _broken,
}


def _inline_get(doc_id: str) -> Any:
    if doc_id == "missing":
        raise DocumentNotFound(f"document {doc_id!r} does not exist")
    if doc_id == "bug":
        raise RuntimeError("a bug")
    return {"id": doc_id}


async def _with_peer(body: Any) -> Any:
    server = PeerServer(HANDLERS, _address(), inline={"get": _inline_get})
    await server.start()
    client = PeerClient(server.address, "worker 1")
    try:
        return await body(server, client)
    finally:
        await client.close()
        await server.close()


def test_calls_round_trip_bytes_maps_and_big_ints() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        return await client.call("echo", b"\x00raw", {"a": [1, 2.5, None]}, 2**63, "ü")

    assert asyncio.run(_with_peer(body)) == [b"\x00raw", {"a": [1, 2.5, None]}, 2**63, "ü"]


def test_many_calls_in_flight_answer_out_of_order() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        _GATE["gate"] = asyncio.Event()
        slow = asyncio.create_task(client.call("gated", "slow"))
        fast = await asyncio.gather(*(client.call("echo", i) for i in range(2000)))
        assert not slow.done()  # the quick answers overtook it on the same connection
        _GATE["gate"].set()
        return fast, await slow

    fast, slow = asyncio.run(_with_peer(body))
    assert fast == [[i] for i in range(2000)]
    assert slow == "slow"


def test_errors_arrive_as_their_own_class() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        with pytest.raises(DocumentNotFound, match="'x' does not exist"):
            await client.call("missing", "x")
        with pytest.raises(InvalidArgument, match="unknown peer operation"):
            await client.call("nope")
        with pytest.raises(LumaError, match="RuntimeError"):
            await client.call("broken")
        return await client.call("echo", "still fine")

    assert asyncio.run(_with_peer(body)) == ["still fine"]


def test_a_peer_that_goes_away_fails_pending_calls_and_is_reconnected() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        pending = asyncio.create_task(client.call("slow", 5, "never"))
        await asyncio.sleep(0.05)
        await server.close()
        with pytest.raises(Unavailable):
            await pending
        with pytest.raises(Unavailable, match="cannot be reached"):
            await client.call("echo", 1)
        restarted = PeerServer(HANDLERS, server.address)
        await restarted.start()
        try:
            return await client.call("echo", "back")
        finally:
            await restarted.close()

    assert asyncio.run(_with_peer(body)) == ["back"]


def test_inline_operations_answer_in_order_with_their_errors() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        calls = [client.call("get", "a"), client.call("get", "missing"), client.call("get", "bug")]
        calls.append(client.call("echo", "after"))
        return await asyncio.gather(*calls, return_exceptions=True)

    found, missing, bug, after = asyncio.run(_with_peer(body))
    assert found == {"id": "a"}
    assert isinstance(missing, DocumentNotFound)
    assert isinstance(bug, LumaError)
    assert bug.code == "internal"
    assert after == ["after"]


def test_a_call_the_peer_does_not_answer_in_time_fails_unavailable() -> None:
    async def body(server: PeerServer, client: PeerClient) -> Any:
        _GATE["gate"] = asyncio.Event()
        impatient = PeerClient(server.address, "worker 1", call_timeout=0.05)
        try:
            with pytest.raises(Unavailable, match="did not answer"):
                await impatient.call("gated", "never")
            _GATE["gate"].set()
            return await impatient.call("echo", "still usable")
        finally:
            await impatient.close()

    assert asyncio.run(_with_peer(body)) == ["still usable"]

"""What the ``events`` suite measures LumaDB's sinks against, and the receiver it posts to.

The receiver is an aiohttp server in its own process (``python -m benchmarks.events_peers``),
so neither the sink under test nor its peer shares a core's interpreter with it. It answers
every ``POST /hook`` with 204, counts them, and keeps for each the delay since the ``t0`` the
body carries (``body["t0"]`` from a raw loop, ``body["new"]["t0"]`` from a trigger);
``GET /stats`` returns ``{"count", "latencies_ms"}`` and ``POST /reset`` clears both.

The raw loops do what a program sending the same events itself would: 64 requests in flight
(LumaDB's ``max_in_flight``) over one pooled client, or an aiokafka producer with the sink's
settings (``acks=all``) handed every record at once and awaited.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

__all__ = ["IN_FLIGHT", "Receiver", "raw_aiohttp", "raw_aiokafka", "raw_httpx", "receiver"]

IN_FLIGHT = 64


class Receiver:
    """The receiver process, seen from the suite."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/hook"
        self._base = f"http://127.0.0.1:{port}"

    def stats(self) -> dict[str, Any]:
        import httpx

        reply = httpx.get(self._base + "/stats", timeout=30)
        reply.raise_for_status()
        stats: dict[str, Any] = reply.json()
        return stats

    def reset(self) -> None:
        import httpx

        httpx.post(self._base + "/reset", timeout=30).raise_for_status()


@contextmanager
def receiver() -> Iterator[Receiver]:
    """Start the receiver process; it is killed when the block ends."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.events_peers", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the receiver exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start in 30 s") from None
                time.sleep(0.05)
        yield Receiver(port)
    finally:
        proc.kill()
        proc.wait()


def _headers(index: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-luma-event-id": f"raw-{index}",
        "x-luma-trigger": "raw",
    }


async def _post_all(bodies: Sequence[dict[str, Any]], post: Any) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(index: int, body: dict[str, Any]) -> None:
        async with gate:
            raw = orjson.dumps({**body, "t0": time.time()})
            await post(raw, _headers(index))

    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def raw_httpx(url: str, bodies: Sequence[dict[str, Any]]) -> float:
    """POST every body with httpx; returns the seconds it took (client set-up excluded)."""
    import httpx

    async def main() -> float:
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def post(raw: bytes, headers: dict[str, str]) -> None:
                (await client.post(url, content=raw, headers=headers)).raise_for_status()

            began = time.perf_counter()
            await _post_all(bodies, post)
            return time.perf_counter() - began

    return asyncio.run(main())


def raw_aiohttp(url: str, bodies: Sequence[dict[str, Any]]) -> float:
    """POST every body with aiohttp; returns the seconds it took (client set-up excluded)."""
    import aiohttp

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as client:

            async def post(raw: bytes, headers: dict[str, str]) -> None:
                async with client.post(url, data=raw, headers=headers) as reply:
                    await reply.read()
                    reply.raise_for_status()

            began = time.perf_counter()
            await _post_all(bodies, post)
            return time.perf_counter() - began

    return asyncio.run(main())


def raw_aiokafka(bootstrap: str, topic: str, bodies: Sequence[dict[str, Any]]) -> float:
    """Produce every body (acks=all) and wait for all acknowledgements; returns the seconds."""
    from aiokafka import AIOKafkaProducer

    async def main() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            began = time.perf_counter()
            futures = []
            for index, body in enumerate(bodies):
                headers = [("luma-event-id", f"raw-{index}".encode()), ("luma-trigger", b"raw")]
                futures.append(
                    await producer.send(
                        topic, orjson.dumps(body), key=str(body["key"]).encode(), headers=headers
                    )
                )
            await asyncio.gather(*futures)
            return time.perf_counter() - began
        finally:
            await producer.stop()

    return asyncio.run(main())


def _serve(port: int) -> None:
    from aiohttp import web

    latencies: list[float] = []

    async def hook(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        t0 = body.get("t0") if "t0" in body else (body.get("new") or {}).get("t0")
        if isinstance(t0, float):
            latencies.append((time.time() - t0) * 1000)
        else:
            latencies.append(-1.0)
        return web.Response(status=204)

    async def stats(request: web.Request) -> web.Response:
        body = orjson.dumps({"count": len(latencies), "latencies_ms": latencies})
        return web.Response(body=body, content_type="application/json")

    async def reset(request: web.Request) -> web.Response:
        latencies.clear()
        return web.Response(status=204)

    app = web.Application()
    app.add_routes([web.post("/hook", hook), web.get("/stats", stats), web.post("/reset", reset)])
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))

"""A real HTTP receiver for webhook tests: records what it accepted, can be made flaky."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass
class Received:
    """One accepted request."""

    event_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    at: float


@dataclass
class Receiver:
    """What the server saw; ``answer`` picks each request's status (and extra headers)."""

    url: str
    accepted: list[Received] = field(default_factory=list)
    requests: int = 0
    answer: Callable[[dict[str, Any]], tuple[int, dict[str, str]]] = lambda body: (200, {})
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.event_id for r in self.accepted]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"{len(self.accepted)} of {count} events arrived in {timeout} s")


def flaky(
    rng: random.Random, failure: float
) -> Callable[[dict[str, Any]], tuple[int, dict[str, str]]]:
    """Answers 500, 503 with Retry-After, or 429 to a ``failure`` share of requests."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        roll = rng.random()
        if roll < failure / 3:
            return 500, {}
        if roll < 2 * failure / 3:
            return 503, {"Retry-After": "0"}
        if roll < failure:
            return 429, {}
        return 200, {}

    return answer


@contextmanager
def receiver() -> Iterator[Receiver]:
    """An HTTP/1.1 server on 127.0.0.1 (a free port) until the block ends.

    It runs on an asyncio loop in a thread of its own, keeping connections alive as real
    receivers do: a thread per connection (``http.server``) starves under the dispatcher's
    concurrent requests in the test's own process, and its timeouts would be the test's.
    """
    state = Receiver(url="")
    loop = asyncio.new_event_loop()
    open_writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.add(writer)
        try:
            while await _serve_one(state, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the sender died mid-request (the chaos test kills it)
        finally:
            open_writers.discard(writer)
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    try:
        yield state
    finally:

        async def stop() -> None:
            server.close()
            for writer in list(open_writers):
                writer.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _serve_one(
    state: Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """Answer one request; False once the client has closed the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        body = json.loads(raw)
    except ValueError:
        _answer(writer, 400, {})
        return True
    if state.delay:
        await asyncio.sleep(state.delay)
    with state.lock:
        state.requests += 1
        status, extra = state.answer(body)
        if 200 <= status < 300:
            event_id = headers.get("x-luma-event-id", "")
            state.accepted.append(Received(event_id, body, headers, raw, time.time()))
    _answer(writer, status, extra)
    await writer.drain()
    return True


def _answer(writer: asyncio.StreamWriter, status: int, extra: dict[str, str]) -> None:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-length: 2"]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n{}").encode("latin-1"))

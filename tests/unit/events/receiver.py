"""A real HTTP receiver for webhook tests: records what it accepted, can be made flaky."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """A threaded HTTP server on 127.0.0.1 (a free port) until the block ends."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:  # the sender died mid-request (the chaos test kills it)
                self.send_error(400)
                return
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.requests += 1
                status, extra = state.answer(body)
                if 200 <= status < 300:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    event_id = headers.get("x-luma-event-id", "")
                    state.accepted.append(Received(event_id, body, headers, raw, time.time()))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

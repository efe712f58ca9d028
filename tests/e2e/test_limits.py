"""Resource limits over a real socket: idle and slow clients do not starve the others."""

from __future__ import annotations

import socket
import time

from tests.e2e.conftest import Api


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def test_idle_and_half_sent_requests_do_not_block_others(served_api: Api, name: str) -> None:
    docs = served_api.collection(name)
    idle = [_connect(served_api.base) for _ in range(100)]
    slow = []
    for _ in range(50):
        sock = _connect(served_api.base)
        # Headers promise a body that never comes.
        sock.sendall(
            f"PUT /api/v1/{docs}/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {served_api.admin}\r\nContent-Length: 1000\r\n\r\n{{".encode()
        )
        slow.append(sock)
    try:
        started = time.monotonic()
        for i in range(20):
            reply = served_api.call("PUT", f"/api/v1/{docs}/ok{i}", token=served_api.admin, json={})
            assert reply.status_code == 200
        assert served_api.call("GET", "/health").status_code == 200
        assert time.monotonic() - started < 10
    finally:
        for sock in idle + slow:
            sock.close()
    assert served_api.call("GET", f"/api/v1/{docs}/x", token=served_api.admin).status_code == 404


def test_a_huge_declared_body_is_refused_before_it_is_read(served_api: Api, name: str) -> None:
    docs = served_api.collection(name)
    sock = _connect(served_api.base)
    try:
        head = (
            f"PUT /api/v1/{docs}/x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {served_api.admin}\r\nContent-Length: 10000000000\r\n\r\n"
        )
        sock.sendall(head.encode())
        answer = sock.recv(4096).decode("latin-1")
    finally:
        sock.close()
    assert answer.startswith("HTTP/1.1 413"), answer[:200]

"""kill -9 of a served node's worker during writes: it comes back with every acknowledged write.

A real ``luma serve`` (granian, RocksDB, ``durability = "group"``) takes PUTs over HTTP from
one client that retries a write until it is acknowledged. The test kills the worker process
with SIGKILL in the middle, twice (granian respawns it; kills are spaced beyond its crash-loop
guard), then reads back every acknowledged document. The canary runs the same node with the
``wal_disabled`` failpoint, under which the kills must lose acknowledged writes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import psutil
import pytest
from reliability_kit import child_env, report

PASSWORD = "kill-test-pass-1"
WRITES_BETWEEN_KILLS = 250
KILLS = 2
RESPAWN_GUARD = 6.0  # granian exits instead of respawning twice within 5.5 s
STARTUP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    proc: subprocess.Popen[str]
    base: str
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base, timeout=10)

    def worker(self) -> psutil.Process:
        children = psutil.Process(self.proc.pid).children()
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 1, [c.cmdline() for c in children]
        return workers[0]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail("the node did not come back")

    def put_until_acked(self, token: str, doc_id: str) -> int:
        """PUT one document, retrying through the restart; returns the attempts made."""
        attempts = 0
        while True:
            attempts += 1
            try:
                reply = self.client.put(
                    f"/api/v1/kills/{doc_id}",
                    json={"n": doc_id},
                    headers={"authorization": f"Bearer {token}"},
                )
            except httpx.TransportError:
                self.wait_healthy()
                continue
            if reply.status_code == 200:
                return attempts
            if reply.status_code == 503:
                time.sleep(0.05)
                continue
            pytest.fail(f"PUT {doc_id}: {reply.status_code} {reply.text}")


def _start(tmp: str, failpoints: str = "") -> Node:
    port = _free_port()
    env = child_env(LUMA_ADMIN_PASSWORD=PASSWORD, LUMA_STORAGE__SHARDS="2")
    if failpoints:
        env["LUMA_FAILPOINTS"] = failpoints
    argv = [
        sys.executable,
        "-m",
        "lumadb",
        "serve",
        "--data-dir",
        f"{tmp}/data",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    node = Node(proc, f"http://127.0.0.1:{port}")
    node.wait_healthy()
    return node


def _stop(node: Node) -> None:
    node.client.close()
    if node.proc.poll() is None:
        node.proc.send_signal(signal.SIGINT)
        try:
            node.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()
    for stream in (node.proc.stdout, node.proc.stderr):
        if stream is not None:
            stream.close()


def _run(tmp: str, failpoints: str = "") -> dict[str, int]:
    node = _start(tmp, failpoints)
    try:
        login = {"username": "admin", "password": PASSWORD}
        token = node.client.post("/api/v1/_auth/token", json=login).json()["access_token"]
        made = node.client.post(
            "/api/v1/_collections",
            json={"name": "kills"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        acked: list[str] = []
        retries = 0
        last_kill = 0.0
        for kill in range(KILLS + 1):
            for i in range(WRITES_BETWEEN_KILLS):
                doc_id = f"k{kill}-{i:04d}"
                retries += node.put_until_acked(token, doc_id) - 1
                acked.append(doc_id)
            if kill == KILLS:
                break
            time.sleep(max(0.0, RESPAWN_GUARD - (time.monotonic() - last_kill)))
            victim = node.worker()
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            last_kill = time.monotonic()
        node.wait_healthy()
        headers = {"authorization": f"Bearer {token}"}
        lost = 0
        for doc_id in acked:
            reply = node.client.get(f"/api/v1/kills/{doc_id}", headers=headers)
            if reply.status_code != 200 or reply.json().get("n") != doc_id:
                lost += 1
        return {"acknowledged": len(acked), "lost": lost, "kills": KILLS, "retries": retries}
    finally:
        _stop(node)


@pytest.mark.slow
def test_killed_worker_comes_back_with_every_acknowledged_write(
    tmp_path: object, record_property: object
) -> None:
    figures = _run(str(tmp_path))
    report(record_property, "worker kill -9", figures)  # type: ignore[arg-type]
    assert figures["acknowledged"] == WRITES_BETWEEN_KILLS * (KILLS + 1)
    assert figures["lost"] == 0


@pytest.mark.slow
def test_canary_without_the_wal_the_kills_lose_writes(
    tmp_path: object, record_property: object
) -> None:
    figures = _run(str(tmp_path), failpoints="wal_disabled")
    report(record_property, "worker kill -9 canary (WAL off)", figures)  # type: ignore[arg-type]
    assert figures["lost"] > 0

"""kill -9 of one shard worker during writes: the other shards keep serving, none is lost.

A real ``luma serve`` (granian, RocksDB, ``durability = "group"``) runs four shards on two
shard workers (slot ``N`` owns the shards ``s % 2 == N``) and takes PUTs over HTTP from one
client that retries a write until it is acknowledged. In the middle the test kills the
worker of slot 1 with SIGKILL, twice (its pid comes from ``run/slot-1.lock``; granian
respawns it and the new worker claims the same slot; kills are spaced beyond granian's
crash-loop guard). While the victim is down, until ``/health`` answers 200 again, the client
writes a stream of fresh ids once each: the ids of the surviving worker's shards must still
be acknowledged, those of the dead worker's shards are refused with 503 and written again
after the outage. Finally every acknowledged document is read back. The canary runs the
same node with the ``wal_disabled`` failpoint, under which the kills must lose acknowledged
writes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
from reliability_kit import child_env, report

PASSWORD = "kill-test-pass-1"
SHARDS = 4
WORKERS = 2
VICTIM_SLOT = 1
WRITES_BETWEEN_KILLS = 250
KILLS = 2
RESPAWN_GUARD = 6.0  # granian exits instead of respawning twice within 5.5 s
STARTUP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Outage:
    """What the client saw while the victim was down."""

    acked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    dropped: int = 0  # requests whose connection broke (retried on a new one)
    seconds: float = 0.0


@dataclass
class Node:
    proc: subprocess.Popen[str]
    base: str
    data_dir: Path
    token: str = ""
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base, timeout=10)

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def slot_worker(self, slot: int) -> psutil.Process:
        """The worker holding ``slot``: the pid in its lock file, a child of the node."""
        text = (self.data_dir / "run" / f"slot-{slot}.lock").read_text()
        assert text.endswith("\n") and text[:-1].isdigit(), repr(text)
        pid = int(text)
        children = psutil.Process(self.proc.pid).children()
        assert pid in {c.pid for c in children}, (pid, [(c.pid, c.cmdline()) for c in children])
        return psutil.Process(pid)

    def healthy(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
        try:
            return self.client.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self) -> float:
        """Wait for ``/health`` to answer 200; returns the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < STARTUP_TIMEOUT:
            if self.healthy():
                return time.monotonic() - start
            time.sleep(0.05)
        pytest.fail(f"the node was not healthy within {STARTUP_TIMEOUT} s")

    def put(self, doc_id: str) -> httpx.Response:
        return self.client.put(f"/api/v1/kills/{doc_id}", json={"n": doc_id}, headers=self.headers)

    def put_until_acked(self, doc_id: str) -> int:
        """PUT one document, retrying through a restart; returns the attempts made."""
        attempts = 0
        while True:
            attempts += 1
            try:
                reply = self.put(doc_id)
            except httpx.TransportError:
                self.wait_healthy()
                continue
            if reply.status_code == 200:
                return attempts
            if reply.status_code == 503:
                time.sleep(0.05)
                continue
            pytest.fail(f"PUT {doc_id}: {reply.status_code} {reply.text}")

    def write_through_outage(self, prefix: str) -> Outage:
        """Write fresh ids once each until ``/health`` is 200 again.

        A request on a connection the dead worker had accepted breaks: it is sent again (the
        connection pool opens a new one) without waiting for the node to be healthy.
        """
        outage = Outage()
        start = time.monotonic()
        n = 0
        while not self.healthy():
            if time.monotonic() - start > STARTUP_TIMEOUT:
                pytest.fail(
                    f"the outage lasted over {STARTUP_TIMEOUT} s: {len(outage.acked)} writes "
                    f"acknowledged, {len(outage.refused)} refused, {outage.dropped} dropped"
                )
            doc_id = f"{prefix}-{n:04d}"
            try:
                reply = self.put(doc_id)
            except httpx.TransportError:
                outage.dropped += 1
                continue
            n += 1
            if reply.status_code == 200:
                outage.acked.append(doc_id)
            elif reply.status_code == 503:
                code = reply.json().get("error", {}).get("code")
                assert code == "unavailable", reply.text
                outage.refused.append(doc_id)
            else:
                pytest.fail(f"PUT {doc_id} during the outage: {reply.status_code} {reply.text}")
        outage.seconds = time.monotonic() - start
        return outage


def _start(tmp: str, failpoints: str = "") -> Node:
    port = _free_port()
    env = child_env(
        LUMA_ADMIN_PASSWORD=PASSWORD,
        LUMA_STORAGE__SHARDS=str(SHARDS),
        LUMA_SERVER__WORKERS=str(WORKERS),
    )
    if failpoints:
        env["LUMA_FAILPOINTS"] = failpoints
    data_dir = Path(tmp) / "data"
    argv = [
        sys.executable,
        "-m",
        "lumadb",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    node = Node(proc, f"http://127.0.0.1:{port}", data_dir)
    try:
        node.wait_healthy()
    except BaseException:
        _stop(node)
        raise
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


def _run(tmp: str, failpoints: str = "") -> dict[str, int | float]:
    node = _start(tmp, failpoints)
    try:
        login = {"username": "admin", "password": PASSWORD}
        node.token = node.client.post("/api/v1/_auth/token", json=login).json()["access_token"]
        made = node.client.post(
            "/api/v1/_collections", json={"name": "kills"}, headers=node.headers
        )
        assert made.status_code == 201, made.text
        acked: list[str] = []
        refused: list[str] = []
        retries = 0
        outages: list[Outage] = []
        last_kill = 0.0
        for kill in range(KILLS + 1):
            for i in range(WRITES_BETWEEN_KILLS):
                doc_id = f"k{kill}-{i:04d}"
                retries += node.put_until_acked(doc_id) - 1
                acked.append(doc_id)
            if kill == KILLS:
                break
            time.sleep(max(0.0, RESPAWN_GUARD - (time.monotonic() - last_kill)))
            victim = node.slot_worker(VICTIM_SLOT)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            last_kill = time.monotonic()
            outage = node.write_through_outage(f"o{kill}")
            outages.append(outage)
            acked.extend(outage.acked)
            refused.extend(outage.refused)
            assert outage.acked, f"outage {kill}: no write acknowledged by the surviving worker"
            successor = node.slot_worker(VICTIM_SLOT)
            assert successor.pid != victim.pid
        # The writes refused during the outages, now that the victim's shards are back.
        for doc_id in refused:
            retries += node.put_until_acked(doc_id)
            acked.append(doc_id)
        node.wait_healthy()
        lost = 0
        for doc_id in acked:
            reply = node.client.get(f"/api/v1/kills/{doc_id}", headers=node.headers)
            if reply.status_code != 200 or reply.json().get("n") != doc_id:
                lost += 1
        return {
            "acknowledged": len(acked),
            "lost": lost,
            "kills": KILLS,
            "retries": retries,
            "acked_during_outage": sum(len(o.acked) for o in outages),
            "refused_during_outage": sum(len(o.refused) for o in outages),
            "dropped_during_outage": sum(o.dropped for o in outages),
            "longest_outage_s": max(o.seconds for o in outages),
        }
    finally:
        _stop(node)


@pytest.mark.slow
def test_killed_worker_comes_back_with_every_acknowledged_write(
    tmp_path: object, record_property: object
) -> None:
    figures = _run(str(tmp_path))
    report(record_property, "worker kill -9", figures)  # type: ignore[arg-type]
    written = WRITES_BETWEEN_KILLS * (KILLS + 1) + figures["acked_during_outage"]
    assert figures["acknowledged"] == written + figures["refused_during_outage"]
    assert figures["refused_during_outage"] > 0  # the victim's shards were really down
    assert figures["lost"] == 0


@pytest.mark.slow
def test_canary_without_the_wal_the_kills_lose_writes(
    tmp_path: object, record_property: object
) -> None:
    figures = _run(str(tmp_path), failpoints="wal_disabled")
    report(record_property, "worker kill -9 canary (WAL off)", figures)  # type: ignore[arg-type]
    assert figures["lost"] > 0

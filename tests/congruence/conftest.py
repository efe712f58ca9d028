"""One interface, two engines: the embedded API and the HTTP client of a served node.

Test bodies take the ``db`` fixture and run on ``embedded`` (``lumadb.open(":memory:")``),
``remote`` (``lumadb.connect`` to a real ``luma serve`` subprocess, started once per module)
and, in modules that list it in ``ENGINES``, ``rocks`` (the embedded API on RocksDB in a
temporary directory). All use 2 shards and the same small ``max_document_size``. The served
node's state is shared within a module, so tests take unique collection names from ``name``.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import lumadb
import lumadb.client

ADMIN_PASSWORD = "admin-pass-congruence"
JWT_SECRET = "congruence-secret-" + "y" * 40
MAX_DOCUMENT_SIZE = 16384  # small, yet room for a 384-number embedding
STARTUP_TIMEOUT = 30.0
_names = itertools.count()


@dataclass(frozen=True)
class Node:
    """A served node: its base URL, data directory and the secrets it was started with."""

    url: str
    data_dir: Path
    token: str
    admin_password: str = ADMIN_PASSWORD
    jwt_secret: str = JWT_SECRET
    max_document_size: int = MAX_DOCUMENT_SIZE

    def connect(self, **credentials: Any) -> lumadb.client.Client:
        """A client of this node, as the admin unless other credentials are given.

        The admin's client starts with the module's token and holds the password too (to log
        in again when the token expires): a login costs ~0.5 s of argon2 on this machine,
        too much for every test.
        """
        if not credentials:
            credentials = {"token": self.token, "username": "admin", "password": ADMIN_PASSWORD}
        return lumadb.connect(self.url, **credentials)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"luma serve exited with {proc.returncode}: {tail}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"luma serve did not answer /health within {STARTUP_TIMEOUT}s")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: the node's orderly shutdown
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("luma serve did not stop within its timeout after SIGINT")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """``python -m lumadb serve`` on a fresh data directory and a free loopback port."""
    root = tmp_path_factory.mktemp("node")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LUMA_")}
    env |= {
        "LUMA_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "LUMA_JWT_SECRET": JWT_SECRET,
        "LUMA_STORAGE__SHARDS": "2",
        "LUMA_STORAGE__MAX_DOCUMENT_SIZE": str(MAX_DOCUMENT_SIZE),
    }
    argv = [sys.executable, "-m", "lumadb", "serve", "--data-dir", str(root / "data")]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    log = root / "serve.log"
    # A file, not a pipe: nobody reads the output while tests run, and a full pipe blocks.
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, url, log)
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        reply = httpx.post(f"{url}/api/v1/_auth/token", json=login, timeout=30)
        assert reply.status_code == 200, reply.text
        yield Node(url, root / "data", reply.json()["access_token"])
    finally:
        _stop(proc)


ENGINES = ("embedded", "remote")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A module lists its engines in ENGINES; RocksDB (~0.2 s to open per test) only where
    # the storage engine matters (ordering, persistence), not for errors raised above it.
    if "db" in metafunc.fixturenames:
        engines = getattr(metafunc.module, "ENGINES", ENGINES)
        metafunc.parametrize("db", engines, indirect=True)


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The same surface on each engine of the module's ENGINES; closed after the test."""
    if request.param == "remote":
        node: Node = request.getfixturevalue("node")
        handle: Any = node.connect()
    else:
        target = ":memory:" if request.param == "embedded" else str(tmp_path / "data")
        handle = lumadb.open(target, shards=2, max_document_size=MAX_DOCUMENT_SIZE)
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
def name() -> str:
    """A collection name no other test in the session uses."""
    return f"c{next(_names)}_{os.getpid()}"


@pytest.fixture
def remote(db: object) -> bool:
    """Whether ``db`` is the HTTP client (for the few documented differences)."""
    return isinstance(db, lumadb.client.Client)


@pytest.fixture
def max_doc() -> int:
    """The ``max_document_size`` every engine of the suite runs with."""
    return MAX_DOCUMENT_SIZE

"""Peers and server processes for the ``http`` suite.

``hello``
    the raw-ASGI "hello JSON" app: a bare ASGI callable answering ``GET .../{id}`` with a
    ~1 KB JSON document (the suite's document shape, serialised per request with orjson, as
    LumaDB does) and ``POST`` by reading and parsing the JSON body and answering 201
    ``{"id": ...}``. It runs under granian with the very settings ``luma serve`` uses
    (:func:`serve_hello` mirrors :func:`lumadb.server.node.run_node`: ASGI, uvloop, the same
    worker count, a factory, spawned workers), so the pair measures what LumaDB adds on top
    of the server stack.
``redis``
    Debian's ``redis-server`` on a loopback port, in a temporary directory, with no
    persistence (no RDB snapshots, no AOF).
``resp``
    one resp-benchmark run (Rust, multi-threaded, one Lua state per connection) printing
    its result as JSON; a subprocess, like wrk, so its CPU time is measured the same way.

Run as ``python -m benchmarks.http_peers hello PORT`` or ``... resp PORT SECONDS SCRIPT``.
:class:`ServerProcess` starts any of them in its own session, on 127.0.0.1, and stops and
reaps it (and anything it spawned) at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.workload import DocumentMaker

__all__ = [
    "HELLO_FIELDS",
    "HELLO_WORKERS",
    "HELLO_FIELD_CHARS",
    "ServerProcess",
    "cpu_seconds",
    "create_hello",
    "free_port",
    "serve_hello",
    "spawned_workers",
]

HELLO_SEED = 3_000_017
HELLO_FIELDS, HELLO_FIELD_CHARS = 10, 92  # the suite's document shape: ~1000 bytes of JSON
STOP_TIMEOUT = 20.0
# As many workers as a default `luma serve` runs: one per core (with one shard per core).
HELLO_WORKERS = os.cpu_count() or 1

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def create_hello() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The factory granian calls in the worker: the bare ASGI "hello JSON" callable."""
    doc = DocumentMaker(random.Random(HELLO_SEED)).doc(HELLO_FIELDS, HELLO_FIELD_CHARS)
    dumps, loads = orjson.dumps, orjson.loads
    generated = itertools.count()
    json_headers = [(b"content-type", b"application/json")]
    not_found = b'{"error": {"code": "not_found", "message": "no such route"}}'

    async def respond(send: Send, status: int, body: bytes) -> None:
        headers = [*json_headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def hello(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            return
        method = scope["method"]
        if method == "GET":
            doc_id = scope["path"].rpartition("/")[2]
            await respond(send, 200, dumps({"id": doc_id, **doc}))
        elif method == "POST":
            chunks = []
            more = True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            posted = loads(b"".join(chunks))
            doc_id = posted.get("id") or f"g{next(generated):012d}"
            await respond(send, 201, dumps({"id": doc_id}))
        else:
            await respond(send, 404, not_found)

    return hello


def serve_hello(port: int) -> None:
    """Serve :func:`create_hello` on 127.0.0.1:``port`` exactly as ``luma serve`` runs LumaDB."""
    import multiprocessing

    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    multiprocessing.set_start_method("spawn", force=True)
    Granian(
        "benchmarks.http_peers:create_hello",
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=HELLO_WORKERS,
        loop=Loops.uvloop,
        log_level=LogLevels.info,
        respawn_failed_workers=True,
        workers_kill_timeout=30,
    ).serve()


def run_resp(port: int, seconds: int, script: Path, connections: int) -> None:
    """One resp-benchmark run against 127.0.0.1:``port``; prints its result as JSON."""
    from resp_benchmark import Benchmark

    bench = Benchmark(host="127.0.0.1", port=port, timeout=30)
    times, began = os.times(), time.perf_counter()
    result = bench.bench(
        command=script.read_text(),
        connections=connections,
        seconds=seconds,
        quiet=True,
        use_lua=True,
    )
    elapsed, after = time.perf_counter() - began, os.times()
    cpu = (after.user - times.user) + (after.system - times.system)
    print(
        "JSON "
        + json.dumps(
            {
                "qps": result.qps,
                "avg_ms": result.avg_latency_ms,
                "p99_ms": result.p99_latency_ms,
                "connections": result.connections,
                "cpu_s": cpu,  # this process's CPU time during the run (all its threads)
                "bench_s": elapsed,
            }
        ),
        flush=True,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rpartition(b")")[2].split()
    # after "pid (comm)": state is field 3, utime field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawned_workers(parent: int) -> list[int]:
    """The pids of ``parent``'s children started by multiprocessing's spawn (granian workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(b")")[2].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


class ServerProcess:
    """A server subprocess in its own session (process group), logging to a file.

    :meth:`stop` sends SIGTERM, waits, then SIGKILLs the whole group (workers included) if
    anything is left, and reaps the process; it is safe to call more than once.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        """Whether the process is still running (an exited one is left unreaped)."""
        if self.proc.returncode is not None:
            return False
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return exited is None

    def tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (for error messages)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll ``ready`` until it is true; raise if the process dies or ``timeout`` passes."""
        deadline = time.perf_counter() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if ready():
                    return
            if time.perf_counter() >= deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:g} s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server and everything in its process group, and reap it."""
        if self.proc.returncode is not None:
            return
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.perf_counter() + STOP_TIMEOUT
            while self.alive() and time.perf_counter() < deadline:
                time.sleep(0.05)
        # The group is ours (start_new_session), and its leader is not reaped yet, so its id
        # cannot have been reused: whatever is left in it (a worker that outlived its
        # parent, the parent itself after the timeout) is killed, then the leader reaped.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait()


def http_ok(port: int, path: str) -> bool:
    """Whether ``GET path`` on 127.0.0.1:``port`` answers 200 (a minimal HTTP/1.1 probe)."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        head = sock.recv(64)
    return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


def start_hello(port: int, log: Path) -> ServerProcess:
    """The "hello JSON" peer under granian on 127.0.0.1:``port``."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "benchmarks.http_peers", "hello", str(port)]
    return ServerProcess("hello", argv, log, env=env, cwd=Path(root))


def start_redis(port: int, directory: Path) -> ServerProcess:
    """``redis-server`` on 127.0.0.1:``port`` with no persistence, its files in ``directory``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make bench-tools installs it)")
    argv = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    return ServerProcess("redis", argv, directory / "redis.log", cwd=directory)


def redis_ping(port: int) -> bool:
    """Whether a Redis server answers PING on 127.0.0.1:``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def main(argv: Sequence[str]) -> int:
    """``hello PORT`` or ``resp PORT SECONDS SCRIPT [CONNECTIONS]``."""
    if len(argv) >= 2 and argv[0] == "hello":
        serve_hello(int(argv[1]))
        return 0
    if len(argv) >= 4 and argv[0] == "resp":
        connections = int(argv[4]) if len(argv) > 4 else 64
        run_resp(int(argv[1]), int(argv[2]), Path(argv[3]), connections)
        return 0
    print(
        "usage: python -m benchmarks.http_peers hello PORT | resp PORT SECONDS SCRIPT [CONNS]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``luma serve`` as a real process: starts, serves, holds the data directory, stops on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import Luma, assert_failed, assert_ok

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(config_file: Path, data_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    argv = ["serve", "--config", str(config_file), "--data-dir", str(data_dir), "--port", str(port)]
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("LUMA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "lumadb", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean | env,
    )


def _wait_healthy(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"luma serve was not healthy within {STARTUP_TIMEOUT}s")


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        code = proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("luma serve did not stop in time")
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    return code, out, err


@pytest.fixture
def port() -> int:
    """A free loopback port."""
    return _free_port()


@pytest.fixture
def server(config_file: Path, data_dir: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """``python -m lumadb serve`` on the test's data directory, answering /health."""
    proc = _start(config_file, data_dir, port)
    try:
        _wait_healthy(proc, port)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signal(
    server: subprocess.Popen[str], signum: signal.Signals, luma: Luma, data_dir: Path, port: int
) -> None:
    started = time.monotonic()
    server.send_signal(signum)
    code, out, err = _finish(server)
    assert code == 0, err
    assert time.monotonic() - started < STOP_TIMEOUT
    assert f"serving {data_dir} at http://127.0.0.1:{port}" in out
    assert "generated password" in out
    assert out.rstrip().endswith("stopped")
    assert "Traceback" not in err
    assert "database closed" in err
    # The lock went with the worker: the directory opens again.
    assert_ok(luma("collections"))


def test_the_generated_admin_password_works_and_is_shown_once(
    config_file: Path, data_dir: Path, port: int
) -> None:
    proc = _start(config_file, data_dir, port)
    _wait_healthy(proc, port)
    proc.send_signal(signal.SIGINT)
    _, out, _ = _finish(proc)
    password = out.split("generated password: ", 1)[1].split()[0]
    proc = _start(config_file, data_dir, port)
    try:
        _wait_healthy(proc, port)
        login = {"username": "admin", "password": password}
        reply = httpx.post(f"http://127.0.0.1:{port}/api/v1/_auth/token", json=login)
        assert reply.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, again, _ = _finish(proc)
    assert "generated password" not in again
    assert password not in again


def test_workers_do_not_outlive_a_killed_node(server: subprocess.Popen[str], port: int) -> None:
    import psutil

    workers = psutil.Process(server.pid).children(recursive=True)
    assert workers
    server.kill()  # SIGKILL: the node cannot stop its workers itself
    server.wait()
    _, alive = psutil.wait_procs(workers, timeout=STOP_TIMEOUT)
    assert alive == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_second_process_gets_a_clear_lock_error(
    server: subprocess.Popen[str], luma: Luma, data_dir: Path
) -> None:
    line = assert_failed(luma("collections"), 1, f"data directory {data_dir} is in use")
    assert "pid" in line
    assert "serve" in line


def test_a_short_jwt_secret_stops_start_up(config_file: Path, data_dir: Path, port: int) -> None:
    proc = _start(config_file, data_dir, port, LUMA_JWT_SECRET="too-short")
    code, out, err = _finish(proc)
    assert code == 1
    assert "auth.jwt_secret" in err and "32" in err
    assert "too-short" not in err + out
    assert "Traceback" not in err


def test_a_weak_admin_password_stops_start_up(config_file: Path, data_dir: Path, port: int) -> None:
    proc = _start(config_file, data_dir, port, LUMA_ADMIN_PASSWORD="short")
    code, _, err = _finish(proc)
    assert code == 1
    assert "error:" in err and "Traceback" not in err

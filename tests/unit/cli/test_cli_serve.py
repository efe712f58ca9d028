"""``luma serve`` as a real process: starts, holds the data directory, stops on a signal."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Luma, assert_failed, assert_ok

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@pytest.fixture
def server(config_file: Path, data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """``python -m lumadb serve`` on the test's data directory, up and holding its lock."""
    argv = ["serve", "--config", str(config_file), "--data-dir", str(data_dir), "--port", "9999"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lumadb", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(proc)
        assert "serving" in line, line
        assert str(data_dir) in line
        assert "2 shards" in line
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=STARTUP_TIMEOUT):
            pytest.fail(f"luma serve printed nothing within {STARTUP_TIMEOUT}s")
    return proc.stdout.readline()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signal(
    server: subprocess.Popen[str], signum: signal.Signals, luma: Luma
) -> None:
    started = time.monotonic()
    server.send_signal(signum)
    assert server.wait(timeout=STOP_TIMEOUT) == 0
    assert time.monotonic() - started < STOP_TIMEOUT
    assert server.stdout is not None and server.stderr is not None
    rest = server.stdout.read()
    assert "HTTP API is not part of this version" in rest
    assert "127.0.0.1:9999" in rest
    assert rest.rstrip().endswith("stopped")
    assert "Traceback" not in server.stderr.read()
    # The lock went with the process: the directory opens again.
    assert_ok(luma("collections"))


def test_second_process_gets_a_clear_lock_error(
    server: subprocess.Popen[str], luma: Luma, data_dir: Path
) -> None:
    line = assert_failed(luma("collections"), 1, f"data directory {data_dir} is in use")
    assert f"pid {server.pid}" in line
    assert "serve" in line
    assert os.getpid() != server.pid

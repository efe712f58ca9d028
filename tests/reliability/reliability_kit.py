"""Shared helpers of the reliability tests: child processes, shims, figures.

Every fault test runs the database in a child process (so that it can be killed, preloaded
with a shim or given a canary switch) and talks to it through line-oriented stdout. The
helpers here make that safe: a child is always killed and reaped, a missing line fails the
test with the child's stderr instead of hanging, and figures are printed and recorded in the
same format by every test.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest

__all__ = [
    "CHILDREN",
    "SHIMS",
    "SOAK",
    "Child",
    "build_shim",
    "child_env",
    "percentile",
    "report",
]

HERE = Path(__file__).resolve().parent
CHILDREN = HERE / "children"
SHIMS = HERE / "shims"
SOAK = os.environ.get("LUMA_SOAK") == "1"
REPO = HERE.parents[1]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def report(record: Callable[[str, object], None], name: str, figures: Mapping[str, object]) -> None:
    """Print one figure line (visible with ``pytest -s``) and record each figure in the
    JUnit XML properties (``record_property``)."""
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
    print(f"\n[reliability] {name}: {text}")
    for key, value in figures.items():
        record(key, value)


def _fmt(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: this one, with the source tree importable and ``extra``."""
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def build_shim(source: str, out_dir: Path) -> Path:
    """Compile ``shims/<source>`` into a shared object in ``out_dir`` (skips without gcc)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip(f"gcc is not installed: cannot build the LD_PRELOAD shim {source}")
    target = out_dir / (Path(source).stem + ".so")
    result = subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(target), str(SHIMS / source), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"building {source} failed:\n{result.stderr}"
    return target


class Child:
    """A child Python process whose stdout is read line by line with timeouts.

    Use it as a context manager: on exit the process is killed (if still running) and reaped,
    whatever happened in the test.
    """

    def __init__(
        self, script: str, args: Sequence[str], stderr_path: Path, env: Mapping[str, str]
    ) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILDREN / script), *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=dict(env),
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of what the child wrote to stderr."""
        self._stderr.flush()
        return self.stderr_path.read_bytes()[-limit:].decode(errors="replace")

    def read_line(self, timeout: float) -> str | None:
        """The next stdout line, or ``None`` at end of file; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"child gave no line within {timeout}s; stderr:\n{self.stderr_tail()}")
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def expect(self, prefix: str, timeout: float = 60.0) -> str:
        """Read lines until one starts with ``prefix`` and return it."""
        while True:
            line = self.read_line(timeout)
            if line is None:
                code = self.proc.wait(timeout=10)
                pytest.fail(
                    f"child exited ({code}) before printing {prefix!r}; stderr:\n"
                    f"{self.stderr_tail()}"
                )
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the child to exit by itself; fails the test (and kills it) on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"child did not exit within {timeout}s; stderr:\n{self.stderr_tail()}")

    def close(self) -> None:
        """Kill (if needed), reap and release the pipes."""
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

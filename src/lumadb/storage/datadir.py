"""Data-directory hygiene: the exclusive lock and atomically written manifests."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from lumadb.errors import CorruptionError, DataDirLocked

__all__ = ["DirLock", "atomic_write", "fsync_dir", "read_json"]

LOCK_NAME = "LOCK"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so that renames and new files in it survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, directory fsync."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fsync_dir(target.parent)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON manifest; a damaged one is a :class:`CorruptionError`."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise CorruptionError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptionError(f"{path} does not hold a JSON object")
    return data


class DirLock:
    """An exclusive ``flock`` on ``<dir>/LOCK`` holding who took it.

    The kernel releases the lock when the holder dies, so a crash never leaves a stale lock.
    A second opener, in another process or in this one, gets :class:`DataDirLocked` naming
    the holder.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirLocked`."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise DataDirLocked(
                f"data directory {self.path.parent} is in use by {holder}; "
                "stop that process or use another directory"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(sys.argv)[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    where = f"pid {info['pid']} on {info.get('host', '?')}"
    if info.get("pid") == os.getpid():
        where = f"this process (pid {info['pid']}, another open handle)"
    return f"{where}, since {info.get('since', '?')} ({info.get('command', '')})"

"""The audit log of questions: who asked what, the LQL it became, and what came of it.

One JSON line per question in ``<data_dir>/nlq-audit.jsonl`` (appended with one ``write`` of
a whole line, so the node's processes may append at once), or in memory for a ``:memory:``
database. Admins read the newest entries with ``GET /api/v1/_nlq/audit``.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from lumadb.errors import StorageError

__all__ = ["AuditLog"]

_KEPT_IN_MEMORY = 10_000


class AuditLog:
    """Appends and reads audit entries."""

    def __init__(self, data_dir: str | None) -> None:
        self._file = None if data_dir is None else Path(data_dir) / "nlq-audit.jsonl"
        self._memory: deque[dict[str, Any]] = deque(maxlen=_KEPT_IN_MEMORY)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Keep one entry."""
        if self._file is None:
            with self._lock:
                self._memory.append(entry)
            return
        line = orjson.dumps(entry) + b"\n"
        try:
            fd = os.open(self._file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:  # a question that cannot be audited is not answered
            raise StorageError(f"the question audit log could not be written: {exc}") from exc

    def newest(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        if self._file is None:
            with self._lock:
                return list(reversed(self._memory))[:limit]
        if not self._file.exists():
            return []
        lines = _last_lines(self._file, limit)
        found = []
        for line in reversed(lines):
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a torn last line after a crash
        return found


def _last_lines(file: Path, count: int, block: int = 64 * 1024) -> list[bytes]:
    """The last ``count`` lines of ``file``, reading back from its end only as far as needed
    (the log grows with every question; a read must not grow with it)."""
    with file.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - block)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    lines = data.splitlines()
    return lines[-count:] if end == 0 else lines[1:][-count:]  # the first may be cut

"""Which shard worker a process is, and which shards that worker owns.

granian does not tell a worker its index, so a worker claims the first free slot itself by
taking a non-blocking ``flock`` on ``run/slot-N.lock`` in the data directory (ARCHITECTURE.md
§5). The kernel releases the lock when the process dies, so a respawned worker finds the
dead one's slot free and takes over exactly its shards. Shard ``s`` belongs to slot
``s % workers``: every worker computes the same map without asking anyone.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from lumadb.errors import ConfigError, Unavailable

__all__ = ["Slot", "claim_slot", "owner_of", "owned_shards"]

RUN_DIR = "run"


def owner_of(shard: int, workers: int) -> int:
    """The slot owning ``shard``."""
    return shard % workers


def owned_shards(slot: int, workers: int, shards: int) -> list[int]:
    """The shards ``slot`` owns, in order."""
    if not 0 <= slot < workers:
        raise ConfigError(f"slot {slot} is outside 0..{workers - 1}")
    if workers > shards:
        raise ConfigError(f"{workers} workers for {shards} shards: some would own nothing")
    return list(range(slot, shards, workers))


@dataclass
class Slot:
    """A claimed slot; :meth:`release` (or the process ending) frees it."""

    index: int
    path: Path
    _fd: int | None

    def release(self) -> None:
        """Give the slot back."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_slot(data_dir: str | os.PathLike[str], workers: int) -> Slot:
    """Take the lowest free slot of ``workers``; :class:`Unavailable` if all are taken."""
    run = Path(data_dir) / RUN_DIR
    run.mkdir(parents=True, exist_ok=True)
    for index in range(workers):
        path = run / f"slot-{index}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return Slot(index, path, fd)
    raise Unavailable(f"all {workers} worker slots of {data_dir} are taken")

"""``luma serve``: bootstrap the data directory, then run the HTTP workers under granian.

The granian main process owns the listening socket and the workers; each worker imports
:mod:`lumadb.server.worker` and opens the database at lifespan start-up. SIGINT and SIGTERM
stop accepting, let requests in flight finish, and close the database in each worker.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from lumadb.config import Settings, publish_handoff
from lumadb.server.bootstrap import ADMIN, bootstrap, lock_data_dir

if TYPE_CHECKING:
    from granian.log import LogLevels

__all__ = ["APP_TARGET", "run_node"]

APP_TARGET = "lumadb.server.worker:create_app"


def worker_count(settings: Settings, shards: int) -> int:
    """``server.workers``, 0 meaning one per core; never more than the shards."""
    wanted = settings.server.workers or os.cpu_count() or 1
    return max(1, min(wanted, shards))


def run_node(settings: Settings, say: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``say`` prints the start-up lines for the operator."""
    # The node holds the data directory's lock for its workers while it serves; each
    # worker opens only its own shards (whose RocksDB locks keep them apart).
    lock = lock_data_dir(settings)
    try:
        _serve(settings, say)
    finally:
        lock.release()


def _serve(settings: Settings, say: Callable[[str], None]) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    boot = bootstrap(settings)
    workers = worker_count(settings, boot.shards)
    settings = msgspec.structs.replace(
        settings, server=msgspec.structs.replace(settings.server, workers=workers)
    )
    host, port = settings.server.host, settings.server.port
    shown = f"[{host}]" if ":" in host else host
    say(f"LumaDB serving {settings.storage.data_dir} at http://{shown}:{port}")
    if boot.generated_password is not None:
        say(f"created user {ADMIN!r} with the generated password: {boot.generated_password}")
        say("  (shown only this once; change it with PATCH /api/v1/_users/admin)")
    elif boot.created_admin:
        say(f"created user {ADMIN!r} with the password from auth.admin_password")
    say(
        f"log in: curl -X POST http://{shown}:{port}/api/v1/_auth/token "
        f'-H "content-type: application/json" -d \'{{"username": "{ADMIN}", "password": "..."}}\''
    )
    say(f"{workers} shard workers for {boot.shards} shards; press Ctrl+C to stop")
    publish_handoff(settings)
    # Fresh interpreters for the workers: a forked child inherits RocksDB's global state
    # (thread pools) from the bootstrap above without its threads, and hangs on close.
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        APP_TARGET,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers,
        loop=Loops.uvloop,
        log_level=_granian_level(settings.log.level),
        respawn_failed_workers=True,
        workers_kill_timeout=30,
    )
    server.serve()


def _granian_level(level: str) -> LogLevels:
    from granian.log import LogLevels

    return LogLevels(level)

"""``luma serve``, for now: open the data directory, hold it, close it cleanly on a signal.

The HTTP API arrives in a later version; this command will then start it. Until then it
proves the node's life cycle (settings, lock, shards, clean shutdown) end to end.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click

from lumadb._version import __version__
from lumadb.cli._common import db_options, open_db, settings_from
from lumadb.cli._output import say

__all__ = ["serve"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@click.command()
@db_options
@click.option("--host", help="Address to listen on (default: server.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: server.port, 8080).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run a LumaDB node on the data directory until SIGINT (Ctrl+C) or SIGTERM."""
    settings = settings_from(ctx, {"server.host": host, "server.port": port})
    stop = threading.Event()
    with _stop_on_signals(stop), open_db(settings, must_exist=False) as db:
        where = os.path.abspath(db.path)
        say(
            f"lumadb {__version__} serving {where} "
            f"({db.shard_count} shards, durability {settings.storage.durability}, "
            f"pid {os.getpid()})"
        )
        say(
            "the HTTP API is not part of this version yet "
            f"(it will listen on {settings.server.host}:{settings.server.port})"
        )
        say("press Ctrl+C to stop")
        # A timed wait keeps the main thread returning to the interpreter, where the signal
        # handlers run.
        while not stop.wait(0.2):
            pass
        say("stopping: closing the database")
    say("stopped")


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}
    for sig in _STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

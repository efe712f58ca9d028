"""``luma serve``: run a LumaDB node (the HTTP API) on the data directory.

Start-up problems (bad settings, a data directory in use, a short JWT secret) are reported
before the HTTP server starts, as every CLI error is: one line and exit code 1.
"""

from __future__ import annotations

import click

from lumadb.cli._common import db_options, settings_from
from lumadb.cli._output import say

__all__ = ["serve"]


@click.command()
@db_options
@click.option("--host", help="Address to listen on (default: server.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: server.port, 8080).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run a LumaDB node until SIGINT (Ctrl+C) or SIGTERM."""
    from lumadb.server.node import run_node

    settings = settings_from(ctx, {"server.host": host, "server.port": port})
    run_node(settings, say)
    say("stopped")

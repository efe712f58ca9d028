"""One HTTP worker: the ASGI app over the node's database (``create_app`` is the factory).

The HTTP server imports this module in each worker process and calls :func:`create_app`;
the database opens at lifespan start-up, in the worker, and closes at shutdown (flushing
the write-ahead log), so SIGTERM and SIGINT shut the node down cleanly.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from lumadb.api.app import LumaApp
from lumadb.api.auth.engine import LocalAuthEngine
from lumadb.api.auth.ratelimit import LoginLimiter
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.api.context import ApiContext
from lumadb.clock import Clock, SystemClock
from lumadb.config import Settings, failpoints, settings_from_handoff
from lumadb.errors import ConfigError
from lumadb.server.logs import configure_logging
from lumadb.server.secrets import node_secret
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService
from lumadb.storage.faults import FAULTS

__all__ = ["build_app", "create_app"]

# Threads for writes waiting on their WAL sync and for password hashing.
BLOCKING_THREADS = 32
_PR_SET_PDEATHSIG = 1

_log = logging.getLogger("lumadb.server")


def open_context(settings: Settings, clock: Clock) -> ApiContext:
    """Open the database and everything the handlers need."""
    service = LocalService(settings.storage.data_dir, settings, clock)
    try:
        auth = settings.auth
        issuer = TokenIssuer(
            node_secret(settings), lifetime=auth.token_lifetime, leeway=auth.leeway, clock=clock
        )
        limiter = LoginLimiter(
            clock,
            per_user=auth.login_attempts_per_user,
            per_address=auth.login_attempts_per_address,
            window=auth.login_window,
        )
        accounts = AccountStore(service, clock)
        engine = LocalAuthEngine(accounts, issuer, limiter)
        executor = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="luma-blocking")
    except BaseException:
        service.close()
        raise
    return ApiContext(service, accounts, engine, settings, executor)


def close_context(ctx: ApiContext) -> None:
    """Finish the work in flight and close the database."""
    ctx.executor.shutdown(wait=True)
    ctx.service.close()
    _log.info("database closed")


def build_app(settings: Settings, clock: Clock | None = None) -> LumaApp:
    """The app for ``settings`` (tests build it directly, without a worker process)."""
    chosen = clock or SystemClock()
    return LumaApp(lambda: open_context(settings, chosen), close_context)


def _die_with_parent() -> None:
    # A worker whose node process was killed (SIGKILL cannot be caught, so nobody stops the
    # workers) must not keep the port and the shards: ask the kernel for SIGTERM when the
    # parent goes, and leave at once if it is already gone.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        raise SystemExit("the node process is gone")


def create_app() -> LumaApp:
    """The factory the HTTP server calls in each worker process."""
    _die_with_parent()
    settings = settings_from_handoff()
    configure_logging(settings)
    for name in failpoints():
        if not hasattr(FAULTS, name):
            raise ConfigError(f"unknown failpoint {name!r}")
        _log.warning("failpoint %s is ON: this node is deliberately broken", name)
        setattr(FAULTS, name, True)
    return build_app(settings)

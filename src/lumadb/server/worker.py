"""One HTTP worker: the ASGI app over the node's database (``create_app`` is the factory).

The HTTP server imports this module in each worker process and calls :func:`create_app`;
the database opens at lifespan start-up, in the worker, and closes at shutdown (flushing
the write-ahead log), so SIGTERM and SIGINT shut the node down cleanly.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import xxhash

from lumadb.analytics.feeds import attach_replica
from lumadb.analytics.routed import serve_feed, serve_replica
from lumadb.api.app import LumaApp
from lumadb.api.auth.engine import LocalAuthEngine
from lumadb.api.auth.ratelimit import LoginLimiter
from lumadb.api.auth.tokens import TokenIssuer
from lumadb.api.context import ApiContext
from lumadb.clock import Clock, SystemClock
from lumadb.config import Settings, failpoints, node_pid, settings_from_handoff
from lumadb.errors import ConfigError, LumaError
from lumadb.events.manager import attach_events
from lumadb.server.logs import configure_logging
from lumadb.server.peers import Handler, PeerClient, PeerServer
from lumadb.server.secrets import node_secret
from lumadb.server.slots import Slot, claim_slot, owned_shards
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService
from lumadb.service.routed import Peer, ShardRouter
from lumadb.storage.database import stored_shard_count
from lumadb.storage.faults import FAULTS
from lumadb.vector.vector_set import attach_vectors

__all__ = ["Placement", "build_app", "create_app", "peer_address"]

# Threads for writes waiting on their WAL sync and for password hashing.
BLOCKING_THREADS = 32
_PR_SET_PDEATHSIG = 1
REFRESH_INTERVAL = 0.5  # seconds between looks at the node's records without requests
_SLOTS: list[Slot] = []  # held for the life of the process

_log = logging.getLogger("lumadb.server")


@dataclass(frozen=True)
class Placement:
    """Which of the node's shard workers this process is."""

    slot: int
    workers: int


def open_context(
    settings: Settings, clock: Clock, placement: Placement | None = None
) -> ApiContext:
    """Open this worker's shards and everything the handlers need.

    Without ``placement`` one process holds every shard (tests, and a node of one worker).
    """
    path = settings.storage.data_dir
    if placement is None or placement.workers == 1:
        service = LocalService(path, settings, clock, lock=placement is None)
    else:
        count = stored_shard_count(path)
        owned = owned_shards(placement.slot, placement.workers, count)
        service = LocalService(path, settings, clock, owned=owned, lock=False)
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
    slot, workers = (0, 1) if placement is None else (placement.slot, placement.workers)
    peers: dict[int, Peer] = {
        other: PeerClient(
            peer_address(path, other),
            f"worker {other}",
            call_timeout=settings.server.request_timeout,
        )
        for other in range(workers)
        if other != slot
    }
    router = ShardRouter(service, executor, slot=slot, workers=workers, peers=peers)
    attach_replica(service)  # when it holds every shard; else worker 0 keeps the replica
    attach_vectors(service)  # each worker its own shards' parts
    attach_events(service)  # each worker delivers the events of its own shards
    return ApiContext(service, router, accounts, engine, settings)


def close_context(ctx: ApiContext) -> None:
    """Finish the work in flight and close the database."""
    ctx.docs.executor.shutdown(wait=True)
    ctx.service.close()
    _log.info("database closed")


def peer_address(data_dir: str, slot: int) -> str:
    """The Unix socket of worker ``slot`` of the node on ``data_dir`` (abstract namespace)."""
    digest = xxhash.xxh64_hexdigest(os.path.realpath(data_dir).encode())
    return f"\0lumadb-{digest}-{slot}"


class WorkerNode:
    """A shard worker's life beside HTTP: its peer server and the periodic refresh."""

    def __init__(self) -> None:
        self._server: PeerServer | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def started(self, ctx: ApiContext) -> None:
        """Answer peers; take in other workers' changes even while no request comes."""
        router = ctx.docs
        if router.workers > 1:
            serve_feed(router)
            if router.slot == 0:
                serve_replica(router)
            handlers = {op: _refreshing(ctx, fn) for op, fn in router.local_handlers().items()}
            reads = {op: _refreshed(ctx, fn) for op, fn in router.local_reads().items()}
            address = peer_address(ctx.service.store.path, router.slot)
            self._server = PeerServer(handlers, address, inline=reads)
            await self._server.start()
        self._refresher = asyncio.create_task(self._refresh(ctx))

    async def stopping(self, ctx: ApiContext) -> None:
        """Stop answering peers and close the channels to them."""
        if self._refresher is not None:
            self._refresher.cancel()
        if self._server is not None:
            await self._server.close()
        for peer in ctx.docs.peers.values():
            if isinstance(peer, PeerClient):
                await peer.close()

    async def _refresh(self, ctx: ApiContext) -> None:
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            try:
                ctx.refresh()
            except LumaError as exc:
                _log.warning("reading the node's records failed: %s", exc.message)


def _refreshing(ctx: ApiContext, fn: Handler) -> Handler:
    # Every peer call first takes in other workers' changes, as every HTTP request does.
    async def run(*args: Any) -> Any:
        ctx.refresh()
        return await fn(*args)

    return run


def _refreshed(ctx: ApiContext, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        ctx.refresh()
        return fn(*args)

    return run


def build_app(
    settings: Settings, clock: Clock | None = None, placement: Placement | None = None
) -> LumaApp:
    """The app for ``settings`` (tests build it directly, without a worker process)."""
    chosen = clock or SystemClock()
    node = WorkerNode()
    return LumaApp(
        lambda: open_context(settings, chosen, placement),
        close_context,
        started=node.started,
        stopping=node.stopping,
    )


def _die_with_parent() -> None:
    # A worker whose node process was killed (SIGKILL cannot be caught, so nobody stops the
    # workers) must not keep the port and the shards. The kernel kills it with its parent:
    # SIGKILL, not SIGTERM, because the HTTP server's graceful stop can hang without its main
    # process (seen: the worker stuck in its signal handler). Nothing acknowledged is lost:
    # the write-ahead log holds it, and the shards recover from it at the next start.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = node_pid() or os.getppid()
    if os.getppid() != parent or parent == 1:
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
    workers = settings.server.workers or 1
    # The slot is claimed here, in the worker, and held for its life: a respawned worker
    # takes the slot (and the shards) the dead one left.
    slot = claim_slot(settings.storage.data_dir, workers)
    _log.info("worker %d of %d (pid %d)", slot.index, workers, os.getpid())
    _SLOTS.append(slot)
    return build_app(settings, placement=Placement(slot.index, workers))

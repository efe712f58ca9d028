"""The replica of a node of several shard workers: kept by worker 0, fed through the router.

Worker 0 keeps the node's one replica (DuckDB runs a query on every core by itself, so one
copy serves the node). It reads its own shards' change feeds directly and the others' from
their workers over the peer protocol (``feed_changes``, ``feed_seqs``); the other workers send
their aggregate queries to it (``columnar``). The replica runs on a thread of worker 0, so
each call to a peer is handed to its event loop and waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from dataclasses import astuple
from typing import Any, TypeVar

from lumadb.analytics.feeds import LazyReplica, LocalFeed, open_replica
from lumadb.query.columnar import Shipped
from lumadb.service import Change, Document, ScanRange
from lumadb.service.routed import ShardRouter, wait_on
from lumadb.storage import changefeed

__all__ = ["RoutedFeed", "serve_feed", "serve_replica"]

T = TypeVar("T")
PAGE = 5000


class RoutedFeed(LocalFeed):
    """The :class:`~lumadb.analytics.replica.Feed` of every shard of the node: the
    collections and shard count are this worker's to know; feeds and scans of the shards
    other workers own come from them."""

    def __init__(self, router: ShardRouter, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(router.local)
        self.router = router
        self.local = router.local
        self._loop = loop

    def _wait(self, work: Awaitable[T]) -> T:
        return wait_on(self._loop, work)

    def _slot(self, shard: int) -> int:
        return shard % self.router.workers

    def _seqs(self, shard: int) -> list[int | None]:
        slot = self._slot(shard)
        if slot == self.router.slot:
            return feed_seqs(self.local, shard)
        found: list[int | None] = self._wait(self.router.read_on(slot, "feed_seqs", shard))
        return found

    def last_seq(self, shard: int) -> int:
        return int(self._seqs(shard)[0] or 0)

    def first_seq(self, shard: int) -> int | None:
        return self._seqs(shard)[1]

    def changes(self, shard: int, since: int, limit: int) -> list[Change]:
        slot = self._slot(shard)
        if slot == self.router.slot:
            return self.local.changes(shard, since, limit)
        rows = self._wait(self.router.read_on(slot, "feed_changes", shard, since, limit))
        return [Change(*row) for row in rows]

    def scan(self, collection: str) -> Iterator[tuple[str, Document]]:
        for slot in range(self.router.workers):  # any order: the replica is not sorted
            start: str | None = None
            while True:
                rng = ScanRange(start=start)
                page = self._wait(self.router.page(slot, collection, rng, PAGE))
                yield from page
                if len(page) < PAGE:
                    break
                start = page[-1][0] + "\x00"


def feed_seqs(local: Any, shard: int) -> list[int | None]:
    """A local shard's newest and oldest feed sequence numbers."""
    engine_shard = local.store.shard_by_id(shard)
    return [engine_shard.engine.last_seq(), changefeed.first_seq(engine_shard)]


def serve_feed(router: ShardRouter) -> None:
    """Let worker 0 read this worker's shards' change feeds."""
    local = router.local
    router.serve("feed_seqs", lambda shard: feed_seqs(local, shard))
    router.serve(
        "feed_changes",
        lambda shard, since, limit: [list(astuple(c)) for c in local.changes(shard, since, limit)],
    )


def serve_replica(router: ShardRouter) -> None:
    """Make worker 0 keep the node's replica and answer the other workers' aggregates."""
    loop = asyncio.get_running_loop()
    replica = LazyReplica(lambda: open_replica(router.local, RoutedFeed(router, loop)))
    router.local.attach_columnar(replica)

    async def columnar(*fields: Any) -> list[list[Any]] | None:
        return await router.blocking(router.local.columnar, Shipped(*fields))

    router.serve_async("columnar", columnar)

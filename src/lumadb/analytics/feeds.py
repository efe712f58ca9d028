"""Where a replica reads from: a whole local database, or a node's workers through its router."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lumadb.service import Change, Document, ScanRange
from lumadb.storage import changefeed

if TYPE_CHECKING:
    from lumadb.analytics.replica import Feed, Replica
    from lumadb.query.columnar import Shipped
    from lumadb.service.local import LocalService

__all__ = ["LazyReplica", "LocalFeed", "attach_replica", "open_replica"]


class LocalFeed:
    """The :class:`~lumadb.analytics.replica.Feed` of a service that holds every shard."""

    def __init__(self, service: LocalService) -> None:
        self.service = service

    def shards(self) -> list[int]:
        return list(range(self.service.store.shard_count))

    def number_of(self, collection: str) -> int | None:
        return self.service.collection_numbers().get(collection)

    def numbers(self) -> set[int]:
        return set(self.service.collection_numbers().values())

    def last_seq(self, shard: int) -> int:
        return self.service.store.shard_by_id(shard).engine.last_seq()

    def first_seq(self, shard: int) -> int | None:
        return changefeed.first_seq(self.service.store.shard_by_id(shard))

    def changes(self, shard: int, since: int, limit: int) -> list[Change]:
        return self.service.changes(shard, since, limit)

    def scan(self, collection: str) -> Iterator[tuple[str, Document]]:
        return self.service.scan(collection, ScanRange())


class LazyReplica:
    """A replica opened by the first aggregate query (DuckDB loads only then)."""

    def __init__(self, opener: Callable[[], Replica]) -> None:
        self._opener = opener
        self._replica: Replica | None = None
        self._lock = threading.Lock()

    @property
    def answered(self) -> int:
        return self._replica.answered if self._replica else 0

    @property
    def declined(self) -> int:
        return self._replica.declined if self._replica else 0

    def run(self, query: Shipped) -> list[list[Any]] | None:
        replica = self._replica
        if replica is None:
            with self._lock:
                if self._replica is None:
                    self._replica = self._opener()
                replica = self._replica
        return replica.run(query)

    def close(self) -> None:
        with self._lock:
            if self._replica is not None:
                self._replica.close()
                self._replica = None


def attach_replica(service: LocalService) -> None:
    """Give a service holding every shard its columnar replica (opened when first needed)."""
    if service.store.complete:
        service.attach_columnar(LazyReplica(lambda: open_replica(service)))


def open_replica(service: LocalService, feed: Feed | None = None) -> Replica:
    """The replica of a service's database (in memory for an in-memory database), read from
    ``feed`` (default: the service's own shards, which must be all of them)."""
    from lumadb.analytics.replica import Replica  # DuckDB loads on the first aggregate

    store, settings = service.store, service.settings.analytics
    path = None if store.in_memory else os.path.join(store.path, "columnar")
    source = feed or LocalFeed(service)
    return Replica(path, source, settings.memory_limit, settings.threads)

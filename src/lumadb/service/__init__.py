"""THE facade: every front end (embedded API, CLI, REST, GraphQL) calls a :class:`LumaService`.

Validation happens here, once; permissions will too. :class:`~lumadb.service.local.LocalService`
runs on a local storage database; a remote implementation will speak to a node over HTTP with
the same surface.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Change", "Document", "LumaService", "ScanRange"]

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScanRange:
    """Which ids a scan covers: ``prefix`` and/or ``[start, end)``, at most ``limit`` of them."""

    prefix: str | None = None
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change, as read from a shard's change feed.

    ``op`` is ``insert``, ``update``, ``delete``, ``put`` (insert or update, when the
    collection's feed does not record old images) or ``drop`` (the collection was dropped).
    ``new`` is the document a put wrote; ``old`` the one it replaced or a delete removed, in
    collections whose feed records old images.
    """

    shard: int
    seq: int
    op: str
    collection: str | None
    id: str | None
    new: Document | None
    old: Document | None


class LumaService(Protocol):
    """Operations every front end offers, whatever runs them."""

    def create_collection(
        self, name: str, *, exist_ok: bool = False, changefeed: str = "new"
    ) -> dict[str, Any]:
        """Create a collection; returns its description."""
        ...

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> bool:
        """Drop a collection and all its documents; returns whether it existed."""
        ...

    def list_collections(self) -> list[dict[str, Any]]:
        """Descriptions of every collection, by name."""
        ...

    def describe_collection(self, name: str) -> dict[str, Any]:
        """The description of one collection."""
        ...

    def put(self, collection: str, doc_id: str, doc: Document) -> None:
        """Create or replace a document."""
        ...

    def insert(self, collection: str, doc: Document) -> str:
        """Create a document (never overwrites); returns its id."""
        ...

    def get(self, collection: str, doc_id: str) -> Document | None:
        """A document or ``None``."""
        ...

    def get_many(self, collection: str, ids: Iterable[str]) -> list[Document | None]:
        """Documents in the order of ``ids``."""
        ...

    def delete(self, collection: str, doc_id: str) -> bool:
        """Delete a document; returns whether it existed."""
        ...

    def put_many(self, collection: str, pairs: Iterable[tuple[str, Document]]) -> int:
        """Create or replace many documents (atomically per shard); returns how many."""
        ...

    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]:
        """``(id, document)`` pairs in id order."""
        ...

    def count(self, collection: str, prefix: str | None = None) -> int:
        """How many documents (with ids starting with ``prefix``)."""
        ...

    def changes(self, shard: int, since: int = 0, limit: int = 1000) -> list[Change]:
        """Change-feed records of one shard after sequence number ``since``."""
        ...

    def backup(self, dest: str) -> dict[str, Any]:
        """A consistent backup into the new directory ``dest``."""
        ...

    def stats(self) -> dict[str, Any]:
        """Figures about the database."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...

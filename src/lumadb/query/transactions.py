"""``BEGIN; ...; COMMIT``: a transaction's writes kept aside, then committed together.

Between ``BEGIN`` and ``COMMIT`` the statements run on a :class:`Transaction`: their writes go
to a buffer, and their reads see the buffer over the stored documents (so a statement sees
the ones before it). Every document the transaction read before writing it must be unchanged
at ``COMMIT``: the buffer carries the version each write expects, and the service checks them
all before writing anything (``VersionMismatch`` otherwise; nothing is written). ``ROLLBACK``
drops the buffer. Indexes and the columnar replica do not see the buffer, so statements inside
a transaction read documents. Collection and index DDL is refused inside one.

What the commit guarantees across shards is the service's (see
:meth:`lumadb.service.local.LocalService.commit`).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from lumadb.errors import DocumentExists, QueryError, VersionMismatch
from lumadb.query.plans import Source
from lumadb.service import Document, ScanRange

__all__ = ["ABSENT", "NO_EXPECT", "Transaction"]

NO_EXPECT = -1  # as the storage layer spells them: any version, or none at all
ABSENT = 0
_GONE = object()


def _version(doc: Document) -> int:
    # A buffered document's version: any value its own reader will hand back.
    return hash(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)) & 0x7FFF_FFFF_FFFF_FFFF | 1


class Transaction:
    """A source whose writes wait for :meth:`commit` (a :class:`Source` itself)."""

    def __init__(self, base: Source) -> None:
        self.base = base
        # (collection, id) -> (document or _GONE, its version here, what the store must hold)
        self._writes: dict[tuple[str, str], tuple[Any, int, int]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise QueryError(f"{name.replace('_', ' ')} is not allowed inside a transaction")

    # --- reads: the buffer over the store -----------------------------------------------------

    def get_versioned(self, collection: str, doc_id: str) -> tuple[Document, int] | None:
        found = self._writes.get((collection, doc_id))
        if found is not None:
            return None if found[0] is _GONE else (found[0], found[1])
        return self.base.get_versioned(collection, doc_id)

    def get(self, collection: str, doc_id: str) -> Document | None:
        found = self.get_versioned(collection, doc_id)
        return None if found is None else found[0]

    def get_many(self, collection: str, ids: Iterable[str]) -> list[Document | None]:
        return [self.get(collection, i) for i in ids]

    def scan(self, collection: str, rng: ScanRange) -> Iterator[tuple[str, Document]]:
        mine = {i: w[0] for (c, i), w in self._writes.items() if c == collection}
        whole = dataclasses.replace(rng, limit=None)  # the limit applies after the merge
        stored = ((i, d) for i, d in self.base.scan(collection, whole) if i not in mine)
        kept = ((i, d) for i, d in mine.items() if d is not _GONE and _within(i, rng))
        added = sorted(kept, key=lambda pair: pair[0], reverse=rng.reverse)
        merged = heapq.merge(stored, added, key=lambda pair: pair[0], reverse=rng.reverse)
        return iter(merged) if rng.limit is None else itertools.islice(merged, rng.limit)

    def describe_collection(self, name: str) -> dict[str, Any]:
        return self.base.describe_collection(name)

    def index_ids(self, collection: str, path: Sequence[str], value: Any) -> list[str] | None:
        return None  # the index does not hold the buffer: read documents

    def index_range(self, collection: str, path: Sequence[str], *bounds: Any) -> list[str] | None:
        return None

    def index_match(
        self, collection: str, equalities: Sequence[tuple[Sequence[str], Any]]
    ) -> list[str] | None:
        return None

    def text_ids(self, collection: str, path: Sequence[str], words: str) -> list[str] | None:
        return None

    def text_stats(
        self, collection: str, path: Sequence[str], terms: Sequence[str]
    ) -> dict[str, Any] | None:
        return self.base.text_stats(collection, path, terms)

    def columnar(self, query: Any) -> list[list[Any]] | None:
        return None

    def vector_search(self, *args: Any) -> list[tuple[float, str]] | None:
        return None  # the index does not see the buffer: the statement reads documents

    # --- writes: into the buffer ----------------------------------------------------------------

    def _expect(self, collection: str, doc_id: str, version: int | None) -> int:
        """What the store must hold at commit for a write at ``version`` (None: absent),
        checked against what the transaction sees now."""
        found = self._writes.get((collection, doc_id))
        if found is not None:
            here: int | None = None if found[0] is _GONE else found[1]
            expect = found[2]
        else:
            current = self.base.get_versioned(collection, doc_id)
            here = None if current is None else current[1]
            expect = ABSENT if here is None else here
        if version != here:
            if version is None:
                raise DocumentExists(f"document {doc_id!r} already exists in {collection}")
            raise VersionMismatch(f"document {doc_id!r} of {collection} changed")
        return expect

    def put_if(self, collection: str, doc_id: str, doc: Document, version: int | None) -> int:
        self.base.describe_collection(collection)  # a missing collection fails here
        expect = self._expect(collection, doc_id, version)
        made = _version(doc)
        self._writes[collection, doc_id] = (doc, made, expect)
        return made

    def delete(self, collection: str, doc_id: str, version: int | None = None) -> bool:
        existed = self.get_versioned(collection, doc_id)
        if existed is None:
            if version is not None:
                raise VersionMismatch(f"document {doc_id!r} of {collection} changed")
            return False
        expect = self._expect(collection, doc_id, existed[1] if version is None else version)
        self._writes[collection, doc_id] = (_GONE, 0, expect)
        return True

    def pending(self) -> list[tuple[str, str, Document | None, int]]:
        """The buffered writes, as the service's ``commit`` takes them."""
        return [
            (c, i, None if doc is _GONE else doc, expect)
            for (c, i), (doc, _, expect) in self._writes.items()
        ]


def _within(doc_id: str, rng: ScanRange) -> bool:
    if rng.prefix is not None and not doc_id.startswith(rng.prefix):
        return False
    if rng.start is not None and doc_id < rng.start:
        return False
    return rng.end is None or doc_id < rng.end

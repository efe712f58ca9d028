"""UNIQUE indexes within one process: one writer at a time per index, each write checked.

A unique index is a value index (:mod:`lumadb.service.indexes`) whose hooks share one
:class:`UniqueGuard`. A shard enters the guard around every write of the index's collection,
before it takes the key's lock, and holds it until the batch is written; the index's hook,
building that batch, asks the guard to :meth:`~UniqueGuard.claim` the document's new values.
The claim looks the values up in the index entries of every shard of the process, so two
writers can never both find a value free: the second runs after the first has written. As in
PostgreSQL, the check is immediate (each row as it is written, not at the end of a statement)
and NULL or missing values never clash. Within one operation (a ``put_many``, a transaction)
the guard also remembers what the writes before claimed and released.

A served node with several workers holds its shards in several processes: there the router
serialises the writes of such collections through one worker and checks every worker's index
first (:meth:`lumadb.service.routed.ShardRouter`), and this per-process check stays as a second
line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType

from lumadb.catalog import IndexSpec
from lumadb.errors import StorageError, UniqueViolation
from lumadb.storage import keys
from lumadb.storage.faults import FAULTS
from lumadb.storage.shard import Shard

__all__ = ["UniqueGuard", "first_duplicate", "shown_values", "split_entry"]


def shown_values(index: IndexSpec, packed: bytes) -> str:
    """``(a, b) = (1, 'x')`` for an index's paths and a packed tuple of values."""
    values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in keys.unpack(packed)]
    paths = [".".join(p) for p in index.paths]
    if len(paths) == 1:
        return f"{paths[0]} = {values[0]!r}"
    return f"({', '.join(paths)}) = ({', '.join(repr(v) for v in values)})"


class UniqueGuard:
    """One unique index's writers, one at a time in this process, and their claims."""

    def __init__(self, collection: str, index: IndexSpec, shards: list[Shard]) -> None:
        self.collection = collection
        self.index = index
        self.number = index.number
        self._entries = keys.index_prefix(index.number)
        self._shards = shards
        self._lock = threading.Lock()
        self._unguarded = FAULTS.unique_unguarded  # the canary: no lock, so writers race
        self._owner: int | None = None
        self._claimed: dict[bytes, str] = {}  # this operation's claims: values -> id
        self._released: set[tuple[bytes, str]] = set()  # and the entries it removed

    def __enter__(self) -> UniqueGuard:
        if not self._unguarded:
            self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._claimed.clear()
        self._released.clear()
        self._owner = None
        if not self._unguarded:
            self._lock.release()

    def holders(self, packed: bytes) -> list[str]:
        """Ids whose entry holds the packed values, in every shard of this process."""
        start = self._entries + packed
        found = []
        for shard in self._shards:
            for key, _ in shard.scan(start, keys.prefix_end(start)):
                found.append(key[len(start) :].decode())
        return found

    def release(self, packed: bytes, doc_id: str) -> None:
        """The operation's write of ``doc_id`` removes its entry for these values."""
        if self._owner != threading.get_ident():
            return  # a delete outside an operation that claims: nothing to remember
        self._released.add((packed, doc_id))
        if self._claimed.get(packed) == doc_id:
            del self._claimed[packed]

    def claim(self, packed: bytes, doc_id: str) -> None:
        """Give ``doc_id`` these values, or raise :class:`UniqueViolation` naming the holder."""
        if self._owner != threading.get_ident() and not self._unguarded:
            raise StorageError(f"a write of {self.collection} skipped its unique index's guard")
        holder = None if self._unguarded else self._claimed.get(packed)
        if holder is None:
            holder = next(
                (
                    i
                    for i in self.holders(packed)
                    if i != doc_id and (packed, i) not in self._released
                ),
                None,
            )
        if self._unguarded:  # the canary: what other threads claim goes unseen meanwhile
            threading.Event().wait(0.001)
        if holder is not None and holder != doc_id:
            raise UniqueViolation(
                f"{self.collection}: {shown_values(self.index, packed)} is already held by "
                f"document {holder!r} (unique index {self.index.name!r})"
            )
        self._claimed[packed] = doc_id


def split_entry(entry: bytes, prefix: bytes, index: IndexSpec) -> tuple[bytes, str]:
    """An index entry key as ``(packed values, document id)``."""
    rest = entry[len(prefix) :]
    cut = 0
    for _ in index.paths:
        cut += keys.packed_length(rest[cut:])
    return rest[:cut], rest[cut:].decode()


def first_duplicate(
    pairs: Iterable[tuple[bytes, str]], index: IndexSpec
) -> tuple[str, str, str] | None:
    """The first values held by two documents among ``(packed values, id)`` pairs in order
    (so equal values are neighbours): ``(values shown, one id, another id)``, or ``None``."""
    last: tuple[bytes, str] | None = None
    for packed, doc_id in pairs:
        if last is not None and last[0] == packed and last[1] != doc_id:
            return shown_values(index, packed), last[1], doc_id
        last = (packed, doc_id)
    return None

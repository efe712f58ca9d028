"""UNIQUE indexes across the workers of a node: one worker checks and claims every value.

Within a process a unique index's hooks check each write under one guard
(:mod:`lumadb.service.unique`); a served node with several workers spreads a collection's
shards over several processes, so no process alone can tell whether a value is free. There,
every write that carries documents of a collection with a unique index goes through
:class:`UniqueGate` on worker :data:`GATE_SLOT`: it takes the values the write would claim
(one claim per unique index and document, for the documents as the write leaves them), waits
until no other write holds any of them, asks every worker which documents hold them now,
refuses the write with :class:`~lumadb.errors.UniqueViolation` if another document does (one
this same write moves off the values does not count), and otherwise runs the write and
returns once it is durable, holding the values until then. Writes claiming different values
run side by side; writes of collections without unique indexes never come here.

A write that a worker had started before the index was made (its catalog not yet having the
index) is not checked by the gate, only by its own shard's hooks; ``CREATE UNIQUE INDEX``
checks the stored documents of every worker after every worker has taken the index in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lumadb.catalog import IndexSpec
from lumadb.errors import UniqueViolation
from lumadb.service.indexes import index_value
from lumadb.service.unique import shown_values
from lumadb.storage import keys

if TYPE_CHECKING:
    from lumadb.service.routed import ShardRouter

__all__ = ["GATE_SLOT", "UniqueGate"]

GATE_SLOT = 0

Write = tuple[str, str, Any]  # collection, id, document (None: deleted)
Claim = tuple[tuple[str, str, bytes], IndexSpec, tuple[Any, ...], str]  # key, index, values, id


def writes_of(op: str, args: tuple[Any, ...]) -> list[Write]:
    """The documents a router write ``op(*args)`` leaves, last write of an id winning."""
    if op in ("put", "put_if"):
        found = [(args[0], args[1], args[2])]
    elif op == "insert":
        collection, doc, generated = args
        given = doc.get("id") if isinstance(doc, dict) else None
        found = [(collection, generated or given, doc)]
    elif op == "put_many":
        found = [(args[0], *pair) for pair in args[1] if len(pair) == 2]
    else:  # commit
        found = [(w[0], w[1], w[2]) for w in args[0]]
    last = {(c, i): (c, i, d) for c, i, d in found if isinstance(i, str)}
    return list(last.values())


class UniqueGate:
    """Serialises the node's writes by the unique values they claim (worker 0 runs it)."""

    def __init__(self, router: ShardRouter) -> None:
        self._router = router
        self._held: dict[tuple[str, str, bytes], asyncio.Event] = {}

    def applies(self, collections: Iterable[str]) -> bool:
        """Whether a write of these collections must pass the gate."""
        router = self._router
        local = router.local
        return router.workers > 1 and any(local.unique_indexes(c) for c in collections)

    async def run(self, op: str, *args: Any) -> Any:
        """The router write ``op(*args)``, through the gate worker."""
        router = self._router
        if router.slot != GATE_SLOT:
            return await router.peer(GATE_SLOT).call("unique_write", op, *args)
        return await self.serve(op, *args)

    async def serve(self, op: str, *args: Any) -> Any:
        """Check and run ``op(*args)`` here, on the gate worker."""
        writes = writes_of(op, args)
        claims = self._claims(writes)
        held = sorted({c[0] for c in claims})
        await self._acquire(held)
        try:
            await self._check(writes, claims)
            return await self._router.unchecked(op, *args)
        finally:
            for key in held:
                self._held.pop(key).set()

    def _claims(self, writes: list[Write]) -> list[Claim]:
        local = self._router.local
        claims: list[Claim] = []
        for collection, doc_id, doc in writes:
            if not isinstance(doc, dict):
                continue  # a delete claims nothing; a bad document fails in the write
            for index in local.unique_indexes(collection):
                values = tuple(index_value(doc, path) for path in index.paths)
                if None not in values:
                    key = (collection, index.name, keys.pack(values))
                    claims.append((key, index, values, doc_id))
        return claims

    async def _acquire(self, held: list[tuple[str, str, bytes]]) -> None:
        for key in held:  # in order, so two writes never wait for each other
            while key in self._held:
                await self._held[key].wait()
            self._held[key] = asyncio.Event()

    async def _check(self, writes: list[Write], claims: list[Claim]) -> None:
        written = {(c, i): d for c, i, d in writes}
        claimed: dict[tuple[str, str, bytes], str] = {}
        for key, index, values, doc_id in claims:
            collection, _, packed = key
            other = claimed.setdefault(key, doc_id)
            holders = [other] if other != doc_id else []
            if not holders:
                found = await self._router.every_worker(
                    "unique_holders", collection, index.name, list(values)
                )
                for holder in (h for part in found for h in part):
                    if holder == doc_id:
                        continue
                    if (collection, holder) in written:  # moved off the values here?
                        after = written[(collection, holder)]
                        kept = tuple(index_value(after, p) for p in index.paths)
                        if not isinstance(after, dict) or kept != values:
                            continue
                    holders.append(holder)
            if holders:
                raise UniqueViolation(
                    f"{collection}: {shown_values(index, packed)} is already held by "
                    f"document {holders[0]!r} (unique index {index.name!r})"
                )

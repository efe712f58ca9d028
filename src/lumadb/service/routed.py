"""Documents across the node's shard workers: run here what this worker owns, ask the rest.

A served node runs one worker process per core, each owning some shards exclusively
(:mod:`lumadb.server.slots`). :class:`ShardRouter` is what the HTTP handlers call: it finds
the shard of a document (from the collection's key prefix and the id, as the storage layer
does), and either runs the operation on the local :class:`LocalService` or sends it to the
owning worker over a :class:`Peer` channel. Scans ask every worker for pages and merge them
in id order. The cluster will extend the same seam: an owner then is a node, not a process.

Writes run through :meth:`ShardRouter.write`, which returns once the write is durable per
the shard's mode, on whichever worker ran it: a forwarded write is acknowledged only after
its owner's WAL sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import operator
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from lumadb.errors import InvalidArgument, InvalidId, Unavailable
from lumadb.service import Document, ScanRange
from lumadb.service.gate import UniqueGate
from lumadb.service.ids import new_id
from lumadb.service.local import LocalService, deferred_durability

__all__ = ["PAGE", "Peer", "ShardRouter", "wait_on"]

T = TypeVar("T")
PAGE = 256  # rows a scan asks each worker for at a time
_first = operator.itemgetter(0)
_ABSENT: Any = object()


class Peer(Protocol):
    """A channel to another worker (:class:`lumadb.server.peers.PeerClient`)."""

    async def call(self, op: str, *args: Any) -> Any:
        """``op(*args)`` on the peer; its errors arrive as the same LumaError classes."""
        ...


Row = tuple[str, Document]


def wait_on(loop: asyncio.AbstractEventLoop, work: Awaitable[T]) -> T:
    """Run ``work`` on ``loop`` (another thread's) and wait for its result here."""

    async def run() -> T:
        return await work

    return asyncio.run_coroutine_threadsafe(run(), loop).result()


class ShardRouter:
    """The node's documents, seen from worker ``slot`` of ``workers``."""

    def __init__(
        self,
        local: LocalService,
        executor: Executor,
        *,
        slot: int = 0,
        workers: int = 1,
        peers: Mapping[int, Peer] | None = None,
    ) -> None:
        self.local = local
        self.executor = executor
        self.slot = slot
        self.workers = workers
        self.peers = dict(peers or {})
        self._always = local.settings.storage.durability == "always"
        self._extra_reads: dict[str, Callable[..., Any]] = {}
        self._extra_waits: dict[str, Callable[..., Awaitable[Any]]] = {}
        self.gate = UniqueGate(self)
        self._shard_of = local.shard_of
        self._locate = local.locate
        self._get_stored_at = local.get_stored_at

    # --- running here ------------------------------------------------------------------------

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread (argon2, fsync-per-write)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the local write ``fn(*args)`` and return once it is durable.

        In ``group`` mode the write runs right here on the event loop and its wait for the
        shared sync is awaited, not slept in a thread: a thousand concurrent requests share
        one WAL sync and one wake-up. ``always`` syncs per write, so it goes to a thread.
        """
        if self._always:
            return await self.blocking(fn, *args)
        with deferred_durability() as pending:
            result = fn(*args)
        for syncer in pending:
            await syncer.wait_async()
        return result

    # --- where things live -------------------------------------------------------------------

    def owner(self, collection: str, doc_id: str) -> int:
        """The slot owning a document's shard."""
        return self._shard_of(collection, doc_id) % self.workers

    def peer(self, slot: int) -> Peer:
        """The channel to worker ``slot``."""
        return self._peer(slot)

    def _peer(self, slot: int) -> Peer:
        peer = self.peers.get(slot)
        if peer is None:
            raise Unavailable(f"worker {slot} of this node cannot be reached")
        return peer

    def local_handlers(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        """What peers may ask this worker that waits (writes wait for their WAL sync)."""
        svc = self.local
        return {
            "put": functools.partial(self.write, svc.put),
            "put_if": functools.partial(self.write, svc.put_if),
            "insert": functools.partial(self.write, svc.insert),
            "delete": functools.partial(self.write, svc.delete),
            "put_many": functools.partial(self.write, svc.put_many),
            "commit": functools.partial(self.write, svc.commit),
            "unique_write": self.gate.serve,
            "vector_search": functools.partial(self.blocking, svc.vector_search),
            **self._extra_waits,
        }

    def local_reads(self) -> dict[str, Callable[..., Any]]:
        """What peers may ask this worker that answers at once (reads of its shards)."""
        svc = self.local
        return {
            "get_stored": svc.get_stored,
            "get_versioned": svc.get_versioned,
            "get_many": svc.get_many,
            "scan_page": self._scan_page,
            "index_ids": svc.index_ids,
            "index_range": svc.index_range,
            "text_ids": svc.text_ids,
            "index_match": svc.index_match,
            "text_stats": svc.text_stats,
            "stats": self._stats,
            "purge_expired": svc.purge_expired,
            "unique_holders": svc.unique_holders,
            "unique_entries": svc.unique_entries,
            **self._extra_reads,
        }

    def serve(self, op: str, fn: Callable[..., Any]) -> None:
        """Let peers ask this worker ``op`` (answered at once by ``fn``), e.g. its metrics."""
        self._extra_reads[op] = fn

    def serve_async(self, op: str, fn: Callable[..., Awaitable[Any]]) -> None:
        """Let peers ask this worker ``op``, answered by the coroutine function ``fn``."""
        self._extra_waits[op] = fn

    async def read_on(self, slot: int, op: str, *args: Any) -> Any:
        """Run the read ``op`` (of :meth:`local_reads`) on worker ``slot``."""
        if slot == self.slot:
            return self.local_reads()[op](*args)
        return await self._peer(slot).call(op, *args)

    async def on(self, slot: int, op: str, *args: Any) -> Any:
        """Run ``op`` (registered with :meth:`serve_async`) on worker ``slot``."""
        if slot == self.slot:
            return await self._extra_waits[op](*args)
        return await self._peer(slot).call(op, *args)

    # --- one document -------------------------------------------------------------------------

    async def get_stored(self, collection: str, doc_id: str) -> tuple[bytes, int] | None:
        """A document's stored JSON and version, or ``None``."""
        shard, key = self._locate(collection, doc_id)  # the hottest read: one key encoding
        slot = shard % self.workers
        if slot == self.slot:
            return self._get_stored_at(key)
        found = await self._peer(slot).call("get_stored", collection, doc_id)
        return None if found is None else (found[0], found[1])

    async def get_versioned(self, collection: str, doc_id: str) -> tuple[Document, int] | None:
        """A document and its version, or ``None``."""
        slot = self.owner(collection, doc_id)
        if slot == self.slot:
            return self.local.get_versioned(collection, doc_id)
        found = await self._peer(slot).call("get_versioned", collection, doc_id)
        return None if found is None else (found[0], found[1])

    async def _write(self, op: str, slot: int, *args: Any) -> Any:
        if slot == self.slot:
            return await self.write(getattr(self.local, op), *args)
        return await self._peer(slot).call(op, *args)

    async def put(self, collection: str, doc_id: str, doc: Document) -> None:
        """Create or replace a document."""
        if self.gate.applies((collection,)):
            await self.gate.run("put", collection, doc_id, doc)
        else:
            await self._write("put", self.owner(collection, doc_id), collection, doc_id, doc)

    async def _put(self, collection: str, doc_id: str, doc: Document) -> None:
        await self._write("put", self.owner(collection, doc_id), collection, doc_id, doc)

    async def put_if(self, collection: str, doc_id: str, doc: Document, version: int | None) -> int:
        """Replace a document only at ``version`` (``None``: only if absent)."""
        if self.gate.applies((collection,)):
            return int(await self.gate.run("put_if", collection, doc_id, doc, version))
        return await self._put_if(collection, doc_id, doc, version)

    async def _put_if(
        self, collection: str, doc_id: str, doc: Document, version: int | None
    ) -> int:
        slot = self.owner(collection, doc_id)
        return int(await self._write("put_if", slot, collection, doc_id, doc, version))

    async def insert(self, collection: str, doc: Document) -> str:
        """Create a document; returns its id (given in ``doc`` or generated)."""
        given = doc.get("id", _ABSENT) if isinstance(doc, dict) else _ABSENT
        if given is not _ABSENT and not isinstance(given, str):
            raise InvalidId(f"the 'id' field must be a string, not {type(given).__name__}")
        generated = new_id() if given is _ABSENT else None
        if self.gate.applies((collection,)):
            return str(await self.gate.run("insert", collection, doc, generated))
        return await self._insert(collection, doc, generated)

    async def _insert(self, collection: str, doc: Document, generated: str | None) -> str:
        if generated is not None:
            slot = self.owner(collection, generated)
            return str(await self._write("insert", slot, collection, doc, generated))
        given = str(doc["id"])
        return str(await self._write("insert", self.owner(collection, given), collection, doc))

    async def unchecked(self, op: str, *args: Any) -> Any:
        """The write ``op(*args)`` without passing the unique gate (the gate runs it)."""
        return await getattr(self, f"_{op}")(*args)

    async def delete(self, collection: str, doc_id: str, version: int | None = None) -> bool:
        """Delete a document (only at ``version`` when given); returns whether it existed."""
        slot = self.owner(collection, doc_id)
        return bool(await self._write("delete", slot, collection, doc_id, version))

    # --- many documents -------------------------------------------------------------------------

    def _by_owner(self, collection: str, ids: Iterable[str]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for pos, doc_id in enumerate(ids):
            groups.setdefault(self.owner(collection, doc_id), []).append(pos)
        return groups

    async def commit(self, writes: list[tuple[str, str, Document | None, int]]) -> int:
        """A transaction's writes, by the worker owning each document's shard.

        One worker's part is all or none (:meth:`LocalService.commit`); the parts go to their
        workers in slot order, each once the one before has committed, so a conflict found by
        a later worker leaves the earlier parts committed.
        """
        if self.gate.applies({w[0] for w in writes if isinstance(w[0], str)}):
            return int(await self.gate.run("commit", writes))
        return await self._commit(writes)

    async def _commit(self, writes: list[tuple[str, str, Document | None, int]]) -> int:
        parts: dict[int, list[tuple[str, str, Document | None, int]]] = {}
        for write in writes:
            parts.setdefault(self.owner(write[0], write[1]), []).append(write)
        done = 0
        for slot, part in sorted(parts.items()):
            if slot == self.slot:
                done += await self.write(self.local.commit, part)
            else:
                done += await self._peer(slot).call("commit", part)
        return done

    async def get_many(self, collection: str, ids: list[str]) -> list[Document | None]:
        """Documents in the order of ``ids``; each worker asked once, all at once."""
        groups = self._by_owner(collection, ids)
        out: list[Document | None] = [None] * len(ids)

        async def fetch(slot: int, positions: list[int]) -> None:
            wanted = [ids[p] for p in positions]
            if slot == self.slot:
                found = self.local.get_many(collection, wanted)
            else:
                found = await self._peer(slot).call("get_many", collection, wanted)
            for pos, doc in zip(positions, found, strict=True):
                out[pos] = doc

        await asyncio.gather(*(fetch(s, p) for s, p in groups.items()))
        return out

    async def put_many(self, collection: str, pairs: list[tuple[str, Document]]) -> int:
        """Write many documents: each worker's part in one call (atomic per shard)."""
        for doc_id, _ in pairs:
            if not isinstance(doc_id, str):
                raise InvalidId(f"ids must be strings, not {type(doc_id).__name__}")
        if self.gate.applies((collection,)):
            return int(await self.gate.run("put_many", collection, pairs))
        return await self._put_many(collection, pairs)

    async def _put_many(self, collection: str, pairs: list[tuple[str, Document]]) -> int:
        groups = self._by_owner(collection, [i for i, _ in pairs])
        if len(groups) == 1 and self.slot in groups:
            return int(await self.write(self.local.put_many, collection, pairs))
        parts = [
            self._write("put_many", slot, collection, [pairs[p] for p in positions])
            for slot, positions in groups.items()
        ]
        return sum(await asyncio.gather(*parts))

    async def every_worker(self, op: str, *args: Any) -> list[Any]:
        """The read ``op(*args)`` (of :meth:`local_reads`, a method of the local service)
        answered by every worker, in slot order."""
        return await self._every_worker(op, *args)

    async def _every_worker(self, op: str, *args: Any) -> list[Any]:
        """The read ``op(*args)`` (a method of the local service) answered by every worker."""

        async def ask(slot: int) -> Any:
            if slot == self.slot:
                return getattr(self.local, op)(*args)
            return await self._peer(slot).call(op, *args)

        return list(await asyncio.gather(*(ask(s) for s in range(self.workers))))

    async def _ids(self, op: str, *args: Any) -> list[str] | None:
        mine = getattr(self.local, op)(*args)
        if mine is None:
            return None  # no index here, where the node's catalog is too: no need to ask
        others = [s for s in range(self.workers) if s != self.slot]
        parts = [mine, *await asyncio.gather(*(self._peer(s).call(op, *args) for s in others))]
        if any(p is None for p in parts):
            return None  # a worker has not taken the index in yet: scan instead
        return sorted(i for part in parts for i in part)

    async def index_ids(self, collection: str, path: list[str], value: Any) -> list[str] | None:
        """Ids by the index on ``path`` from every worker, in id order (None: no index)."""
        if self.workers == 1:
            return self.local.index_ids(collection, path, value)
        return await self._ids("index_ids", collection, path, value)

    async def index_range(self, collection: str, path: list[str], *bounds: Any) -> list[str] | None:
        """Ids by a range on the index on ``path`` from every worker (None: not answerable)."""
        if self.workers == 1:
            return self.local.index_range(collection, path, *bounds)
        return await self._ids("index_range", collection, path, *bounds)

    async def index_match(
        self, collection: str, equalities: list[tuple[list[str], Any]]
    ) -> list[str] | None:
        """Ids by the index covering the most of ``equalities``, from every worker."""
        if self.workers == 1:
            return self.local.index_match(collection, equalities)
        return await self._ids("index_match", collection, equalities)

    async def text_ids(self, collection: str, path: list[str], words: str) -> list[str] | None:
        """Ids holding every term of ``words`` by the text index on ``path``, every worker."""
        if self.workers == 1:
            return self.local.text_ids(collection, path, words)
        return await self._ids("text_ids", collection, path, words)

    async def vector_search(
        self,
        collection: str,
        path: list[str],
        vector: list[float],
        k: int,
        allowed: list[str] | None = None,
        operator: str | None = None,
    ) -> list[tuple[float, str]] | None:
        """The ``k`` nearest by the vector index on ``path``, from every worker's shards
        (None: no such index). Each worker searches on a thread: a first search builds."""
        args = (collection, path, vector, k, allowed, operator)

        async def ask(slot: int) -> Any:
            if slot == self.slot:
                return await self.blocking(self.local.vector_search, *args)
            return await self._peer(slot).call("vector_search", *args)

        parts = await asyncio.gather(*(ask(s) for s in range(self.workers)))
        if any(p is None for p in parts):
            return None  # a worker has no such index (yet): the documents answer
        found = sorted((float(d), str(i)) for part in parts for d, i in part)
        return found[:k]

    async def text_stats(
        self, collection: str, path: list[str], terms: list[str]
    ) -> list[dict[str, Any] | None]:
        """Every worker's BM25 figures of the text index on ``path`` (None: it has none)."""
        if self.workers == 1:
            return [self.local.text_stats(collection, path, terms)]
        return await self._every_worker("text_stats", collection, path, terms)

    # --- scans -------------------------------------------------------------------------------

    def _scan_page(
        self,
        collection: str,
        prefix: str | None,
        start: str | None,
        end: str | None,
        limit: int,
        reverse: bool,
    ) -> list[Row]:
        rows = self.local.scan(collection, ScanRange(prefix, start, end, limit, reverse))
        return list(rows)

    async def _page(self, slot: int, collection: str, rng: ScanRange, size: int) -> list[Row]:
        args = (collection, rng.prefix, rng.start, rng.end, size, rng.reverse)
        if slot == self.slot:
            return self._scan_page(*args)
        rows = await self._peer(slot).call("scan_page", *args)
        return [(row[0], row[1]) for row in rows]

    async def page(self, slot: int, collection: str, rng: ScanRange, size: int) -> list[Row]:
        """Up to ``size`` rows of the shards worker ``slot`` owns, in id order."""
        return await self._page(slot, collection, rng, size)

    async def scan(self, collection: str, rng: ScanRange) -> AsyncGenerator[list[Row], None]:
        """Rows in id order (reversed with ``rng.reverse``), in chunks, merged across workers.

        Each worker is asked for a page at a time; a chunk holds only rows no worker can
        still precede, so the chunks concatenate into one ordered stream. Pages are read one
        after another, not from one snapshot: a document written meanwhile may or may not
        be seen, as with any cursor over live data.
        """
        limit = rng.limit
        if limit is not None and (type(limit) is not int or limit < 0):
            raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
        self.local.describe_collection(collection)  # a missing collection fails here
        slots = list(range(self.workers))
        ranges = dict.fromkeys(slots, rng)
        buffers: dict[int, list[Row]] = {slot: [] for slot in slots}
        done: set[int] = set()
        remaining = limit
        while remaining is None or remaining > 0:
            empty = [s for s in slots if not buffers[s] and s not in done]
            size = PAGE if remaining is None else min(PAGE, remaining)
            pages = await asyncio.gather(
                *(self._page(s, collection, ranges[s], size) for s in empty)
            )
            for slot, page in zip(empty, pages, strict=True):
                buffers[slot] = page
                if len(page) < size:
                    done.add(slot)
                elif rng.reverse:
                    ranges[slot] = replace(ranges[slot], end=page[-1][0])
                else:  # the next key after id is id + NUL
                    ranges[slot] = replace(ranges[slot], start=page[-1][0] + "\x00")
            chunk = _safe_chunk(buffers, done, rng.reverse)
            if not chunk:
                return
            if remaining is not None:
                chunk = chunk[:remaining]
                remaining -= len(chunk)
            yield chunk

    # --- the node ------------------------------------------------------------------------------

    def _stats(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = self.local.stats()["shards"]
        return shards

    async def ask_all(self, op: str, timeout: float = 2.0) -> dict[int, Any]:
        """``op`` answered by every worker (this one included), by slot; ``None`` when a
        worker does not answer within ``timeout``."""
        out: dict[int, Any] = dict.fromkeys(range(self.workers))

        async def ask(slot: int) -> None:
            if slot == self.slot:
                out[slot] = self.local_reads()[op]()
                return
            with contextlib.suppress(Unavailable, TimeoutError):  # stays None: not answering
                out[slot] = await asyncio.wait_for(self._peer(slot).call(op), timeout)

        await asyncio.gather(*(ask(s) for s in range(self.workers)))
        return out

    async def shard_stats(self, timeout: float = 2.0) -> dict[int, dict[str, Any] | None]:
        """Figures of every shard of the node by id; ``None`` for a worker not answering."""
        out: dict[int, dict[str, Any] | None] = dict.fromkeys(range(self.local.store.shard_count))
        for rows in (await self.ask_all("stats", timeout)).values():
            for row in rows or ():
                out[row["shard"]] = row
        return out


def _safe_chunk(buffers: dict[int, list[Row]], done: set[int], reverse: bool) -> list[Row]:
    """Take from the buffers every row that no unfetched row can come before."""
    pending = [rows[-1][0] for slot, rows in buffers.items() if slot not in done and rows]
    if pending:
        bound = max(pending) if reverse else min(pending)
        keep: Callable[[Row], bool] = (
            (lambda row: row[0] >= bound) if reverse else (lambda row: row[0] <= bound)
        )
    else:
        keep = lambda row: True  # noqa: E731 - every worker has sent its last page
    parts = []
    for slot, rows in buffers.items():
        taken = list(itertools.takewhile(keep, rows))
        buffers[slot] = rows[len(taken) :]
        parts.append(taken)
    return list(heapq.merge(*parts, key=_first, reverse=reverse))

"""Two shard workers in one test process: routing, merged scans, shared records, a dead peer.

Each "worker" is a :class:`LocalService` owning half of four shards of one data directory,
a :class:`ShardRouter` and a :class:`PeerServer` on its own abstract socket, exactly as
``luma serve`` wires them in separate processes (only the processes are missing).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lumadb.clock import SystemClock
from lumadb.config import load_settings
from lumadb.errors import (
    CollectionNotFound,
    DocumentExists,
    InvalidId,
    Unavailable,
    VersionMismatch,
)
from lumadb.server.peers import PeerClient, PeerServer
from lumadb.service import ScanRange
from lumadb.service.accounts import AccountStore
from lumadb.service.local import LocalService
from lumadb.service.routed import PAGE, ShardRouter
from lumadb.storage.datadir import DirLock

WORKERS = 2
SHARDS = 4


@dataclass
class Worker:
    service: LocalService
    router: ShardRouter
    server: PeerServer
    executor: ThreadPoolExecutor


def _settings(data: Path) -> Any:
    return load_settings(
        env={},
        overrides={"storage.data_dir": str(data), "storage.shards": SHARDS},
    )


@asynccontextmanager
async def _node(tmp_path: Path) -> AsyncIterator[list[Worker]]:
    data = tmp_path / "data"
    settings = _settings(data)
    LocalService(str(data), settings).close()  # creates the manifest, as bootstrap does
    lock = DirLock(data)
    lock.acquire()  # the node process's part
    tag = os.urandom(4).hex()
    address = [f"\0lumadb-routed-{tag}-{slot}" for slot in range(WORKERS)]
    workers: list[Worker] = []
    try:
        for slot in range(WORKERS):
            owned = [s for s in range(SHARDS) if s % WORKERS == slot]
            service = LocalService(str(data), settings, SystemClock(), owned=owned, lock=False)
            executor = ThreadPoolExecutor(4)
            peers = {
                other: PeerClient(address[other], f"worker {other}")
                for other in range(WORKERS)
                if other != slot
            }
            router = ShardRouter(service, executor, slot=slot, workers=WORKERS, peers=peers)
            server = PeerServer(
                _refreshing(service, router.local_handlers()),
                address[slot],
                inline={op: _refreshed(service, fn) for op, fn in router.local_reads().items()},
            )
            await server.start()
            workers.append(Worker(service, router, server, executor))
        yield workers
    finally:
        for worker in workers:
            await worker.server.close()
            for peer in worker.router.peers.values():
                assert isinstance(peer, PeerClient)
                await peer.close()
            worker.executor.shutdown()
            worker.service.close()
        lock.release()


def _refreshing(
    service: LocalService, handlers: dict[str, Callable[..., Awaitable[Any]]]
) -> dict[str, Callable[..., Awaitable[Any]]]:
    def wrap(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(*args: Any) -> Any:
            service.refresh()
            return await fn(*args)

        return run

    return {op: wrap(fn) for op, fn in handlers.items()}


def _refreshed(service: LocalService, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        service.refresh()
        return fn(*args)

    return run


def _run(tmp_path: Path, body: Callable[[list[Worker]], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with _node(tmp_path) as workers:
            return await body(workers)

    return asyncio.run(main())


async def _scan_all(router: ShardRouter, collection: str, rng: ScanRange) -> list[str]:
    return [row[0] async for chunk in router.scan(collection, rng) for row in chunk]


def test_documents_written_through_one_worker_are_read_through_the_other(
    tmp_path: Path,
) -> None:
    async def body(workers: list[Worker]) -> None:
        a, b = workers[0].router, workers[1].router
        a.local.create_collection("c")
        ids = [f"d{i:03d}" for i in range(40)]
        owners = {a.owner("c", i) for i in ids}
        assert owners == {0, 1}  # both workers hold some: the test crosses workers
        for i in ids:
            await a.put("c", i, {"n": i})
        for i in ids:
            found = await b.get_versioned("c", i)
            assert found is not None
            assert found[0] == {"n": i}
        # each document lives only in its owner's shards
        for i in ids:
            mine = workers[a.owner("c", i)].service
            other = workers[1 - a.owner("c", i)].service
            assert mine.get_stored("c", i) is not None
            with pytest.raises(Unavailable):
                other.get_stored("c", i)

    _run(tmp_path, body)


def test_conditional_writes_and_their_errors_cross_the_wire(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a, b = workers[0].router, workers[1].router
        a.local.create_collection("c")
        remote = next(f"x{i}" for i in range(100) if a.owner("c", f"x{i}") == 1)
        version = await a.put_if("c", remote, {"v": 1}, None)
        with pytest.raises(DocumentExists):
            await a.put_if("c", remote, {"v": 2}, None)
        with pytest.raises(VersionMismatch):
            await a.put_if("c", remote, {"v": 2}, version + 1)
        stored = await b.get_stored("c", remote)
        assert stored is not None
        assert stored[1] == version
        assert await a.delete("c", remote, version) is True
        assert await a.delete("c", remote) is False
        with pytest.raises(InvalidId):
            await a.put("c", "", {"v": 1})
        with pytest.raises(CollectionNotFound):
            await a.get_stored("nope", remote)

    _run(tmp_path, body)


def test_inserted_ids_land_on_the_shard_they_hash_to(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a = workers[0].router
        a.local.create_collection("c")
        made = [await a.insert("c", {"n": n}) for n in range(30)]
        assert len(set(made)) == 30
        for doc_id in made:
            owner = workers[a.owner("c", doc_id)].service
            assert owner.get("c", doc_id) == {"n": made.index(doc_id)}
        given = await a.insert("c", {"id": "mine", "n": -1})
        assert given == "mine"
        with pytest.raises(DocumentExists):
            await a.insert("c", {"id": "mine"})

    _run(tmp_path, body)


def test_bulk_writes_and_reads_split_by_worker(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a, b = workers[0].router, workers[1].router
        a.local.create_collection("c")
        pairs = [(f"b{i:04d}", {"i": i}) for i in range(500)]
        assert await b.put_many("c", pairs) == 500
        ids = [i for i, _ in pairs] + ["absent"]
        found = await a.get_many("c", ids)
        assert found[:-1] == [doc for _, doc in pairs]
        assert found[-1] is None
        total = sum(w.service.count("c") for w in workers)
        assert total == 500
        assert all(w.service.count("c") > 0 for w in workers)

    _run(tmp_path, body)


def test_scans_merge_every_worker_in_id_order(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a = workers[0].router
        a.local.create_collection("c")
        ids = sorted(f"s{i:05d}" for i in range(PAGE * 3 + 17))  # several pages per worker
        await a.put_many("c", [(i, {"i": i}) for i in ids])
        assert await _scan_all(a, "c", ScanRange()) == ids
        assert await _scan_all(a, "c", ScanRange(reverse=True)) == ids[::-1]
        assert await _scan_all(a, "c", ScanRange(limit=300)) == ids[:300]
        assert await _scan_all(a, "c", ScanRange(limit=5)) == ids[:5]
        assert (
            await _scan_all(a, "c", ScanRange(limit=PAGE * 2, reverse=True))
            == (ids[::-1][: PAGE * 2])
        )
        assert await _scan_all(a, "c", ScanRange(start="s00100", end="s00700")) == [
            i for i in ids if "s00100" <= i < "s00700"
        ]
        assert await _scan_all(a, "c", ScanRange(prefix="s001")) == [
            i for i in ids if i.startswith("s001")
        ]
        assert await _scan_all(a, "c", ScanRange(limit=0)) == []

    _run(tmp_path, body)


def test_collections_made_or_dropped_by_one_worker_reach_the_other(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a, b = workers[0].router, workers[1].router
        a.local.create_collection("c")
        assert b.local.refresh() is True
        assert [c["name"] for c in b.local.list_collections()] == ["c"]
        await b.put_many("c", [(f"k{i}", {"i": i}) for i in range(50)])
        assert workers[1].service.count("c") > 0
        assert a.local.drop_collection("c") is True
        # the other worker removes its shards' part when it takes the change in
        assert b.local.refresh() is True
        assert b.local.list_collections() == []
        a.local.create_collection("c")
        b.local.refresh()
        assert workers[1].service.count("c") == 0
        assert await _scan_all(b, "c", ScanRange()) == []

    _run(tmp_path, body)


def test_account_changes_by_one_worker_reach_the_other(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        clock = SystemClock()
        first = AccountStore(workers[0].service, clock)
        second = AccountStore(workers[1].service, clock)
        first.create_user("ann", "hash-a", ["reader"])
        second.create_user("bob", "hash-b", ["writer"])  # from the record, not a stale copy
        first.reload()
        assert set(first.accounts.users) == {"ann", "bob"}
        assert workers[0].service.refresh() is True

    _run(tmp_path, body)


def test_a_dead_worker_fails_its_documents_and_only_those(tmp_path: Path) -> None:
    async def body(workers: list[Worker]) -> None:
        a = workers[0].router
        a.local.create_collection("c")
        ids = [f"d{i}" for i in range(40)]
        await a.put_many("c", [(i, {"i": i}) for i in ids])
        await workers[1].server.close()
        for peer in workers[0].router.peers.values():
            assert isinstance(peer, PeerClient)
            await peer.close()
        for i in ids:
            if a.owner("c", i) == 0:
                assert await a.get_versioned("c", i) is not None
            else:
                with pytest.raises(Unavailable):
                    await a.get_versioned("c", i)
        stats = await a.shard_stats(timeout=1.0)
        assert sorted(k for k, v in stats.items() if v is not None) == [0, 2]
        with pytest.raises(Unavailable):
            await _scan_all(a, "c", ScanRange())

    _run(tmp_path, body)

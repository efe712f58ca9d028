"""Durability modes: when a write is acknowledged, and what a failed sync does."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import lumadb
from lumadb.clock import SystemClock
from lumadb.errors import DurabilityError, ReadOnlyError, StorageError
from lumadb.storage.commit import deferred
from lumadb.storage.faults import FAULTS
from lumadb.storage.lsm.memory import MemoryEngine
from lumadb.storage.shard import Shard


class SlowSyncEngine(MemoryEngine):
    """A memory engine whose WAL sync takes time and can be made to fail."""

    def __init__(self, delay: float = 0.002) -> None:
        super().__init__()
        self.delay = delay
        self.fail_from: int | None = None

    def sync_wal(self) -> None:
        time.sleep(self.delay)  # releases the GIL like rocksdict's flush_wal
        if self.fail_from is not None and self.wal_syncs + 1 >= self.fail_from:
            raise StorageError("sync: Input/output error")
        self.wal_syncs += 1


def _shard(engine: MemoryEngine, mode: str) -> Shard:
    return Shard(0, engine, 1 << 20, mode, SystemClock())


def _hammer(shard: Shard, threads: int, per_thread: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        for i in range(per_thread):
            try:
                shard.put(b"d\x00\x00\x00\x01" + f"{t}-{i}".encode(), b"{}")
            except Exception as exc:
                errors.append(exc)
                return

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return errors


def test_always_syncs_once_per_write() -> None:
    engine = SlowSyncEngine(delay=0)
    shard = _shard(engine, "always")
    assert _hammer(shard, 4, 25) == []
    assert engine.wal_syncs == 100


def test_group_commit_shares_syncs_between_writers() -> None:
    engine = SlowSyncEngine(delay=0.003)
    shard = _shard(engine, "group")
    assert _hammer(shard, 16, 20) == []
    assert shard.seq == 320
    assert engine.wal_syncs < 320 / 3, "16 writers waiting on a slow sync must share it"
    assert shard.syncer.synced_writes == 320


def test_off_never_syncs() -> None:
    engine = SlowSyncEngine()
    shard = _shard(engine, "off")
    assert _hammer(shard, 2, 10) == []
    assert engine.wal_syncs == 0


@pytest.mark.parametrize("mode", ["always", "group"])
def test_failed_sync_is_never_acknowledged_and_turns_the_shard_read_only(mode: str) -> None:
    engine = SlowSyncEngine(delay=0.001)
    shard = _shard(engine, mode)
    shard.put(b"d\x00\x00\x00\x01ok", b"{}")
    engine.fail_from = engine.wal_syncs + 1
    with pytest.raises(DurabilityError, match="not acknowledged"):
        shard.put(b"d\x00\x00\x00\x01lost", b"{}")
    engine.fail_from = None  # even if the disk recovers, the shard stays read-only
    with pytest.raises(ReadOnlyError, match="read-only"):
        shard.put(b"d\x00\x00\x00\x01later", b"{}")
    with pytest.raises(ReadOnlyError):
        shard.delete(b"d\x00\x00\x00\x01ok")
    assert shard.get(b"d\x00\x00\x00\x01ok") is not None  # reads keep working
    assert shard.stats()["read_only"] == 1


def test_group_waiters_of_a_failed_sync_all_fail() -> None:
    engine = SlowSyncEngine(delay=0.002)
    shard = _shard(engine, "group")
    engine.fail_from = 1
    errors = _hammer(shard, 8, 5)
    assert len(errors) == 8
    assert all(isinstance(e, ReadOnlyError) for e in errors)


def test_canary_ignore_sync_errors_acknowledges_after_a_failed_sync() -> None:
    FAULTS.ignore_sync_errors = True
    engine = SlowSyncEngine(delay=0)
    shard = _shard(engine, "always")
    engine.fail_from = 1
    shard.put(b"d\x00\x00\x00\x01x", b"{}")  # the bug: acknowledged although the sync failed
    assert shard.syncer.failure is None


def test_durability_modes_through_the_api(engine: str, tmp_path: Any) -> None:
    for mode in ("always", "group", "off"):
        target = ":memory:" if engine == "memory" else str(tmp_path / mode)
        with lumadb.open(target, durability=mode, shards=1) as db:
            c = db.create_collection("c")
            for i in range(5):
                c.put(f"k{i}", {"i": i})
            syncs = db.stats()["shards"][0]["wal_syncs"]
            assert (syncs == 0) if mode == "off" else (1 <= syncs <= 5)


async def _async_writes(shard: Shard, count: int) -> None:
    async def one(i: int) -> None:
        with deferred() as pending:
            shard.put(b"d\x00\x00\x00\x01" + f"a-{i}".encode(), b"{}")
        assert pending == {shard.syncer}
        for syncer in pending:
            await syncer.wait_async()

    await asyncio.gather(*(one(i) for i in range(count)))


def test_async_waiters_share_syncs_without_blocking_the_loop() -> None:
    engine = SlowSyncEngine(delay=0.005)
    shard = _shard(engine, "group")
    asyncio.run(_async_writes(shard, 200))
    stats = shard.stats()
    assert stats["wal_synced_writes"] == 200
    # 200 writes made on one loop thread within a few syncs: none waited alone.
    assert stats["wal_syncs"] <= 10
    shard.syncer.close()


def test_a_deferred_write_is_not_acknowledged_before_its_sync() -> None:
    engine = SlowSyncEngine(delay=0.05)
    shard = _shard(engine, "group")

    async def run() -> tuple[int, int]:
        with deferred() as pending:
            shard.put(b"d\x00\x00\x00\x01x", b"{}")
        before = engine.wal_syncs
        await next(iter(pending)).wait_async()
        return before, engine.wal_syncs

    before, after = asyncio.run(run())
    assert after == before + 1
    shard.syncer.close()


def test_async_waiters_of_a_failed_sync_all_fail() -> None:
    engine = SlowSyncEngine(delay=0.002)
    shard = _shard(engine, "group")
    engine.fail_from = 1
    with pytest.raises(DurabilityError):
        asyncio.run(_async_writes(shard, 20))
    assert shard.syncer.failure is not None
    with pytest.raises(ReadOnlyError):
        shard.put(b"d\x00\x00\x00\x01z", b"{}")
    shard.syncer.close()

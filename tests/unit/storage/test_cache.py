"""L1: bounded, exact, and only filled by repeated reads."""

from __future__ import annotations

import threading

import lumadb
from lumadb.storage.cache import ENTRY_OVERHEAD, HotCache


def test_lru_stays_within_its_byte_budget() -> None:
    cache = HotCache(10 * (ENTRY_OVERHEAD + 12))
    for i in range(50):
        cache.put(f"key{i:03d}".encode(), b"v" * 6)
    assert cache.size <= cache.capacity
    assert len(cache) == 10
    assert cache.evictions == 40
    assert cache.get(b"key049") == b"vvvvvv"
    assert cache.get(b"key000") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_recently_used_entries_survive_eviction() -> None:
    cache = HotCache(3 * (ENTRY_OVERHEAD + 2))
    for k in (b"a", b"b", b"c"):
        cache.put(k, b"1")
    cache.get(b"a")
    cache.put(b"d", b"1")
    assert cache.peek(b"a") is not None
    assert cache.peek(b"b") is None


def test_replace_never_allocates_and_oversized_values_are_not_kept() -> None:
    cache = HotCache(1000)
    cache.replace(b"k", b"v")
    assert cache.peek(b"k") is None
    cache.put(b"k", b"v")
    cache.replace(b"k", b"w")
    assert cache.peek(b"k") == b"w"
    cache.put(b"k", b"x" * 2000)
    assert cache.peek(b"k") is None
    assert cache.size == 0


def test_discard_prefix() -> None:
    cache = HotCache(10_000)
    for k in (b"a1", b"a2", b"b1"):
        cache.put(k, b"v")
    cache.discard_prefix(b"a")
    assert len(cache) == 1
    assert cache.size == 2 + 1 + ENTRY_OVERHEAD


def test_l1_is_exact_under_concurrent_reads_and_writes(engine: str, tmp_path: object) -> None:
    target = ":memory:" if engine == "memory" else str(tmp_path) + "/d"
    with lumadb.open(target, shards=1, durability="off") as db:
        c = db.create_collection("c")
        keys = [f"k{i}" for i in range(8)]
        for k in keys:
            c.put(k, {"n": 0})
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                for k in keys:
                    c.get(k)

        readers = [threading.Thread(target=reader) for _ in range(3)]
        for r in readers:
            r.start()
        try:
            for n in range(1, 400):
                for k in keys:
                    c.put(k, {"n": n})
                    assert c.get(k) == {"n": n}
                if n % 50 == 0:
                    c.delete(keys[0])
                    assert c.get(keys[0]) is None
                    c.put(keys[0], {"n": n})
        finally:
            stop.set()
            for r in readers:
                r.join()
        assert db.stats()["l1_hits"] > 0

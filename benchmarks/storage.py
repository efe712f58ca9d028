"""Suite ``storage``: put / get / put_many / scan(100) of 1 KB JSON documents.

LumaDB (``durability="off"``, one shard) against raw rocksdict with the same options, SQLite
and LMDB, all acknowledging writes once they are in the OS page cache. Write tests start every
trial from a fresh empty store and write the same documents in the same order; read tests run on
stores loaded once with the same data, closed (flushing memtables), reopened and left to finish
compacting. Reads are repeated each round, so after the warm-up every store's caches hold them:
``get`` shows LumaDB serving from its L1 hot cache, ``get_l1_off`` the same data opened with
``hot_cache=0`` (served by RocksDB, like the peer).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from operator import methodcaller
from pathlib import Path

import orjson

from benchmarks.harness import (
    Progress,
    Rates,
    Report,
    Trial,
    alternate,
    rate,
    scratch_dir,
    settle,
    wait_until,
)
from benchmarks.peers import LmdbStore, RocksStore, SqliteStore
from benchmarks.stores import LumaStore, Opener, Store, luma_settings
from benchmarks.workload import Doc, DocumentMaker, Pair, unique_ids

__all__ = ["FULL", "QUICK", "Size", "run"]

SEED = 1_000_003
FIELDS, FIELD_CHARS = 10, 92  # about 1000 bytes of JSON per document
BATCH = 1000
SCAN = 100
PEERS = ("rocksdict", "sqlite", "lmdb")
OPERATIONS = ("put", "get", "put_many", "scan")
QUIET_TIMEOUT = 120.0

TARGETS: dict[str, float] = {
    **{f"{op}_vs_rocksdict": 0.8 for op in OPERATIONS},
    "get_l1_off_vs_rocksdict": 0.8,
    "put_vs_sqlite": 3.0,
    "put_many_vs_sqlite": 3.0,
}


@dataclass(frozen=True)
class Size:
    """How much one run does."""

    documents: int
    gets: int
    scans: int
    rounds: int


QUICK = Size(documents=25_000, gets=50_000, scans=1_000, rounds=5)
FULL = Size(documents=200_000, gets=200_000, scans=4_000, rounds=7)


@dataclass(frozen=True)
class Workload:
    """Every operation stream, generated before the first clock starts."""

    pairs: list[Pair]  # the put order
    batches: list[list[Pair]]  # the same pairs, BATCH at a time
    reads: list[str]  # random existing ids, repeats allowed
    starts: list[str]  # scan starts, each with at least SCAN ids from it on
    ordered: list[str]  # every id, sorted
    docs: dict[str, Doc]


def make_workload(size: Size, seed: int = SEED) -> Workload:
    """The seeded documents and operation streams for ``size``."""
    rng = random.Random(seed)
    ids = unique_ids(rng, size.documents)
    docs = DocumentMaker(rng).docs(size.documents, FIELDS, FIELD_CHARS)
    pairs = list(zip(ids, docs, strict=True))
    ordered = sorted(ids)
    startable = ordered[: len(ordered) - SCAN]
    return Workload(
        pairs=pairs,
        batches=[pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)],
        reads=[rng.choice(ids) for _ in range(size.gets)],
        starts=[rng.choice(startable) for _ in range(size.scans)],
        ordered=ordered,
        docs=dict(pairs),
    )


def _openers() -> dict[str, Opener]:
    settings = luma_settings(durability="off", shards=1)
    return {
        "luma": lambda path: LumaStore(path, settings),
        "rocksdict": lambda path: RocksStore(path, settings),
        "sqlite": lambda path: SqliteStore(path, settings),
        "lmdb": lambda path: LmdbStore(path, settings),
    }


def _check(name: str, store: Store, work: Workload, sample: int = 5) -> None:
    """Fail loudly unless ``store`` returns exactly the documents that were written."""
    for doc_id in work.ordered[:: max(1, len(work.ordered) // sample)]:
        if store.get(doc_id) != work.docs[doc_id]:
            raise RuntimeError(f"{name} returned a wrong document for {doc_id}")
    start = work.starts[0]
    at = work.ordered.index(start)
    got = store.scan(start, SCAN)
    expected = [(i, work.docs[i]) for i in work.ordered[at : at + SCAN]]
    if got != expected:
        raise RuntimeError(f"{name} returned a wrong scan from {start}")


def _write_trial(
    root: Path, name: str, opener: Opener, body: Callable[[Store], None], work: Workload
) -> Trial:
    """A trial writing the whole workload into a fresh empty store (opening is not timed)."""

    def trial() -> float:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        store = opener(path)
        try:
            result = rate(len(work.pairs), lambda: body(store))
            _check(name, store, work)
        finally:
            store.close()
            shutil.rmtree(path)
        return result

    return trial


def _writes(
    root: Path, openers: Mapping[str, Opener], work: Workload, rounds: int, say: Progress
) -> Rates:
    bodies = {
        "put": methodcaller("put_each", work.pairs),
        "put_many": methodcaller("put_batches", work.batches),
    }
    rates: Rates = {}
    for op, body in bodies.items():
        trials = {n: _write_trial(root, n, o, body, work) for n, o in openers.items()}
        say(f"{op} x {len(work.pairs)}, {rounds} rounds after a warm-up")
        measured = alternate(rounds, trials)
        say.rates(op, measured)
        rates |= {f"{op}:{n}": r for n, r in measured.items()}
    return rates


def _loaded(root: Path, name: str, opener: Opener, work: Workload) -> Store:
    """A store holding the workload, closed once (flushing memtables) and reopened."""
    path = root / f"read-{name}"
    path.mkdir()
    store = opener(path)
    store.put_batches(work.batches)
    store.close()
    store = opener(path)
    _check(name, store, work)
    return store


def _reads(
    root: Path, openers: Mapping[str, Opener], work: Workload, rounds: int, say: Progress
) -> Rates:
    readers = dict(openers)
    settings = luma_settings(durability="off", shards=1, hot_cache=0)
    readers["luma_l1_off"] = lambda path: LumaStore(path, settings)
    say(f"loading {len(work.pairs)} documents into each of {len(readers)} read stores")
    stores: dict[str, Store] = {}
    try:
        for name, opener in readers.items():
            stores[name] = _loaded(root, name, opener, work)
        # Reopening a large store starts a compaction; reads are measured once all are done.
        if not wait_until(lambda: all(s.quiet() for s in stores.values()), QUIET_TIMEOUT):
            say(f"compactions still pending after {QUIET_TIMEOUT:.0f} s; measuring anyway")
        return _measure_reads(stores, work, rounds, say)
    finally:
        for store in stores.values():
            store.close()


def _measure_reads(
    stores: Mapping[str, Store], work: Workload, rounds: int, say: Progress
) -> Rates:
    say(f"get x {len(work.reads)}, {rounds} rounds after two warm-ups")
    gets = {
        n: _read_trial(len(work.reads), partial(s.get_each, work.reads)) for n, s in stores.items()
    }
    # Two warm-up rounds: L1 admits a key on its second miss (a doorkeeper), so the second
    # pass over the stream is the first that leaves every key it reads cached.
    measured = alternate(rounds, gets, warmup=2)
    say.rates("get", measured)
    rates = {f"get:{n}": r for n, r in measured.items()}
    say(f"scan({SCAN}) x {len(work.starts)}, {rounds} rounds after a warm-up")
    scans = {
        n: _read_trial(len(work.starts), partial(s.scan_each, work.starts, SCAN))
        for n, s in stores.items()
        if n != "luma_l1_off"  # scans read RocksDB directly, never L1
    }
    measured = alternate(rounds, scans)
    say.rates("scan", measured)
    return rates | {f"scan:{n}": r for n, r in measured.items()}


def _read_trial(ops: int, loop: Callable[[], None]) -> Trial:
    return lambda: rate(ops, loop)


def _report(rates: Rates, work: Workload, size: Size, quick: bool) -> Report:
    report = Report("storage", TARGETS)
    for op in OPERATIONS:
        for peer in PEERS:
            report.add_ratio(f"{op}_vs_{peer}", rates, f"{op}:luma", f"{op}:{peer}")
    report.add_ratio("get_l1_off_vs_rocksdict", rates, "get:luma_l1_off", "get:rocksdict")
    for key, values in rates.items():
        op, name = key.split(":")
        unit = "scans_s" if op == "scan" else "docs_s"
        report.add_rates(op, {name: values}, unit)
    doc_bytes = sum(len(orjson.dumps(d)) for _, d in work.pairs[:1000]) / min(1000, len(work.pairs))
    report.figures |= {
        "documents": size.documents,
        "doc_bytes": doc_bytes,
        "rounds": size.rounds,
        "quick": int(quick),
    }
    report.packages("lumadb", "rocksdict", "orjson", "lmdb")
    report.versions["sqlite"] = sqlite3.sqlite_version
    return report


def run(quick: bool) -> Report:
    """Run the suite (``quick``: 25 k documents, 5 rounds; else 200 k documents, 7 rounds)."""
    size = QUICK if quick else FULL
    say = Progress("storage")
    work = make_workload(size)
    settle()
    openers = _openers()
    with scratch_dir("storage") as root:
        rates = _writes(root, openers, work, size.rounds, say)
        rates |= _reads(root, openers, work, size.rounds, say)
    say("done")
    return _report(rates, work, size, quick)

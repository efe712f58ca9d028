"""Suite ``storage``: put / get / put_many / scan(100) of 1 KB JSON documents.

LumaDB (``durability="off"``, one shard) against raw rocksdict with the same options, SQLite
and LMDB, all acknowledging writes once they are in the OS page cache. Write tests start every
round from fresh empty stores and write the same documents in the same order; read tests run on
stores loaded once with the same data, closed (flushing memtables), reopened and left to finish
compacting. Reads are repeated each round, so after the warm-up every store's caches hold them:
``get`` shows LumaDB serving from its L1 hot cache, ``get_l1_off`` the same data opened with
``hot_cache=0`` (served by RocksDB, like the peer).

Every operation stream is cut into chunks (1000 puts, one batch, 1000 gets, 40 scans) and the
contenders take turns chunk by chunk (:func:`benchmarks.harness.interleave`), so they are all
measured over the same seconds of a machine whose speed drifts.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from benchmarks.harness import (
    Progress,
    Rates,
    Report,
    interleave,
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
CHUNK = 1000  # puts or gets per interleaved chunk
SCAN_CHUNK = 40
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


QUICK = Size(documents=20_000, gets=40_000, scans=800, rounds=6)
FULL = Size(documents=200_000, gets=200_000, scans=4_000, rounds=9)


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


class _Writes:
    """A write trial: a fresh empty store each round, the workload written chunk by chunk."""

    def __init__(self, root: Path, name: str, opener: Opener, work: Workload, op: str) -> None:
        self._root, self._name, self._opener, self._work = root, name, opener, work
        self._store: Store | None = None
        self._path = root
        if op == "put":
            pairs = work.pairs
            self._units: list[list[Pair]] = [
                pairs[i : i + CHUNK] for i in range(0, len(pairs), CHUNK)
            ]
            self._run = "put_each"
        else:
            self._units = list(work.batches)
            self._run = "put_batches"
        self.ops = len(work.pairs)
        self.chunks = len(self._units)

    def start(self) -> None:
        """Open a fresh empty store (not timed)."""
        self._path = Path(tempfile.mkdtemp(prefix=f"{self._name}-", dir=self._root))
        self._store = self._opener(self._path)

    def chunk(self, index: int) -> None:
        """Write one chunk: CHUNK single puts, or one batch."""
        assert self._store is not None
        unit = self._units[index]
        if self._run == "put_each":
            self._store.put_each(unit)
        else:
            self._store.put_batches([unit])

    def finish(self) -> None:
        """Check every document came back, close and delete the store."""
        assert self._store is not None
        try:
            _check(self._name, self._store, self._work)
        finally:
            self._store.close()
            shutil.rmtree(self._path)
            self._store = None


def _writes(
    root: Path, openers: Mapping[str, Opener], work: Workload, rounds: int, say: Progress
) -> Rates:
    rates: Rates = {}
    for op in ("put", "put_many"):
        trials = {n: _Writes(root, n, o, work, op) for n, o in openers.items()}
        say(f"{op} x {len(work.pairs)}, {rounds} rounds after a warm-up, chunks interleaved")
        measured = interleave(rounds, trials)
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


class _Reads:
    """A read trial on a loaded store: the same gets (or scans) each round, chunk by chunk."""

    def __init__(self, store: Store, ops: list[str], chunk: int, scan: bool) -> None:
        self._store = store
        self._units = [ops[i : i + chunk] for i in range(0, len(ops), chunk)]
        self._scan = scan
        self.ops = len(ops)
        self.chunks = len(self._units)

    def start(self) -> None:
        """Nothing to prepare: the store stays open across rounds."""

    def chunk(self, index: int) -> None:
        """Read one chunk of the stream."""
        if self._scan:
            self._store.scan_each(self._units[index], SCAN)
        else:
            self._store.get_each(self._units[index])

    def finish(self) -> None:
        """Nothing to check per round (the store was checked when loaded)."""


def _measure_reads(
    stores: Mapping[str, Store], work: Workload, rounds: int, say: Progress
) -> Rates:
    say(f"get x {len(work.reads)}, {rounds} rounds after two warm-ups, chunks interleaved")
    gets = {n: _Reads(s, work.reads, CHUNK, scan=False) for n, s in stores.items()}
    # Two warm-up rounds: L1 admits a key on its second miss (a doorkeeper), so the second
    # pass over the stream is the first that leaves every key it reads cached.
    measured = interleave(rounds, gets, warmup=2)
    say.rates("get", measured)
    rates = {f"get:{n}": r for n, r in measured.items()}
    say(f"scan({SCAN}) x {len(work.starts)}, {rounds} rounds after a warm-up, chunks interleaved")
    scans = {
        n: _Reads(s, work.starts, SCAN_CHUNK, scan=True)
        for n, s in stores.items()
        if n != "luma_l1_off"  # scans read RocksDB directly, never L1
    }
    measured = interleave(rounds, scans)
    say.rates("scan", measured)
    return rates | {f"scan:{n}": r for n, r in measured.items()}


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
    """Run the suite (``quick``: 20 k documents, 6 rounds; else 200 k documents, 9 rounds)."""
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

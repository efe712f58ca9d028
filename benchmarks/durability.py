"""Suite ``durability``: group commit against an fsync per write, and that against the bare disk.

``group_vs_always``
    16 writer threads doing single puts of ~200-byte documents, for the same wall time, to LumaDB
    opened with ``durability="group"`` and with ``durability="always"``. One shard, so both modes
    are compared on one write-ahead log. A fresh data directory per trial.
``always_vs_raw_fsync``
    one writer in ``always`` mode against a single-thread loop of ``os.write`` (200 bytes) plus
    ``os.fdatasync`` on a fresh file in the same directory: the most durable writes per second
    this disk gives one thread, so the ratio is what LumaDB's write path costs on top.
``group_vs_off`` (reported, no target)
    the same 16 writers with ``durability="off"``: the rate with no sync at all, the ceiling
    group commit can approach. When the disk syncs fast, that ceiling (Python's cost per put
    and the hand-offs between threads) bounds ``group_vs_always``, not the disk.
``handoff_ceiling_vs_always`` (reported, no target)
    two Python threads passing control back and forth through a pair of locks, the cheapest
    wake-up one thread can give another: hand-offs per second ÷ ``always_16``. A writer that
    waits for a shared sync sleeps and is woken once per write, and the GIL lets one woken
    thread run at a time, so no group commit among threads can acknowledge more writes per
    second than this machine makes hand-offs; this ratio bounds ``group_vs_always`` from above.

A trial runs for a fixed time; its rate is the writes acknowledged within it divided by the time
until the last writer returned (a write in flight at the deadline counts, and so does its wait).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lumadb
from benchmarks.harness import (
    Progress,
    Rates,
    Report,
    Trial,
    alternate,
    scratch_dir,
    settle,
)
from benchmarks.stores import luma_settings
from benchmarks.workload import Doc, DocumentMaker

__all__ = ["FULL", "QUICK", "Size", "run"]

SEED = 2_000_003
WRITERS = 16
FIELDS, FIELD_CHARS = 2, 92  # about 200 bytes of JSON per document
DOC_POOL = 4096
RAW_PAYLOAD = b"r" * 200

TARGETS = {"group_vs_always": 10.0, "always_vs_raw_fsync": 0.8}


@dataclass(frozen=True)
class Size:
    """How long one run measures."""

    rounds: int
    seconds: float  # one 16-writer trial
    single_seconds: float  # one single-thread trial
    cap: int  # most writes one writer can do in a trial (its pre-generated stream)


QUICK = Size(rounds=5, seconds=1.2, single_seconds=0.6, cap=20_000)
FULL = Size(rounds=7, seconds=4.0, single_seconds=2.0, cap=50_000)

Stream = list[tuple[str, Doc]]


def make_streams(size: Size, seed: int = SEED) -> list[Stream]:
    """One pre-generated stream of ``(id, document)`` per writer; ids never repeat."""
    docs = DocumentMaker(random.Random(seed)).docs(DOC_POOL, FIELDS, FIELD_CHARS)
    return [
        [(f"w{w:02d}-{i:07d}", docs[(w * 7919 + i) % DOC_POOL]) for i in range(size.cap)]
        for w in range(WRITERS)
    ]


def drive(
    put: Callable[[str, Doc], object], streams: Sequence[Stream], seconds: float
) -> tuple[int, float]:
    """One thread per stream, all started together, putting until ``seconds`` have passed.

    Returns the acknowledged writes and the seconds until the last writer returned; a writer's
    exception is re-raised here.
    """
    counts = [0] * len(streams)
    errors: list[BaseException] = []
    clock = time.perf_counter
    times: dict[str, float] = {}

    def release() -> None:
        times["start"] = clock()

    gate = threading.Barrier(len(streams), action=release)

    def writer(slot: int, stream: Stream) -> None:
        gate.wait()
        deadline = times["start"] + seconds
        done = 0
        try:
            for doc_id, doc in stream:
                if clock() >= deadline:
                    break
                put(doc_id, doc)
                done += 1
        except BaseException as exc:
            errors.append(exc)
        counts[slot] = done

    threads = [threading.Thread(target=writer, args=(i, s)) for i, s in enumerate(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = clock() - times["start"]
    if errors:
        raise errors[0]
    return sum(counts), elapsed


@dataclass
class LumaWriters:
    """A trial: ``writers`` threads putting into a fresh LumaDB in one durability mode.

    Keeps, per trial, the average number of writes one WAL sync made durable.
    """

    root: Path
    mode: str
    streams: Sequence[Stream]
    seconds: float
    batch_sizes: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        """Run one trial; returns acknowledged writes per second."""
        path = Path(tempfile.mkdtemp(prefix=f"{self.mode}-", dir=self.root))
        db = lumadb.open(path, config=luma_settings(durability=self.mode, shards=1))
        try:
            docs = db.create_collection("durability")
            writes, elapsed = drive(docs.put, self.streams, self.seconds)
            shard = db.stats()["shards"][0]
            if docs.count() != writes:
                raise RuntimeError(f"{self.mode}: {writes} writes acknowledged, not all stored")
        finally:
            db.close()
            shutil.rmtree(path)
        self.batch_sizes.append(shard["wal_synced_writes"] / max(1, shard["wal_syncs"]))
        return writes / elapsed


def raw_fsync(root: Path, seconds: float) -> float:
    """Appends of 200 bytes, each followed by ``fdatasync``, to a fresh file; per second."""
    path = root / "raw-fsync.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        clock, write, sync = time.perf_counter, os.write, os.fdatasync
        done = 0
        start = clock()
        deadline = start + seconds
        while clock() < deadline:
            write(fd, RAW_PAYLOAD)
            sync(fd)
            done += 1
        elapsed = clock() - start
    finally:
        os.close(fd)
        path.unlink()
    return done / elapsed


def thread_handoffs(seconds: float) -> float:
    """Wake-ups per second between two threads taking turns through two locks."""
    ping, pong = threading.Lock(), threading.Lock()
    ping.acquire()
    pong.acquire()
    stop = threading.Event()
    rounds = 0

    def partner() -> None:
        while not stop.is_set():
            ping.acquire()
            pong.release()

    thread = threading.Thread(target=partner, daemon=True)
    thread.start()
    clock = time.perf_counter
    start = clock()
    deadline = start + seconds
    while clock() < deadline:
        ping.release()
        pong.acquire()
        rounds += 1
    elapsed = clock() - start
    stop.set()
    ping.release()
    thread.join()
    return 2 * rounds / elapsed


def _report(rates: Rates, group: LumaWriters, size: Size, quick: bool) -> Report:
    report = Report("durability", TARGETS)
    handoffs = rates.pop("thread_handoffs")
    report.add_ratio("group_vs_always", rates, "group_16", "always_16")
    report.add_ratio("always_vs_raw_fsync", rates, "always_1", "raw_fdatasync")
    report.add_ratio("group_vs_off", rates, "group_16", "off_16")
    report.add_ratio(
        "handoff_ceiling_vs_always", {**rates, "handoffs": handoffs}, "handoffs", "always_16"
    )
    report.add_rates("", rates, "writes_s")
    report.figures["thread_handoff_us"] = 1e6 / statistics.median(handoffs)
    measured = group.batch_sizes[-size.rounds :]  # the warm-up's come first
    report.figures |= {
        "group_writes_per_sync": statistics.median(measured),
        "writers": WRITERS,
        "trial_seconds": size.seconds,
        "single_trial_seconds": size.single_seconds,
        "rounds": size.rounds,
        "quick": int(quick),
    }
    report.packages("lumadb", "rocksdict")
    return report


def run(quick: bool) -> Report:
    """Run the suite (``quick``: 1.2 s trials, 5 rounds; else 4 s trials, 7 rounds)."""
    size = QUICK if quick else FULL
    say = Progress("durability")
    streams = make_streams(size)
    settle()
    with scratch_dir("durability") as root:
        group = LumaWriters(root, "group", streams, size.seconds)
        contenders: dict[str, Trial] = {
            "group_16": group,
            "always_16": LumaWriters(root, "always", streams, size.seconds),
            "off_16": LumaWriters(root, "off", streams, size.seconds),
            "always_1": LumaWriters(root, "always", streams[:1], size.single_seconds),
            "raw_fdatasync": lambda: raw_fsync(root, size.single_seconds),
            "thread_handoffs": lambda: thread_handoffs(size.single_seconds),
        }
        say(
            f"{WRITERS} writers (group, always, off), 1 writer (always), raw fdatasync and "
            "thread hand-offs, "
            f"{size.rounds} rounds after a warm-up"
        )
        rates = alternate(size.rounds, contenders)
        say.rates("writes/s", rates)
    say("done")
    return _report(rates, group, size, quick)

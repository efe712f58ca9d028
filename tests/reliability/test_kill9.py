"""kill -9 loop: an acknowledged write survives SIGKILL of the process at any moment.

A writer child (``children/kill9_writer.py``) writes increasing versions of its keys from two
threads and logs every put before it starts (``T``) and after it returned (``A``). The test
kills it with SIGKILL 0.05-0.5 s after it started writing, opens the data directory itself and
checks every key against the model built from the log: the stored version must be at least
the last acknowledged one (else an acknowledged write was lost) and at most the last attempted
one (else the value is impossible), then restarts the writer, which continues from what it
reads back. The change feed is checked too (it is the write-ahead log, read back): each key's
versions in it must strictly increase (no change recorded twice or out of order), every
acknowledged version must be in it, and its last version must be the stored one. Figure: "N
cycles at X acked writes/s: acknowledged writes lost 0, impossible values 0, feed violations 0,
restart-to-serving p50/p99". Canary: ``FAULTS.wal_disabled`` in the writer (RocksDB writes skip
the WAL) must be caught as lost acknowledged writes and as changes missing from the feed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reliability_kit import Child, child_env, percentile, report

import lumadb

THREADS = 2
KEYS_PER_THREAD = 200
KEYS = [f"t{t}-k{i:04d}" for t in range(THREADS) for i in range(KEYS_PER_THREAD)]


@dataclass
class Model:
    """Last acknowledged and last attempted version of every key, from the writer's log."""

    acked: dict[str, int] = field(default_factory=dict)
    attempted: dict[str, int] = field(default_factory=dict)
    acks: int = 0
    # Acknowledged versions not yet seen in the change feed, per key.
    unseen: dict[str, set[int]] = field(default_factory=dict)
    _offset: int = 0

    def absorb(self, log: Path) -> int:
        """Read the complete lines appended since the last call; returns the new acks."""
        if not log.exists():
            return 0
        data = log.read_bytes()[self._offset :]
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        before = self.acks
        for line in complete.decode().splitlines():
            kind, key, n = line.split()
            table = self.acked if kind == "A" else self.attempted
            table[key] = max(table.get(key, 0), int(n))
            self.acks += kind == "A"
            if kind == "A":
                self.unseen.setdefault(key, set()).add(int(n))
        return self.acks - before


@dataclass
class Feed:
    """What the change feed said so far: per shard how far it was read, per key its last
    version. Records read once never change (they were in the log a recovery replayed)."""

    read_to: dict[int, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    records: int = 0

    def absorb(self, db: lumadb.Database, model: Model) -> list[str]:
        """Read the new records; returns the violations found in them."""
        problems: list[str] = []
        for shard in range(db.shard_count):
            while batch := db.changes(shard, since=self.read_to.get(shard, 0), limit=5000):
                self.read_to[shard] = batch[-1].seq
                for change in batch:
                    if change.collection == "kill9" and change.new is not None:
                        problems += self._one(change.id or "", int(change.new["v"]), model)
        return problems

    def _one(self, key: str, version: int, model: Model) -> list[str]:
        self.records += 1
        model.unseen.get(key, set()).discard(version)
        before, self.last[key] = self.last.get(key, 0), version
        if version <= before:
            return [f"{key}: feed has version {version} after {before}"]
        return []

    def verdict(self, docs: dict[str, int], model: Model) -> list[str]:
        """Compare with the stored documents and the acknowledged writes."""
        problems = [
            f"{key}: feed ends at {self.last.get(key, 0)}, stored {stored}"
            for key, stored in docs.items()
            if self.last.get(key, 0) != stored
        ]
        missing = [(k, sorted(v)) for k, v in model.unseen.items() if v]
        problems += [
            f"{key}: acknowledged {versions[:5]} not in the feed" for key, versions in missing
        ]
        return problems


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)
    feed: list[str] = field(default_factory=list)


def check(data_dir: Path, model: Model, feed: Feed) -> Verdict:
    """Open the directory (as a fresh process would) and compare every key with the model."""
    verdict = Verdict()
    with lumadb.open(data_dir) as db:
        try:
            docs = db.collection("kill9").get_many(KEYS)
        except lumadb.CollectionNotFound:
            docs = [None] * len(KEYS)
        verdict.feed += feed.absorb(db, model)
    stored_versions = {k: (d.get("v", 0) if d else 0) for k, d in zip(KEYS, docs, strict=True)}
    verdict.feed += feed.verdict(stored_versions, model)
    for key, doc in zip(KEYS, docs, strict=True):
        stored = 0 if doc is None else doc.get("v")
        acked, attempted = model.acked.get(key, 0), model.attempted.get(key, 0)
        if doc is not None and (doc.get("k") != key or not isinstance(stored, int)):
            verdict.impossible.append(f"{key}: {doc!r}")
        elif stored < acked:
            verdict.lost.append(f"{key}: stored {stored} < acknowledged {acked}")
        elif stored > attempted:
            verdict.impossible.append(f"{key}: stored {stored} > attempted {attempted}")
    return verdict


@dataclass
class LoopResult:
    cycles: int = 0
    acks: int = 0
    writing_s: float = 0.0
    serving_ms: list[float] = field(default_factory=list)
    open_ms: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)
    feed: list[str] = field(default_factory=list)
    feed_records: int = 0
    acks_per_cycle: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, object]:
        return {
            "cycles": self.cycles,
            "acked_writes": self.acks,
            "acked_writes_per_s": round(self.acks / max(self.writing_s, 1e-9)),
            "acked_writes_lost": len(self.lost),
            "impossible_values": len(self.impossible),
            "feed_records_checked": self.feed_records,
            "feed_violations": len(self.feed),
            "restart_to_serving_p50_ms": round(percentile(self.serving_ms, 50), 1),
            "restart_to_serving_p99_ms": round(percentile(self.serving_ms, 99), 1),
            "open_and_first_read_p50_ms": round(percentile(self.open_ms, 50), 1),
        }


def run_loop(
    tmp_path: Path, durability: str, cycles: int, *, canary: str = "", seed: int = 0
) -> LoopResult:
    """Kill and restart the writer ``cycles`` times (stops early once a loss is seen)."""
    rng = random.Random(seed)
    data_dir, log = tmp_path / "data", tmp_path / "acks.log"
    args = ["--dir", str(data_dir), "--log", str(log), "--durability", durability]
    args += ["--shards", "2", "--threads", str(THREADS), "--keys", str(KEYS_PER_THREAD)]
    if canary:
        args += ["--canary", canary]
    model, feed, result, env = Model(), Feed(), LoopResult(), child_env()
    for cycle in range(cycles):
        with Child("kill9_writer.py", args, tmp_path / f"writer-{cycle}.err", env) as child:
            open_ms, read_ms = child.expect("READY").split()[1:]
            result.serving_ms.append((time.monotonic() - child.started) * 1000)
            result.open_ms.append(float(open_ms) + float(read_ms))
            child.expect("WRITING")
            started = time.monotonic()
            time.sleep(rng.uniform(0.05, 0.5))
            assert child.proc.poll() is None, f"writer died by itself:\n{child.stderr_tail()}"
            child.kill()
            result.writing_s += time.monotonic() - started
        result.acks_per_cycle.append(model.absorb(log))
        verdict = check(data_dir, model, feed)
        result.cycles += 1
        result.lost += verdict.lost
        result.impossible += verdict.impossible
        result.feed = verdict.feed  # the feed verdict covers the whole history each time
        if canary and verdict.lost and verdict.feed:
            break
    result.acks = model.acks
    result.feed_records = feed.records
    return result


FAST_CYCLES = {"group": 25, "always": 12}
SOAK_CYCLES = {"group": 300, "always": 120}


def _assert_no_loss(result: LoopResult) -> None:
    assert min(result.acks_per_cycle) > 0, f"a cycle acknowledged nothing: {result}"
    assert result.lost == [], f"acknowledged writes lost: {result.lost[:10]}"
    assert result.impossible == [], f"impossible values: {result.impossible[:10]}"
    assert result.feed == [], f"change feed violations: {result.feed[:10]}"
    assert result.feed_records >= result.acks, "the feed holds fewer changes than were acked"


@pytest.mark.parametrize("durability", ["group", "always"])
def test_kill9_loses_no_acknowledged_write(
    tmp_path: Path, durability: str, record_property: Callable[[str, object], None]
) -> None:
    """Fast version: 25 cycles (group) / 12 cycles (always) of kill -9 and restart."""
    result = run_loop(tmp_path, durability, FAST_CYCLES[durability], seed=1)
    report(record_property, f"kill9 {durability}", result.figures())
    _assert_no_loss(result)


@pytest.mark.soak
@pytest.mark.parametrize("durability", ["group", "always"])
def test_kill9_soak(
    tmp_path: Path, durability: str, record_property: Callable[[str, object], None]
) -> None:
    """Soak version: 300 (group) / 120 (always) cycles."""
    result = run_loop(tmp_path, durability, SOAK_CYCLES[durability], seed=int(time.time()))
    report(record_property, f"kill9 soak {durability}", result.figures())
    _assert_no_loss(result)


def test_kill9_canary_wal_disabled_is_caught(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """With the WAL disabled in the writer, the same loop must find lost acknowledged writes
    and acknowledged changes missing from the feed."""
    result = run_loop(tmp_path, "group", 6, canary="wal_disabled", seed=2)
    figures = result.figures()
    report(record_property, "kill9 canary wal_disabled", figures)
    assert result.lost, f"the checker missed the wal_disabled canary in {result.cycles} cycles"
    assert result.feed, "the feed check missed changes absent from the write-ahead log"

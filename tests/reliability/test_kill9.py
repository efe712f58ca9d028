"""kill -9 loop: an acknowledged write survives SIGKILL of the process at any moment.

A writer child (``children/kill9_writer.py``) writes increasing versions of its keys from two
threads and logs every put before it starts (``T``) and after it returned (``A``). The test
kills it with SIGKILL 0.05-0.5 s after it started writing, opens the data directory itself and
checks every key against the model built from the log: the stored version must be at least
the last acknowledged one (else an acknowledged write was lost) and at most the last attempted
one (else the value is impossible), then restarts the writer, which continues from what it
reads back. Figure: "N cycles at X acked writes/s: acknowledged writes lost 0, impossible
values 0, restart-to-serving p50/p99". Canary: ``FAULTS.wal_disabled`` in the writer (RocksDB
writes skip the WAL) must be caught as lost acknowledged writes.
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
        return self.acks - before


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)


def check(data_dir: Path, model: Model) -> Verdict:
    """Open the directory (as a fresh process would) and compare every key with the model."""
    verdict = Verdict()
    with lumadb.open(data_dir) as db:
        try:
            docs = db.collection("kill9").get_many(KEYS)
        except lumadb.CollectionNotFound:
            docs = [None] * len(KEYS)
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
    acks_per_cycle: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, object]:
        return {
            "cycles": self.cycles,
            "acked_writes": self.acks,
            "acked_writes_per_s": round(self.acks / max(self.writing_s, 1e-9)),
            "acked_writes_lost": len(self.lost),
            "impossible_values": len(self.impossible),
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
    model, result, env = Model(), LoopResult(), child_env()
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
        verdict = check(data_dir, model)
        result.cycles += 1
        result.lost += verdict.lost
        result.impossible += verdict.impossible
        if canary and verdict.lost:
            break
    result.acks = model.acks
    return result


FAST_CYCLES = {"group": 25, "always": 12}
SOAK_CYCLES = {"group": 300, "always": 120}


def _assert_no_loss(result: LoopResult) -> None:
    assert min(result.acks_per_cycle) > 0, f"a cycle acknowledged nothing: {result}"
    assert result.lost == [], f"acknowledged writes lost: {result.lost[:10]}"
    assert result.impossible == [], f"impossible values: {result.impossible[:10]}"


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
    """With the WAL disabled in the writer, the same loop must find lost acknowledged writes."""
    result = run_loop(tmp_path, "group", 6, canary="wal_disabled", seed=2)
    figures = result.figures()
    report(record_property, "kill9 canary wal_disabled", figures)
    assert result.lost, f"the checker missed the wal_disabled canary in {result.cycles} cycles"
